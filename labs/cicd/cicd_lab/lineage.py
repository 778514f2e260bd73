"""Task 6b: reproducibility. Every registered model says what made it, and can be rebuilt.

A model version records, on its MLflow run:

* tag ``data_sha256``:  the SHA-256 (hex) of the training file's bytes: a content hash,
  so the same bytes anywhere give the same hash and one changed label gives another;
* tag ``code_version``: the commit that trained it (``git rev-parse HEAD`` in CI);
* param ``seed``:       the random seed it was trained with;
* tag ``model_sha256``: ``model_sha256(model)`` of the fitted model.

(Log the data as an MLflow dataset input too if you like: ``mlflow.data.from_pandas`` and
``mlflow.log_input``.) ``rebuild`` retrains from the record and says whether it got the
same model, and if not, why. ``verify_lineage`` is the gate's check that a model was
trained on the approved data.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

__all__ = ["data_sha256", "model_sha256", "rebuild", "register_reproducible", "verify_lineage"]


def model_sha256(model: Any) -> str:
    """SHA-256 of the fitted model's pickle (given): equal bytes, equal model."""
    return hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest()


def data_sha256(path: Path) -> str:
    """SHA-256 (hex) of the file's bytes."""
    # TODO(student): hash the content, not the name, the size or the modification time.
    raise NotImplementedError("TODO(student): hash the training file's bytes")


def register_reproducible(train_csv: Path, model_name: str, *, seed: int, code_version: str) -> str:
    """Train ``gate.train_candidate(pandas.read_csv(train_csv), seed=seed)``, log and
    register it with its lineage (see the module docstring), point ``challenger`` at it,
    and return the new version ("1", "2", …)."""
    # TODO(student): one MLflow run: the seed as a param, the hashes and code version as
    # tags, the model (as in registry.register_challenger), then the alias.
    raise NotImplementedError("TODO(student): register the model with its lineage")


def rebuild(model_name: str, version: str, train_csv: Path) -> dict[str, Any]:
    """Retrain ``version`` on ``train_csv`` with the seed recorded on its run.

    Returns ``{"identical": bool, "model_sha256": <the new model's hash>,
    "recorded_model_sha256": <the recorded one>, "reasons": [...]}``: identical only when
    the hashes match; otherwise ``reasons`` explains the difference (the training data's
    hash no longer matches the recorded one, or the model differs).
    """
    # TODO(student): read the version's run (MlflowClient().get_model_version(...).run_id),
    # retrain from what it recorded, compare.
    raise NotImplementedError("TODO(student): rebuild a version from its lineage")


def verify_lineage(model_name: str, version: str, approved_data_sha256: str) -> dict[str, Any]:
    """The gate's lineage check: ``{"passed": bool, "reasons": [...]}``.

    Refuses a version trained on anything but the approved dataset, and one whose record
    is incomplete (no data hash, code version or seed): it could not be rebuilt.
    """
    # TODO(student): compare the recorded data_sha256 with the approved one.
    raise NotImplementedError("TODO(student): check the model's lineage")
