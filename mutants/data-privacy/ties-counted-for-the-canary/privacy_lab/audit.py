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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

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

# The loss of a probability of 0 would be infinite; a memorising model gives 0 to every
# non-member it gets wrong. Probabilities are clipped to this floor first.
PROBABILITY_FLOOR = 1e-12
Z_95 = 1.959963984540054


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
    """Cross-entropy of each example: -log(probability the model gave its *true* label)."""
    proba = np.asarray(probabilities, dtype=float)
    y = np.asarray(labels, dtype=int)
    if proba.ndim != 2 or len(proba) != len(y):
        raise ValueError("probabilities must be one row per label")
    # The true label's probability, not the predicted class's: a confident mistake is a
    # high loss, and that difference is what the attack reads.
    p_true = np.clip(proba[np.arange(len(y)), y], PROBABILITY_FLOOR, 1.0)
    return [float(v) for v in -np.log(p_true)]


def _at_or_below(losses: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each threshold, the fraction of ``losses`` at or below it (one sort, no loop)."""
    return np.searchsorted(np.sort(losses), thresholds, side="right") / len(losses)


def _rates(member: np.ndarray, nonmember: np.ndarray, threshold: float) -> tuple[float, float]:
    return float(np.mean(member <= threshold)), float(np.mean(nonmember <= threshold))


def membership_advantage(
    member_losses: Sequence[float], nonmember_losses: Sequence[float], rng: np.random.Generator
) -> Advantage:
    """The loss-threshold attack: "member" when loss <= threshold.

    Shuffle each group with ``rng`` and split it in two halves. Choose the threshold that
    maximises TPR - FPR on the first halves, then score it on the second halves only, with
    a 95% Wald interval for a difference of two independent proportions.
    """
    members = rng.permutation(np.asarray(member_losses, dtype=float))
    nonmembers = rng.permutation(np.asarray(nonmember_losses, dtype=float))
    if len(members) < 4 or len(nonmembers) < 4:
        raise ValueError("need at least 4 losses in each group")
    fit_m, score_m = members[: len(members) // 2], members[len(members) // 2 :]
    fit_n, score_n = nonmembers[: len(nonmembers) // 2], nonmembers[len(nonmembers) // 2 :]

    # The best threshold on the very losses it is scored on is a maximum over many
    # thresholds: it finds a "leak" in pure noise. Choose on one half, score on the other.
    candidates = np.unique(np.concatenate([fit_m, fit_n]))
    gains = _at_or_below(fit_m, candidates) - _at_or_below(fit_n, candidates)
    threshold = float(candidates[int(np.argmax(gains))])

    tpr, fpr = _rates(score_m, score_n, threshold)
    value = tpr - fpr
    se = math.sqrt(tpr * (1 - tpr) / len(score_m) + fpr * (1 - fpr) / len(score_n))
    return Advantage(
        value=value,
        low=max(-1.0, value - Z_95 * se),
        high=min(1.0, value + Z_95 * se),
        threshold=threshold,
        tpr=tpr,
        fpr=fpr,
    )


def clip_rows(features: Sequence[Sequence[float]]) -> np.ndarray:
    """Each row scaled down to L2 norm at most 1 (rows inside the ball are unchanged)."""
    x = np.asarray(features, dtype=float)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1.0)


def predict_proba(weights: Sequence[float], features: Sequence[Sequence[float]]) -> list[float]:
    """P(y = 1) for each row under the logistic model ``weights`` (rows clipped first)."""
    margins = clip_rows(features) @ np.asarray(weights, dtype=float)
    return [float(p) for p in 1.0 / (1.0 + np.exp(-np.clip(margins, -500, 500)))]


def train_logistic(
    features: Sequence[Sequence[float]], labels: Sequence[int], *, l2: float
) -> list[float]:
    """Weights minimising mean log-loss + (l2 / 2) * ||w||^2 over clipped rows, no intercept."""
    if not l2 > 0:
        raise ValueError("l2 must be positive: without it one person can move the weights anywhere")
    x = clip_rows(features)
    # scikit-learn minimises C * sum(loss) + ||w||^2 / 2: dividing by C * n gives the mean
    # loss + ||w||^2 / (2 C n), so C = 1 / (n * l2).
    model = LogisticRegression(
        C=1.0 / (len(x) * l2), fit_intercept=False, solver="newton-cg", tol=1e-8, max_iter=1000
    )
    model.fit(x, np.asarray(labels, dtype=int))
    return [float(w) for w in model.coef_[0]]


def gaussian_sigma(sensitivity: float, epsilon: float, delta: float) -> float:
    """The classic Gaussian mechanism: sigma = sensitivity * sqrt(2 ln(1.25 / delta)) / epsilon.

    Proven (Dwork and Roth, Theorem A.1) for epsilon up to 1 only, so a larger one is refused.
    """
    if not sensitivity > 0:
        raise ValueError("sensitivity must be positive")
    if not 0 < epsilon <= 1:
        raise ValueError(
            f"epsilon={epsilon}: the classic Gaussian mechanism is only proven for 0 < epsilon <= 1"
        )
    if not 0 < delta < 1:
        raise ValueError(f"delta={delta} must be in (0, 1), and far below 1 / n in practice")
    return sensitivity * math.sqrt(2.0 * math.log(1.25 / delta)) / epsilon


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

    With rows of norm <= 1 and a 1-Lipschitz loss, replacing one row moves the minimiser by
    at most 2 / (n * l2) in L2 norm: that is the sensitivity.
    """
    weights = np.asarray(train_logistic(features, labels, l2=l2))
    sigma = gaussian_sigma(2.0 / (len(features) * l2), epsilon, delta)
    noisy = weights + rng.normal(0.0, sigma, size=weights.shape)
    return [float(w) for w in noisy]


def exposure(canary_loss: float, candidate_losses: Sequence[float]) -> float:
    """log2(|R|) - log2(rank) with R = the candidates plus the canary.

    rank = 1 + the number of candidates whose loss is <= the canary's: a tie is no evidence
    that the model remembers the canary. Exposure runs from 0 to log2(len(candidates) + 1).
    """
    losses = np.asarray(candidate_losses, dtype=float)
    rank = 1 + int(np.sum(losses < canary_loss))
    return math.log2(len(losses) + 1) - math.log2(rank)


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

    Each candidate is scored with the canary's label: the question is whether the model
    prefers the one secret it saw to the ones it did not.
    """
    x = [list(row) for row in features] + [list(canary)]
    y = [int(v) for v in labels] + [int(canary_label)]
    if epsilon is None:
        weights = train_logistic(x, y, l2=l2)
    else:
        if rng is None:
            raise ValueError("DP training needs an rng")
        weights = train_dp_logistic(x, y, l2=l2, epsilon=epsilon, delta=delta, rng=rng)

    def losses(rows: Sequence[Sequence[float]]) -> list[float]:
        p1 = np.asarray(predict_proba(weights, rows))
        return example_losses(np.column_stack([1 - p1, p1]), [canary_label] * len(rows))

    return exposure(losses([canary])[0], losses(candidates))
