"""Task 6: an incident, replayed: one monitor for a week of traffic.

``Monitor(reference)`` learns what normal looks like from a clean day (the columns of
``monitor_lab.week``); ``observe(batch)`` is called once an hour with that hour's traffic
and returns the kinds of incident it sees now, a sorted list drawn from
``week.KINDS``: ``"covariate_shift"``, ``"unit_change"``, ``"label_shift"``,
``"latency"`` (an empty list when all is well).

Requirements (the tests replay seeded weeks and check each one):

- Every incident is named within its delay: a covariate shift (which ramps in over four
  hours) within 4 hours of its start, the others within 2.
- A unit change (a feature suddenly 100 times larger, or smaller) is named
  ``"unit_change"``, not ``"covariate_shift"``: the fix is a conversion upstream, not a
  retrain.
- A label shift is seen in the labels (the share of positives against the reference's),
  which the features do not show.
- A latency regression is seen in the tail (p99), where one request in thirty waiting a
  second more shows; the mean barely moves.
- Clean hours are silent: no alert outside an incident and the three hours after it,
  over a whole week of hourly checks (so correct for the number of tests, and require
  the drift to persist).
"""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401  (you will need both)
from scipy import stats  # noqa: F401

NOT_FEATURES = {"hour", "score", "latency_ms", "label"}


class Monitor:
    """Hourly checks of one model's traffic against a clean reference day."""

    def __init__(self, reference: dict[str, list[Any]], persistence: int = 2) -> None:
        self.reference = reference
        self.persistence = persistence
        # TODO(student): learn what normal looks like: per-feature medians, the share of
        # positive labels, the latency p99.
        raise NotImplementedError("TODO(student): learn the reference")

    def observe(self, batch: dict[str, list[Any]]) -> list[str]:
        """The kinds of incident this hour's batch shows, sorted (empty when all is well)."""
        # TODO(student): units first, then drift (corrected and persistent), labels,
        # latency.
        raise NotImplementedError("TODO(student): check one hour of traffic")
