"""Task 3: per-user rolling 7-day features over [event_ts - 7 days, event_ts), from the
events ingested before event_ts."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

pytestmark = pytest.mark.task(3)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SEC = timedelta(seconds=1)

# Hand-made events: (event_id, user_id, event_ts, amount). Each user isolates one trap.
EDGE_EVENTS = [
    # user 1: the window's edges. t0 + 7 days sees t0; one second later it no longer does.
    ("b1", 1, T0, 10.0),
    ("b2", 1, T0 + 7 * DAY, 20.0),
    ("b3", 1, T0 + 7 * DAY + SEC, 40.0),
    ("b4", 1, T0 + 7 * DAY + SEC, 80.0),  # same instant as b3: neither sees the other
    # user 2: sparse days. Ten events a day apart, then a 10-day gap, then a burst:
    # "7 rows back" and "7 days back" give different answers almost everywhere.
    *[(f"s{i:02d}", 2, T0 + i * DAY, 1.0) for i in range(10)],
    *[(f"t{i:02d}", 2, T0 + 19 * DAY + i * 3600 * SEC, 2.0) for i in range(12)],
    # user 3: a single event has no history at all.
    ("c1", 3, T0 + 3 * DAY, 5.0),
    # user 4: views only. w2 has one event of history, and no amount in it: 0.0, not NULL.
    ("w1", 4, T0, None),
    ("w2", 4, T0 + 2 * DAY, None),
    # user 5: l1 happened at t0 but arrived three days late. At l2 (t0 + 1 day) nobody
    # knew of it yet; at l3 (t0 + 4 days) it had arrived.
    ("l1", 5, T0, 3.0),
    ("l2", 5, T0 + DAY, 5.0),
    ("l3", 5, T0 + 4 * DAY, 7.0),
]
# When each event was ingested: a second before its event_ts (the senders' clocks run a
# second fast, so events at the same instant are already known to each other), except the
# late ones.
LATE = {"l1": T0 + 3 * DAY}


@pytest.fixture(scope="module")
def features(deduped_events: str, lab: Any, oracle: Any) -> Any:
    return features_of(lab, oracle, deduped_events, "events")


def features_of(lab: Any, oracle: Any, path: str, what: str) -> Any:
    """add_rolling_features() on the Parquet table at ``path``: (column types, rows)."""

    def run() -> tuple[dict[str, str], pd.DataFrame]:
        out = lab.save(lab.module("features").add_rolling_features(lab.load(path)), "features")
        return oracle.types(out), oracle.read(out)

    return lab.attempt(f"etl_lab.features.add_rolling_features({what})", run)


@pytest.fixture(scope="module")
def edge_features(lab: Any, oracle: Any) -> Any:
    events = pd.DataFrame(EDGE_EVENTS, columns=["event_id", "user_id", "event_ts", "amount"])
    events["ingest_ts"] = [LATE.get(e[0], e[2] - SEC) for e in EDGE_EVENTS]
    oracle.db.register("edge_events_raw", events)
    oracle.db.execute(
        """
        CREATE OR REPLACE TABLE edge_events AS
        SELECT event_id, CAST(user_id AS BIGINT) AS user_id,
               CASE WHEN amount IS NULL OR isnan(amount) THEN 'view' ELSE 'purchase' END
                 AS event_type,
               CASE WHEN isnan(amount) THEN NULL ELSE CAST(amount AS DOUBLE) END AS amount,
               CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
               CAST(ingest_ts AS TIMESTAMPTZ) AS ingest_ts,
               CAST(row_number() OVER () AS BIGINT) AS source_offset,
               CAST(CAST(event_ts AS TIMESTAMPTZ) AS DATE) AS event_date
        FROM edge_events_raw
        """
    )
    path = oracle.to_parquet("SELECT * FROM edge_events", "edge_events")
    outcome = features_of(lab, oracle, path, "hand-made events")
    if outcome.error is None:
        types, rows = outcome.value
        outcome.value = (types, rows.set_index("event_id"))
    return outcome


@pytest.fixture(scope="module")
def edge_expected(edge_features: Any, oracle: Any, lab: Any) -> pd.DataFrame:
    return oracle.df(
        f"""
        SELECT e.event_id, count(p.event_id) AS user_events_7d,
               coalesce(sum(p.amount), 0.0) AS user_amount_7d
        FROM edge_events e LEFT JOIN edge_events p
          ON p.user_id = e.user_id
         AND p.event_ts >= e.event_ts - INTERVAL {lab.WEEK_S} SECOND
         AND p.event_ts < e.event_ts
         AND p.ingest_ts < e.event_ts
        GROUP BY e.event_id
        """
    ).set_index("event_id")


def _check_columns(got: pd.DataFrame) -> None:
    missing = {"user_events_7d", "user_amount_7d"} - set(got.columns)
    assert not missing, (
        f"add_rolling_features() returned columns {list(got.columns)}; missing {missing}."
    )


def _number(value: Any) -> float | None:
    """A feature value as a float; None for NULL or NaN, which never equal a number."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _mismatches(got: pd.DataFrame, want: pd.DataFrame, ids: list[str]) -> list[str]:
    lines = []
    for eid in ids:
        g = (_number(got.at[eid, "user_events_7d"]), _number(got.at[eid, "user_amount_7d"]))
        w = (_number(want.at[eid, "user_events_7d"]), _number(want.at[eid, "user_amount_7d"]))
        # NULL (or NaN) is never a match: the expected values are always numbers.
        if None in g or g[0] != w[0] or abs(g[1] - w[1]) > 1e-6:  # type: ignore[operator]
            lines.append(f"{eid}: got (count, amount) {g}, expected {w}")
    return lines


def test_rolling_features_match_the_oracle(features: Any, oracle: Any) -> None:
    _, got = features.get()
    _check_columns(got)
    want = oracle.rows("features").set_index("event_id")
    got = got.set_index("event_id")
    assert len(got) == len(want), (
        f"add_rolling_features() returned {len(got)} rows for {len(want)} events; add columns, "
        "do not filter or aggregate rows away."
    )
    wrong = _mismatches(got, want, list(want.index))
    assert not wrong, (
        f"{len(wrong)} of {len(want)} events have wrong 7-day features, e.g. {wrong[:3]}. "
        "Each event's features cover the same user's events in [event_ts - 7 days, "
        "event_ts) that were ingested before event_ts."
    )


def test_window_is_seven_days_of_time_not_seven_rows(
    edge_features: Any, edge_expected: pd.DataFrame
) -> None:
    _, got = edge_features.get()
    _check_columns(got)
    ids = [eid for eid, uid, _, _ in EDGE_EVENTS if uid == 2]
    wrong = _mismatches(got, edge_expected, ids)
    assert not wrong, (
        "For a user with one event a day, then a 10-day gap, then 12 events in one day: "
        f"{wrong[:3]}. rowsBetween counts rows, and rows are not days when days are missing "
        "or busy. Order the window by time and use rangeBetween over seconds (or "
        "microseconds)."
    )


def test_window_boundaries_at_exactly_seven_days(
    edge_features: Any, edge_expected: pd.DataFrame
) -> None:
    _, got = edge_features.get()
    _check_columns(got)
    wrong = _mismatches(got, edge_expected, ["b2", "b3"])
    assert not wrong, (
        f"At the window's edges: {wrong}. b1 is at t0; b2 at t0 + 7 days must still see it "
        "(the window is [t - 7 days, t)), and b3 one second later must not."
    )


def test_current_event_is_not_in_its_own_features(
    edge_features: Any, edge_expected: pd.DataFrame, features: Any, oracle: Any
) -> None:
    _, got = edge_features.get()
    _check_columns(got)
    wrong = _mismatches(got, edge_expected, ["b1", "c1", "b3", "b4"])
    assert not wrong, (
        f"{wrong}. A feature may only use what was known *before* the event: the event itself, "
        "and another event at the same instant, are not history. An upper bound of 0 (or "
        "currentRow) leaks the label's own event into its features."
    )
    firsts = oracle.df(
        "SELECT event_id FROM dedup QUALIFY event_ts = min(event_ts) OVER (PARTITION BY user_id)"
    )["event_id"]
    full = features.get()[1].set_index("event_id")
    leaked = [e for e in firsts if full.at[e, "user_events_7d"] != 0]
    assert not leaked, (
        f"{len(leaked)} users' first events have user_events_7d > 0, e.g. {leaked[:3]}; "
        "nothing happened before a user's first event."
    )


def test_future_events_are_not_used(features: Any, oracle: Any) -> None:
    got = features.get()[1].set_index("event_id")
    _check_columns(got.reset_index())
    # Events that have later events of the same user within 7 days: a window that looks
    # forward (or the whole partition) counts those too.
    exposed = oracle.df(
        f"""
        SELECT e.event_id, f.user_events_7d FROM dedup e JOIN features f USING (event_id)
        WHERE EXISTS (SELECT 1 FROM dedup n WHERE n.user_id = e.user_id
                        AND n.event_ts > e.event_ts
                        AND n.event_ts <= e.event_ts + INTERVAL {7 * 24 * 3600} SECOND)
        """
    )
    too_many = [
        row.event_id
        for row in exposed.itertuples()
        if got.at[row.event_id, "user_events_7d"] > row.user_events_7d
    ]
    assert not too_many, (
        f"{len(too_many)} events count more history than happened before them, e.g. "
        f"{too_many[:3]}: the window includes later events. Bound it above by the event "
        "itself (exclusive), never by an offset that reaches into the future."
    )


def test_empty_window_amount_is_zero_not_null(
    edge_features: Any, edge_expected: pd.DataFrame, features: Any, oracle: Any
) -> None:
    _, got = edge_features.get()
    _check_columns(got)
    wrong = _mismatches(got, edge_expected, ["b1", "c1", "w1", "w2"])
    assert not wrong, (
        f"{wrong}. An event with no history (a user's first event), or whose history holds "
        "no amounts (views only), has user_events_7d = 0 and user_amount_7d = 0.0. "
        "count over an empty window is 0, but sum is NULL, and a NULL feature becomes NaN in "
        "training, where most models either fail or treat it as 'unknown' rather than 'none'. "
        "Wrap the sum in F.coalesce(..., F.lit(0.0))."
    )
    _, full = features.get()
    nulls = int(full["user_amount_7d"].isna().sum()) + int(full["user_events_7d"].isna().sum())
    assert nulls == 0, (
        f"{nulls} feature values over the generated log are NULL; expected none (0 and 0.0 "
        "for an empty window)."
    )


def test_feature_types_are_a_count_and_an_amount(features: Any) -> None:
    types, _ = features.get()
    got = {name: types.get(name) for name in ("user_events_7d", "user_amount_7d")}
    assert got == {"user_events_7d": "BIGINT", "user_amount_7d": "DOUBLE"}, (
        f"The feature columns were written with the types {got}; expected a whole count "
        "(bigint, Spark's count) and an amount (double). A count cast to double, or an "
        "amount rounded to an integer, changes what the model and the feature store see."
    )


def test_late_events_are_not_used_before_they_arrived(
    edge_features: Any, edge_expected: pd.DataFrame
) -> None:
    _, got = edge_features.get()
    _check_columns(got)
    wrong = _mismatches(got, edge_expected, ["l2", "l3"])
    assert not wrong, (
        f"{wrong}. l1 happened at t0 but was ingested at t0 + 3 days. At l2 (t0 + 1 day) "
        "it had not arrived: a model served at l2's time could not have counted it, so its "
        "training features must not either (l2 expects (0, 0.0)); at l3 (t0 + 4 days) it "
        "had. Events arrive up to five days late here: a window over event_ts alone trains "
        "on what serving never sees. Keep only the window's events whose ingest_ts is "
        "before the event's event_ts."
    )
