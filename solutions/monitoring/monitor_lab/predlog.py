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
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS predictions ("
            " request_id VARCHAR PRIMARY KEY, customer_id VARCHAR, ts BIGINT,"
            " score DOUBLE, model_version VARCHAR)"
        )
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS labels ("
            " request_id VARCHAR, label INTEGER, arrived_at BIGINT)"
        )

    def log_prediction(
        self, request_id: str, customer_id: str, ts: int, score: float, model_version: str
    ) -> None:
        """Record one prediction; a retry of the same request is recorded once."""
        self.con.execute(
            "INSERT OR IGNORE INTO predictions VALUES (?, ?, ?, ?, ?)",
            [request_id, customer_id, ts, score, model_version],
        )

    def log_label(self, request_id: str, label: int, arrived_at: int) -> None:
        """Record a label for a request, as it arrives (a later one revises it)."""
        self.con.execute("INSERT INTO labels VALUES (?, ?, ?)", [request_id, label, arrived_at])

    def quality(self, as_of: int, window_s: int, threshold: float = 0.5) -> list[dict[str, Any]]:
        """Quality per window as it was known at ``as_of``."""
        # The ASOF join takes, per request, the label row with the greatest arrived_at at
        # or before as_of: later labels, and later revisions, are not known yet.
        rows = self.con.execute(
            """
            WITH p AS (
                SELECT request_id, ts, score, ?::BIGINT AS as_of
                FROM predictions WHERE ts <= ?
            ),
            joined AS (
                SELECT p.ts, p.score, l.label
                FROM p ASOF LEFT JOIN labels l
                  ON p.request_id = l.request_id AND p.as_of >= l.arrived_at
            )
            SELECT ts // ? * ? AS window_start,
                   count(*) AS predictions,
                   count(label) AS labelled,
                   avg(CASE WHEN label IS NULL THEN NULL
                            WHEN (score >= ?) = (label = 1) THEN 1.0 ELSE 0.0 END)
            FROM joined GROUP BY window_start ORDER BY window_start
            """,
            [as_of, as_of, window_s, window_s, threshold],
        ).fetchall()
        return [
            {
                "window_start": int(start),
                "predictions": int(n),
                "labelled": int(labelled),
                "accuracy": None if accuracy is None else float(accuracy),
            }
            for start, n, labelled, accuracy in rows
        ]
