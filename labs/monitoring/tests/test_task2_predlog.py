"""Task 2: the prediction log and live quality over delayed labels (monitor_lab/predlog.py).

The tests generate the predictions and the labels (with delays, retries and revisions)
from fixed seeds, feed them to your ``PredictionLog`` in the order they happen, and
compare ``quality`` with their own point-in-time reference, computed here in plain Python.

Requirement sentences, and the test that fails when each alone is broken:

- A retried request is one row: test_a_retried_request_counts_once
- Only predictions made at or before as_of: test_predictions_after_as_of_are_not_counted
- Only labels that had arrived by as_of: test_labels_not_yet_known_are_not_counted
- The latest label known at as_of wins: test_a_revised_label_replaces_the_first
- Windows by the prediction's own time: test_windows_are_by_prediction_time
- Accuracy over labelled rows only: test_unlabelled_predictions_are_not_negatives
- A decision is score >= threshold (the boundary is positive): test_score_at_threshold_is_negative
- All of it together, on a generated day: test_quality_matches_a_point_in_time_reference
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import monitor

pytestmark = pytest.mark.task(2)

HOUR = 3600
T0 = 1_700_000_000 // HOUR * HOUR


@pytest.fixture
def quality(learner: Any, bridge: Any) -> Any:
    """``quality(events, as_of, window_s)``: a fresh PredictionLog fed ``events``."""
    predlog = monitor(learner, "predlog")

    def run(
        events: list[list[Any]], as_of: int | list[int], window_s: int = HOUR
    ) -> list[dict[str, Any]]:
        log = predlog.PredictionLog()
        bridge.replay(log, events)
        if isinstance(as_of, list):  # one log, asked at several times
            return [list(bridge.plain(log.quality(t, window_s))) for t in as_of]
        return list(bridge.plain(log.quality(as_of, window_s)))

    return run


def prediction(rid: str, ts: int, score: float) -> list[Any]:
    return ["prediction", rid, f"cust-{rid}", ts, score, "v1"]


def label(rid: str, value: int, arrived_at: int) -> list[Any]:
    return ["label", rid, value, arrived_at]


def stream(seed: int, n: int = 500, hours: int = 6) -> list[list[Any]]:
    """A seeded stream of predictions, retries, delayed labels and revisions, in time order."""
    rng = np.random.default_rng(seed)
    timed: list[tuple[int, int, list[Any]]] = []
    for i in range(n):
        rid = f"r{seed}-{i:05d}"
        ts = T0 + int(rng.integers(0, hours * HOUR))
        score = round(float(rng.random()), 4)
        truth = int(rng.random() < score)
        timed.append((ts, 0, prediction(rid, ts, score)))
        if rng.random() < 0.06:  # the client timed out and retried: logged again
            timed.append((ts + 2, 0, prediction(rid, ts, score)))
        if rng.random() < 0.8:  # a fifth of labels never arrive
            arrived = ts + 1 + int(rng.exponential(3 * HOUR))
            timed.append((arrived, 1, label(rid, truth, arrived)))
            if rng.random() < 0.15:  # a chargeback reversed, hours later
                revised = arrived + int(rng.integers(600, 6 * HOUR))
                timed.append((revised, 1, label(rid, 1 - truth, revised)))
    timed.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in timed]


def reference(
    events: list[list[Any]], as_of: int, window_s: int, threshold: float = 0.5
) -> list[dict[str, Any]]:
    """The right answer, computed without SQL: what was known at ``as_of``."""
    made: dict[str, tuple[int, float]] = {}
    labels: dict[str, list[tuple[int, int]]] = {}
    for event in events:
        if event[0] == "prediction":
            made.setdefault(event[1], (event[3], event[4]))
        else:
            labels.setdefault(event[1], []).append((event[3], event[2]))
    windows: dict[int, list[int | None]] = {}
    for rid, (ts, score) in made.items():
        if ts > as_of:
            continue
        known = [(arrived, value) for arrived, value in labels.get(rid, []) if arrived <= as_of]
        correct = None
        if known:
            value = max(known)[1]
            correct = int((score >= threshold) == (value == 1))
        windows.setdefault(ts // window_s * window_s, []).append(correct)
    rows = []
    for start in sorted(windows):
        outcomes = windows[start]
        labelled = [c for c in outcomes if c is not None]
        rows.append(
            {
                "window_start": start,
                "predictions": len(outcomes),
                "labelled": len(labelled),
                "accuracy": sum(labelled) / len(labelled) if labelled else None,
            }
        )
    return rows


def same(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    if [{k: r.get(k) for k in ("window_start", "predictions", "labelled")} for r in got] != [
        {k: r[k] for k in ("window_start", "predictions", "labelled")} for r in expected
    ]:
        return False
    for a, b in zip(got, expected, strict=True):
        if (a.get("accuracy") is None) != (b["accuracy"] is None):
            return False
        if b["accuracy"] is not None and abs(float(a["accuracy"]) - b["accuracy"]) > 1e-9:
            return False
    return True


@pytest.mark.hint(
    "count(label) and avg(...) skip NULLs: keep the unlabelled rows NULL; COALESCE(label, 0) "
    "turns 'not known yet' into 'negative'."
)
def test_unlabelled_predictions_are_not_negatives(quality):
    events = [
        prediction("a", T0 + 10, 0.9),
        prediction("b", T0 + 20, 0.8),
        prediction("c", T0 + 30, 0.7),
        prediction("d", T0 + 40, 0.6),
        label("a", 1, T0 + 100),
        label("b", 1, T0 + 200),
    ]
    got = quality(events, as_of=T0 + 1000)
    expected = reference(events, T0 + 1000, HOUR)
    assert same(got, expected), (
        f"4 predictions, 2 labelled (both right), 2 with no label yet: quality gave {got}, "
        f"expected {expected}. A missing label is not a negative: counting it as 0 makes "
        "accuracy fall every time labels are late, and the on-call retrains a healthy model."
    )


def test_labels_not_yet_known_are_not_counted(quality):
    events = [
        prediction("a", T0 + 10, 0.9),
        prediction("b", T0 + 20, 0.8),
        label("a", 1, T0 + 100),
        label("b", 0, T0 + 5000),
    ]
    got = quality(events, as_of=T0 + 1000)
    expected = reference(events, T0 + 1000, HOUR)
    assert same(got, expected), (
        f"As of T0+1000 s only a's label had arrived (b's arrives at T0+5000 s): quality "
        f"gave {got}, expected {expected}. A backfilled dashboard that uses labels from the "
        "future shows quality nobody could have known, and hides how late you would have "
        "noticed."
    )


def test_a_retried_request_counts_once(quality):
    events = [
        prediction("a", T0 + 10, 0.9),
        prediction("a", T0 + 10, 0.9),
        prediction("b", T0 + 20, 0.2),
        label("a", 0, T0 + 100),
        label("b", 0, T0 + 100),
    ]
    got = quality(events, as_of=T0 + 1000)
    expected = reference(events, T0 + 1000, HOUR)
    assert same(got, expected), (
        f"Request a was logged twice (a client retry), b once: quality gave {got}, "
        f"expected {expected}. Deduplicate on the request id: retries happen exactly when "
        "the system is slow, so duplicates skew the windows you look at during an incident."
    )


def test_a_revised_label_replaces_the_first(quality):
    events = [
        prediction("a", T0 + 10, 0.9),
        label("a", 0, T0 + 100),
        label("a", 1, T0 + 400),
    ]
    got = quality(events, as_of=T0 + 1000)
    expected = reference(events, T0 + 1000, HOUR)
    assert same(got, expected), (
        f"a's label arrived as 0, then was revised to 1 (a reversed chargeback), both "
        f"before as_of: quality gave {got}, expected {expected}. The latest label known at "
        "as_of is the truth at that time."
    )
    early = quality(events, as_of=T0 + 200)
    expected_early = reference(events, T0 + 200, HOUR)
    assert same(early, expected_early), (
        f"As of T0+200 s only the first label (0) was known: quality gave {early}, expected "
        f"{expected_early}."
    )


def test_predictions_after_as_of_are_not_counted(quality):
    events = [
        prediction("a", T0 + 10, 0.9),
        label("a", 1, T0 + 100),
        prediction("b", T0 + 2000, 0.9),
    ]
    got = quality(events, as_of=T0 + 1000)
    expected = reference(events, T0 + 1000, HOUR)
    assert same(got, expected), (
        f"b was predicted at T0+2000 s, after as_of (T0+1000 s): quality gave {got}, "
        f"expected {expected}."
    )


def test_windows_are_by_prediction_time(quality):
    events = [
        prediction("a", T0 + 10, 0.9),
        prediction("b", T0 + HOUR + 10, 0.9),
        label("a", 1, T0 + 2 * HOUR + 5),
    ]
    got = quality(events, as_of=T0 + 3 * HOUR)
    expected = reference(events, T0 + 3 * HOUR, HOUR)
    assert same(got, expected), (
        f"a was predicted in the first hour and labelled in the third: quality gave {got}, "
        f"expected {expected}. A prediction belongs to the window it was made in; by label "
        "arrival, a bad hour of predictions is smeared over the days its labels trickle in."
    )


def test_quality_matches_a_point_in_time_reference(quality):
    events = stream(seed=7)
    hours = [3, 8, 30]
    answers = quality(events, as_of=[T0 + h * HOUR for h in hours])
    for h, got in zip(hours, answers, strict=True):
        expected = reference(events, T0 + h * HOUR, HOUR)
        assert same(got, expected), (
            f"On a generated stream (500 predictions over 6 h, retries, delayed and "
            f"revised labels), quality as of T0+{h} h gave {got}, expected {expected}."
        )


def test_score_at_threshold_is_negative(quality):
    events = [
        prediction("a", T0 + 10, 0.5),
        prediction("b", T0 + 20, 0.5),
        prediction("c", T0 + 30, 0.2),
        label("a", 1, T0 + 100),
        label("b", 1, T0 + 100),
        label("c", 0, T0 + 100),
    ]
    got = quality(events, as_of=T0 + 1000)
    expected = reference(events, T0 + 1000, HOUR)
    assert same(got, expected), (
        f"a and b scored exactly 0.5, the threshold, and both churned: quality gave "
        f"{got}, expected {expected}. The model decides positive when score >= threshold; "
        "judge its decisions by the same rule, or every prediction on the boundary is "
        "graded as a decision the model never made."
    )
