"""Task 4: judge a canary against the baseline it runs beside.

``judge(baseline, canary)`` looks at the requests both versions served over the same
window and returns a ``Judgement``: PROMOTE, ROLLBACK or INCONCLUSIVE, with reasons.

* Too few requests in either arm: INCONCLUSIVE. No data is not evidence of health.
* Error rate: a one-sided test, "is the canary's error rate higher than the baseline's?"
* Latency: a one-sided rank test (Mann-Whitney U), "are the canary's latencies
  stochastically larger?", plus a cap on the ratio of the two p99s for the tail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["JudgeConfig", "Judgement", "Sample", "Verdict", "judge"]


class Verdict(StrEnum):
    PROMOTE = "PROMOTE"
    ROLLBACK = "ROLLBACK"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class Sample:
    """The requests one arm served in the window: one latency and one error flag each."""

    latency_ms: np.ndarray
    error: np.ndarray

    @classmethod
    def of(cls, latency_ms: ArrayLike, error: ArrayLike) -> Sample:
        return cls(np.asarray(latency_ms, dtype=float), np.asarray(error, dtype=bool))

    @property
    def n(self) -> int:
        return len(self.latency_ms)


@dataclass(frozen=True)
class JudgeConfig:
    min_requests: int = 500  # per arm
    alpha: float = 0.01  # significance level of each one-sided test
    max_p99_ratio: float = 1.2  # canary p99 may be at most 20 % above the baseline's


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
    if details["error_p_value"] < 0.01:
        reasons.append(
            f"error rate {details['canary_error_rate']:.4f} vs baseline "
            f"{details['baseline_error_rate']:.4f} (p={details['error_p_value']:.2g})"
        )

    # Ranks, not means: a few huge outliers move a mean but not a rank test.
    details["latency_p_value"] = float(
        stats.mannwhitneyu(canary.latency_ms, baseline.latency_ms, alternative="greater").pvalue
    )
    if details["latency_p_value"] < 0.01:
        reasons.append(f"latency is stochastically larger (p={details['latency_p_value']:.2g})")

    # The rank test says little about the last 1 %; the tail gets its own cap.
    details["p99_ratio"] = float(
        np.percentile(canary.latency_ms, 99) / np.percentile(baseline.latency_ms, 99)
    )
    if details["p99_ratio"] > config.max_p99_ratio:
        reasons.append(f"p99 latency is {details['p99_ratio']:.2f}x the baseline's")

    verdict = Verdict.ROLLBACK if reasons else Verdict.PROMOTE
    return Judgement(verdict, reasons or ["canary is no worse than baseline"], details)
