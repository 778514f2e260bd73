"""Task 2: model versions and aliases in the MLflow Model Registry.

Three aliases tell the whole story of a model:

* ``challenger``: the version that passed the gate and is waiting for its canary;
* ``champion``:   the version serving traffic (``models:/<name>@champion``);
* ``previous``:   the champion before the last promotion, so a rollback is one alias move.

Stages ("Staging", "Production") are deprecated in MLflow 3: do not use them.
The tracking URI comes from the environment (``MLFLOW_TRACKING_URI``) or from
``mlflow.set_tracking_uri`` called by whoever runs us; nothing is set at import time.

Useful calls: ``mlflow.start_run()``, ``mlflow.sklearn.log_model(model, name="model",
registered_model_name=…, pip_requirements=["scikit-learn"])`` (its result has
``registered_model_version``), and on ``MlflowClient()``: ``set_registered_model_alias``,
``delete_registered_model_alias``, ``get_model_version_by_alias``.
"""

from __future__ import annotations

from typing import Any

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
    """Log ``model`` in a new run, register it as a new version, point ``challenger`` at it.

    Returns the new version as a string ("1", "2", …). Pass ``pip_requirements``: without
    it MLflow spends seconds inferring dependencies. MLflow 3 saves scikit-learn models
    with skops, which refuses tree models unless you pass
    ``skops_trusted_types=["sklearn.tree._tree.Tree"]`` (the alternative, pickle, runs
    arbitrary code when loaded).
    """
    # TODO(student): log and register the model, then set the challenger alias.
    raise NotImplementedError("TODO(student): register the model and set 'challenger'")


def promote(model_name: str) -> str:
    """Make the challenger the champion; the old champion (if any) becomes ``previous``.

    Removes the ``challenger`` alias and returns the new champion's version. Raises (and
    changes nothing) when there is no challenger.
    """
    # TODO(student): three alias moves, in an order that never leaves champion unset.
    raise NotImplementedError("TODO(student): move champion, keep previous")


def rollback(model_name: str) -> str:
    """Point ``champion`` back at ``previous`` and return that version.

    Raises when there is no ``previous``. A second rollback in a row must raise too, not
    bring back the version we just rolled away from.
    """
    # TODO(student): one alias move, and make sure it cannot be repeated by accident.
    raise NotImplementedError("TODO(student): restore the previous champion")


def load_champion(model_name: str) -> Any:
    """The serving model: a pyfunc model loaded from ``models:/<name>@champion``."""
    # TODO(student): load by alias, not by "latest version".
    raise NotImplementedError("TODO(student): load the model the champion alias points at")
