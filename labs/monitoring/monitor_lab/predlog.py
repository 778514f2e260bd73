"""Task 2: a prediction log, and live quality once the delayed labels arrive.

Every prediction is logged with what its label will be joined on (the request id), and
the label arrives hours or days later, sometimes more than once (a chargeback that is
reversed). Times are integer epoch seconds.

Requirements (the tests check each one):

- ``log_prediction`` records one row per request: a retry that logs the same
  ``request_id`` again does not make a second row.
- ``quality(as_of, window_s)`` is point-in-time correct: it uses only predictions made at
  or before ``as_of``, and for each of them the latest label that had arrived at or
  before ``as_of`` (labels that arrive later did not exist yet).
- Predictions go in windows by their own time: ``window_start = ts // window_s *
  window_s``, one row per window that has predictions, in order.
- ``predictions`` counts the window's requests; ``labelled`` counts those with a known
  label; ``accuracy`` is the share of labelled ones where ``score >= threshold`` equals
  ``label == 1``, over labelled rows only (an unlabelled row is not a negative), and
  ``None`` when none is labelled.
"""

from __future__ import annotations

from typing import Any

import duckdb


class PredictionLog:
    """Predictions and their delayed labels, in DuckDB (in memory, or a file)."""

    def __init__(self, path: str = ":memory:") -> None:
        self.con = duckdb.connect(path)
        # TODO(student): create a predictions table and a labels table. What makes a
        # retried request one row, not two?
        raise NotImplementedError("TODO(student): create the tables")

    def log_prediction(
        self, request_id: str, customer_id: str, ts: int, score: float, model_version: str
    ) -> None:
        """Record one prediction; a retry of the same request is recorded once."""
        # TODO(student): insert the prediction.
        raise NotImplementedError("TODO(student): log a prediction")

    def log_label(self, request_id: str, label: int, arrived_at: int) -> None:
        """Record a label for a request, as it arrives (a later one revises it)."""
        # TODO(student): insert the label; keep every row, with when it arrived.
        raise NotImplementedError("TODO(student): log a label")

    def quality(self, as_of: int, window_s: int, threshold: float = 0.5) -> list[dict[str, Any]]:
        """Quality per window as it was known at ``as_of``: a list of
        ``{"window_start", "predictions", "labelled", "accuracy"}`` in window order."""
        # TODO(student): one query. DuckDB's ASOF LEFT JOIN finds, per request, the label
        # row with the greatest arrived_at at or before a time.
        raise NotImplementedError("TODO(student): compute quality per window")
