"""Task 3: per-user rolling 7-day features that only look at the past."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

WINDOW = 7 * 24 * 3600 * 1_000_000  # 7 days, in microseconds


def add_rolling_features(events: DataFrame) -> DataFrame:
    """Add ``user_events_7d`` and ``user_amount_7d`` over [event_ts - 7 days, event_ts)."""
    # rangeBetween works on the ORDER BY value, so the frame is 7 days of *time*
    # whatever the number of rows; rowsBetween(-7, -1) would be "the 7 previous events".
    # The upper bound -1 µs leaves out the event itself and anything at the same
    # instant: a feature may only use what was known before the event.
    past_week = (
        Window.partitionBy("user_id").orderBy(F.unix_micros("event_ts")).rangeBetween(-WINDOW, -1)
    )
    return events.withColumn("user_events_7d", F.count(F.lit(1)).over(past_week)).withColumn(
        "user_amount_7d", F.sum("amount").over(past_week)
    )
