"""Task 3: per-user rolling 7-day features that only look at the past.

For each event at time t, over the same user's events in the window [t - 7 days, t):

    user_events_7d   how many events (0 if none)
    user_amount_7d   the sum of their non-null amounts (0.0 if none)

The window is *time*, not rows: a user may have no events for days, or fifty in an hour.
And it is strictly before t: the event itself, and other events at the same instant, are
not history, and using them leaks the label into its own features.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

WINDOW_DAYS = 7


def add_rolling_features(events: DataFrame) -> DataFrame:
    """Return ``events`` with two added columns, user_events_7d and user_amount_7d.

    TODO(student):
      - A Window partitioned by user_id, ordered by the event time as a number
        (F.unix_micros or F.unix_seconds), with rangeBetween(lower, upper).
      - Pick the bounds: the lower one reaches exactly 7 days back (inclusive); the upper
        one stops just before the current event.
      - count over the window; coalesce the sum to 0.0 when the window is empty.
    """
    raise NotImplementedError("TODO(student): compute rolling 7-day features with rangeBetween")
