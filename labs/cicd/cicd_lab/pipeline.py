"""Task 5: the progressive rollout, and the drift monitor that starts the next one.

``run_rollout`` walks the canary through traffic steps (5 → 25 → 50 → 100 %). After each
step below 100 % it observes one window of traffic and asks the judge. PROMOTE moves on;
ROLLBACK or INCONCLUSIVE repeat the step with a fresh window, until a limit is spent and
the rollout rolls back. At 100 % no baseline traffic is left to compare with: the canary
has passed every analysis, so it is promoted.

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

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .judge import Judgement, Sample
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
    """Run the canary through ``config.steps`` and return how it ended.

    * Each step: ``set_weight(step)``; below 100, ``observe(step)`` and ``judge`` it.
    * PROMOTE: next step. ROLLBACK / INCONCLUSIVE: count it (the counts run over the whole
      rollout) and observe the same step again, unless the count now exceeds
      ``config.failure_limit`` / ``config.inconclusive_limit``: then ``set_weight(0)``
      and stop with outcome "rolled_back", final_weight 0, without calling ``promote``.
    * After 100: call ``promote()`` once; outcome "promoted", final_weight 100.

    Record every decision as a dict in ``RolloutResult.events``, in order, with at least
    ``"action"`` ("set_weight", "analysis", "rollback" or "promote") and ``"weight"``;
    analysis events also carry ``"verdict"`` (the string, e.g. "PROMOTE") and
    ``"reasons"``. If ``event_log`` is given, append each event to it as one JSON line as
    it happens.
    """
    # TODO(student): the step loop, the retry/limit logic, and the event log.
    raise NotImplementedError("TODO(student): implement the progressive rollout")


def psi(reference: ArrayLike, current: ArrayLike, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``.

    PSI = sum over bins of (a - e) * ln(a / e), where e and a are the shares of
    ``reference`` and ``current`` in each bin.

    * The bin edges are the reference's quantiles at 1/bins, 2/bins, … (numpy.quantile),
      with duplicates dropped: a discrete feature has tied quantiles. They are fixed by
      the reference, never by the current batch.
    * A value v goes in the bin with edges[i-1] <= v < edges[i]; the first and last bins
      are open-ended, so a value outside the reference's range still counts.
    * A share of 0 is floored at 1e-6, so the log stays finite.
    """
    # TODO(student): bin edges from the reference, shares per bin, the PSI sum.
    raise NotImplementedError("TODO(student): compute the population stability index")


class DriftMonitor:
    """Watches one feature; ``update(batch)`` is True once at the start of each episode.

    An episode starts when PSI rises above ``threshold`` and ends only when it falls
    below ``reset_below``.
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

    def update(self, batch: ArrayLike) -> bool:
        """True when this batch starts a drift episode: time to retrain, once."""
        # TODO(student): compare psi(...) with the two thresholds; remember the episode.
        raise NotImplementedError("TODO(student): trigger retraining once per drift episode")
