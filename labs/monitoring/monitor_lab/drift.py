"""Task 3: data drift, per feature, without crying wolf.

Requirements (the tests check each one):

- ``psi(reference, current)`` bins both samples on the reference's deciles (the edges are
  ``np.quantile(reference, [0.1, …, 0.9])``, repeated edges merged, the outer bins open),
  floors each bin's share at 1e-4, and returns ``Σ (c − r) · ln(c / r)``. The bins come
  from the reference only: bins fitted on the current window move with the drift they
  should measure.
- ``categorical_pvalue(reference, current)`` is a chi-squared test over every category
  seen in either sample: a category the reference never had is drift, not noise.
- ``drift_report(reference, current)`` tests each feature (two-sample Kolmogorov-Smirnov
  for numbers, the chi-squared test above for strings) and controls the false-alarm rate
  across the features with Benjamini-Hochberg at ``alpha`` (step-up: the largest rank
  that passes, and every smaller p-value with it): on undrifted data, at most about
  ``alpha`` of the reports raise any alarm.
- A feature with fewer than ``min_samples`` values in either sample is not tested: its
  entry says ``enough_data: False``, ``p_value: None``, ``drifted: False``.
"""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401  (you will need both)
from scipy import stats  # noqa: F401

FLOOR = 1e-4


def psi(reference: list[float], current: list[float]) -> float:
    """Population stability index of ``current`` against ``reference`` (decile bins)."""
    # TODO(student): edges from the reference's deciles, counts of both samples in those
    # bins (np.searchsorted), shares floored at FLOOR, then the PSI sum.
    raise NotImplementedError("TODO(student): compute PSI")


def numeric_pvalue(reference: list[float], current: list[float]) -> float:
    """Two-sample Kolmogorov-Smirnov p-value."""
    # TODO(student): scipy.stats has it.
    raise NotImplementedError("TODO(student): a two-sample test for numbers")


def categorical_pvalue(reference: list[str], current: list[str]) -> float:
    """Chi-squared p-value over the union of both samples' categories."""
    # TODO(student): a 2 x k table of counts, one column per category seen anywhere.
    raise NotImplementedError("TODO(student): a chi-squared test for categories")


def drift_report(
    reference: dict[str, list[Any]],
    current: dict[str, list[Any]],
    alpha: float = 0.05,
    min_samples: int = 100,
) -> dict[str, dict[str, Any]]:
    """Per feature: ``{"p_value", "drifted", "enough_data"}``."""
    # TODO(student): test each feature with enough data, then decide which drifted with
    # Benjamini-Hochberg across the features tested.
    raise NotImplementedError("TODO(student): a drift report with a false-alarm control")
