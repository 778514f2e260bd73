"""Task 1: the validation gate a candidate model must pass before it reaches the registry.

The gate compares a freshly trained candidate with the current champion on a holdout set
the candidate never saw, and passes it only if all three checks hold:

* floor:      the candidate's overall metric is at least ``config.metric_floor``;
* regression: it is at most ``config.max_regression`` below the champion's;
* slices:     no slice (``config.slice_column``) drops by more than ``config.max_slice_drop``.

It writes two JSON files, ``metrics.json`` and ``model_card.json``, so that CI can keep
them as build artifacts and a reviewer can see why a model was (not) shipped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import roc_auc_score

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
    """ROC AUC overall and per slice: ``{"overall": float, "slices": {name: float}}``."""
    scores = np.asarray(model.predict_proba(data[FEATURES]))[:, 1]
    labels = data[LABEL].to_numpy()
    slices = {}
    for name in sorted(data[slice_column].unique()):
        mask = (data[slice_column] == name).to_numpy()
        slices[str(name)] = float(roc_auc_score(labels[mask], scores[mask]))
    return {"overall": float(roc_auc_score(labels, scores)), "slices": slices}


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
    """Judge ``candidate`` against ``champion`` (None on the very first deployment)."""
    config = config or GateConfig()
    # Both models are scored on the holdout only: on the training rows an overfit model
    # looks perfect, and the comparison with the champion would be meaningless.
    cand = score_model(candidate, holdout, config.slice_column)
    champ = score_model(champion, holdout, config.slice_column) if champion is not None else None

    reasons: list[str] = []
    floor_ok = cand["overall"] >= config.metric_floor
    if not floor_ok:
        reasons.append(f"overall AUC {cand['overall']:.4f} is below {config.metric_floor}")

    regression_ok = True
    failed_slices: list[str] = []
    if champ is not None:
        drop = champ["overall"] - cand["overall"]
        regression_ok = drop <= config.max_regression
        if not regression_ok:
            reasons.append(
                f"overall AUC dropped {drop:.4f} vs the champion (max {config.max_regression})"
            )
        # Each slice is checked on its own: an average can hide a segment that got worse.
        for name, champ_auc in champ["slices"].items():
            slice_drop = champ_auc - cand["slices"].get(name, float("-inf"))
            if slice_drop > config.max_slice_drop:
                failed_slices.append(name)
                reasons.append(
                    f"slice {name!r} dropped {slice_drop:.4f} (max {config.max_slice_drop})"
                )

    checks = {"floor": floor_ok, "regression": regression_ok, "slices": not failed_slices}
    result = GateResult(
        passed=all(checks.values()),
        checks=checks,
        candidate=cand,
        champion=champ,
        failed_slices=failed_slices,
        reasons=reasons,
    )
    _write_reports(
        result, out_dir, model_name=model_name, train=train, holdout=holdout, config=config
    )
    return result


def _write_reports(
    result: GateResult,
    out_dir: Path,
    *,
    model_name: str,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    config: GateConfig,
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = {
        "metric": "roc_auc",
        "evaluated_on": "holdout",
        "rows": len(holdout),
        "candidate": result.candidate,
        "champion": result.champion,
        "checks": result.checks,
        "passed": result.passed,
    }
    card = {
        "model_name": model_name,
        "passed": result.passed,
        "reasons": result.reasons,
        "failed_slices": result.failed_slices,
        "metrics": result.candidate,
        "thresholds": asdict(GateConfig()),
        "training_data": _describe(train),
        "evaluation_data": _describe(holdout),
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    (out_dir / "model_card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")


def _describe(data: pd.DataFrame) -> dict[str, Any]:
    return {"rows": len(data), "positive_rate": float(data[LABEL].mean())}
