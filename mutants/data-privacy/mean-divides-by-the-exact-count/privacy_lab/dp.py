"""Task 4: the Laplace mechanism, clipping, and a sequential-composition accountant.

The noise scale is sensitivity / epsilon: how much one person can move the answer, divided
by how much privacy you are willing to lose. Every query charges its epsilon to one
accountant, and the accountant refuses once the budget is gone.

Caveat: numpy's ``laplace`` works in floating point, and Mironov (2012) showed that the
gaps between doubles can leak the true value. Production systems use a snapping mechanism
or discrete noise (OpenDP, Google's differential-privacy library).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BudgetExceeded", "PrivacyAccountant", "PrivateQueries", "laplace_mechanism"]

# Budgets are sums of floats: 0.1 + 0.2 > 0.3 must not refuse a query that fits.
_SLACK = 1e-9


class BudgetExceeded(RuntimeError):
    """The query would spend more epsilon than the accountant has left."""


class PrivacyAccountant:
    """Sequential composition: epsilons add up, and the total may not exceed the budget."""

    def __init__(self, total_epsilon: float) -> None:
        if not total_epsilon > 0:
            raise ValueError("the privacy budget must be positive")
        self.total = float(total_epsilon)
        self.spent = 0.0

    @property
    def remaining(self) -> float:
        return max(0.0, self.total - self.spent)

    def spend(self, epsilon: float) -> None:
        """Charge ``epsilon``, or raise :class:`BudgetExceeded` and charge nothing."""
        if not epsilon > 0:
            raise ValueError("epsilon must be positive")
        if self.spent + epsilon > self.total + _SLACK:
            raise BudgetExceeded(
                f"a query for epsilon={epsilon:g} exceeds the remaining budget {self.remaining:g}"
            )
        self.spent += epsilon


def laplace_mechanism(
    true_value: float, sensitivity: float, epsilon: float, rng: np.random.Generator
) -> float:
    """``true_value`` plus Laplace noise of scale ``sensitivity / epsilon`` drawn from ``rng``."""
    if not (sensitivity > 0 and epsilon > 0):
        raise ValueError("sensitivity and epsilon must be positive")
    return float(true_value + rng.laplace(0.0, sensitivity / epsilon))


class PrivateQueries:
    """Answers count, sum and mean over ``values`` with DP, charging ``accountant`` each time."""

    def __init__(
        self, values: Sequence[float], accountant: PrivacyAccountant, rng: np.random.Generator
    ) -> None:
        self._values = np.asarray(values, dtype=float)
        self.accountant = accountant
        self._rng = rng  # one generator for all queries: fresh noise on every call

    def count(self, epsilon: float) -> float:
        self.accountant.spend(epsilon)
        # Adding or removing one person changes a count by 1.
        return laplace_mechanism(len(self._values), 1.0, epsilon, self._rng)

    def sum(self, epsilon: float, lower: float, upper: float) -> float:
        self.accountant.spend(epsilon)
        return self._noisy_sum(epsilon, lower, upper)

    def mean(self, epsilon: float, lower: float, upper: float) -> float:
        """Noisy clipped sum over noisy count, each with half of ``epsilon``."""
        self.accountant.spend(epsilon)
        total = self._noisy_sum(epsilon / 2, lower, upper)
        n = len(self._values)
        return float(np.clip(total / max(n, 1), lower, upper))

    def _noisy_sum(self, epsilon: float, lower: float, upper: float) -> float:
        if not lower < upper:
            raise ValueError("need lower < upper")
        # Clipping is what makes the sensitivity finite: without it one outlier of 1e9
        # moves the sum by 1e9 and no finite noise hides it.
        clipped = np.clip(self._values, lower, upper)
        sensitivity = max(abs(lower), abs(upper))
        return laplace_mechanism(float(clipped.sum()), sensitivity, epsilon, self._rng)
