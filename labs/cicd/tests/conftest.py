"""Shared fixtures: the churn data, trained scikit-learn models, an MLflow registry.

Everything slow is session-scoped, and everything written goes under tmp_path_factory:
the lab folder is read-only while the suite runs. Learner code is imported inside
fixtures and tests, never at module level, so a broken module fails tests, not collection.
"""

from __future__ import annotations

import importlib
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

LAB_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = LAB_DIR / "data"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "segment_code"]
LABEL = "churned"


def learner(module: str) -> ModuleType:
    """Import ``cicd_lab.<module>``, the learner's code."""
    return importlib.import_module(f"cicd_lab.{module}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # MLflow's SQLAlchemy store triggers SQLAlchemy deprecation warnings that say nothing
    # about the learner's code; a suite run with -W error would fail on them.
    for item in items:
        if "mlflow_registry" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:sqlalchemy"))
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"))


@pytest.fixture(scope="session")
def churn_train() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "churn_train.csv")


@pytest.fixture(scope="session")
def churn_holdout() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "churn_holdout.csv")


@pytest.fixture(scope="session")
def models(churn_train: pd.DataFrame) -> dict[str, Any]:
    """Fixed-seed models with known behaviour on the holdout (ROC AUC, rounded):

    champion   GBM on the first 1,000 training rows    overall 0.753, enterprise 0.766
    good       GBM on all 3,000 rows                   overall 0.769, enterprise 0.834
    sliced     GBM on all rows but 70 % of enterprise  overall 0.759, enterprise 0.720
               dropped (a join bug)
    weaker     logistic regression                     overall 0.732
    overfit    unpruned decision tree                  overall 0.616 (1.000 on training rows)
    clueless   predicts the base rate                  overall 0.500
    lr_v1/v2   small, quick-to-log models for the registry tests (first 1,000 rows / all)
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    def gbm(data: pd.DataFrame) -> GradientBoostingClassifier:
        model = GradientBoostingClassifier(
            random_state=0, max_depth=3, n_estimators=150, learning_rate=0.05
        )
        return model.fit(data[FEATURES], data[LABEL])

    enterprise = churn_train[churn_train["segment"] == "enterprise"]
    sliced = pd.concat(
        [
            churn_train[churn_train["segment"] != "enterprise"],
            enterprise.iloc[: int(len(enterprise) * 0.3)],
        ]
    )
    X, y = churn_train[FEATURES], churn_train[LABEL]
    return {
        "champion": gbm(churn_train.iloc[:1000]),
        "good": gbm(churn_train),
        "sliced": gbm(sliced),
        "weaker": LogisticRegression(max_iter=1000).fit(X, y),
        "overfit": DecisionTreeClassifier(random_state=0).fit(X, y),
        "clueless": DummyClassifier(strategy="prior").fit(X, y),
        "lr_v1": LogisticRegression(max_iter=1000).fit(X.iloc[:1000], y.iloc[:1000]),
        "lr_v2": LogisticRegression(max_iter=1000).fit(X, y),
    }


@pytest.fixture(scope="session")
def mlflow_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking store and registry in SQLite, artifacts in a temp folder."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    # MLflow warns once, at import and on the first connection, about its own type hints
    # and SQLAlchemy APIs: nothing a learner can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow
        import mlflow.pyfunc
        import mlflow.sklearn

        # Alembic logs every schema migration at INFO: noise, not information.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(uri)
        # Without an explicit artifact location, runs would write ./mlruns into the cwd,
        # which is the (read-only) lab folder.
        experiment = mlflow.create_experiment(
            "cicd-lab", artifact_location=(root / "artifacts").as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment)
    yield uri
    mp.undo()
    mlflow.set_tracking_uri(previous)


@pytest.fixture
def model_name(request: pytest.FixtureRequest, mlflow_registry: str) -> str:
    """A registered-model name of this test's own, so tests never share aliases."""
    return "churn-" + re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:60]


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
