"""Task 6: audit a model for privacy leaks.

Three questions an auditor asks of a trained model:

1. **Membership inference.** Given a record, can an attacker tell whether it was in the
   training set? The loss-threshold attack (Yeom et al., 2018) says "member" when the
   model's loss on the record is low. Its *advantage* is TPR - FPR: 0 for a model that
   leaks nothing, 1 for one that gives every member away.
2. **Differentially private training.** Output perturbation (Chaudhuri et al., 2011): fit an
   L2-regularised logistic regression on rows clipped to norm 1, then add Gaussian noise
   to the weights, calibrated to how far one person can move them.
3. **Memorisation.** Insert a canary (a rare record) and rank its loss among candidates
   that were never trained on (Carlini et al., 2019, "The Secret Sharer"): the exposure.

Lists go in and lists come out (a numpy array or number you return is turned into a list
or a Python number on the way back). Draw every random number from the ``rng`` you are
given, a ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Advantage",
    "canary_exposure",
    "clip_rows",
    "example_losses",
    "exposure",
    "gaussian_sigma",
    "membership_advantage",
    "predict_proba",
    "train_dp_logistic",
    "train_logistic",
]


@dataclass(frozen=True)
class Advantage:
    """The attack's advantage TPR - FPR on the scoring half, with a 95% interval."""

    value: float
    low: float
    high: float
    threshold: float
    tpr: float
    fpr: float


def example_losses(probabilities: Sequence[Sequence[float]], labels: Sequence[int]) -> list[float]:
    """Cross-entropy of each example: -log(probability the model gave its *true* label).

    ``probabilities[i]`` holds one probability per class, ``labels[i]`` the class index.
    Clip each probability to at least 1e-12 first: a loss must be finite.
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): implement example_losses")


def membership_advantage(
    member_losses: Sequence[float], nonmember_losses: Sequence[float], rng: np.random.Generator
) -> Advantage:
    """The loss-threshold attack: "member" when loss <= threshold.

    Shuffle each group with ``rng.permutation`` and split it into halves (the first
    ``len // 2`` values to choose with, the rest to score). Choose the threshold, among the
    choosing halves' losses, that maximises TPR - FPR there; then measure TPR and FPR of that
    threshold on the scoring halves only. The 95% interval is
    ``value ± 1.96 * sqrt(tpr*(1-tpr)/m + fpr*(1-fpr)/n)``, m and n the scored counts,
    clipped to [-1, 1].
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): implement membership_advantage")


def clip_rows(features: Sequence[Sequence[float]]) -> np.ndarray:
    """Each row scaled down to L2 norm at most 1 (rows inside the ball are unchanged)."""
    # TODO(student)
    raise NotImplementedError("TODO(student): implement clip_rows")


def predict_proba(weights: Sequence[float], features: Sequence[Sequence[float]]) -> list[float]:
    """P(y = 1) for each row under the logistic model ``weights`` (rows clipped first).

    Provided: the sigmoid of each clipped row's margin.
    """
    margins = clip_rows(features) @ np.asarray(weights, dtype=float)
    return [float(p) for p in 1.0 / (1.0 + np.exp(-np.clip(margins, -500, 500)))]


def train_logistic(
    features: Sequence[Sequence[float]], labels: Sequence[int], *, l2: float
) -> list[float]:
    """Weights minimising mean log-loss + (l2 / 2) * ||w||^2 over clipped rows, no intercept.

    Use scikit-learn's ``LogisticRegression``; mind what its ``C`` means, and that it fits
    an intercept unless told not to. Raise ValueError if l2 is not positive.
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): implement train_logistic")


def gaussian_sigma(sensitivity: float, epsilon: float, delta: float) -> float:
    """The classic Gaussian mechanism's noise: sensitivity * sqrt(2 ln(1.25 / delta)) / epsilon.

    It is proven for 0 < epsilon <= 1 only: raise ValueError outside that, for a
    sensitivity that is not positive, and for a delta outside (0, 1).
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): implement gaussian_sigma")


def train_dp_logistic(
    features: Sequence[Sequence[float]],
    labels: Sequence[int],
    *,
    l2: float,
    epsilon: float,
    delta: float,
    rng: np.random.Generator,
) -> list[float]:
    """(epsilon, delta)-DP weights: ``train_logistic`` plus Gaussian noise on each weight.

    How far can one person move the minimiser? Work out the L2 sensitivity (the lesson
    derives it), then add ``rng.normal(0.0, sigma, size=len(weights))``.
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): implement train_dp_logistic")


def exposure(canary_loss: float, candidate_losses: Sequence[float]) -> float:
    """log2(|R|) - log2(rank), with R = the candidates plus the canary.

    rank = 1 + the number of candidates whose loss is <= the canary's: a tie counts against
    the canary. Exposure runs from 0 to log2(len(candidates) + 1).
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): implement exposure")


def canary_exposure(
    features: Sequence[Sequence[float]],
    labels: Sequence[int],
    canary: Sequence[float],
    canary_label: int,
    candidates: Sequence[Sequence[float]],
    *,
    l2: float,
    epsilon: float | None = None,
    delta: float = 1e-5,
    rng: np.random.Generator | None = None,
) -> float:
    """Train with the canary inserted (DP when ``epsilon`` is given) and return its exposure.

    Score the canary and every candidate with ``canary_label``: the question is whether the
    model prefers the one secret it saw to the ones it did not.
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): implement canary_exposure")
