"""Task 6: late data, MERGE and time travel with Delta Lake (``deltalake``, delta-rs)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from etl_lab.features import add_rolling_features
from etl_lab.output import write_partitioned
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

KEY = "event_id"
PARTITION = "event_date"
WINDOW_DAYS = 7
VERSION_ORDER = [("ingest_ts", "descending"), ("source_offset", "descending")]
# A source row replaces the table's row only when it is newer: a stale redelivery that
# arrives after its correction must not undo it, and a replayed batch changes nothing.
NEWER = (
    "s.ingest_ts > t.ingest_ts OR (s.ingest_ts = t.ingest_ts AND s.source_offset > t.source_offset)"
)


def _newest_per_key(batch: pa.Table) -> pa.Table:
    """One row per event_id: the newest version (task 2's order)."""
    ordered = batch.take(pc.sort_indices(batch, [(KEY, "ascending"), *VERSION_ORDER]))
    keys = ordered.column(KEY).to_pylist()
    first = [i for i, key in enumerate(keys) if i == 0 or key != keys[i - 1]]
    return ordered.take(pa.array(first, pa.int64()))


def _is_newer(row: dict[str, object], current: dict[str, object]) -> bool:
    return (row["ingest_ts"], row["source_offset"]) > (  # type: ignore[operator]
        current["ingest_ts"],
        current["source_offset"],
    )


def merge_batch(table_uri: str, batch: pa.Table) -> list[str]:
    """Upsert ``batch`` into the Delta table; return the dates of the partitions it changed."""
    # MERGE refuses two source rows for one target row: keep the newest of each event.
    batch = _newest_per_key(batch)
    if not DeltaTable.is_deltatable(table_uri):
        write_deltalake(table_uri, batch, partition_by=[PARTITION])
        return sorted({d.isoformat() for d in batch.column(PARTITION).to_pylist()})

    table = DeltaTable(table_uri)
    # The table's current version of each key in the batch. (Four columns of the whole
    # table; filtering in the scan trips over files that delta-rs wrote as string_view.)
    stored = table.to_pyarrow_table(columns=[KEY, "ingest_ts", "source_offset", PARTITION])
    keys = pa.array(batch.column(KEY).to_pylist(), pa.string())
    stored = stored.filter(pc.is_in(stored.column(KEY).cast(pa.string()), value_set=keys))
    current = {row[KEY]: row for row in stored.to_pylist()}
    changed: set[date] = set()
    for row in batch.to_pylist():
        old = current.get(row[KEY])
        if old is None:
            changed.add(row[PARTITION])
        elif _is_newer(row, old):
            # Both partitions change when a correction moves the event to another day.
            changed.update((row[PARTITION], old[PARTITION]))
    if not changed:
        return []  # a replay: no commit at all, the table stays at its version
    (
        table.merge(batch, predicate=f"t.{KEY} = s.{KEY}", source_alias="s", target_alias="t")
        .when_matched_update_all(predicate=NEWER)
        .when_not_matched_insert_all()
        .execute()
    )
    return sorted(d.isoformat() for d in changed)


def affected_dates(changed_dates: Iterable[str]) -> list[str]:
    """Each changed day and the WINDOW_DAYS after it: their features read the change."""
    days = {
        date.fromisoformat(day) + timedelta(days=k)
        for day in changed_dates
        for k in range(WINDOW_DAYS + 1)
    }
    return sorted(d.isoformat() for d in days)


def refresh_features(
    spark: SparkSession, table_uri: str, features_path: str, changed_dates: list[str]
) -> list[str]:
    """Recompute the features of the affected partitions only, from the Delta table."""
    affected = affected_dates(changed_dates)
    if not affected:
        return []
    days = [date.fromisoformat(d) for d in affected]
    # The first affected day's events look back WINDOW_DAYS: read that history too,
    # then keep only the affected days' rows.
    history = DeltaTable(table_uri).to_pyarrow_table(
        filters=[
            (PARTITION, ">=", days[0] - timedelta(days=WINDOW_DAYS)),
            (PARTITION, "<=", days[-1]),
        ]
    )
    events = spark.createDataFrame(history)
    features = add_rolling_features(events).filter(F.col(PARTITION).isin(days))
    write_partitioned(features, features_path)
    # A dynamic overwrite replaces only the partitions that have rows: an affected day
    # whose events all moved away would keep its old features. Remove those partitions.
    present = set(history.column(PARTITION).to_pylist())
    for day in days:
        if day not in present:
            shutil.rmtree(
                Path(features_path) / f"{PARTITION}={day.isoformat()}", ignore_errors=True
            )
    return affected


def events_as_of(table_uri: str, as_of: datetime) -> pa.Table:
    """The table as it was at ``as_of``: the last version committed at or before it."""
    table = DeltaTable(table_uri)
    table.load_as_version(as_of)
    return table.to_pyarrow_table()
