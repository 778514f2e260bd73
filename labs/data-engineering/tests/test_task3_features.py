"""Task 3: per-user rolling 7-day features over [event_ts - 7 days, event_ts)."""

from __future__ import annotations

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
]


@pytest.fixture(scope="module")
def features(deduped_events: Any, lab: Any) -> Any:
    return lab.attempt(
        "etl_lab.features.add_rolling_features(events)",
        lambda: lab.collect(lab.learner("features").add_rolling_features(deduped_events)),
    )


@pytest.fixture(scope="module")
def edge_features(spark: Any, lab: Any) -> Any:
    from pyspark.sql import functions as F

    rows = [
        (eid, uid, "purchase", amount, ts, ts, i, ts.date())
        for i, (eid, uid, ts, amount) in enumerate(EDGE_EVENTS)
    ]
    schema = (
        "event_id string, user_id bigint, event_type string, amount double, "
        "event_ts timestamp, ingest_ts timestamp, source_offset bigint, event_date date"
    )
    df = spark.createDataFrame(rows, schema).withColumn("event_date", F.to_date("event_ts"))
    return lab.attempt(
        "etl_lab.features.add_rolling_features(hand-made events)",
        lambda: lab.collect(lab.learner("features").add_rolling_features(df)).set_index("event_id"),
    )


@pytest.fixture(scope="module")
def edge_expected(oracle: Any, lab: Any) -> pd.DataFrame:
    events = pd.DataFrame(EDGE_EVENTS, columns=["event_id", "user_id", "event_ts", "amount"])
    oracle.db.register("edge_events", events)
    return oracle.df(
        f"""
        SELECT e.event_id, count(p.event_id) AS user_events_7d,
               coalesce(sum(p.amount), 0.0) AS user_amount_7d
        FROM edge_events e LEFT JOIN edge_events p
          ON p.user_id = e.user_id
         AND p.event_ts >= e.event_ts - INTERVAL {lab.WEEK_S} SECOND
         AND p.event_ts < e.event_ts
        GROUP BY e.event_id
        """
    ).set_index("event_id")


def _check_columns(got: pd.DataFrame) -> None:
    missing = {"user_events_7d", "user_amount_7d"} - set(got.columns)
    assert not missing, (
        f"add_rolling_features() returned columns {list(got.columns)}; missing {missing}."
    )


def _mismatches(got: pd.DataFrame, want: pd.DataFrame, ids: list[str]) -> list[str]:
    lines = []
    for eid in ids:
        g = (int(got.at[eid, "user_events_7d"]), float(got.at[eid, "user_amount_7d"]))
        w = (int(want.at[eid, "user_events_7d"]), float(want.at[eid, "user_amount_7d"]))
        if g[0] != w[0] or abs(g[1] - w[1]) > 1e-6:
            lines.append(f"{eid}: got (count, amount) {g}, expected {w}")
    return lines


def test_rolling_features_match_the_oracle(features: Any, oracle: Any) -> None:
    got = features.get()
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
        "Each event's features cover the same user's events in [event_ts - 7 days, event_ts)."
    )


def test_window_is_seven_days_of_time_not_seven_rows(
    edge_features: Any, edge_expected: pd.DataFrame
) -> None:
    got = edge_features.get()
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
    got = edge_features.get()
    _check_columns(got)
    wrong = _mismatches(got, edge_expected, ["b2", "b3"])
    assert not wrong, (
        f"At the window's edges: {wrong}. b1 is at t0; b2 at t0 + 7 days must still see it "
        "(the window is [t - 7 days, t)), and b3 one second later must not."
    )


def test_current_event_is_not_in_its_own_features(
    edge_features: Any, edge_expected: pd.DataFrame, features: Any, oracle: Any
) -> None:
    got = edge_features.get()
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
    full = features.get().set_index("event_id")
    leaked = [e for e in firsts if full.at[e, "user_events_7d"] != 0]
    assert not leaked, (
        f"{len(leaked)} users' first events have user_events_7d > 0, e.g. {leaked[:3]}; "
        "nothing happened before a user's first event."
    )


def test_future_events_are_not_used(features: Any, oracle: Any) -> None:
    got = features.get().set_index("event_id")
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
