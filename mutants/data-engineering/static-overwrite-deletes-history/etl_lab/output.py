"""Task 4: write Parquet partitioned by event_date, safely re-runnable."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame


def write_partitioned(df: DataFrame, path: str | Path) -> None:
    """Replace the event_date partitions present in ``df``; leave every other one alone."""
    # Static overwrite (the default) first deletes the whole table, so a run over two
    # new days would wipe the history. Dynamic mode replaces only the partitions this
    # DataFrame has rows for, which makes a rerun of the same input a no-op.
    df.write.mode("overwrite").partitionBy("event_date").parquet(str(path))
