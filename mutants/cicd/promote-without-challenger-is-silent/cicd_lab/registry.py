"""Task 2: model versions and aliases in the MLflow Model Registry.

Three aliases tell the whole story of a model:

* ``challenger``: the version that passed the gate and is waiting for its canary;
* ``champion``:   the version serving traffic (``models:/<name>@champion``);
* ``previous``:   the champion before the last promotion, so a rollback is one alias move.

Stages ("Staging", "Production") are deprecated in MLflow 3; this module never uses them.
The tracking URI comes from the environment (``MLFLOW_TRACKING_URI``) or from
``mlflow.set_tracking_uri`` called by whoever runs us; nothing is set at import time.
"""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "PREVIOUS",
    "alias_version",
    "load_champion",
    "promote",
    "register_challenger",
    "rollback",
]

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous"


def alias_version(model_name: str, alias: str) -> str | None:
    """The version an alias points at, or None if the alias is not set (given)."""
    try:
        return str(MlflowClient().get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def register_challenger(
    model: Any, model_name: str, *, metrics: dict[str, float] | None = None
) -> str:
    """Log ``model`` in a new run, register it as a new version, point ``challenger`` at it."""
    with mlflow.start_run(run_name=f"{model_name}-candidate"):
        if metrics:
            mlflow.log_metrics(metrics)
        # Explicit requirements skip MLflow's slow dependency inference. MLflow 3 saves
        # with skops, which refuses tree nodes unless trusted; we trained this model
        # ourselves, and trusting one type beats pickle, which runs any code on load.
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


def promote(model_name: str) -> str:
    """Make the challenger the champion, remembering the old champion as ``previous``."""
    client = MlflowClient()
    challenger = alias_version(model_name, CHALLENGER)
    if challenger is None:
        return alias_version(model_name, CHAMPION) or ""
    champion = alias_version(model_name, CHAMPION)
    if champion is not None and champion != challenger:
        client.set_registered_model_alias(model_name, PREVIOUS, champion)
    client.set_registered_model_alias(model_name, CHAMPION, challenger)
    client.delete_registered_model_alias(model_name, CHALLENGER)
    return challenger


def rollback(model_name: str) -> str:
    """Point ``champion`` back at ``previous``; the alias is consumed, so it happens once."""
    client = MlflowClient()
    previous = alias_version(model_name, PREVIOUS)
    if previous is None:
        raise RuntimeError(f"{model_name} has no {PREVIOUS!r} alias: nothing to roll back to")
    client.set_registered_model_alias(model_name, CHAMPION, previous)
    # A second rollback must fail loudly, not flip back to the version we just left.
    client.delete_registered_model_alias(model_name, PREVIOUS)
    return previous


def load_champion(model_name: str) -> Any:
    """The serving model: whatever ``champion`` points at, not the newest version."""
    return mlflow.pyfunc.load_model(f"models:/{model_name}@{CHAMPION}")
