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
  across the features with Benjamini-Hochberg at ``alpha``: on undrifted data, at most
  about ``alpha`` of the reports raise any alarm.
- A feature with fewer than ``min_samples`` values in either sample is not tested: its
  entry says ``enough_data: False``, ``p_value: None``, ``drifted: False``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

FLOOR = 1e-4


def psi(reference: list[float], current: list[float]) -> float:
    """Population stability index of ``current`` against ``reference`` (decile bins)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    bins = len(edges) + 1
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=bins) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=bins) / len(cur)
    # An empty bin would make ln(c / r) infinite: floor the shares.
    r, c = np.maximum(r, FLOOR), np.maximum(c, FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_pvalue(reference: list[float], current: list[float]) -> float:
    """Two-sample Kolmogorov-Smirnov p-value."""
    return float(stats.ks_2samp(reference, current).pvalue)


def categorical_pvalue(reference: list[str], current: list[str]) -> float:
    """Chi-squared p-value over the union of both samples' categories."""
    categories = sorted(set(reference) | set(current))
    ref_counts = [reference.count(c) for c in categories]
    cur_counts = [current.count(c) for c in categories]
    if len(categories) < 2:
        return 1.0
    return float(stats.chi2_contingency([ref_counts, cur_counts]).pvalue)


def benjamini_hochberg(p_values: list[float], alpha: float) -> list[bool]:
    """Which hypotheses BH rejects at false-discovery rate ``alpha``."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    passed = 0
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= rank / m * alpha:
            passed = rank
    rejected = [False] * m
    for i in order[:passed]:
        rejected[i] = True
    return rejected


def drift_report(
    reference: dict[str, list[Any]],
    current: dict[str, list[Any]],
    alpha: float = 0.05,
    min_samples: int = 100,
) -> dict[str, dict[str, Any]]:
    """Per feature: ``{"p_value", "drifted", "enough_data"}``."""
    report: dict[str, dict[str, Any]] = {}
    tested: list[str] = []
    p_values: list[float] = []
    for name, ref in reference.items():
        cur = current.get(name, [])
        if len(ref) < min_samples or len(cur) < min_samples:
            report[name] = {"p_value": None, "drifted": False, "enough_data": False}
            continue
        if any(isinstance(v, str) for v in ref):
            p = categorical_pvalue([str(v) for v in ref], [str(v) for v in cur])
        else:
            p = numeric_pvalue(ref, cur)
        tested.append(name)
        p_values.append(p)
        report[name] = {"p_value": p, "drifted": False, "enough_data": True}
    # Many features, many windows: without a correction, one of them drifts by chance.
    for name, rejected in zip(tested, benjamini_hochberg(p_values, alpha), strict=True):
        report[name]["drifted"] = rejected
    return report
