"""Task 3: data drift without crying wolf (monitor_lab/drift.py).

The tests draw every sample from fixed seeds, so they know which windows drifted and
which did not; PSI is checked against their own computation of the stated definition.

Requirement sentences, and the test that fails when each alone is broken:

- PSI bins come from the reference's deciles: test_psi_bins_come_from_the_reference
- ... with shares floored at 1e-4: test_psi_is_finite_when_a_bin_empties
- A category the reference never had is drift: test_a_new_category_is_drift
- The false-alarm rate is controlled across features:
  test_undrifted_windows_rarely_raise_an_alarm
- ... without losing real drift: test_a_real_shift_is_still_detected
- Too few rows is not a verdict: test_too_few_rows_is_not_a_verdict
- ... and exactly min_samples rows is enough: test_min_samples_off_by_one
- Benjamini-Hochberg is step-up (the largest passing rank): test_bh_stops_at_first_failure
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import monitor

pytestmark = pytest.mark.task(3)

FEATURES = [f"f{i}" for i in range(10)]


@pytest.fixture
def drift(learner: Any) -> Any:
    return monitor(learner, "drift")


def reference_psi(reference: np.ndarray, current: np.ndarray) -> float:
    """The stated definition, computed here."""
    edges = np.unique(np.quantile(reference, np.linspace(0.1, 0.9, 9)))
    bins = len(edges) + 1
    r = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=bins)
    c = np.bincount(np.searchsorted(edges, current, side="right"), minlength=bins)
    r = np.maximum(r / len(reference), 1e-4)
    c = np.maximum(c / len(current), 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


def sample(seed: int, n: int, shift: float = 0.0, scale: float = 1.0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [round(float(x), 5) for x in rng.normal(shift, scale, n)]


def window(seed: int, n: int, shifted: dict[str, float] | None = None) -> dict[str, list[float]]:
    shifted = shifted or {}
    return {f: sample(seed * 100 + i, n, shifted.get(f, 0.0)) for i, f in enumerate(FEATURES)}


def test_psi_bins_come_from_the_reference(drift):
    reference, current = sample(1, 5000), sample(2, 2000, shift=0.5, scale=2.0)
    got = drift.psi(reference, current)
    expected = reference_psi(np.array(reference), np.array(current))
    assert isinstance(got, float) and abs(got - expected) < 1e-6, (
        f"psi(reference, current) with the current window shifted by 0.5 and twice as wide "
        f"gave {got}, expected {expected:.6f} (bins on the reference's deciles). Bins "
        "fitted on the current window put a tenth of it in each bin whatever happened, so "
        "the drift they should measure moves the bins instead."
    )


def test_psi_is_finite_when_a_bin_empties(drift):
    reference, current = sample(3, 3000), sample(4, 1000, shift=6.0)
    got = drift.psi(reference, current)
    expected = reference_psi(np.array(reference), np.array(current))
    assert isinstance(got, float) and np.isfinite(got) and abs(got - expected) < 1e-6, (
        f"Every current value is above the reference's range, so nine bins are empty: psi "
        f"gave {got}, expected {expected:.6f}. Floor each share at 1e-4, or ln(0) makes the "
        "biggest drift of all infinite or NaN, and NaN > threshold is False: no alarm."
    )


def test_a_new_category_is_drift(drift):
    rng = np.random.default_rng(5)
    reference = [str(x) for x in rng.choice(["web", "ios", "android"], 3000, p=[0.5, 0.3, 0.2])]
    current = [str(x) for x in rng.choice(["web", "ios", "android"], 850, p=[0.5, 0.3, 0.2])]
    current += ["tablet"] * 150
    p = drift.categorical_pvalue(reference, current)
    assert isinstance(p, float) and p < 1e-6, (
        f"15 % of the current window is 'tablet', a category the reference never had; "
        f"categorical_pvalue gave {p}. Test over every category seen in either sample: a "
        "new app version or an upstream code change shows up exactly like this."
    )
    report = drift.drift_report({"channel": reference}, {"channel": current})
    assert report["channel"]["drifted"] is True, f"drift_report said {report}"


@pytest.mark.hint(
    "Ten features at 5 % each alarm in about 40 % of clean windows: decide with "
    "Benjamini-Hochberg across the features tested."
)
def test_undrifted_windows_rarely_raise_an_alarm(drift, bridge):
    reference = window(999, 2000)
    windows = [window(seed, 200) for seed in range(1, 101)]
    reports = bridge.each_against(drift.drift_report, reference, windows)
    alarms = sum(any(r[f]["drifted"] for f in FEATURES) for r in reports)
    assert alarms <= 12, (
        f"100 windows of 10 features drawn from the reference's own distribution raised an "
        f"alarm in {alarms} of them; at alpha = 0.05 a controlled monitor raises about 5. "
        "Ten tests at 5 % each find something in 40 % of windows: correct for the number "
        "of features tested (Benjamini-Hochberg), or the on-call learns to ignore it."
    )


def test_a_real_shift_is_still_detected(drift, bridge):
    reference = window(999, 2000)
    windows = [window(seed, 300, shifted={"f3": 0.3}) for seed in range(200, 220)]
    reports = bridge.each_against(drift.drift_report, reference, windows)
    caught = sum(bool(r["f3"]["drifted"]) for r in reports)
    assert caught >= 15, (
        f"f3 shifted by 0.3 standard deviations in 20 windows of 300 rows; drift_report "
        f"flagged it in {caught}. A correction too strict for the number of tests "
        "(alpha / 10,000) silences real drift along with the noise."
    )


def test_too_few_rows_is_not_a_verdict(drift):
    reference = {"f0": sample(6, 1000)}
    current = {"f0": sample(7, 40, shift=3.0)}
    report = drift.drift_report(reference, current, min_samples=100)
    assert report["f0"] == {"p_value": None, "drifted": False, "enough_data": False}, (
        f"40 rows, under min_samples=100: drift_report gave {report['f0']}, expected "
        "{'p_value': None, 'drifted': False, 'enough_data': False}. At 3 a.m. the first "
        "requests after a deploy are a handful: say there is not enough data, do not page."
    )


def step_up(p_values: list[float], alpha: float) -> list[bool]:
    """Benjamini-Hochberg as the 1995 paper states it: the largest rank k with
    p_(k) <= k / m * alpha, and every hypothesis ranked 1..k rejected."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    k = max((r for r, i in enumerate(order, 1) if p_values[i] <= r / m * alpha), default=0)
    return [i in order[:k] for i in range(m)]


def test_bh_stops_at_first_failure(drift):
    from scipy import stats

    reference = sample(31, 2000)
    current: dict[str, list[float]] = {}
    p_values: list[float] = []
    seed = 1000
    while len(current) < 3:  # three mild shifts, each with 0.034 < p < 0.05
        seed += 1
        candidate = sample(seed, 400, shift=0.12)
        p = float(stats.ks_2samp(reference, candidate).pvalue)
        if 0.034 < p < 0.049:
            current[f"f{len(current)}"] = candidate
            p_values.append(p)
    expected = step_up(p_values, 0.05)
    assert expected == [True, True, True]
    report = drift.drift_report({f: reference for f in current}, current, alpha=0.05)
    got = [report[f]["drifted"] for f in current]
    assert got == expected, (
        f"Three features with KS p-values {[round(p, 4) for p in p_values]}: at alpha = "
        f"0.05 Benjamini-Hochberg rejects all three (the largest p is under 3/3 x 0.05), "
        f"drift_report flagged {got}. BH is step-up: find the LARGEST rank k with "
        "p_(k) <= k/m x alpha and reject ranks 1..k, even if a smaller rank missed its own "
        "threshold; stopping at the first miss is a different, weaker procedure."
    )


def test_min_samples_off_by_one(drift):
    reference = {"f0": sample(8, 1000)}
    current = {"f0": sample(9, 100, shift=3.0)}
    report = drift.drift_report(reference, current, min_samples=100)
    assert report["f0"]["enough_data"] is True and report["f0"]["drifted"] is True, (
        f"exactly min_samples=100 rows, shifted by 3 standard deviations: drift_report gave "
        f"{report['f0']}. 'Fewer than min_samples' is not tested; min_samples itself is "
        "enough."
    )
