"""Task 4: judge a canary against the baseline it runs beside.

``judge(baseline, canary)`` looks at the requests both versions served over the same
window and returns a ``Judgement``: PROMOTE, ROLLBACK or INCONCLUSIVE, with reasons.

Your ``judge`` must:

* say INCONCLUSIVE when either arm has fewer than ``config.min_requests`` requests;
* say ROLLBACK when
  - the canary's error rate is significantly higher than the baseline's (a one-sided
    test at ``config.alpha``);
  - or its latencies are significantly larger (a one-sided rank test at ``config.alpha``);
  - or its p99 latency is more than ``config.max_p99_ratio`` times the baseline's, with
    confidence: a p99 of 500 requests rests on the 5 slowest, so compare the cap with a
    one-sided bootstrap lower bound of the ratio (resample each arm with replacement,
    take the ratio of the resampled p99s many times, and its ``config.alpha`` quantile),
    not with the ratio itself;
  - or, when both samples carry predictions, the canary's share of churn predictions
    differs from the baseline's (in either direction) by more than
    ``config.max_prediction_shift`` and significantly (a two-sided test at
    ``config.alpha``);
* say PROMOTE otherwise.

``scipy.stats`` has what you need for the tests: ``fisher_exact`` and ``mannwhitneyu``,
both with an ``alternative=`` argument; ``numpy.random.default_rng(seed)`` for a
bootstrap whose verdict is the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["JudgeConfig", "Judgement", "Sample", "Verdict", "judge"]


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
    """Compare ``canary`` with ``baseline`` over the same window; see the module docstring.

    Put one human-readable reason per failed check in ``reasons``, and the numbers you
    computed (p-values, rates, the p99 ratio) in ``details``.
    """
    # TODO(student): minimum sample first, then errors, then latency (ranks and the tail).
    raise NotImplementedError("TODO(student): judge the canary against the baseline")
