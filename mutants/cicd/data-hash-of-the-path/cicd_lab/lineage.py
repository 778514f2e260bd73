"""Task 6b: reproducibility. Every registered model says what made it, and can be rebuilt.

A model version records, on its MLflow run:

* tag ``data_sha256``:  the SHA-256 of the training file's bytes (a content hash: the
  same bytes anywhere give the same hash, one changed label gives another);
* tag ``code_version``: the commit that trained it (``git rev-parse HEAD`` in CI);
* param ``seed``:       the random seed it was trained with;
* tag ``model_sha256``: ``model_sha256(model)`` of the fitted model.

``rebuild`` retrains from those and says whether it got the same model, and if not, why.
``verify_lineage`` is the gate's check that a model was trained on the approved data.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient

from .gate import train_candidate
from .registry import CHALLENGER

__all__ = ["data_sha256", "model_sha256", "rebuild", "register_reproducible", "verify_lineage"]


def model_sha256(model: Any) -> str:
    """SHA-256 of the fitted model's pickle (given): equal bytes, equal model."""
    return hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest()


def data_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes, read in chunks."""
    return hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()


def register_reproducible(train_csv: Path, model_name: str, *, seed: int, code_version: str) -> str:
    """Train on ``train_csv`` with ``seed``, register the model with its lineage, set
    ``challenger``; return the new version."""
    train_csv = Path(train_csv)
    data_hash = data_sha256(train_csv)  # hash the bytes we train on, not a path or a name
    train = pd.read_csv(train_csv)
    model = train_candidate(train, seed=seed)
    with mlflow.start_run(run_name=f"{model_name}-reproducible"):
        mlflow.log_param("seed", seed)
        mlflow.set_tags(
            {
                "data_sha256": data_hash,
                "code_version": code_version,
                "model_sha256": model_sha256(model),
            }
        )
        # The same hash as an MLflow dataset input, so the UI links run and data.
        dataset = mlflow.data.from_pandas(train, source=str(train_csv), name="churn_train")
        mlflow.log_input(dataset, context="training", tags={"sha256": data_hash})
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=model_name,
            pip_requirements=["scikit-learn"],
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(model_name, CHALLENGER, version)
    return version


def _lineage(model_name: str, version: str) -> dict[str, str | None]:
    client = MlflowClient()
    run = client.get_run(client.get_model_version(model_name, version).run_id)
    return {
        "data_sha256": run.data.tags.get("data_sha256"),
        "code_version": run.data.tags.get("code_version"),
        "model_sha256": run.data.tags.get("model_sha256"),
        "seed": run.data.params.get("seed"),
    }


def rebuild(model_name: str, version: str, train_csv: Path) -> dict[str, Any]:
    """Retrain ``version`` from its recorded seed on ``train_csv``; compare model hashes.

    Returns ``{"identical": bool, "model_sha256": new hash, "recorded_model_sha256": …,
    "reasons": [why not, …]}``.
    """
    recorded = _lineage(model_name, version)
    if recorded["seed"] is None or recorded["model_sha256"] is None:
        raise ValueError(f"{model_name} version {version} has no recorded seed or model hash")
    reasons = []
    found = data_sha256(Path(train_csv))
    if found != recorded["data_sha256"]:
        reasons.append(
            f"training data changed: recorded data_sha256 {recorded['data_sha256']}, "
            f"{train_csv} has {found}"
        )
    model = train_candidate(pd.read_csv(train_csv), seed=int(recorded["seed"]))
    got = model_sha256(model)
    if got != recorded["model_sha256"]:
        reasons.append(f"model_sha256 {got} differs from the recorded {recorded['model_sha256']}")
    return {
        "identical": not reasons,
        "model_sha256": got,
        "recorded_model_sha256": recorded["model_sha256"],
        "reasons": reasons,
    }


def verify_lineage(model_name: str, version: str, approved_data_sha256: str) -> dict[str, Any]:
    """The gate's lineage check: ``{"passed": bool, "reasons": [...]}``.

    Refuses a version with no recorded data hash, or one trained on other data than the
    approved dataset.
    """
    recorded = _lineage(model_name, version)
    reasons = []
    if not recorded["data_sha256"]:
        reasons.append(f"version {version} records no data_sha256: its training data is unknown")
    elif recorded["data_sha256"] != approved_data_sha256:
        reasons.append(
            f"version {version} was trained on data_sha256 {recorded['data_sha256']}, "
            f"not the approved {approved_data_sha256}"
        )
    for key in ("code_version", "seed"):
        if not recorded[key]:
            reasons.append(f"version {version} records no {key}: it cannot be rebuilt")
    return {"passed": not reasons, "reasons": reasons}
