"""Task 1: the validation gate (cicd_lab/gate.py).

The models are trained in the worker by the provided ``cicd_bridge``; the tests train the
same fixed-seed models here and score them with their own scikit-learn to know the answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import FEATURES, LABEL, cicd, read_shared
from sklearn.metrics import roc_auc_score

pytestmark = pytest.mark.task(1)


class Gate:
    """Runs the learner's gate in the worker; results come back as plain data."""

    def __init__(self, learner: Any, bridge: Any, out_dir: str) -> None:
        self.gate = cicd(learner, "gate")
        self.bridge = bridge
        self.out_dir = out_dir

    def __call__(self, candidate: str, champion: str | None, **config: Any) -> dict[str, Any]:
        bridge = self.bridge
        result = self.gate.run_gate(
            bridge.model(candidate),
            None if champion is None else bridge.model(champion),
            train=bridge.frame("churn_train"),
            holdout=bridge.frame("churn_holdout"),
            out_dir=bridge.path(self.out_dir),
            model_name="churn",
            config=self.gate.GateConfig(**config),
        )
        got = bridge.plain(result)
        assert isinstance(got, dict) and {"passed", "checks", "candidate"} <= set(got), (
            f"run_gate returned {got!r}; return the GateResult dataclass."
        )
        return got


@pytest.fixture
def run_gate(learner, bridge, out_dir) -> Gate:
    return Gate(learner, bridge, out_dir)


def holdout_auc(model: Any, data: pd.DataFrame) -> float:
    return float(roc_auc_score(data[LABEL], model.predict_proba(data[FEATURES])[:, 1]))


def test_better_candidate_passes_every_check(run_gate):
    result = run_gate("good", "champion")
    assert result["checks"] == {"floor": True, "regression": True, "slices": True}, (
        f"run_gate(good candidate, champion) gave checks={result['checks']}; a candidate that "
        "beats the champion overall and on every segment must pass all three checks."
    )
    assert result["passed"] is True, f"All checks passed but passed={result['passed']!r}."
    assert result["failed_slices"] == [], f"failed_slices={result['failed_slices']}, expected []."


def test_candidate_below_the_floor_is_rejected_even_without_a_champion(run_gate):
    result = run_gate("clueless", None)
    assert result["checks"]["floor"] is False and result["passed"] is False, (
        f"run_gate(model with AUC 0.50, champion=None) gave passed={result['passed']}, "
        f"checks={result['checks']}. The first model ever shipped still has to clear the "
        "absolute floor (GateConfig.metric_floor)."
    )


def test_regression_against_the_champion_is_rejected(run_gate):
    result = run_gate("weaker", "champion")
    assert result["checks"]["floor"] is True, (
        f"checks={result['checks']}: the weaker model (AUC 0.73) clears the floor of 0.70."
    )
    assert result["checks"]["regression"] is False and result["passed"] is False, (
        f"A candidate 0.021 AUC below the champion (max_regression 0.01) gave "
        f"passed={result['passed']}, checks={result['checks']}. Clearing the floor is not enough: "
        "a new model must not be worse than the one it replaces."
    )


def test_overfit_candidate_is_judged_on_holdout_not_training_data(
    run_gate, reference_models, churn_holdout
):
    result = run_gate("overfit", "champion")
    expected = holdout_auc(reference_models("overfit"), churn_holdout)
    assert result["candidate"]["overall"] == pytest.approx(expected, abs=1e-9), (
        f"The candidate's overall AUC is {result['candidate']['overall']:.4f}, but its AUC on the "
        f"holdout is {expected:.4f}. Score on the holdout: on training rows an unpruned tree "
        "scores 1.0 and would sail through every check."
    )
    assert result["passed"] is False, (
        "An unpruned decision tree (AUC 1.00 on training rows, 0.62 on the holdout) passed "
        "the gate. Compare the models on data neither of them was trained on."
    )


def test_slice_regression_is_not_averaged_away(run_gate):
    result = run_gate("sliced", "champion")
    assert result["checks"]["regression"] is True, (
        f"checks={result['checks']}: overall, this candidate is better than the champion "
        "(0.759 vs 0.753 AUC), so the overall regression check must pass."
    )
    assert result["checks"]["slices"] is False and result["passed"] is False, (
        f"The candidate lost 0.046 AUC on the enterprise segment (max_slice_drop 0.03) and "
        f"the gate said passed={result['passed']}, checks={result['checks']}. Enterprise is 12 % "
        "of customers, so the overall number hides the damage: check each slice on its own."
    )
    assert result["failed_slices"] == ["enterprise"], (
        f"failed_slices={result['failed_slices']}; expected ['enterprise'], the only segment "
        "that dropped by more than max_slice_drop."
    )


def test_slice_metrics_are_computed_per_segment(run_gate, reference_models, churn_holdout):
    result = run_gate("good", "champion")
    for name, data in churn_holdout.groupby("segment"):
        for who, scores in (("candidate", result["candidate"]), ("champion", result["champion"])):
            model = reference_models("good" if who == "candidate" else "champion")
            expected = holdout_auc(model, data)
            got = scores["slices"].get(name)
            assert got == pytest.approx(expected, abs=1e-9), (
                f"{who} slices[{name!r}] = {got}, expected the AUC on the holdout rows of "
                f"that segment, {expected:.4f}."
            )


def test_reports_are_written_as_json(run_gate, bridge, out_dir, churn_train, churn_holdout):
    result = run_gate("sliced", "champion")
    texts = {}
    for name in ("metrics.json", "model_card.json"):
        texts[name] = read_shared(bridge, out_dir, name)
        assert texts[name] is not None, (
            f"run_gate(out_dir={Path(out_dir).name!r}) did not write {name}; CI keeps both "
            "files as build artifacts, so write them every time, passed or not (create "
            "out_dir if needed)."
        )
    metrics = json.loads(texts["metrics.json"])
    card = json.loads(texts["model_card.json"])

    assert metrics["evaluated_on"] == "holdout" and metrics["rows"] == len(churn_holdout), (
        f"metrics.json says evaluated_on={metrics.get('evaluated_on')!r}, "
        f"rows={metrics.get('rows')}; expected 'holdout' and {len(churn_holdout)}."
    )
    assert metrics["passed"] == result["passed"] and metrics["checks"] == result["checks"], (
        f"metrics.json has passed={metrics.get('passed')}, checks={metrics.get('checks')}; "
        f"it must match the GateResult (passed={result['passed']}, checks={result['checks']})."
    )
    assert metrics["candidate"]["overall"] == pytest.approx(result["candidate"]["overall"]), (
        "metrics.json candidate.overall differs from the GateResult."
    )
    assert set(metrics["candidate"]["slices"]) == {"consumer", "smb", "enterprise"}, (
        f"metrics.json candidate.slices has keys {sorted(metrics['candidate']['slices'])}."
    )
    assert card["model_name"] == "churn" and card["passed"] == result["passed"], (
        f"model_card.json: model_name={card.get('model_name')!r}, passed={card.get('passed')}; "
        f"expected 'churn' and {result['passed']}."
    )
    assert card["failed_slices"] == result["failed_slices"], (
        f"model_card.json failed_slices={card.get('failed_slices')}, but the GateResult has "
        f"{result['failed_slices']}."
    )
    assert result["passed"] or card["reasons"], (
        "model_card.json must say why a model was rejected; its reasons list is empty."
    )
    assert card["training_data"]["rows"] == len(churn_train), (
        f"model_card.json training_data.rows={card['training_data'].get('rows')}, "
        f"expected {len(churn_train)}."
    )
    assert card["evaluation_data"]["rows"] == len(churn_holdout), (
        f"model_card.json evaluation_data.rows={card['evaluation_data'].get('rows')}, "
        f"expected {len(churn_holdout)}."
    )
    assert card["thresholds"] == {
        "metric_floor": 0.70,
        "max_regression": 0.01,
        "max_slice_drop": 0.03,
        "slice_column": "segment",
    }, f"model_card.json thresholds={card.get('thresholds')}; record the GateConfig used."


# --- the thresholds come from the config: each case lands between the default and the new value


def test_slice_threshold_is_not_hard_coded(run_gate):
    result = run_gate("sliced", "champion", max_slice_drop=0.05)
    assert result["checks"]["slices"] is True and result["failed_slices"] == [], (
        f"With GateConfig(max_slice_drop=0.05) the enterprise drop of 0.046 is allowed, but "
        f"the gate said checks={result['checks']}, failed_slices={result['failed_slices']}. "
        "Read the threshold from config.max_slice_drop, not a constant."
    )


def test_regression_threshold_is_not_hard_coded_or_swapped(run_gate):
    result = run_gate("weaker", "champion", max_regression=0.025, max_slice_drop=0.3)
    assert result["checks"]["regression"] is True, (
        f"With GateConfig(max_regression=0.025) an overall drop of 0.021 is allowed, but the "
        f"gate said checks={result['checks']}. Read config.max_regression."
    )
    assert result["checks"]["slices"] is True, (
        f"With GateConfig(max_slice_drop=0.3) the worst slice drop (0.249, enterprise) is "
        f"allowed, but the gate said checks={result['checks']}, failed_slices="
        f"{result['failed_slices']}. Is the slice check using max_regression?"
    )


def test_metric_floor_is_not_hard_coded(run_gate):
    result = run_gate("good", None, metric_floor=0.78)
    assert result["checks"]["floor"] is False and result["passed"] is False, (
        f"With GateConfig(metric_floor=0.78) a candidate with AUC 0.769 must fail the floor; "
        f"the gate said passed={result['passed']}, checks={result['checks']}."
    )


def test_thresholds_in_the_model_card_are_the_config_used(run_gate, bridge, out_dir):
    run_gate("sliced", "champion", max_slice_drop=0.05, metric_floor=0.6)
    card = json.loads(read_shared(bridge, out_dir, "model_card.json") or "{}")
    assert card.get("thresholds") == {
        "metric_floor": 0.6,
        "max_regression": 0.01,
        "max_slice_drop": 0.05,
        "slice_column": "segment",
    }, (
        f"model_card.json thresholds={card.get('thresholds')}; record the GateConfig that was "
        "used, not the defaults: a reviewer reads the card to see which rules a model met."
    )
