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

import numpy as np
from scipy import stats

NOT_FEATURES = {"hour", "score", "latency_ms", "label"}


class Monitor:
    """Hourly checks of one model's traffic against a clean reference day."""

    def __init__(self, reference: dict[str, list[Any]], persistence: int = 2) -> None:
        self.reference = reference
        self.persistence = persistence
        self.features = [k for k in reference if k not in NOT_FEATURES]
        self.numeric = [f for f in self.features if not isinstance(reference[f][0], str)]
        self.medians = {f: float(np.median(reference[f])) for f in self.numeric}
        self.positive_rate = float(np.mean(reference["label"]))
        self.p99 = float(np.percentile(reference["latency_ms"], 99))
        self._drifting_hours = 0

    def _unit_changed(self, batch: dict[str, list[Any]]) -> list[str]:
        """Features whose median moved by a factor of ten or more: units, not behaviour."""
        changed = []
        for f in self.numeric:
            ratio = float(np.median(batch[f])) / self.medians[f] if self.medians[f] else 1.0
            if ratio >= 8 or ratio <= 1 / 8:
                changed.append(f)
        return changed

    def _drifted(self, batch: dict[str, list[Any]], skip: list[str]) -> bool:
        tested = [f for f in self.features if f not in skip]
        p_values = []
        for f in tested:
            if f in self.numeric:
                p_values.append(float(stats.ks_2samp(self.reference[f], batch[f]).pvalue))
            else:
                cats = sorted(set(self.reference[f]) | set(batch[f]))
                table = [
                    [self.reference[f].count(c) for c in cats],
                    [batch[f].count(c) for c in cats],
                ]
                p_values.append(float(stats.chi2_contingency(table).pvalue))
        # 168 hours x a few features: Bonferroni at a strict family rate per hour.
        return bool(p_values) and min(p_values) < 0.001 / len(p_values)

    def observe(self, batch: dict[str, list[Any]]) -> list[str]:
        kinds = set()
        changed = self._unit_changed(batch)
        if changed:
            kinds.add("unit_change")
        # A drift has to persist: one odd hour in a week of checks is noise.
        self._drifting_hours = self._drifting_hours + 1 if self._drifted(batch, changed) else 0
        if self._drifting_hours >= self.persistence:
            kinds.add("covariate_shift")
        labels = np.asarray(batch["label"], dtype=float)
        if len(labels):
            p0 = self.positive_rate
            z = (labels.mean() - p0) / np.sqrt(p0 * (1 - p0) / len(labels))
            if abs(z) > 5:
                kinds.add("label_shift")
        if float(np.percentile(batch["latency_ms"], 99)) > 2 * self.p99:
            kinds.add("latency")
        return sorted(kinds)
