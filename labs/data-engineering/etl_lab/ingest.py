"""Task 1: read the raw event log with an explicit schema, and quarantine the bad rows.

The raw log (see datagen.py) is JSON lines with planted defects. Build two DataFrames:

- **clean**: the good rows, typed, with the columns and types of CLEAN_SCHEMA below.
- **quarantine**: every other line, with columns ``event_id`` (may be null), ``reason``
  (one of REASONS) and ``raw`` (for a malformed line, its original text).

Every raw line ends up in exactly one of the two. Spark 4 runs in ANSI mode: ``cast`` and
``to_timestamp`` *raise* on bad input and kill the job. Use ``Column.try_cast`` and
``F.try_to_timestamp``, which return NULL, and turn the NULLs into reasons.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

CORRUPT_COLUMN = "_corrupt_record"
RAW_FIELDS = (
    "event_id",
    "user_id",
    "event_type",
    "amount",
    "event_ts",
    "ingest_ts",
    "source_offset",
)

# The contract of the clean table, in this column order. event_ts and ingest_ts are
# instants (the session time zone is UTC); event_date is the UTC calendar date of event_ts.
CLEAN_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("user_id", T.LongType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("amount", T.DoubleType()),
        T.StructField("event_ts", T.TimestampType()),
        T.StructField("ingest_ts", T.TimestampType()),
        T.StructField("source_offset", T.LongType()),
        T.StructField("event_date", T.DateType()),
    ]
)
QUARANTINE_COLUMNS = ("event_id", "reason", "raw")
# In priority order: a row with several defects gets the first reason that applies.
#   malformed         the line is not valid JSON (Spark fills _corrupt_record)
#   missing_event_id  event_id is null, absent or ""
#   bad_user_id       user_id is null, absent or not an integer ("u_17", "n/a")
#   bad_event_ts      event_ts is null, absent or not a valid ISO 8601 time with offset
#   bad_amount        amount is present but not a number ("12,50"); a null amount is fine
REASONS = ("malformed", "missing_event_id", "bad_user_id", "bad_event_ts", "bad_amount")


def read_raw(spark: SparkSession, path: str | Path) -> DataFrame:
    """Read the JSON-lines log with an explicit schema; bad lines go to _corrupt_record.

    TODO(student):
      - Build a StructType with every name in RAW_FIELDS as a *string* (the raw layer
        never guesses types, so reading never fails) plus CORRUPT_COLUMN.
      - spark.read.schema(...) with mode PERMISSIVE and columnNameOfCorruptRecord.
      - Never infer the schema: inference scans the whole file and guesses.
    """
    raise NotImplementedError("TODO(student): read the raw log with an explicit schema")


def ingest(spark: SparkSession, path: str | Path) -> tuple[DataFrame, DataFrame]:
    """Return ``(clean, quarantine)`` for the raw log at ``path``. Keep both lazy.

    TODO(student):
      - Type the raw strings with try_cast / try_to_timestamp. Timestamps look like
        "2024-03-05T14:22:01+05:30" or "...Z": keep the offset, so the result is the
        right instant (pattern "yyyy-MM-dd'T'HH:mm:ssXXX").
      - Compute a reason per row (F.when chain, in REASONS order); NULL means clean.
      - clean: the rows without a reason, in CLEAN_SCHEMA's columns and types, with
        event_date = the date of event_ts in UTC.
      - quarantine: the rows with a reason: event_id, reason, raw (for malformed lines the
        _corrupt_record text; for the others, e.g. to_json of the raw fields).
    """
    raise NotImplementedError("TODO(student): split the raw log into clean and quarantine")
