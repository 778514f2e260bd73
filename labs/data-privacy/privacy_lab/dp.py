"""Task 4: the Laplace mechanism, clipping, and a sequential-composition accountant.

The noise scale is sensitivity / epsilon: how far one person can move the answer, divided
by how much privacy you are willing to lose. Every query charges its epsilon to one
accountant (epsilons add up: sequential composition), and the accountant refuses once
the budget is gone.

All randomness comes from the ``numpy.random.Generator`` you are given, so the tests can
seed it. A caveat for production: numpy's ``laplace`` works in floating point, and
Mironov (2012) showed that the gaps between doubles can leak the true value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BudgetExceeded", "PrivacyAccountant", "PrivateQueries", "laplace_mechanism"]


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
        """Charge ``epsilon``, or raise :class:`BudgetExceeded` and charge nothing.

        Raise ValueError for an epsilon that is not positive. Budgets are sums of floats,
        and 0.1 + 0.2 > 0.3 in floating point: allow a tiny tolerance (1e-9).
        """
        # TODO(student)
        raise NotImplementedError("TODO(student): implement PrivacyAccountant.spend")


def laplace_mechanism(
    true_value: float, sensitivity: float, epsilon: float, rng: np.random.Generator
) -> float:
    """``true_value`` plus Laplace noise of scale ``sensitivity / epsilon`` drawn from ``rng``.

    Raise ValueError if sensitivity or epsilon is not positive.
    """
    # TODO(student): rng.laplace(loc, scale)
    raise NotImplementedError("TODO(student): implement laplace_mechanism")


class PrivateQueries:
    """Answers count, sum and mean over ``values`` with DP, charging ``accountant`` each time.

    Every method charges the accountant *before* it computes anything, and draws fresh
    noise from the one generator given here.
    """

    def __init__(
        self, values: Sequence[float], accountant: PrivacyAccountant, rng: np.random.Generator
    ) -> None:
        self._values = np.asarray(values, dtype=float)
        self.accountant = accountant
        self._rng = rng

    def count(self, epsilon: float) -> float:
        """The number of values, plus noise. One person changes a count by 1."""
        # TODO(student)
        raise NotImplementedError("TODO(student): implement PrivateQueries.count")

    def sum(self, epsilon: float, lower: float, upper: float) -> float:
        """The sum of the values clipped to [lower, upper], plus noise.

        After clipping, adding or removing one person moves the sum by at most
        max(|lower|, |upper|): that is the sensitivity.
        """
        # TODO(student)
        raise NotImplementedError("TODO(student): implement PrivateQueries.sum")

    def mean(self, epsilon: float, lower: float, upper: float) -> float:
        """A noisy clipped sum over a noisy count, each using half of ``epsilon``.

        Charge ``epsilon`` once in total; clip the result to [lower, upper] and guard
        against a noisy count below 1.
        """
        # TODO(student)
        raise NotImplementedError("TODO(student): implement PrivateQueries.mean")
