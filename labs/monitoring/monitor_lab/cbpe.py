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

import numpy as np  # noqa: F401  (you will need both)
from scipy import optimize, stats  # noqa: F401


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

    def fit(self, reference_scores: list[float], reference_labels: list[int]) -> CBPE:
        """Learn the calibration map and the raw scores' calibration error; return self."""
        # TODO(student): scipy.optimize.isotonic_regression of the labels sorted by score
        # gives the map; np.interp reads it for new scores.
        raise NotImplementedError("TODO(student): fit the calibration map")

    def estimate(self, scores: list[float]) -> dict[str, Any]:
        """``{"accuracy", "low", "high", "warnings"}`` for a window of scores."""
        # TODO(student): the probability that each decision is right, their mean, and an
        # interval from their variance.
        raise NotImplementedError("TODO(student): estimate accuracy without labels")

    def check(self, scores: list[float], labels: list[int]) -> dict[str, Any]:
        """``{"estimated", "realised", "within", "warnings"}`` once the labels arrived."""
        # TODO(student): compare the estimate with the realised accuracy.
        raise NotImplementedError("TODO(student): check the estimate against the labels")
