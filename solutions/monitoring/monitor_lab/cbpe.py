"""Task 4: performance without labels (confidence-based performance estimation, CBPE).

Labels arrive days late (task 2); the scores arrive now. If the scores are calibrated
probabilities, a prediction with score p >= threshold is right with probability p, and one
below it is right with probability 1 - p, so the window's expected accuracy is the mean of
those probabilities: an estimate that needs no label (NannyML's CBPE).

Requirements (the tests check each one):

- ``fit(reference_scores, reference_labels)`` learns a calibration map on the labelled
  reference (isotonic regression of the label on the score), and measures the raw scores'
  expected calibration error (10 equal-width bins: ``Σ n_b / n · |mean(label) −
  mean(score)|``).
- ``estimate(scores)`` returns ``{"accuracy", "low", "high", "warnings"}``: the expected
  accuracy, where each prediction's decision is its raw score against ``threshold`` (as the
  model decides) and its probability of being positive is the calibrated score; and a
  normal interval at ``confidence`` whose variance is ``Σ q_i (1 − q_i) / n²``, ``q_i``
  being each prediction's probability of being right.
- ``warnings`` holds ``"uncalibrated"`` when the raw scores' calibration error on the
  reference is above ``max_calibration_error``: the raw scores are not probabilities, and
  without the calibration map every estimate would be wrong.
- ``check(scores, labels)`` compares the estimate with the realised accuracy once labels
  arrive: ``{"estimated", "realised", "within", "warnings"}``, with ``"concept_drift"`` in
  ``warnings`` when the realised accuracy is outside the interval. CBPE assumes P(label |
  score) did not change; when it did, only the labels can say so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, stats


class CBPE:
    """Estimated accuracy from calibrated scores, before the labels arrive."""

    def __init__(
        self,
        threshold: float = 0.5,
        confidence: float = 0.95,
        max_calibration_error: float = 0.05,
    ) -> None:
        self.threshold = threshold
        self.confidence = confidence
        self.max_calibration_error = max_calibration_error
        self.calibration_error: float | None = None
        self._knots: np.ndarray | None = None
        self._fitted: np.ndarray | None = None

    def fit(self, reference_scores: list[float], reference_labels: list[int]) -> CBPE:
        scores = np.asarray(reference_scores, dtype=float)
        labels = np.asarray(reference_labels, dtype=float)
        order = np.argsort(scores, kind="stable")
        self._knots = scores[order]
        self._fitted = optimize.isotonic_regression(labels[order]).x
        bins = np.minimum((scores * 10).astype(int), 9)
        error = 0.0
        for b in range(10):
            inside = bins == b
            if inside.any():
                error += inside.mean() * abs(labels[inside].mean() - scores[inside].mean())
        self.calibration_error = float(error)
        return self

    def calibrated(self, scores: list[float]) -> np.ndarray:
        """P(label = 1) for each score, read off the reference's calibration map."""
        if self._knots is None or self._fitted is None:
            raise RuntimeError("fit() the estimator on a labelled reference first")
        return np.interp(np.asarray(scores, dtype=float), self._knots, self._fitted)

    def estimate(self, scores: list[float]) -> dict[str, Any]:
        raw = np.asarray(scores, dtype=float)
        p = self.calibrated(scores)
        # The model decides on its raw score; the calibrated score says how likely the
        # truth is positive. Mixing the two up moves every prediction near the threshold.
        right = np.where(raw >= self.threshold, p, 1.0 - p)
        n = len(right)
        accuracy = float(right.mean())
        se = float(np.sqrt(np.sum(right * (1.0 - right))) / n)
        z = float(stats.norm.ppf(0.5 + self.confidence / 2))
        warnings = []
        if self.calibration_error is not None and (
            self.calibration_error > self.max_calibration_error
        ):
            warnings.append("uncalibrated")
        return {
            "accuracy": accuracy,
            "low": accuracy - z * se,
            "high": accuracy + z * se,
            "warnings": warnings,
        }

    def check(self, scores: list[float], labels: list[int]) -> dict[str, Any]:
        estimate = self.estimate(scores)
        decisions = np.asarray(scores, dtype=float) >= self.threshold
        realised = float(np.mean(decisions == (np.asarray(labels) == 1)))
        within = estimate["low"] <= realised <= estimate["high"]
        warnings = list(estimate["warnings"])
        if not within:
            warnings.append("concept_drift")
        return {
            "estimated": estimate["accuracy"],
            "realised": realised,
            "within": within,
            "warnings": warnings,
        }
