"""Task 4: write Parquet partitioned by event_date, safely re-runnable.

The table lives at ``path`` as one folder per day: ``path/event_date=2024-03-05/*.parquet``.
A daily job writes a few days at a time, and a scheduler may run it twice. So:

- a rerun of the same input leaves the same table (idempotent: no appended duplicates);
- writing some days replaces exactly those days' folders and touches no other folder.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame


def write_partitioned(df: DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``path`` as Parquet partitioned by event_date.

    TODO(student):
      - partitionBy("event_date"), format Parquet.
      - Choose the save mode: append duplicates rows on a rerun; a plain overwrite deletes
        every partition that is not in ``df``. Look up partitionOverwriteMode.
    """
    raise NotImplementedError("TODO(student): write partitioned Parquet with dynamic overwrite")
