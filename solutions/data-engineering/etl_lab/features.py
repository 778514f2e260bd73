"""Task 3: per-user rolling 7-day features that only use what was known at the time."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

WINDOW = 7 * 24 * 3600 * 1_000_000  # 7 days, in microseconds


def add_rolling_features(events: DataFrame) -> DataFrame:
    """Add ``user_events_7d`` and ``user_amount_7d`` over [event_ts - 7 days, event_ts),
    counting only the events ingested before event_ts."""
    # rangeBetween works on the ORDER BY value, so the frame is 7 days of *time*
    # whatever the number of rows; rowsBetween(-7, -1) would be "the 7 previous events".
    # The upper bound -1 µs leaves out the event itself and anything at the same instant.
    past_week = (
        Window.partitionBy("user_id").orderBy(F.unix_micros("event_ts")).rangeBetween(-WINDOW, -1)
    )
    # A frame can only bound one column. Of the week's events, those that reached us
    # after this event happened (late ones) were unknown then: serving could not have
    # seen them, so training must not either.
    known = F.filter(
        F.collect_list(F.struct("ingest_ts", "amount")).over(past_week),
        lambda past: past["ingest_ts"] < F.col("event_ts"),
    )
    amounts = F.aggregate(
        known, F.lit(0.0), lambda total, past: total + F.coalesce(past["amount"], F.lit(0.0))
    )
    return events.withColumn("user_events_7d", F.size(known).cast("bigint")).withColumn(
        "user_amount_7d", amounts
    )
