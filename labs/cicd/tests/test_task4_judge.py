"""Task 4: the canary judge (cicd_lab/judge.py). All traffic is seeded."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import learner

pytestmark = pytest.mark.task(4)


def verdict_of(baseline, canary) -> tuple[str, list[str]]:
    mod = learner("judge")
    result = mod.judge(mod.Sample.of(*baseline), mod.Sample.of(*canary), mod.JudgeConfig())
    assert isinstance(result, mod.Judgement), f"judge() returned {result!r}, not a Judgement."
    return mod.Verdict(result.verdict).value, list(result.reasons)


def test_healthy_canary_is_promoted(traffic):
    verdict, reasons = verdict_of(traffic(1, 8000), traffic(2, 2000))
    assert verdict == "PROMOTE", (
        f"Baseline and canary drawn from the same distribution (1 % errors, 40 ms median, "
        f"2,000 canary requests) gave {verdict}: {reasons}. A canary no worse than the "
        "baseline must be promoted."
    )


def test_canary_that_is_better_is_not_rolled_back(traffic):
    verdict, reasons = verdict_of(
        traffic(3, 8000), traffic(4, 2000, error_rate=0.002, median_ms=30.0)
    )
    assert verdict == "PROMOTE", (
        f"A canary with fewer errors (0.2 % vs 1 %) and lower latency (30 vs 40 ms) gave "
        f"{verdict}: {reasons}. The tests must be one-sided: 'different' is not 'worse'."
    )


def test_error_rate_doubling_below_an_absolute_threshold_is_caught(traffic):
    verdict, reasons = verdict_of(
        traffic(5, 20_000, error_rate=0.002), traffic(6, 5000, error_rate=0.008)
    )
    assert verdict == "ROLLBACK", (
        f"The canary's error rate is 4x the baseline's (0.8 % vs 0.2 %, 5,000 requests) and "
        f"the judge said {verdict}: {reasons}. An absolute rule such as 'errors < 1 %' "
        "misses this; compare with the baseline (a one-sided test such as Fisher's exact "
        "test, alternative='greater')."
    )


def test_canary_is_not_blamed_for_a_degraded_baseline(traffic):
    verdict, reasons = verdict_of(
        traffic(7, 8000, error_rate=0.05, median_ms=400.0),
        traffic(8, 2000, error_rate=0.05, median_ms=400.0),
    )
    assert verdict == "PROMOTE", (
        f"Both arms have 5 % errors and 400 ms latency (a slow downstream service hurts "
        f"both), and the judge said {verdict}: {reasons}. The canary is no worse than the "
        "baseline over the same window; an absolute threshold blames it for the incident."
    )


def test_tail_latency_regression_with_equal_means_is_caught(traffic):
    base_latency, base_error = traffic(9, 8000)
    rng = np.random.default_rng(10)
    fast_latency, canary_error = traffic(11, 2000, median_ms=36.0)
    slow = rng.random(2000) < 0.03
    canary_latency = np.where(slow, rng.normal(170.0, 10.0, 2000), fast_latency)
    assert abs(canary_latency.mean() - base_latency.mean()) < 1.5, "test setup: equal means"
    verdict, reasons = verdict_of((base_latency, base_error), (canary_latency, canary_error))
    assert verdict == "ROLLBACK", (
        f"The canary's mean latency equals the baseline's ({canary_latency.mean():.1f} vs "
        f"{base_latency.mean():.1f} ms), but 3 % of its requests take 170 ms: its p99 is "
        f"{np.percentile(canary_latency, 99):.0f} ms vs {np.percentile(base_latency, 99):.0f}. "
        f"The judge said {verdict}: {reasons}. Means hide tails; cap the p99 ratio."
    )


def test_consistent_slowdown_hidden_by_baseline_outliers_is_caught(traffic):
    base_latency, base_error = traffic(12, 8000)
    rng = np.random.default_rng(13)
    base_latency = np.where(rng.random(8000) < 0.02, 3000.0, base_latency)  # GC pauses
    canary = traffic(14, 2000, median_ms=48.0)
    assert canary[0].mean() < base_latency.mean(), "test setup: canary mean is lower"
    verdict, reasons = verdict_of((base_latency, base_error), canary)
    assert verdict == "ROLLBACK", (
        f"Almost every canary request is 20 % slower (48 vs 40 ms median), yet its mean "
        f"({canary[0].mean():.0f} ms) is below the baseline's ({base_latency.mean():.0f} ms), "
        f"which 2 % of 3-second outliers inflate. The judge said {verdict}: {reasons}. "
        "Compare ranks (Mann-Whitney U, alternative='greater'), not means."
    )


@pytest.mark.parametrize(("n_baseline", "n_canary"), [(0, 0), (8000, 0), (8000, 100), (100, 8000)])
def test_too_little_data_is_inconclusive_not_promote(traffic, n_baseline, n_canary):
    verdict, reasons = verdict_of(traffic(15, n_baseline), traffic(16, n_canary))
    assert verdict == "INCONCLUSIVE", (
        f"With {n_baseline} baseline and {n_canary} canary requests (min_requests is 500 per "
        f"arm) the judge said {verdict}: {reasons}. No data is not evidence that the canary "
        "is healthy (Kayenta calls this NODATA): say INCONCLUSIVE."
    )


def test_min_requests_comes_from_the_config(traffic):
    mod = learner("judge")
    baseline, canary = mod.Sample.of(*traffic(17, 8000)), mod.Sample.of(*traffic(18, 2000))
    result = mod.judge(baseline, canary, mod.JudgeConfig(min_requests=5000))
    assert mod.Verdict(result.verdict) == mod.Verdict.INCONCLUSIVE, (
        f"judge(…, JudgeConfig(min_requests=5000)) with 2,000 canary requests gave "
        f"{result.verdict}; use config.min_requests, not a hard-coded number."
    )
