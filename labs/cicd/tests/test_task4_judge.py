"""Task 4: the canary judge (cicd_lab/judge.py). All traffic is seeded."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import cicd

pytestmark = pytest.mark.task(4)


@pytest.fixture
def verdict_of(learner, bridge) -> Any:
    """``verdict_of(baseline, canary, **config)``: (verdict, reasons) from the learner's judge."""
    mod = cicd(learner, "judge")

    def run(baseline: Any, canary: Any, **config: Any) -> tuple[str, list[str]]:
        def sample(arm: Any) -> Any:
            latency, error = arm
            return mod.Sample.of([float(x) for x in latency], [bool(x) for x in error])

        result = bridge.plain(
            mod.judge(sample(baseline), sample(canary), mod.JudgeConfig(**config))
        )
        assert isinstance(result, dict) and "verdict" in result, (
            f"judge() returned {result!r}, not a Judgement."
        )
        return str(result["verdict"]), list(result.get("reasons") or [])

    return run


def test_healthy_canary_is_promoted(verdict_of, traffic):
    verdict, reasons = verdict_of(traffic(1, 8000), traffic(2, 2000))
    assert verdict == "PROMOTE", (
        f"Baseline and canary drawn from the same distribution (1 % errors, 40 ms median, "
        f"2,000 canary requests) gave {verdict}: {reasons}. A canary no worse than the "
        "baseline must be promoted."
    )


def test_canary_that_is_better_is_not_rolled_back(verdict_of, traffic):
    verdict, reasons = verdict_of(
        traffic(3, 8000), traffic(4, 2000, error_rate=0.002, median_ms=30.0)
    )
    assert verdict == "PROMOTE", (
        f"A canary with fewer errors (0.2 % vs 1 %) and lower latency (30 vs 40 ms) gave "
        f"{verdict}: {reasons}. The tests must be one-sided: 'different' is not 'worse'."
    )


def test_error_rate_doubling_below_an_absolute_threshold_is_caught(verdict_of, traffic):
    verdict, reasons = verdict_of(
        traffic(5, 20_000, error_rate=0.002), traffic(6, 5000, error_rate=0.008)
    )
    assert verdict == "ROLLBACK", (
        f"The canary's error rate is 4x the baseline's (0.8 % vs 0.2 %, 5,000 requests) and "
        f"the judge said {verdict}: {reasons}. An absolute rule such as 'errors < 1 %' "
        "misses this; compare with the baseline (a one-sided test such as Fisher's exact "
        "test, alternative='greater')."
    )


def test_canary_is_not_blamed_for_a_degraded_baseline(verdict_of, traffic):
    verdict, reasons = verdict_of(
        traffic(7, 8000, error_rate=0.05, median_ms=400.0),
        traffic(8, 2000, error_rate=0.05, median_ms=400.0),
    )
    assert verdict == "PROMOTE", (
        f"Both arms have 5 % errors and 400 ms latency (a slow downstream service hurts "
        f"both), and the judge said {verdict}: {reasons}. The canary is no worse than the "
        "baseline over the same window; an absolute threshold blames it for the incident."
    )


def test_tail_latency_regression_with_equal_means_is_caught(verdict_of, traffic):
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


def test_consistent_slowdown_hidden_by_baseline_outliers_is_caught(verdict_of, traffic):
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
def test_too_little_data_is_inconclusive_not_promote(verdict_of, traffic, n_baseline, n_canary):
    verdict, reasons = verdict_of(traffic(15, n_baseline), traffic(16, n_canary))
    assert verdict == "INCONCLUSIVE", (
        f"With {n_baseline} baseline and {n_canary} canary requests (min_requests is 500 per "
        f"arm) the judge said {verdict}: {reasons}. No data is not evidence that the canary "
        "is healthy (Kayenta calls this NODATA): say INCONCLUSIVE."
    )


def test_min_requests_comes_from_the_config(verdict_of, traffic):
    verdict, _ = verdict_of(traffic(17, 8000), traffic(18, 2000), min_requests=5000)
    assert verdict == "INCONCLUSIVE", (
        f"judge(…, JudgeConfig(min_requests=5000)) with 2,000 canary requests gave "
        f"{verdict}; use config.min_requests, not a hard-coded number."
    )


# --- alpha and the p99 cap come from the config: each case lands between the two values


def test_error_alpha_is_not_hard_coded(verdict_of, traffic):
    baseline, canary = traffic(100, 8000), traffic(1100, 2000, error_rate=0.0145)
    strict, _ = verdict_of(baseline, canary)
    loose, reasons = verdict_of(baseline, canary, alpha=0.05)
    assert (strict, loose) == ("PROMOTE", "ROLLBACK"), (
        f"A canary with 1.45 % errors vs 0.89 % (Fisher p ≈ 0.02) gave {strict} at the "
        f"default alpha=0.01 and {loose} at alpha=0.05 ({reasons}); expected PROMOTE, then "
        "ROLLBACK. Compare the p-value with config.alpha."
    )


def test_latency_alpha_is_not_hard_coded(verdict_of, traffic):
    baseline, canary = traffic(122, 8000), traffic(2122, 2000, median_ms=41.2)
    strict, _ = verdict_of(baseline, canary)
    loose, reasons = verdict_of(baseline, canary, alpha=0.05)
    assert (strict, loose) == ("PROMOTE", "ROLLBACK"), (
        f"A canary 3 % slower (Mann-Whitney p ≈ 0.02) gave {strict} at alpha=0.01 and "
        f"{loose} at alpha=0.05 ({reasons}); expected PROMOTE, then ROLLBACK. The rank test "
        "uses config.alpha too."
    )


def test_p99_cap_is_not_hard_coded(verdict_of, traffic):
    baseline, canary = traffic(101, 8000), traffic(3101, 2000, sigma=0.45)
    capped, reasons = verdict_of(baseline, canary)
    allowed, more = verdict_of(baseline, canary, max_p99_ratio=1.4)
    assert (capped, allowed) == ("ROLLBACK", "PROMOTE"), (
        f"A canary whose p99 is 1.29x the baseline's (same median) gave {capped} with the "
        f"default cap 1.2 ({reasons}) and {allowed} with max_p99_ratio=1.4 ({more}); "
        "expected ROLLBACK, then PROMOTE. Compare the ratio with config.max_p99_ratio."
    )


def test_p99_cap_below_the_default_is_applied(verdict_of, traffic):
    baseline, canary = traffic(100, 8000), traffic(3100, 2000, sigma=0.40)
    default, _ = verdict_of(baseline, canary)
    strict, reasons = verdict_of(baseline, canary, max_p99_ratio=1.05)
    assert (default, strict) == ("PROMOTE", "ROLLBACK"), (
        f"A canary whose p99 is 1.10x the baseline's gave {default} with the default cap "
        f"and {strict} with max_p99_ratio=1.05 ({reasons}); expected PROMOTE, then ROLLBACK."
    )
