"""Task 5: the progressive rollout, and the drift monitor that starts the next one.

``run_rollout`` walks the canary through traffic steps (5 → 25 → 50 → 100 %). After each
step below 100 % it observes one window of traffic and asks the judge. PROMOTE moves on;
ROLLBACK or INCONCLUSIVE repeat the step with a fresh window, until a limit is spent and
the rollout rolls back. At 100 % the canary serves everyone, so it is promoted.

It talks to the world only through the callables it is given, which is what makes it
testable and what lets the same code drive a real router:

* ``set_weight(percent)``: send that share of users to the canary;
* ``observe(percent)``:   return ``(baseline, canary)`` Samples from one traffic window;
* ``promote()``:          move the registry's ``champion`` alias to the canary;
* ``judge(baseline, canary)``: return a Judgement (task 4's ``judge`` by default).

``DriftMonitor`` compares live feature values with the training reference using the
population stability index (PSI), and asks for retraining once per drift episode.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .judge import Judgement, Sample, Verdict
from .judge import judge as default_judge

__all__ = [
    "DriftMonitor",
    "RolloutConfig",
    "RolloutResult",
    "psi",
    "run_rollout",
]

PROMOTED = "promoted"
ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class RolloutConfig:
    steps: tuple[int, ...] = (5, 25, 50, 100)
    failure_limit: int = 0  # failed analyses tolerated; one more rolls back
    inconclusive_limit: int = 2  # inconclusive analyses tolerated; one more rolls back


@dataclass
class RolloutResult:
    outcome: str  # "promoted" or "rolled_back"
    final_weight: int
    events: list[dict[str, Any]] = field(default_factory=list)


def run_rollout(
    *,
    set_weight: Callable[[int], None],
    observe: Callable[[int], tuple[Sample, Sample]],
    promote: Callable[[], object],
    judge: Callable[[Sample, Sample], Judgement] = default_judge,
    config: RolloutConfig | None = None,
    event_log: Path | None = None,
) -> RolloutResult:
    config = config or RolloutConfig()
    events: list[dict[str, Any]] = []

    def record(action: str, weight: int, **extra: Any) -> None:
        event = {"seq": len(events), "action": action, "weight": weight, **extra}
        events.append(event)
        # Append and flush per decision: the log survives a crash mid-rollout.
        if event_log is not None:
            with event_log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(event) + "\n")

    failures = inconclusive = 0
    for weight in config.steps:
        set_weight(weight)
        record("set_weight", weight)
        if weight >= 100:
            break
        while True:
            baseline, canary = observe(weight)
            judgement = judge(baseline, canary)
            record(
                "analysis",
                weight,
                verdict=Verdict(judgement.verdict).value,
                reasons=list(judgement.reasons),
                baseline_n=baseline.n,
                canary_n=canary.n,
            )
            if judgement.verdict == Verdict.PROMOTE:
                break
            if judgement.verdict == Verdict.ROLLBACK:
                failures += 1
            else:
                inconclusive += 1
            if failures > config.failure_limit or inconclusive > config.inconclusive_limit:
                # The boring path: weight to 0, registry untouched. Nothing to rebuild.
                set_weight(0)
                record(
                    "rollback",
                    0,
                    reason=f"{failures} failed and {inconclusive} inconclusive analyses "
                    f"at {weight}%",
                )
                return RolloutResult(ROLLED_BACK, 0, events)

    promote()
    record("promote", config.steps[-1])
    return RolloutResult(PROMOTED, config.steps[-1], events)


def psi(reference: ArrayLike, current: ArrayLike, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``.

    Bins are the reference's deciles, so each holds 10 % of the reference; an empty bin
    is floored at a tiny share so the log stays finite.
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, ref), minlength=len(edges) + 1)
    actual = np.bincount(np.searchsorted(edges, cur), minlength=len(edges) + 1)
    e = np.clip(expected / expected.sum(), 1e-6, None)
    a = np.clip(actual / actual.sum(), 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


class DriftMonitor:
    """Watches one feature; ``update(batch)`` is True once at the start of each episode.

    An episode starts when PSI rises above ``threshold`` and ends only when it falls
    below ``reset_below``. The gap (hysteresis) keeps a PSI hovering around the threshold
    from starting a retraining job on every batch.
    """

    def __init__(
        self,
        reference: ArrayLike,
        *,
        threshold: float = 0.2,
        reset_below: float = 0.1,
        bins: int = 10,
    ) -> None:
        self.reference = np.asarray(reference, dtype=float)
        self.threshold = threshold
        self.reset_below = reset_below
        self.bins = bins
        self.drifting = False
        self.history: list[float] = []

    def update(self, batch: ArrayLike) -> bool:
        # PSI measures how far the distribution moved (an effect size); a KS p-value
        # measures how sure we are that it moved at all, which at large n is "always".
        value = psi(self.reference, batch, self.bins)
        self.history.append(value)
        if not self.drifting and value > self.threshold:
            self.drifting = True
            return True
        if self.drifting and value < self.reset_below:
            self.drifting = False
        return False
