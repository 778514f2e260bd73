"""Task 3: per-user rolling 7-day features that only use what was known at the time.

For each event at time t, over the same user's events with event_ts in the window
[t - 7 days, t) and ingest_ts before t (an event that arrived later was not known at t):

    user_events_7d   how many events (0 if none)
    user_amount_7d   the sum of their non-null amounts (0.0 if none)

The window is *time*, not rows: a user may have no events for days, or fifty in an hour.
And it is strictly before t: the event itself, and other events at the same instant, are
not history, and using them leaks the label into its own features. Events arrive up to
five days late: one that happened in the window but was ingested at or after t could not
be seen by a model serving at t, so it must not be in t's features either.
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
      - Of the frame's events, keep those with ingest_ts < the current event_ts (a frame
        bounds one column only: collect the frame's rows and filter the list).
      - Count them; sum their non-null amounts, 0.0 when there are none.
    """
    raise NotImplementedError("TODO(student): compute rolling 7-day features with rangeBetween")
