"""Task 1: read the raw event log with an explicit schema, and quarantine the bad rows.

The raw layer keeps every field as a string, so that reading never fails and never
guesses. Typing happens afterwards with ``try_cast`` / ``try_to_timestamp``: under
Spark 4's ANSI mode a plain ``cast`` raises on the first bad value and kills the job,
while the ``try_`` variants return NULL, which we turn into a quarantine reason.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
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
RAW_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in RAW_FIELDS]
    + [T.StructField(CORRUPT_COLUMN, T.StringType())]
)

# The contract of the clean table. event_ts and ingest_ts are instants, shown in UTC
# because the session time zone is UTC; event_date is the UTC calendar date.
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
REASONS = ("malformed", "missing_event_id", "bad_user_id", "bad_event_ts", "bad_amount")

# ISO 8601 with an explicit offset: "Z", "+02:00", "-05:00", "+05:30".
TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ssXXX"


def read_raw(spark: SparkSession, path: str | Path) -> DataFrame:
    """Read the JSON-lines log with RAW_SCHEMA; unparseable lines land in _corrupt_record."""
    return (
        spark.read.schema(RAW_SCHEMA)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_COLUMN)
        .json(str(path))
    )


def _parse_ts(column: str) -> Column:
    return F.try_to_timestamp(F.col(column), F.lit(TS_FORMAT))


def ingest(spark: SparkSession, path: str | Path) -> tuple[DataFrame, DataFrame]:
    """Return ``(clean, quarantine)``: every raw line ends up in exactly one of them."""
    typed = read_raw(spark, path).select(
        "*",
        F.col("user_id").try_cast("bigint").alias("_user_id"),
        F.col("amount").try_cast("double").alias("_amount"),
        _parse_ts("event_ts").alias("_event_ts"),
    )
    reason = (
        F.when(F.col(CORRUPT_COLUMN).isNotNull(), "malformed")
        .when(F.col("event_id").isNull(), "missing_event_id")
        .when(F.col("_user_id").isNull(), "bad_user_id")
        .when(F.col("_event_ts").isNull(), "bad_event_ts")
        # A missing amount is fine (views have none); a present but unparseable one is not.
        .when(F.col("amount").isNotNull() & F.col("_amount").isNull(), "bad_amount")
    )
    typed = typed.withColumn("_reason", reason)

    clean = typed.filter(F.col("_reason").isNull()).select(
        "event_id",
        F.col("_user_id").alias("user_id"),
        "event_type",
        F.col("_amount").alias("amount"),
        F.col("_event_ts").alias("event_ts"),
        _parse_ts("ingest_ts").alias("ingest_ts"),
        F.col("source_offset").try_cast("bigint").alias("source_offset"),
        # to_date uses the session time zone, which the job pins to UTC.
        F.to_date("_event_ts").alias("event_date"),
    )
    quarantine = typed.filter(F.col("_reason").isNotNull()).select(
        "event_id",
        F.col("_reason").alias("reason"),
        # Keep the original text so a fixed parser can replay the row later.
        F.coalesce(F.col(CORRUPT_COLUMN), F.to_json(F.struct(*RAW_FIELDS))).alias("raw"),
    )
    return clean, quarantine
