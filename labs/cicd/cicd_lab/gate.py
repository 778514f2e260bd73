"""Task 1: the validation gate a candidate model must pass before it reaches the registry.

The gate compares a freshly trained candidate with the current champion on a holdout set
the candidate never saw, and passes it only if all three checks hold:

* floor:      the candidate's overall metric is at least ``config.metric_floor``;
* regression: it is at most ``config.max_regression`` below the champion's;
* slices:     no slice (``config.slice_column``) drops by more than ``config.max_slice_drop``.

It writes two JSON files, ``metrics.json`` and ``model_card.json``, so that CI can keep
them as build artifacts and a reviewer can see why a model was (not) shipped.

The metric is ROC AUC (``sklearn.metrics.roc_auc_score``) on ``predict_proba(X)[:, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier

__all__ = [
    "FEATURES",
    "LABEL",
    "GateConfig",
    "GateResult",
    "run_gate",
    "score_model",
    "train_candidate",
]

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "segment_code"]
LABEL = "churned"


class Classifier(Protocol):
    def predict_proba(self, X: Any) -> Any: ...


@dataclass(frozen=True)
class GateConfig:
    metric_floor: float = 0.70
    max_regression: float = 0.01
    max_slice_drop: float = 0.03
    slice_column: str = "segment"


@dataclass
class GateResult:
    passed: bool
    checks: dict[str, bool]  # {"floor": …, "regression": …, "slices": …}
    candidate: dict[str, Any]  # {"overall": auc, "slices": {name: auc}}
    champion: dict[str, Any] | None
    failed_slices: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def train_candidate(train: pd.DataFrame, seed: int = 0) -> GradientBoostingClassifier:
    """Train the candidate model (given: the lab is about shipping it, not building it)."""
    model = GradientBoostingClassifier(
        random_state=seed, max_depth=3, n_estimators=150, learning_rate=0.05
    )
    return model.fit(train[FEATURES], train[LABEL])


def score_model(model: Classifier, data: pd.DataFrame, slice_column: str) -> dict[str, Any]:
    """ROC AUC of ``model`` on ``data``: ``{"overall": float, "slices": {name: float}}``.

    ``slices`` has one entry per distinct value of ``data[slice_column]`` (the keys are
    the values as strings), each the AUC on that slice's rows only.
    """
    # TODO(student): score predict_proba(data[FEATURES])[:, 1] against data[LABEL],
    # overall and per slice.
    raise NotImplementedError("TODO(student): compute ROC AUC overall and per slice")


def run_gate(
    candidate: Classifier,
    champion: Classifier | None,
    *,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    out_dir: Path,
    model_name: str = "churn",
    config: GateConfig | None = None,
) -> GateResult:
    """Judge ``candidate`` against ``champion`` (None on the very first deployment).

    Returns a GateResult whose ``checks`` has the keys "floor", "regression", "slices"
    (with no champion, "regression" and "slices" pass), ``passed`` is all of them, and
    ``failed_slices``/``reasons`` say what went wrong.

    Writes, creating ``out_dir`` if needed:

    ``metrics.json``::

        {"metric": "roc_auc", "evaluated_on": "holdout", "rows": <holdout rows>,
         "candidate": {"overall": …, "slices": {…}}, "champion": {…} or null,
         "checks": {…}, "passed": true|false}

    ``model_card.json``::

        {"model_name": …, "passed": …, "reasons": […], "failed_slices": […],
         "metrics": <candidate scores>, "thresholds": <GateConfig as a dict>,
         "training_data": {"rows": …, "positive_rate": …},
         "evaluation_data": {"rows": …, "positive_rate": …}}
    """
    # TODO(student): score both models (on which data?), run the three checks, write both
    # JSON files, return the GateResult. What can an average across slices hide?
    raise NotImplementedError("TODO(student): implement the validation gate")
