"""Task 6: late data merged into a Delta table, features recomputed where they changed,
and time travel to the table as it was.

The scenario runs once, in order, as a daily pipeline would: merge the first batch into a
new table, compute every feature partition, note the time, merge a second batch (new
events, late events for old days, corrections, stale redeliveries, several versions of
one event, a correction that moves an event to another day), recompute the features it
affects, replay the second batch, and read the table as of the noted time. The tests read
the Delta table with their own ``deltalake`` and DuckDB, and the features with DuckDB.

Every requirement of ``etl_lab/lakehouse.py`` (its docstrings and the lesson's task 6), and
the test that fails when that sentence alone is broken:

- The table is created partitioned by event_date on the first batch:
  test_the_first_write_partitions_the_table_by_event_date.
- One row per event_id; keep the newest version of each event in the batch:
  test_merge_upserts_instead_of_appending (two versions of late-0001, three events
  corrected twice in one batch).
- Update a row only with a newer version; a stale redelivery changes nothing:
  test_corrections_are_applied_and_stale_versions_ignored.
- "Newer" is the later ingest_ts, ties broken by the larger source_offset (in the MERGE
  and in the changed dates): test_an_ingest_ts_tie_is_broken_by_the_larger_source_offset.
- Return the sorted dates of the partitions that changed: inserted, updated, or moved out
  of: test_changed_partitions_are_reported_exactly.
- Replaying a batch changes nothing and returns []: test_replaying_a_batch_changes_nothing.
- affected_dates: each changed day to 7 days after it; refresh_features recomputes those
  days' features: test_features_of_the_following_week_are_recomputed.
- refresh_features reads the 7 days of history before the first affected day:
  test_the_first_recomputed_day_reads_a_full_week_of_history.
- Partitions outside the affected days are left untouched, file for file:
  test_unaffected_feature_partitions_are_not_rewritten.
- An affected day with no events left keeps no feature rows:
  test_a_day_whose_only_event_moved_away_keeps_no_features.
- refresh_features returns the affected dates: test_refresh_features_returns_the_affected_dates.
- events_as_of: the last version committed at or before as_of:
  test_time_travel_returns_the_old_version_not_the_latest (a time between the two
  batches) and test_time_travel_to_now_returns_the_latest_version (now). The history
  is not rewritten or vacuumed: the same test reads version 0 with deltalake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

pytestmark = pytest.mark.task(6)

CUT = "2024-03-25 00:00:00+00"  # batch 1 is what was ingested before this instant
COLUMNS = (
    "event_id",
    "user_id",
    "event_type",
    "amount",
    "event_ts",
    "ingest_ts",
    "source_offset",
    "event_date",
)
FEATURES = ("user_events_7d", "user_amount_7d")
WINDOW_DAYS = 7

# Batch 2, on top of what was ingested from CUT on. Offsets above 2,000,000 are new.
EXTRA_SQL = f"""
WITH picked AS (
    SELECT *, row_number() OVER (PARTITION BY event_date ORDER BY event_id) AS n
    FROM first_state
)
-- corrections of four purchases on 03-08: a new amount, ingested an hour after CUT
SELECT * EXCLUDE (n) REPLACE (amount + 1 AS amount,
                  TIMESTAMPTZ '{CUT}' + INTERVAL 1 HOUR AS ingest_ts,
                  2000000 + n AS source_offset)
FROM picked WHERE event_date = DATE '2024-03-08' AND amount IS NOT NULL AND n <= 40
UNION ALL
-- three events of 03-09 corrected twice in the same batch: the later ingest wins, even
-- though its offset is smaller
SELECT * EXCLUDE (n) REPLACE ('click' AS event_type,
                  TIMESTAMPTZ '{CUT}' + INTERVAL 2 HOUR AS ingest_ts,
                  2100000 + n AS source_offset)
FROM picked WHERE event_date = DATE '2024-03-09' AND n <= 3
UNION ALL
SELECT * EXCLUDE (n) REPLACE ('purchase' AS event_type, 7.5 AS amount,
                  TIMESTAMPTZ '{CUT}' + INTERVAL 3 HOUR AS ingest_ts,
                  2000100 + n AS source_offset)
FROM picked WHERE event_date = DATE '2024-03-09' AND n <= 3
UNION ALL
-- a correction that moves an event of 03-10 to 03-11 (its clock was a day off)
SELECT * EXCLUDE (n) REPLACE (event_ts + INTERVAL 1 DAY AS event_ts,
                  CAST(event_ts + INTERVAL 1 DAY AS DATE) AS event_date,
                  TIMESTAMPTZ '{CUT}' + INTERVAL 1 HOUR AS ingest_ts,
                  2200000 + n AS source_offset)
FROM picked WHERE event_date = DATE '2024-03-10' AND n = 1
  AND CAST(event_ts + INTERVAL 1 DAY AS DATE) = DATE '2024-03-11'
UNION ALL
-- a correction that moves the only event of 04-02 (LONE_SQL, in batch 1) to 03-24: the
-- day it leaves has no events at all afterwards
SELECT * REPLACE (TIMESTAMPTZ '2024-03-24 09:30:00+00' AS event_ts,
                  DATE '2024-03-24' AS event_date,
                  TIMESTAMPTZ '{CUT}' + INTERVAL 1 HOUR AS ingest_ts,
                  2500001 AS source_offset)
FROM first_state WHERE event_id = 'lone-0001'
UNION ALL
-- redeliveries of three events of 03-13 with the table's ingest_ts and a larger offset:
-- the tie-break makes them newer, so their new amounts win
SELECT * EXCLUDE (n) REPLACE (coalesce(amount, 0.0) + 50.0 AS amount,
                  2600000 + n AS source_offset)
FROM picked WHERE event_date = DATE '2024-03-13' AND n <= 3
UNION ALL
-- and of three events of 03-14 with the table's ingest_ts and a smaller offset: older,
-- so the table keeps its rows
SELECT * EXCLUDE (n) REPLACE (555.0 AS amount, source_offset - 1 AS source_offset)
FROM picked WHERE event_date = DATE '2024-03-14' AND n <= 3 AND source_offset > 0
UNION ALL
-- stale redeliveries on 03-01: an *older* version (ingested an hour before the table's)
-- with a larger offset and other values; the table's version must stay
SELECT * EXCLUDE (n) REPLACE ('purchase' AS event_type, 999.0 AS amount,
                  ingest_ts - INTERVAL 1 HOUR AS ingest_ts,
                  2300000 + n AS source_offset)
FROM picked WHERE event_date = DATE '2024-03-01' AND n <= 3
UNION ALL
-- an event never seen before, for 03-12, in two versions: only the newer is inserted
SELECT 'late-0001', 1, 'purchase', v * 10.0,
       TIMESTAMPTZ '2024-03-12 12:00:00+00', TIMESTAMPTZ '{CUT}' + v * INTERVAL 1 HOUR,
       2400000 + v, DATE '2024-03-12'
FROM range(1, 3) AS r(v)
"""
# In batch 1: an event whose sender's clock ran days ahead, the only one of its day.
LONE_SQL = f"""
SELECT 'lone-0001', 2, 'purchase', 12.0, TIMESTAMPTZ '2024-04-02 10:00:00+00',
       TIMESTAMPTZ '{CUT}' - INTERVAL 14 HOUR, 1900001, DATE '2024-04-02'
"""


@dataclass
class Scenario:
    """What each step returned or raised, and what the tests read between the steps."""

    table: str
    features: str
    steps: dict[str, Any] = field(default_factory=dict)
    snapshots: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    version_after_first: int | None = None
    partitions_after_first: list[str] | None = None
    as_of: datetime | None = None

    def get(self, step: str) -> Any:
        outcome = self.steps.get(step)
        if outcome is None:
            failed = [o for o in self.steps.values() if o.error is not None]
            if failed:
                failed[0].get()  # fails with that step's error
            pytest.fail(f"The scenario stopped before '{step}'.", pytrace=False)
        return outcome.get()


def _snapshot(path: str) -> dict[str, tuple[int, int]]:
    root = Path(path)
    return {
        str(p.relative_to(root)): (p.lstat().st_mtime_ns, p.lstat().st_size)
        for p in root.glob("event_date=*/*.parquet")
    }


def _delta_state(uri: str, plain: Any, version: int | None = None) -> pd.DataFrame:
    """The table at ``version`` (default: latest), read with the tests' own deltalake.

    ``plain`` (``lab.plain``) first checks that the folder holds no links.
    """
    from deltalake import DeltaTable

    return _canonical(DeltaTable(str(plain(uri)), version=version).to_pyarrow_table())


def _canonical(table: pa.Table) -> pd.DataFrame:
    """Rows sorted by event_id, timestamps as epoch µs, dates as text: comparable."""
    import duckdb

    missing = set(COLUMNS) - set(table.column_names)
    assert not missing, f"the table has columns {table.column_names}; missing {missing}"
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.register("t", table)
    return db.execute(
        """
        SELECT event_id, user_id, event_type, amount,
               epoch_us(CAST(event_ts AS TIMESTAMPTZ)) AS event_ts,
               epoch_us(CAST(ingest_ts AS TIMESTAMPTZ)) AS ingest_ts,
               source_offset, strftime(CAST(event_date AS DATE), '%Y-%m-%d') AS event_date
        FROM t ORDER BY event_id, ingest_ts, source_offset
        """
    ).df()


@pytest.fixture(scope="module")
def expected(oracle: Any) -> dict[str, Any]:
    """Batches 1 and 2 as Parquet, and the states, dates and features they must give."""
    q = oracle.db.execute
    q(
        "CREATE OR REPLACE TABLE batch1 AS SELECT * FROM clean "
        f"WHERE ingest_ts < TIMESTAMPTZ '{CUT}' UNION ALL ({LONE_SQL})"
    )
    oracle.dedup("batch1", "first_state")
    q(
        f"CREATE OR REPLACE TABLE batch2 AS SELECT * FROM clean "
        f"WHERE ingest_ts >= TIMESTAMPTZ '{CUT}' UNION ALL ({EXTRA_SQL})"
    )
    q("CREATE OR REPLACE TABLE both_batches AS SELECT * FROM batch1 UNION ALL SELECT * FROM batch2")
    oracle.dedup("both_batches", "second_state")
    oracle.features("second_state", "second_features")
    changed = oracle.df(
        """
        SELECT DISTINCT strftime(event_date, '%Y-%m-%d') AS d FROM (
            (SELECT * FROM first_state EXCEPT SELECT * FROM second_state)
            UNION ALL
            (SELECT * FROM second_state EXCEPT SELECT * FROM first_state)
        ) ORDER BY d
        """
    )["d"].tolist()
    first_dates = oracle.df(
        "SELECT DISTINCT strftime(event_date, '%Y-%m-%d') AS d FROM first_state ORDER BY d"
    )["d"].tolist()
    affected = sorted(
        {
            (date.fromisoformat(d) + timedelta(days=k)).isoformat()
            for d in changed
            for k in range(WINDOW_DAYS + 1)
        }
    )
    return {
        "batch1": oracle.to_parquet("SELECT * FROM batch1", "batch1"),
        "batch2": oracle.to_parquet("SELECT * FROM batch2", "batch2"),
        "first_state": oracle.rows("first_state").sort_values("event_id").reset_index(drop=True),
        "second_state": oracle.rows("second_state").sort_values("event_id").reset_index(drop=True),
        "first_dates": first_dates,
        "changed": changed,
        "affected": affected,
        "features": oracle.rows("second_features").set_index("event_id"),
    }


@pytest.fixture(scope="module")
def scenario(expected: dict[str, Any], lab: Any) -> Scenario:
    root = Path(lab.out("lakehouse"))
    run = Scenario(table=str(root / "events"), features=str(root / "features"))

    def step(name: str, what: str, fn: Any) -> bool:
        run.steps[name] = lab.attempt(what, fn)
        lab.bridge.share(str(root))
        return run.steps[name].error is None

    def merge(path: str) -> Any:
        lakehouse = lab.module("lakehouse")
        return lakehouse.merge_batch(run.table, lab.bridge.arrow(path))

    def refresh(dates: Any) -> Any:
        lakehouse = lab.module("lakehouse")
        return lakehouse.refresh_features(lab.spark(), run.table, run.features, dates)

    if not step(
        "merge1", "merge_batch(table, batch 1) into a new table", lambda: merge(expected["batch1"])
    ):
        return run
    from deltalake import DeltaTable

    version = lab.attempt(
        "reading the table after batch 1 with deltalake",
        lambda: DeltaTable(str(lab.plain(run.table))).version(),
    )
    if version.error is not None:
        run.steps["merge1"] = version
        return run
    run.version_after_first = version.value
    run.partitions_after_first = list(DeltaTable(run.table).metadata().partition_columns)
    run.as_of = datetime.now(UTC)
    changed1 = run.steps["merge1"].value
    # The features are tasks 3 and 4's code as well: their failure must not hide how the
    # merge itself did, so the merges go on without them.
    refreshed = step(
        "refresh1",
        "refresh_features(spark, table, features, dates of batch 1)",
        lambda: refresh(changed1),
    )
    run.snapshots["before"] = _snapshot(run.features)
    if not step("merge2", "merge_batch(table, batch 2)", lambda: merge(expected["batch2"])):
        return run
    changed2 = run.steps["merge2"].value
    if refreshed:
        step(
            "refresh2",
            "refresh_features(spark, table, features, dates batch 2 changed)",
            lambda: refresh(changed2),
        )
        run.snapshots["after"] = _snapshot(run.features)
    run.steps["state2"] = lab.attempt(
        "reading the table after batch 2", lambda: _delta_state(run.table, lab.plain)
    )
    if step(
        "replay", "merge_batch(table, batch 2) again (a replay)", lambda: merge(expected["batch2"])
    ):
        run.steps["state3"] = lab.attempt(
            "reading the table after the replay", lambda: _delta_state(run.table, lab.plain)
        )

    def as_of() -> pd.DataFrame:
        assert run.as_of is not None
        lakehouse = lab.module("lakehouse")
        table = lakehouse.events_as_of(run.table, lab.bridge.when(run.as_of.isoformat()))
        data = lab.bridge.ipc(table)
        assert type(data) is bytes, f"etl_bridge.ipc returned {type(data).__name__}"
        return _canonical(pa.ipc.open_stream(data).read_all())

    step("as_of", f"events_as_of(table, {run.as_of.isoformat()})", as_of)

    def as_of_now() -> pd.DataFrame:
        lakehouse = lab.module("lakehouse")
        now = datetime.now(UTC) + timedelta(seconds=1)
        table = lakehouse.events_as_of(run.table, lab.bridge.when(now.isoformat()))
        data = lab.bridge.ipc(table)
        assert type(data) is bytes, f"etl_bridge.ipc returned {type(data).__name__}"
        return _canonical(pa.ipc.open_stream(data).read_all())

    step("as_of_now", "events_as_of(table, a second from now)", as_of_now)
    return run


def _diff_rows(got: pd.DataFrame, want: pd.DataFrame) -> str:
    """A short description of how two canonical tables differ."""
    if list(got["event_id"]) != list(want["event_id"]):
        extra = sorted(set(got["event_id"]) - set(want["event_id"]))
        lost = sorted(set(want["event_id"]) - set(got["event_id"]))
        counts = got["event_id"].value_counts()
        repeated = sorted(counts[counts > 1].index)
        return (
            f"{len(got)} rows for {len(want)} expected; repeated event_ids {repeated[:3]}, "
            f"unexpected {extra[:3]}, missing {lost[:3]}"
        )
    for column in COLUMNS:
        a, b = got[column], want[column]
        same = (a == b) | (a.isna() & b.isna())
        if column == "amount":
            same = same | ((a - b).abs() < 1e-9)
        if not same.all():
            i = (~same).idxmax()
            return (
                f"{int((~same).sum())} rows differ in {column}, e.g. {want.at[i, 'event_id']}: "
                f"{a[i]!r} instead of {b[i]!r}"
            )
    return ""


def test_merge_upserts_instead_of_appending(scenario: Scenario, expected: dict[str, Any]) -> None:
    scenario.get("merge1")
    scenario.get("merge2")
    got = scenario.get("state2")
    counts = got.groupby("event_date").size().to_dict()
    want_counts = expected["second_state"].groupby("event_date").size().to_dict()
    wrong = {
        d: (counts.get(d), want_counts.get(d))
        for d in sorted(set(counts) | set(want_counts))
        if counts.get(d) != want_counts.get(d)
    }
    assert not wrong, (
        f"After merging two batches, rows per event_date (got, expected) differ: "
        f"{dict(list(wrong.items())[:5])}. An event is one row, whichever batch it came in: "
        "an append (or a MERGE fed several versions of one event) keeps duplicates. Upsert "
        "by event_id with MERGE, after keeping the newest version of each event in the batch."
    )


def test_corrections_are_applied_and_stale_versions_ignored(
    scenario: Scenario, expected: dict[str, Any]
) -> None:
    got = scenario.get("state2")
    problem = _diff_rows(got, expected["second_state"])
    assert not problem, (
        f"After batch 2 the table differs from the newest version of each event: {problem}. "
        "A correction (a later ingest_ts) replaces the row; a stale redelivery (an older "
        "ingest_ts, even with a larger offset) must not; a correction may move the event to "
        "another day. Update a matched row only when the source version is newer."
    )


def test_changed_partitions_are_reported_exactly(
    scenario: Scenario, expected: dict[str, Any]
) -> None:
    first = scenario.get("merge1")
    second = scenario.get("merge2")
    assert first == expected["first_dates"], (
        f"merge_batch() into a new table returned {first[:5]}... ({len(first)} dates); "
        f"expected every date of the batch ({len(expected['first_dates'])})."
    )
    assert second == expected["changed"], (
        f"merge_batch() of batch 2 returned the changed partitions {second}; expected "
        f"{expected['changed']}. A partition changed when a row was inserted, updated or "
        "moved out of it: a correction that moves an event from one day to another changes "
        "both days, and a stale redelivery that loses the merge changes nothing. Downstream "
        "jobs recompute exactly these days, so a missing one stays wrong for ever."
    )


def test_replaying_a_batch_changes_nothing(scenario: Scenario, expected: dict[str, Any]) -> None:
    replayed = scenario.get("replay")
    got = scenario.get("state3")
    problem = _diff_rows(got, expected["second_state"])
    assert not problem and replayed == [], (
        f"Merging batch 2 a second time returned {replayed} and left the table "
        f"{'unchanged' if not problem else 'changed: ' + problem}; expected [] and no "
        "change. A scheduler retries a batch after a crash: the retry must be a no-op."
    )


def test_time_travel_returns_the_old_version_not_the_latest(
    scenario: Scenario, expected: dict[str, Any], lab: Any
) -> None:
    got = scenario.get("as_of")
    want = expected["first_state"]
    problem = _diff_rows(got, want)
    assert not problem, (
        f"events_as_of(table, {scenario.as_of}) (after batch 1, before batch 2) differs from "
        f"the table as it was then: {problem}. The corrections overwrote the old values in "
        "the current version; only an older version still has them. Load the last version "
        "committed at or before the time (DeltaTable.load_as_version(as_of)): filtering "
        "the current rows by ingest_ts cannot bring back a value that was updated."
    )
    assert scenario.version_after_first is not None
    own = _delta_state(scenario.table, lab.plain, scenario.version_after_first)
    problem = _diff_rows(own, want)
    assert not problem, (
        f"Read with deltalake, version {scenario.version_after_first} of the table (the one "
        f"after batch 1) differs from batch 1's state: {problem}. Do not rewrite or vacuum "
        "the history: reproducing yesterday's model needs yesterday's version."
    )


def _features(path: str, oracle: Any) -> pd.DataFrame:
    return oracle.df(
        f"""
        SELECT event_id, strftime(CAST(event_date AS DATE), '%Y-%m-%d') AS event_date,
               user_events_7d, user_amount_7d
        FROM read_parquet('{oracle.plain(path)}/event_date=*/*.parquet',
                          hive_partitioning = true)
        """
    )


def test_features_of_the_following_week_are_recomputed(
    scenario: Scenario, expected: dict[str, Any], oracle: Any
) -> None:
    scenario.get("refresh1")
    scenario.get("refresh2")
    got = _features(scenario.features, oracle)
    want = expected["features"]
    counts = got["event_id"].value_counts()
    assert len(got) == len(want) and (counts <= 1).all(), (
        f"The features table holds {len(got)} rows ({int((counts > 1).sum())} event_ids "
        f"repeated) for {len(want)} events. Recompute a partition by replacing it "
        "(write_partitioned), and include every event of the affected days."
    )
    got = got.set_index("event_id")
    wrong = []
    for event_id, row in want.iterrows():
        if event_id not in got.index:
            wrong.append(f"{event_id}: missing")
            continue
        count, amount = got.at[event_id, "user_events_7d"], got.at[event_id, "user_amount_7d"]
        if (
            count is None
            or pd.isna(count)
            or int(count) != int(row.user_events_7d)
            or amount is None
            or pd.isna(amount)
            or not math.isclose(float(amount), float(row.user_amount_7d), abs_tol=1e-6)
        ):
            wrong.append(
                f"{event_id} ({row.event_date}): got ({count}, {amount}), expected "
                f"({row.user_events_7d}, {row.user_amount_7d})"
            )
    days = sorted({w.split("(")[1][:10] for w in wrong if "(" in w})
    assert not wrong, (
        f"After batch 2, {len(wrong)} events have stale or wrong features, on the days "
        f"{days[:8]}, e.g. {wrong[:2]}. The changed days were {expected['changed']}; an "
        f"event's features read the {WINDOW_DAYS} days before it, so a change on day d "
        f"reaches the features up to d + {WINDOW_DAYS}. And each recomputed day needs its "
        "own history: read the week before the first affected day too."
    )


def test_unaffected_feature_partitions_are_not_rewritten(
    scenario: Scenario, expected: dict[str, Any]
) -> None:
    scenario.get("refresh1")
    scenario.get("refresh2")
    before, after = scenario.snapshots["before"], scenario.snapshots["after"]
    affected = set(expected["affected"])
    untouched = {f for f in before if f.split("/")[0].removeprefix("event_date=") not in affected}
    assert untouched, "the scenario must leave some feature partitions unaffected"
    rewritten = sorted(f.split("/")[0] for f in untouched if after.get(f) != before[f])
    assert not rewritten, (
        f"Recomputing after batch 2 rewrote {len(rewritten)} files of partitions no change "
        f"reached, e.g. {rewritten[:3]}; only {expected['affected'][:3]}... were affected. "
        "Rebuilding every partition on every batch costs the whole history each day; "
        "recompute the affected partitions only."
    )


def test_the_first_write_partitions_the_table_by_event_date(scenario: Scenario) -> None:
    scenario.get("merge1")
    got = scenario.partitions_after_first
    assert got == ["event_date"], (
        f"After merge_batch() created the table, its partition columns are {got}; expected "
        "['event_date']. The table's layout is fixed by its first write: a table created "
        "without partitions stays one pile of files, every MERGE rewrites files across "
        "all days, and a day cannot be read or replaced on its own. Pass "
        "partition_by=[PARTITION] to the write that creates it."
    )


def _rows_of(state: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return state[state["event_id"].isin(ids)].reset_index(drop=True)


def test_an_ingest_ts_tie_is_broken_by_the_larger_source_offset(
    scenario: Scenario, expected: dict[str, Any], oracle: Any
) -> None:
    got = scenario.get("state2")
    ties = oracle.df(
        """
        SELECT b.event_id, b.source_offset > f.source_offset AS newer
        FROM batch2 b JOIN first_state f USING (event_id)
        WHERE b.ingest_ts = f.ingest_ts AND b.source_offset <> f.source_offset
          AND b.event_date IN (DATE '2024-03-13', DATE '2024-03-14')
        """
    )
    assert ties["newer"].sum() >= 3 and (~ties["newer"]).sum() >= 3, "test data lost its ties"
    ids = sorted(ties["event_id"])
    problem = _diff_rows(_rows_of(got, ids), _rows_of(expected["second_state"], ids))
    assert not problem, (
        f"Batch 2 redelivers six events with the table's own ingest_ts: three with a larger "
        f"source_offset (newer: they must replace the row) and three with a smaller one "
        f"(older: the row stays). After the merge: {problem}. 'Newer' is the later ingest_ts "
        "and, when the ingest_ts are equal, the larger source_offset: the MERGE's update "
        "predicate needs the tie-break too, not only the dedup."
    )
    changed = scenario.get("merge2")
    assert "2024-03-13" in changed and "2024-03-14" not in changed, (
        f"merge_batch() of batch 2 returned {changed}: the tie won by the larger offset "
        "changes 2024-03-13, and the tie lost by the smaller offset changes nothing on "
        "2024-03-14. Decide 'newer' the same way when you work out the changed days."
    )


def _features_of_day(path: str, oracle: Any, day: str) -> pd.DataFrame:
    got = _features(path, oracle)
    return got[got["event_date"] == day].set_index("event_id").sort_index()


def test_a_day_whose_only_event_moved_away_keeps_no_features(
    scenario: Scenario, oracle: Any
) -> None:
    scenario.get("refresh2")
    got = _features(scenario.features, oracle)
    left = got[got["event_date"] == "2024-04-02"]
    assert left.empty, (
        f"After batch 2 moved lone-0001, the only event of 2024-04-02, to 2024-03-24, the "
        f"features table still has {len(left)} rows in the partition event_date=2024-04-02 "
        f"({sorted(left['event_id'])[:3]}), so the event is counted twice. A dynamic "
        "partition overwrite replaces only the partitions that have rows: an affected day "
        "that is empty now gets no rows, and its old partition must be removed by hand."
    )


def test_the_first_recomputed_day_reads_a_full_week_of_history(
    scenario: Scenario, expected: dict[str, Any], oracle: Any
) -> None:
    scenario.get("refresh2")
    first = expected["affected"][0]
    got = _features_of_day(scenario.features, oracle, first)
    want = expected["features"]
    want = want[want["event_date"] == first].sort_index()
    wrong = [
        f"{event_id}: got {int(got.at[event_id, 'user_events_7d'])} events, expected "
        f"{int(row.user_events_7d)}"
        for event_id, row in want.iterrows()
        if event_id in got.index
        and int(got.at[event_id, "user_events_7d"]) != int(row.user_events_7d)
    ]
    assert not wrong and len(got) == len(want), (
        f"The features of {first}, the first day batch 2 affects, are wrong for "
        f"{len(wrong)} of {len(want)} events ({len(got)} rows written), e.g. {wrong[:2]}. "
        f"An event at 15:00 on day d counts the events since 15:00 on day d - "
        f"{WINDOW_DAYS}: the recompute must read the {WINDOW_DAYS} whole days before the "
        f"first affected day, day d - {WINDOW_DAYS} included."
    )


def test_refresh_features_returns_the_affected_dates(
    scenario: Scenario, expected: dict[str, Any]
) -> None:
    got = scenario.get("refresh2")
    assert got == expected["affected"], (
        f"refresh_features() after batch 2 returned {got}; expected the affected dates "
        f"{expected['affected'][:4]}... ({len(expected['affected'])} days, sorted): each "
        f"changed day and the {WINDOW_DAYS} days after it."
    )


def test_time_travel_to_now_returns_the_latest_version(
    scenario: Scenario, expected: dict[str, Any]
) -> None:
    got = scenario.get("as_of_now")
    problem = _diff_rows(got, expected["second_state"])
    assert not problem, (
        f"events_as_of(table, now) differs from the table after batch 2: {problem}. The "
        "version as of a time is the last one committed at or before it; for the present, "
        "that is the latest version, not the first."
    )
