"""Task 4: judge a canary against the baseline it runs beside.

``judge(baseline, canary)`` looks at the requests both versions served over the same
window and returns a ``Judgement``: PROMOTE, ROLLBACK or INCONCLUSIVE, with reasons.

* Too few requests in either arm: INCONCLUSIVE. No data is not evidence of health.
* Error rate: a one-sided test, "is the canary's error rate higher than the baseline's?"
* Latency: a one-sided rank test (Mann-Whitney U), "are the canary's latencies
  stochastically larger?", plus a cap on the ratio of the two p99s for the tail. A p99 of
  500 requests rests on its 5 slowest, so the cap is applied to a bootstrap lower bound of
  the ratio, not to the ratio itself.
* Predictions: a canary whose share of "churn" predictions moved by more than the allowed
  shift, significantly, is broken however fast it answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["JudgeConfig", "Judgement", "Sample", "Verdict", "judge"]

TAIL_RESAMPLES = 1000  # bootstrap resamples for the p99 ratio's lower bound


class Verdict(StrEnum):
    PROMOTE = "PROMOTE"
    ROLLBACK = "ROLLBACK"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class Sample:
    """The requests one arm served in the window: one latency and one error flag each,
    and, when the serving layer logs it, whether the model predicted churn (``predicted``,
    empty when not known)."""

    latency_ms: np.ndarray
    error: np.ndarray
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @classmethod
    def of(cls, latency_ms: ArrayLike, error: ArrayLike, predicted: ArrayLike = ()) -> Sample:
        sample = cls(
            np.asarray(latency_ms, dtype=float),
            np.asarray(error, dtype=bool),
            np.asarray(predicted, dtype=bool),
        )
        if len(sample.error) != sample.n or len(sample.predicted) not in (0, sample.n):
            raise ValueError("one error flag (and one prediction, if any) per request")
        return sample

    @property
    def n(self) -> int:
        return len(self.latency_ms)


@dataclass(frozen=True)
class JudgeConfig:
    min_requests: int = 500  # per arm
    alpha: float = 0.01  # significance level of each one-sided test
    max_p99_ratio: float = 1.2  # canary p99 may be at most 20 % above the baseline's
    max_prediction_shift: float = 0.05  # share predicted "churn" may move 5 points either way


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    details: dict[str, float] = field(default_factory=dict)


def judge(baseline: Sample, canary: Sample, config: JudgeConfig | None = None) -> Judgement:
    config = config or JudgeConfig()
    if min(baseline.n, canary.n) < config.min_requests:
        return Judgement(
            Verdict.INCONCLUSIVE,
            [
                f"need {config.min_requests} requests per arm, got baseline={baseline.n} "
                f"canary={canary.n}"
            ],
        )

    reasons: list[str] = []
    details: dict[str, float] = {}

    # One-sided: a canary with fewer errors than the baseline must never be rolled back.
    c_err, b_err = int(canary.error.sum()), int(baseline.error.sum())
    table = [[c_err, canary.n - c_err], [b_err, baseline.n - b_err]]
    details["error_p_value"] = float(stats.fisher_exact(table, alternative="greater").pvalue)
    details["canary_error_rate"] = c_err / canary.n
    details["baseline_error_rate"] = b_err / baseline.n
    if details["error_p_value"] < config.alpha:
        reasons.append(
            f"error rate {details['canary_error_rate']:.4f} vs baseline "
            f"{details['baseline_error_rate']:.4f} (p={details['error_p_value']:.2g})"
        )

    # Ranks, not means: a few huge outliers move a mean but not a rank test.
    details["latency_p_value"] = float(
        stats.mannwhitneyu(canary.latency_ms, baseline.latency_ms, alternative="greater").pvalue
    )
    if details["latency_p_value"] < config.alpha:
        reasons.append(f"latency is stochastically larger (p={details['latency_p_value']:.2g})")

    # The rank test says little about the last 1 %; the tail gets its own cap. The cap
    # applies to the ratio's one-sided lower bound: with 5 requests beyond a p99, the
    # ratio itself swings past 1.2 on noise alone.
    details["p99_ratio"] = float(
        np.percentile(canary.latency_ms, 99) / np.percentile(baseline.latency_ms, 99)
    )
    details["p99_ratio_low"] = _p99_ratio_low(baseline.latency_ms, canary.latency_ms, config.alpha)
    if details["p99_ratio_low"] > config.max_p99_ratio:
        reasons.append(
            f"p99 latency is {details['p99_ratio']:.2f}x the baseline's "
            f"(at least {details['p99_ratio_low']:.2f}x at {1 - config.alpha:.0%} confidence)"
        )

    # Two-sided: a model that suddenly predicts churn for far more, or far fewer, users is
    # broken. A shift must be both larger than allowed and more than noise.
    if len(canary.predicted) and len(baseline.predicted):
        c_pos, b_pos = int(canary.predicted.sum()), int(baseline.predicted.sum())
        details["canary_predicted_share"] = c_pos / canary.n
        details["baseline_predicted_share"] = b_pos / baseline.n
        details["prediction_p_value"] = float(
            stats.fisher_exact(
                [[c_pos, canary.n - c_pos], [b_pos, baseline.n - b_pos]], alternative="two-sided"
            ).pvalue
        )
        shift = details["canary_predicted_share"] - details["baseline_predicted_share"]
        if (
            abs(shift) > config.max_prediction_shift
            and details["prediction_p_value"] < config.alpha
        ):
            reasons.append(
                f"predicts churn for {details['canary_predicted_share']:.1%} of requests vs "
                f"{details['baseline_predicted_share']:.1%} (p={details['prediction_p_value']:.2g})"
            )

    verdict = Verdict.ROLLBACK if reasons else Verdict.PROMOTE
    return Judgement(verdict, reasons or ["canary is no worse than baseline"], details)


def _p99_ratio_low(baseline: np.ndarray, canary: np.ndarray, alpha: float) -> float:
    """The ``alpha`` quantile of p99(canary) / p99(baseline) over bootstrap resamples of
    both arms: the ratio is at least this with confidence 1 - alpha. Seeded, so a verdict
    is reproducible."""
    rng = np.random.default_rng(0)
    ratios = _resampled_p99(canary, rng) / _resampled_p99(baseline, rng)
    return float(np.quantile(ratios, alpha))


def _resampled_p99(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The p99s of TAIL_RESAMPLES bootstrap resamples of ``values``, drawn without
    building the resamples (the same distribution, in milliseconds instead of seconds).

    A resample's p99 is its k-th smallest value, k = ceil(0.99 n), and that is always one
    of the sample's own sorted values x_(j). It is at most x_(j) exactly when at least k
    of the n draws land at or below x_(j), and that count is Binomial(n, j / n).
    """
    ordered = np.sort(values)
    n = len(ordered)
    k = int(np.ceil(0.99 * n))
    at_most = stats.binom.sf(k - 1, n, np.arange(1, n + 1) / n)  # P(p99* <= x_(j))
    picks = np.searchsorted(at_most, rng.random(TAIL_RESAMPLES))
    return ordered[np.minimum(picks, n - 1)]
