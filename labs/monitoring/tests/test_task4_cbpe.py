"""Task 4: performance without labels (monitor_lab/cbpe.py).

The tests draw every population from fixed seeds: features, the true probability of
churn, the labels, and the scores of a model that is calibrated or overconfident. They
know the realised accuracy of every window, and the spread an honest interval has.

Requirement sentences, and the test that fails when each alone is broken:

- The estimate is the expected accuracy of calibrated probabilities:
  test_estimate_tracks_realised_accuracy_under_covariate_shift
- ... calibrated on the reference, not the raw scores: test_overconfident_scores_are_recalibrated
- ... with each decision the raw score against the threshold:
  test_decisions_use_the_raw_score_against_the_threshold
- The interval has variance Σ q(1 − q) / n²: test_interval_covers_the_realised_accuracy,
  test_interval_is_as_narrow_as_the_standard_error
- ... at the confidence asked for: test_z_fixed_at_95_percent
- "uncalibrated" when the raw scores are not probabilities:
  test_uncalibrated_scores_are_reported
- "concept_drift" when the realised accuracy leaves the interval:
  test_concept_drift_is_flagged_when_labels_arrive
- ... outside the interval, not a fixed margin: test_concept_drift_on_a_fixed_margin
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import monitor

pytestmark = pytest.mark.task(4)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def population(
    seed: int, n: int, shift: float = 0.0, *, overconfident: bool = False, concept: bool = False
) -> dict[str, Any]:
    """Scores, labels and the true probabilities of one window."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    logit = 1.5 * x - 0.5
    # Concept drift: the same features now say much less about churn.
    truth = sigmoid(0.2 * x - 0.5) if concept else sigmoid(logit)
    labels = (rng.random(n) < truth).astype(int)
    scores = sigmoid(3.0 * logit) if overconfident else truth if not concept else sigmoid(logit)
    return {
        "scores": [round(float(s), 6) for s in scores],
        "labels": [int(v) for v in labels],
        "truth": truth,
    }


def realised(window: dict[str, Any], threshold: float) -> float:
    decisions = np.array(window["scores"]) >= threshold
    return float(np.mean(decisions == (np.array(window["labels"]) == 1)))


@pytest.fixture
def estimator(learner: Any) -> Any:
    """``estimator(reference, **options)``: your CBPE, fitted on a labelled reference."""
    cbpe = monitor(learner, "cbpe")

    def make(reference: dict[str, Any], **options: Any) -> Any:
        est = cbpe.CBPE(**options)
        est.fit(reference["scores"], reference["labels"])
        return est

    return make


def estimates(bridge: Any, est: Any, windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(bridge.each(est.estimate, [[w["scores"]] for w in windows]))


SHIFTS = [-0.6, 0.0, 0.5, 1.0]


def test_estimate_tracks_realised_accuracy_under_covariate_shift(estimator, bridge):
    est = estimator(population(1, 5000))
    windows = [population(10 + i, 3000, shift) for i, shift in enumerate(SHIFTS)]
    got = [e["accuracy"] for e in estimates(bridge, est, windows)]
    truth = [realised(w, 0.5) for w in windows]
    worst = max(abs(a - b) for a, b in zip(got, truth, strict=True))
    assert worst <= 0.035, (
        f"With the feature shifted by {SHIFTS}, the estimated accuracies were "
        f"{[round(a, 3) for a in got]} and the realised ones {[round(b, 3) for b in truth]}. "
        "A calibrated score p is right with probability p when p >= threshold and 1 - p "
        "otherwise; the expected accuracy is their mean (not the mean score, which is the "
        "expected positive rate)."
    )


@pytest.mark.hint(
    "Fit an isotonic map of label on score on the reference "
    "(scipy.optimize.isotonic_regression) and read probabilities through it."
)
def test_overconfident_scores_are_recalibrated(estimator, bridge):
    est = estimator(population(2, 5000, overconfident=True))
    windows = [population(20 + i, 3000, s, overconfident=True) for i, s in enumerate(SHIFTS)]
    got = [e["accuracy"] for e in estimates(bridge, est, windows)]
    truth = [realised(w, 0.5) for w in windows]
    worst = max(abs(a - b) for a, b in zip(got, truth, strict=True))
    assert worst <= 0.035, (
        f"An overconfident model (its scores pushed towards 0 and 1): estimated "
        f"{[round(a, 3) for a in got]}, realised {[round(b, 3) for b in truth]}. Raw scores "
        "of 0.99 that are right 80 % of the time promise an accuracy the model never had: "
        "calibrate them on the labelled reference (isotonic regression) first."
    )


def test_decisions_use_the_raw_score_against_the_threshold(estimator, bridge):
    est = estimator(population(3, 5000, overconfident=True), threshold=0.2)
    windows = [population(30 + i, 3000, s, overconfident=True) for i, s in enumerate(SHIFTS)]
    got = [e["accuracy"] for e in estimates(bridge, est, windows)]
    truth = [realised(w, 0.2) for w in windows]
    worst = max(abs(a - b) for a, b in zip(got, truth, strict=True))
    assert worst <= 0.035, (
        f"At threshold 0.2 on an overconfident model: estimated "
        f"{[round(a, 3) for a in got]}, realised {[round(b, 3) for b in truth]}. The model "
        "decides with its raw score (raw >= 0.2); the calibrated score only says how "
        "likely that decision is right."
    )


def test_interval_covers_the_realised_accuracy(estimator, bridge):
    est = estimator(population(4, 5000))
    windows = [population(100 + i, 1000) for i in range(40)]
    found = estimates(bridge, est, windows)
    covered = sum(
        e["low"] <= realised(w, 0.5) <= e["high"] for e, w in zip(found, windows, strict=True)
    )
    assert covered >= 32, (
        f"The 95 % interval held the realised accuracy in {covered} of 40 windows of 1,000 "
        "predictions (expected about 38). Its variance is sum(q * (1 - q)) / n**2, q being "
        "each prediction's chance of being right: divide by n once, under the square root."
    )


def test_interval_is_as_narrow_as_the_standard_error(estimator, bridge):
    est = estimator(population(5, 5000))
    windows = [population(200 + i, 2000) for i in range(5)]
    found = estimates(bridge, est, windows)
    for e, w in zip(found, windows, strict=True):
        q = np.where(np.array(w["scores"]) >= 0.5, w["truth"], 1 - w["truth"])
        honest = 1.96 * float(np.sqrt(np.sum(q * (1 - q)))) / len(q)
        half = (e["high"] - e["low"]) / 2
        assert half <= 2 * honest, (
            f"The interval is +/- {half:.4f} around {e['accuracy']:.3f} for 2,000 "
            f"predictions; the standard error gives +/- {honest:.4f}. An interval built from "
            "one prediction's spread never excludes anything, so a real drop never shows."
        )


def test_uncalibrated_scores_are_reported(estimator, bridge):
    overconfident = estimator(population(6, 5000, overconfident=True))
    honest = estimator(population(7, 5000))
    window = [population(60, 1000)]
    warned = estimates(bridge, overconfident, window)[0]["warnings"]
    quiet = estimates(bridge, honest, window)[0]["warnings"]
    assert "uncalibrated" in warned and "uncalibrated" not in quiet, (
        f"Fitted on an overconfident model the estimate's warnings were {warned}; on a "
        f"calibrated one {quiet}. Say when the raw scores are not probabilities (calibration "
        "error above max_calibration_error): whoever reads the scores on a dashboard is "
        "misled, whatever the estimator does with them."
    )


def test_concept_drift_is_flagged_when_labels_arrive(estimator, bridge):
    est = estimator(population(8, 5000))
    drifted = population(80, 3000, concept=True)
    stable = population(81, 3000, 0.5)
    found = bridge.each(
        est.check, [[drifted["scores"], drifted["labels"]], [stable["scores"], stable["labels"]]]
    )
    assert found[0]["within"] is False and "concept_drift" in found[0]["warnings"], (
        f"The features stopped predicting churn (concept drift): estimated "
        f"{found[0].get('estimated')}, realised {found[0].get('realised')}, and check said "
        f"{found[0]}. CBPE cannot see this from the scores; when the labels arrive, a "
        "realised accuracy outside the interval must say 'concept_drift'."
    )
    assert found[1]["within"] is True and "concept_drift" not in found[1]["warnings"], (
        f"A window with covariate shift only: check said {found[1]}"
    )


def test_z_fixed_at_95_percent(estimator, bridge):
    from scipy import stats

    reference = population(9, 5000)
    window = [population(90, 2000, 0.3)]
    wide = estimates(bridge, estimator(reference, confidence=0.95), window)[0]
    narrow = estimates(bridge, estimator(reference, confidence=0.80), window)[0]
    ratio = (narrow["high"] - narrow["low"]) / (wide["high"] - wide["low"])
    expected = float(stats.norm.ppf(0.90) / stats.norm.ppf(0.975))
    assert abs(ratio - expected) < 1e-3, (
        f"The same estimator at confidence 0.80 and 0.95 gave intervals of widths "
        f"{narrow['high'] - narrow['low']:.5f} and {wide['high'] - wide['low']:.5f} (ratio "
        f"{ratio:.4f}); the standard error is the same, so the ratio is z(0.80) / z(0.95) = "
        f"{expected:.4f}. Take z from the confidence asked for (the normal quantile at "
        "0.5 + confidence / 2), not a 1.96 written in."
    )


def test_concept_drift_on_a_fixed_margin(estimator, bridge):
    est = estimator(population(10, 5000))
    windows = [population(300 + i, 80, 0.2) for i in range(30)]
    found = list(bridge.each(est.check, [[w["scores"], w["labels"]] for w in windows]))
    intervals = estimates(bridge, est, windows)
    decisive = 0
    for w, c, e in zip(windows, found, intervals, strict=True):
        truth = realised(w, 0.5)
        inside = e["low"] <= truth <= e["high"]
        decisive += inside and abs(truth - e["accuracy"]) > 0.05
        assert c["within"] is inside and ("concept_drift" in c["warnings"]) is (not inside), (
            f"80 predictions: estimate {e['accuracy']:.3f} in [{e['low']:.3f}, "
            f"{e['high']:.3f}], realised {truth:.3f}; check said {c}. Concept drift is a "
            "realised accuracy outside the interval: a small window has a wide interval, "
            "and a fixed margin pages on its noise (and misses a small drift in a big one)."
        )
    assert decisive, "the seeded windows should include one inside the interval but 0.05 off"
