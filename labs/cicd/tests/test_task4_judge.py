"""Task 4: the canary judge (cicd_lab/judge.py). All traffic is seeded.

The tail and prediction checks (added in round two), each requirement with the test that
fails when it alone is broken:

- the p99 cap applies to a one-sided bootstrap lower bound of the ratio, at config.alpha,
  not to the ratio of two p99s that rest on 5 requests each:
  test_p99_ratio_of_five_slow_requests_is_not_a_rollback
- a real tail regression is caught on a small window too (the tail check is not simply
  skipped below some size): test_tail_regression_in_a_small_window_is_caught
- the cap is config.max_p99_ratio: test_p99_cap_is_not_hard_coded,
  test_p99_cap_below_the_default_is_applied
- a canary whose share of churn predictions moved by more than
  config.max_prediction_shift, significantly at config.alpha, is rolled back, in either
  direction: test_canary_that_predicts_churn_for_far_more_users_is_rolled_back,
  test_canary_that_stops_predicting_churn_is_rolled_back,
  test_prediction_shift_threshold_comes_from_the_config
- a shift within the allowed size is not a rollback, however significant:
  test_small_significant_prediction_shift_is_not_a_rollback
- a shift larger than allowed on too few requests to tell from noise is not a rollback:
  test_prediction_shift_that_is_only_noise_is_not_a_rollback
- samples without predictions skip that check: every test above them, which passes none
"""

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
            latency, error, *predicted = arm
            return mod.Sample.of(
                [float(x) for x in latency],
                [bool(x) for x in error],
                *([[bool(x) for x in predicted[0]]] if predicted else []),
            )

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
    baseline, canary = traffic(101, 10_000), traffic(3101, 10_000, sigma=0.47)
    capped, reasons = verdict_of(baseline, canary)
    allowed, more = verdict_of(baseline, canary, max_p99_ratio=1.5)
    assert (capped, allowed) == ("ROLLBACK", "PROMOTE"), (
        f"A canary whose p99 is 1.36x the baseline's (same median, 10,000 requests each: "
        f"the ratio's 99 % lower bound is about 1.29) gave {capped} with the default cap "
        f"1.2 ({reasons}) and {allowed} with max_p99_ratio=1.5 ({more}); expected ROLLBACK, "
        "then PROMOTE. Compare with config.max_p99_ratio."
    )


def test_p99_cap_below_the_default_is_applied(verdict_of, traffic):
    baseline, canary = traffic(100, 10_000), traffic(3100, 10_000, sigma=0.42)
    default, _ = verdict_of(baseline, canary)
    strict, reasons = verdict_of(baseline, canary, max_p99_ratio=1.05)
    assert (default, strict) == ("PROMOTE", "ROLLBACK"), (
        f"A canary whose p99 is 1.17x the baseline's (lower bound about 1.10, 10,000 "
        f"requests each) gave {default} with the default cap and {strict} with "
        f"max_p99_ratio=1.05 ({reasons}); expected PROMOTE, then ROLLBACK."
    )


# --- the tail on few requests, and the predictions --------------------------------------


def test_p99_ratio_of_five_slow_requests_is_not_a_rollback(verdict_of, traffic):
    baseline, canary = traffic(1364, 500), traffic(5364, 500)
    ratio = np.percentile(canary[0], 99) / np.percentile(baseline[0], 99)
    assert ratio > 1.3, "test setup: the p99s of these two windows differ by chance"
    verdict, reasons = verdict_of(baseline, canary)
    assert verdict == "PROMOTE", (
        f"Baseline and canary are drawn from one distribution, 500 requests each, and the "
        f"ratio of their p99s is {ratio:.2f}: each p99 rests on its 5 slowest requests, so "
        f"it swings past the cap by chance. The judge said {verdict}: {reasons}. Cap a "
        "one-sided bootstrap lower bound of the ratio (resample both arms, take the "
        "config.alpha quantile of the resampled ratios), not the ratio itself."
    )


def test_tail_regression_in_a_small_window_is_caught(verdict_of, traffic):
    base_latency, base_error = traffic(9, 600)
    rng = np.random.default_rng(10)
    fast_latency, canary_error = traffic(11, 600, median_ms=36.0)
    canary_latency = np.where(rng.random(600) < 0.05, rng.normal(170.0, 10.0, 600), fast_latency)
    verdict, reasons = verdict_of((base_latency, base_error), (canary_latency, canary_error))
    assert verdict == "ROLLBACK", (
        f"With 600 requests per arm, 5 % of the canary's take 170 ms (30 requests; its p99 "
        f"is {np.percentile(canary_latency, 99):.0f} ms vs "
        f"{np.percentile(base_latency, 99):.0f}): even the bootstrap lower bound of the "
        f"ratio is far above the cap. The judge said {verdict}: {reasons}. A small window is "
        "a reason for an interval, not for skipping the tail."
    )


def churn_flags(n: int, churners: int, seed: int) -> list[bool]:
    """``n`` predictions, exactly ``churners`` of them "churn", at seeded places."""
    flags = np.zeros(n, dtype=bool)
    flags[np.random.default_rng(seed).permutation(n)[:churners]] = True
    return flags.tolist()


def predicting(traffic: Any, seed: int, n: int, churners: int) -> tuple[Any, Any, list[bool]]:
    """A healthy arm (1 % errors, 40 ms) whose model predicted churn ``churners`` times."""
    latency, error = traffic(seed, n)
    return latency, error, churn_flags(n, churners, seed + 1)


def test_canary_that_predicts_churn_for_far_more_users_is_rolled_back(verdict_of, traffic):
    verdict, reasons = verdict_of(
        predicting(traffic, 40, 8000, 1600), predicting(traffic, 42, 2000, 800)
    )
    assert verdict == "ROLLBACK", (
        f"The canary predicts churn for 40 % of requests, the baseline for 20 %, with the "
        f"same errors and latency; the judge said {verdict}: {reasons}. A model that "
        "suddenly predicts churn for twice as many users is broken however fast it "
        "answers: compare the share of churn predictions (Sample.predicted)."
    )


def test_canary_that_stops_predicting_churn_is_rolled_back(verdict_of, traffic):
    verdict, reasons = verdict_of(
        predicting(traffic, 40, 8000, 1600), predicting(traffic, 42, 2000, 100)
    )
    assert verdict == "ROLLBACK", (
        f"The canary predicts churn for 5 % of requests, the baseline for 20 %; the judge "
        f"said {verdict}: {reasons}. Unlike errors and latency, a prediction shift is harm "
        "in both directions: a churn model that stops predicting churn is broken too, so "
        "this check is two-sided."
    )


def test_small_significant_prediction_shift_is_not_a_rollback(verdict_of, traffic):
    verdict, reasons = verdict_of(
        predicting(traffic, 50, 10_000, 2000), predicting(traffic, 52, 10_000, 2300)
    )
    assert verdict == "PROMOTE", (
        f"The canary predicts churn for 23 % of requests, the baseline for 20 % (10,000 "
        f"each: p < 1e-6, but a shift of 3 points is within max_prediction_shift=0.05). The "
        f"judge said {verdict}: {reasons}. A new model may predict a little differently; "
        "at this volume any shift is significant, so a p-value alone rolls back every "
        "retrained model. Require a shift larger than config.max_prediction_shift."
    )


def test_prediction_shift_that_is_only_noise_is_not_a_rollback(verdict_of, traffic):
    verdict, reasons = verdict_of(
        predicting(traffic, 60, 500, 100), predicting(traffic, 62, 500, 128)
    )
    assert verdict == "PROMOTE", (
        f"The canary predicts churn for 25.6 % of 500 requests, the baseline for 20 % of "
        f"500: a shift above 0.05, but Fisher's exact test gives p = 0.04, not below "
        f"alpha=0.01. The judge said {verdict}: {reasons}. Roll back on a shift only when "
        "it is also more than noise (significant at config.alpha)."
    )


def test_prediction_shift_threshold_comes_from_the_config(verdict_of, traffic):
    baseline, canary = predicting(traffic, 70, 8000, 1600), predicting(traffic, 72, 2000, 480)
    default, _ = verdict_of(baseline, canary)
    strict, reasons = verdict_of(baseline, canary, max_prediction_shift=0.03)
    assert (default, strict) == ("PROMOTE", "ROLLBACK"), (
        f"A canary predicting churn for 24 % vs 20 % (p ≈ 1e-4) gave {default} with the "
        f"default max_prediction_shift=0.05 and {strict} with 0.03 ({reasons}); expected "
        "PROMOTE, then ROLLBACK. Compare the shift with config.max_prediction_shift."
    )
