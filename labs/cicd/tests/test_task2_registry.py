"""Task 2: versions and aliases in a real MLflow registry (cicd_lab/registry.py).

Your code writes the registry in the worker; the tests read it back with their own
MlflowClient, and compare what your serving model predicts (plain data) with their own copy
of the model. They never load a model you logged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import FEATURES, cicd

pytestmark = pytest.mark.task(2)


@pytest.fixture
def registry(learner, registry_env) -> Any:
    return cicd(learner, "registry")


@pytest.fixture
def aliases(mlflow_client) -> Any:
    def read(model_name: str) -> dict[str, str]:
        """alias → version, read straight from the registry with the tests' own client."""
        model = mlflow_client.get_registered_model(model_name)
        return {k: str(v) for k, v in model.aliases.items()}

    return read


@pytest.fixture
def register(registry, bridge) -> Any:
    def run(kind: str, model_name: str) -> str:
        version = registry.register_challenger(bridge.model(kind), model_name)
        assert isinstance(version, str) and version.isdigit(), (
            f"register_challenger returned {version!r}; return the new version as a string "
            "such as '1'."
        )
        return version

    return run


def test_register_sets_the_challenger_alias(registry, register, aliases, model_name):
    version = register("lr_v1", model_name)
    assert aliases(model_name) == {"challenger": version}, (
        f"After register_challenger the aliases are {aliases(model_name)}; expected "
        f"{{'challenger': '{version}'}}. The new version waits as challenger until its "
        "canary has run; nothing else moves."
    )
    second = register("lr_v2", model_name)
    assert int(second) == int(version) + 1 and aliases(model_name) == {"challenger": second}, (
        f"A second registration returned version {second} with aliases {aliases(model_name)}; "
        f"expected version {int(version) + 1} and the challenger alias moved onto it."
    )


def test_promote_moves_champion_and_keeps_previous(registry, register, aliases, model_name):
    v1 = register("lr_v1", model_name)
    registry.promote(model_name)
    assert aliases(model_name) == {"champion": v1}, (
        f"After the first promote the aliases are {aliases(model_name)}; expected "
        f"{{'champion': '{v1}'}}: challenger becomes champion, and there is no previous yet."
    )
    v2 = register("lr_v2", model_name)
    registry.promote(model_name)
    assert aliases(model_name) == {"champion": v2, "previous": v1}, (
        f"After promoting version {v2} the aliases are {aliases(model_name)}; expected "
        f"champion={v2} and previous={v1}, so that a rollback is a single alias move."
    )


def test_rollback_restores_previous_and_cannot_flip_back(registry, register, aliases, model_name):
    v1 = register("lr_v1", model_name)
    registry.promote(model_name)
    register("lr_v2", model_name)
    registry.promote(model_name)
    registry.rollback(model_name)
    assert aliases(model_name).get("champion") == v1, (
        f"After rollback the aliases are {aliases(model_name)}; champion must point at "
        f"version {v1} again."
    )
    with pytest.raises(Exception, match=r"(?i)previous|roll"):
        registry.rollback(model_name)
        pytest.fail(
            f"A second rollback succeeded; aliases are now {aliases(model_name)}. The bad "
            "version must not come back through a rollback: the second one has nothing to "
            "roll back to and must raise, saying so."
        )
    assert aliases(model_name).get("champion") == v1, (
        f"After the failed second rollback, champion is {aliases(model_name).get('champion')}."
    )


def test_serving_loads_the_champion_not_the_latest_version(
    registry, register, bridge, reference_models, churn_holdout, model_name
):
    register("lr_v1", model_name)
    registry.promote(model_name)
    register("lr_v2", model_name)  # newer, but still only the challenger

    served = registry.load_champion(model_name)
    got = np.asarray(bridge.predict(served, bridge.frame("churn_holdout"), 200))
    X = churn_holdout[FEATURES].head(200)
    champion = reference_models("lr_v1").predict(X)
    latest = reference_models("lr_v2").predict(X)
    assert not np.array_equal(champion, latest), "test setup: the two models must differ"
    assert np.array_equal(got, champion), (
        "load_champion served predictions that do not match the champion's. The newest "
        "version is only a challenger; serving must load models:/<name>@champion."
    )


def test_aliases_are_used_not_deprecated_stages(registry, register, mlflow_client, model_name):
    register("lr_v1", model_name)
    registry.promote(model_name)
    register("lr_v2", model_name)
    registry.promote(model_name)
    registry.rollback(model_name)
    versions = mlflow_client.search_model_versions(f"name='{model_name}'")
    stages = {v.version: v.current_stage for v in versions}
    assert all(stage in (None, "None") for stage in stages.values()), (
        f"Model version stages are {stages}. Stages (Staging/Production) are deprecated in "
        "MLflow 3; register, promote and roll back with aliases only."
    )


def test_promote_without_a_challenger_raises(registry, register, aliases, model_name):
    register("lr_v1", model_name)
    registry.promote(model_name)
    with pytest.raises(Exception, match=r"(?i)challenger"):
        registry.promote(model_name)
        pytest.fail(
            f"promote() with no challenger returned; aliases are {aliases(model_name)}. "
            "Nothing passed the gate, so there is nothing to promote: raise, naming the "
            "missing challenger alias."
        )
    assert "champion" in aliases(model_name), (
        f"A failed promote removed the champion alias: aliases are {aliases(model_name)}."
    )


def test_rollback_goes_to_the_recorded_previous_not_champion_minus_one(
    registry, register, aliases, model_name
):
    v1 = register("lr_v1", model_name)
    registry.promote(model_name)
    register("lr_v2", model_name)  # gated, then replaced before its canary ran
    v3 = register("lr_v1", model_name)
    registry.promote(model_name)
    assert aliases(model_name) == {"champion": v3, "previous": v1}, (
        f"After promoting version {v3} over champion {v1} the aliases are "
        f"{aliases(model_name)}; expected champion={v3}, previous={v1}. previous is the old "
        "champion, whatever its number."
    )
    assert registry.rollback(model_name) == v1 and aliases(model_name)["champion"] == v1, (
        f"rollback() moved champion to {aliases(model_name).get('champion')}; expected "
        f"{v1}, the version 'previous' pointed at. Version {int(v3) - 1} never served: "
        "a rollback to champion - 1 ships a model that skipped its canary."
    )


def test_promoting_the_current_champion_again_keeps_previous(
    registry, register, aliases, model_name
):
    v1 = register("lr_v1", model_name)
    registry.promote(model_name)
    v2 = register("lr_v2", model_name)
    registry.promote(model_name)
    registry.rollback(model_name)
    v3 = register("lr_v2", model_name)
    registry.promote(model_name)
    assert aliases(model_name) == {"champion": v3, "previous": v1}, (
        f"Register and promote version {v3} after rolling back from {v2} to {v1}: the "
        f"aliases are {aliases(model_name)}; expected champion={v3}, previous={v1} (the "
        "champion it replaced, not the version that was rolled away from)."
    )
