"""Task 6: late data, MERGE and time travel with Delta Lake (``deltalake``, delta-rs).

Task 4's Parquet folders can replace a whole day, but they cannot change one row: a late
event for last Tuesday, or a correction of one amount, means rewriting the day by hand,
and the old version is gone. A table format such as Delta Lake adds what a database has:
MERGE (upsert by key), a transaction log in which every commit is a numbered *version*,
and reads of any earlier version ("time travel").

The events table here is a Delta table partitioned by event_date, with the columns of
CLEAN_SCHEMA (task 1), one row per event_id. Batches arrive with new events, late events
for days already written, corrections (a newer version of an event), and stale
redeliveries (an older version that arrives after a newer one was merged). "Newer" means
what it meant in task 2: the later ingest_ts, ties broken by the larger source_offset.

Spark's own Delta connector needs Maven, so this task uses ``deltalake``, a Rust
implementation with a Python API on Arrow tables: ``write_deltalake``, ``DeltaTable``,
``DeltaTable.merge``, ``DeltaTable.load_as_version``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pyarrow as pa
from pyspark.sql import SparkSession

KEY = "event_id"
PARTITION = "event_date"
# The features' window (task 3): an event's features read the 7 days before it.
WINDOW_DAYS = 7


def merge_batch(table_uri: str, batch: pa.Table) -> list[str]:
    """Upsert ``batch`` (clean events, CLEAN_SCHEMA's columns) into the table at ``table_uri``.

    Creates the table, partitioned by event_date, if there is none yet. Returns the
    event_dates ("YYYY-MM-DD", sorted) of every partition whose rows changed: where a row
    was inserted, updated, or moved away from (a correction can change an event's date).
    Replaying a batch that was already merged changes nothing and returns [].

    TODO(student):
      - A batch may hold several versions of one event: keep the newest (task 2's order)
        before merging; MERGE refuses two source rows for one target row.
      - DeltaTable.is_deltatable(table_uri)? If not, write_deltalake(table_uri, batch,
        partition_by=[PARTITION]).
      - Otherwise DeltaTable(table_uri).merge(batch, predicate="t.event_id = s.event_id",
        source_alias="s", target_alias="t"): update a matched row only when the source
        version is newer (when_matched_update_all(predicate=...)), insert the others.
      - Work out which rows will change *before* merging: read the table's current
        versions of the batch's keys and compare.
    """
    raise NotImplementedError("TODO(student): upsert the batch with MERGE")


def affected_dates(changed_dates: Iterable[str]) -> list[str]:
    """The feature partitions that a change in ``changed_dates`` makes stale, sorted.

    An event's features cover the WINDOW_DAYS before it, so a changed row on day d
    changes the features of events up to WINDOW_DAYS days later.

    TODO(student): every day from d to d + WINDOW_DAYS (inclusive) for each changed d.
    """
    raise NotImplementedError("TODO(student): which feature partitions does a change reach?")


def refresh_features(
    spark: SparkSession, table_uri: str, features_path: str, changed_dates: list[str]
) -> list[str]:
    """Recompute the features of the partitions ``changed_dates`` affects, and only those.

    ``features_path`` is task 4's layout (Parquet partitioned by event_date, written
    with ``write_partitioned``) holding task 3's features (``add_rolling_features``) of
    the table's events. Partitions outside ``affected_dates(changed_dates)`` are left
    untouched, file for file. An affected day that has no events left (a correction moved
    them all to other days) keeps no feature rows either. Returns the affected dates.

    TODO(student):
      - Read the events the affected days need from the Delta table: the affected days
        *and* the WINDOW_DAYS before the first of them (their history), e.g.
        DeltaTable(table_uri).to_pyarrow_table(filters=[(PARTITION, ">=", a_date), ...]).
      - spark.createDataFrame(arrow_table), add_rolling_features, keep only the affected
        days' rows, write_partitioned(..., features_path).
    """
    raise NotImplementedError("TODO(student): recompute only the affected partitions")


def events_as_of(table_uri: str, as_of: datetime) -> pa.Table:
    """The table as it was at ``as_of``: the last version committed at or before it.

    This is how yesterday's training set is rebuilt after today's corrections: the
    current table has overwritten the old values, the old version still has them.

    TODO(student): DeltaTable(table_uri) and load_as_version(as_of), then read it.
    """
    raise NotImplementedError("TODO(student): read the table as it was at as_of")
