"""Task 4: judge a canary against the baseline it runs beside.

``judge(baseline, canary)`` looks at the requests both versions served over the same
window and returns a ``Judgement``: PROMOTE, ROLLBACK or INCONCLUSIVE, with reasons.

Your ``judge`` must:

* say INCONCLUSIVE when either arm has fewer than ``config.min_requests`` requests;
* say ROLLBACK when the canary's error rate is significantly higher than the baseline's
  (a one-sided test at ``config.alpha``), or its latencies are significantly larger
  (a one-sided rank test at ``config.alpha``), or its p99 latency is more than
  ``config.max_p99_ratio`` times the baseline's;
* say PROMOTE otherwise.

``scipy.stats`` has what you need: ``fisher_exact`` and ``mannwhitneyu``, both with an
``alternative=`` argument.
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
    """Compare ``canary`` with ``baseline`` over the same window; see the module docstring.

    Put one human-readable reason per failed check in ``reasons``, and the numbers you
    computed (p-values, rates, the p99 ratio) in ``details``.
    """
    # TODO(student): minimum sample first, then errors, then latency (ranks and the tail).
    raise NotImplementedError("TODO(student): judge the canary against the baseline")
