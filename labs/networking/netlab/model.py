"""The model every server in this lab serves. Provided: you do not need to edit this file.

A logistic regression with fixed weights read from ``data/model.json``, so every score is
deterministic and the tests can compute the expected answer themselves.

``row_delay_s`` pretends the model is heavier than it is (it sleeps per row). The tests use
it to make a request slow enough to blow its deadline.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "model.json"
N_FEATURES = 4  # must match data/model.json; load_model() checks it
MAX_BATCH = 1000  # the largest batch a server should accept


class BadInput(ValueError):
    """The rows cannot be scored: wrong shape, empty batch or a non-finite number."""


class ModelTimeout(TimeoutError):
    """Scoring would run past the time budget the caller passed in."""


@dataclass
class LogisticModel:
    name: str
    version: str
    features: list[str]
    weights: list[float]
    bias: float
    row_delay_s: float = 0.0
    rows_scored: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def predict(
        self, rows: Sequence[Sequence[float]], *, timeout: float | None = None
    ) -> list[float]:
        """Return P(churn) for each row.

        Raises ``BadInput`` for rows it cannot score, and ``ModelTimeout`` as soon as the
        next row would not finish within ``timeout`` seconds (``None``: no budget).
        """
        self.validate(rows)
        deadline = None if timeout is None else time.monotonic() + timeout
        scores = []
        for row in rows:
            if self.row_delay_s:
                if deadline is not None and time.monotonic() + self.row_delay_s > deadline:
                    raise ModelTimeout(f"scoring {len(rows)} rows would exceed {timeout:.3f}s")
                time.sleep(self.row_delay_s)
            z = self.bias + sum(w * x for w, x in zip(self.weights, row, strict=True))
            scores.append(1.0 / (1.0 + math.exp(-z)))
            with self._lock:
                self.rows_scored += 1
        return scores

    def validate(self, rows: Sequence[Sequence[float]]) -> None:
        if not 1 <= len(rows) <= MAX_BATCH:
            raise BadInput(f"a batch holds 1 to {MAX_BATCH} rows, got {len(rows)}")
        for i, row in enumerate(rows):
            if len(row) != len(self.weights):
                raise BadInput(f"row {i} has {len(row)} features, expected {len(self.weights)}")
            if not all(isinstance(x, int | float) and math.isfinite(x) for x in row):
                raise BadInput(f"row {i} holds a value that is not a finite number")


def load_model(path: Path = MODEL_PATH, *, row_delay_s: float = 0.0) -> LogisticModel:
    spec = json.loads(Path(path).read_text())
    if len(spec["weights"]) != N_FEATURES:
        raise ValueError(f"{path}: expected {N_FEATURES} weights, got {len(spec['weights'])}")
    return LogisticModel(
        name=spec["name"],
        version=spec["version"],
        features=list(spec["features"]),
        weights=[float(w) for w in spec["weights"]],
        bias=float(spec["bias"]),
        row_delay_s=row_delay_s,
    )
