"""Shared fixtures: the churn data, the tests' own models, an MLflow registry.

This lab is sealed: the tests never import your code. It runs in a worker process of its
own, and the tests reach it through the ``learner`` fixture
(``learner.module("cicd_lab.router").Router(25)`` runs there; only plain data comes back).
``cicd_bridge`` (provided) loads data and trains the fixed-seed models in the worker, and
turns your results into plain data.

The tests know the right answers because they train the same models here and score them
with their own scikit-learn. The MLflow registry lives in a folder both users can reach:
your code writes it in the worker, and the tests read aliases, tags and runs back with
their own ``MlflowClient``. They never load a model you logged.

Everything slow is session-scoped, and everything the tests write goes under
tmp_path_factory: the lab folder is read-only while the suite runs.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

LAB_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = LAB_DIR / "data"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "segment_code"]
LABEL = "churned"


def pytest_configure(config: pytest.Config) -> None:
    # The grader's plugin registers this marker too; this lets the suite run without it.
    config.addinivalue_line("markers", "task(n): the lab task this test belongs to")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # MLflow's SQLAlchemy store triggers deprecation warnings that say nothing about the
    # learner's code; a suite run with -W error would fail on them.
    for item in items:
        item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:sqlalchemy"))
        item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"))
        item.add_marker(pytest.mark.filterwarnings("ignore::FutureWarning:mlflow"))


def cicd(learner: Any, module: str) -> Any:
    """A handle on ``cicd_lab.<module>``: the learner's code, imported in the worker."""
    return learner.module(f"cicd_lab.{module}", timeout=120)


def learner_function(learner: Any, module: str, name: str) -> Any:
    """A handle on ``cicd_lab.<module>.<name>``, failing with a readable message if missing."""
    handle = cicd(learner, module)
    try:
        found = getattr(handle, name)
    except AttributeError:
        found = None
    if found is None:
        pytest.fail(
            f"MISSING FUNCTION: cicd_lab/{module}.py has no {name}; did you rename it?",
            pytrace=False,
        )
    return found


@pytest.fixture
def bridge(learner: Any) -> Any:
    """``cicd_bridge`` in the worker (provided: data, fixed-seed models, plain data)."""
    return learner.module("cicd_bridge", timeout=120)


@pytest.fixture(scope="session")
def churn_train() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "churn_train.csv")


@pytest.fixture(scope="session")
def churn_holdout() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "churn_holdout.csv")


@pytest.fixture(scope="session")
def reference_models(churn_train: pd.DataFrame) -> Callable[[str], Any]:
    """``reference_models(kind)``: the tests' own copy of a fixed-seed model, trained here.

    The worker trains the same recipe (``cicd_bridge.fit``); these copies are how the tests
    know what a right answer is. Each is trained once per session, on first use: a test
    pays only for what it needs. (Trained in a thread at the start instead, they cost
    more than they save: the GIL they hold slows this process's side of every call.)
    """
    import cicd_bridge

    @cache
    def get(kind: str) -> Any:
        return cicd_bridge.fit(kind, churn_train)

    return get


@pytest.fixture(scope="session", autouse=True)
def warm_up(request: pytest.FixtureRequest, learner: Any) -> None:
    """Start making the MLflow store at the beginning of the session, if a selected test
    uses it: the worker copies the empty store built into the grading image, or builds one
    in a process of its own while the first tests run (``cicd_bridge.warm_up``). A run of
    one task (a mutant's, or ``make grade task=3``) that needs no registry makes none."""
    items = request.session.items
    if any({"registry_env", "mlflow_client"} & set(item.fixturenames) for item in items):
        folder = str(Path(request.getfixturevalue("shared_dir")) / "mlflow")
        learner.module("cicd_bridge", timeout=120).warm_up(folder)


@pytest.fixture(scope="session")
def shared_dir(learner: Any) -> str:
    """A folder both users can use, made in the worker (the tests' tmp is private)."""
    return str(learner.module("cicd_bridge").shared_folder("cicd-lab-"))


@pytest.fixture(scope="session")
def tracking_uri(learner: Any, shared_dir: str) -> str:
    """A real MLflow tracking store and registry in SQLite, made by the worker."""
    bridge = learner.module("cicd_bridge", timeout=120)
    return str(bridge.registry(str(Path(shared_dir) / "mlflow")))


@pytest.fixture(scope="session")
def mlflow_client(tracking_uri: str) -> Iterator[Any]:
    """The tests' own MlflowClient on that store."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlflow import MlflowClient

        logging.getLogger("alembic").setLevel(logging.WARNING)
        yield MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@pytest.fixture
def registry_env(bridge: Any, tracking_uri: str, shared_dir: str) -> str:
    """The worker pointed at the registry (again: a replaced worker starts without it)."""
    return str(bridge.registry(str(Path(shared_dir) / "mlflow")))


@pytest.fixture
def model_name(request: pytest.FixtureRequest, registry_env: str) -> str:
    """A registered-model name of this test's own, so tests never share aliases."""
    return "churn-" + re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:60]


@pytest.fixture
def out_dir(bridge: Any, shared_dir: str, request: pytest.FixtureRequest) -> str:
    """A fresh folder (that does not exist yet) where the worker may write reports."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:80]
    return str(Path(shared_dir) / "out" / name)


def read_shared(bridge: Any, folder: str, name: str) -> str | None:
    """A file the worker wrote under ``folder``, read with the tests' own open()."""
    bridge.share(folder)
    target = Path(folder) / name
    return target.read_text(encoding="utf-8") if target.is_file() else None


@pytest.fixture(scope="session")
def traffic() -> Any:
    """``traffic(seed, n, error_rate=…, median_ms=…)``: seeded simulated requests."""
    return _traffic


def _traffic(
    seed: int,
    n: int,
    *,
    error_rate: float = 0.01,
    median_ms: float = 40.0,
    sigma: float = 0.35,
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded requests: log-normal latencies (ms) and independent error flags."""
    rng = np.random.default_rng(seed)
    return rng.lognormal(np.log(median_ms), sigma, size=n), rng.random(n) < error_rate
