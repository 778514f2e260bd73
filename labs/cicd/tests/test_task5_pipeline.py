"""Task 5: the rollout, the drift monitor and the CI workflow (cicd_lab/pipeline.py,
workflows/model-ci.yml).

The rollout is driven through the callables it is given. A scripted judge decides each
analysis, so these tests check the pipeline's logic and not task 4's statistics.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LAB_DIR, learner

pytestmark = pytest.mark.task(5)

WORKFLOW = LAB_DIR / "workflows" / "model-ci.yml"


class Deployment:
    """Plays the router and the registry; a script says what the judge sees per step."""

    def __init__(self, script: dict[int, list[str]]) -> None:
        self.script = {weight: list(verdicts) for weight, verdicts in script.items()}
        self.calls: list[tuple[Any, ...]] = []
        self.judge_mod = learner("judge")
        rng = np.random.default_rng(0)
        self.window = self.judge_mod.Sample.of(rng.lognormal(3.7, 0.3, 600), np.zeros(600, bool))

    def set_weight(self, weight: int) -> None:
        self.calls.append(("set_weight", weight))

    def observe(self, weight: int) -> tuple[Any, Any]:
        self.calls.append(("observe", weight))
        return self.window, self.window

    def promote(self) -> None:
        self.calls.append(("promote",))

    def judge(self, baseline: Any, canary: Any) -> Any:
        weight = next(c[1] for c in reversed(self.calls) if c[0] == "observe")
        verdicts = self.script.get(weight) or ["PROMOTE"]
        verdict = verdicts.pop(0) if len(verdicts) > 1 else verdicts[0]
        return self.judge_mod.Judgement(self.judge_mod.Verdict(verdict), [f"scripted {verdict}"])

    @property
    def weights(self) -> list[int]:
        """Weights set, with repeats of the same weight collapsed."""
        out: list[int] = []
        for call in self.calls:
            if call[0] == "set_weight" and (not out or out[-1] != call[1]):
                out.append(call[1])
        return out

    @property
    def observed(self) -> list[int]:
        return [c[1] for c in self.calls if c[0] == "observe"]

    @property
    def promotions(self) -> int:
        return sum(c[0] == "promote" for c in self.calls)


def rollout(
    script: dict[int, list[str]], event_log: Path | None = None, **config: Any
) -> tuple[Deployment, Any]:
    pipeline = learner("pipeline")
    deployment = Deployment(script)
    result = pipeline.run_rollout(
        set_weight=deployment.set_weight,
        observe=deployment.observe,
        promote=deployment.promote,
        judge=deployment.judge,
        config=pipeline.RolloutConfig(**config),
        event_log=event_log,
    )
    return deployment, result


# --- the rollout -------------------------------------------------------------------


def test_healthy_canary_walks_every_step_then_is_promoted():
    deployment, result = rollout({})
    assert deployment.weights == [5, 25, 50, 100], (
        f"The weights set were {deployment.weights}; expected 5 → 25 → 50 → 100."
    )
    assert deployment.observed == [5, 25, 50], (
        f"Traffic was analysed at {deployment.observed}; expected one analysis at each step "
        "below 100 % (at 100 % no baseline traffic is left to compare with)."
    )
    assert deployment.promotions == 1 and deployment.calls[-1] == ("promote",), (
        f"The calls were {deployment.calls}; promote() must be called exactly once, after "
        "the canary reached 100 %."
    )
    assert (result.outcome, result.final_weight) == ("promoted", 100), (
        f"RolloutResult says outcome={result.outcome!r}, final_weight={result.final_weight}."
    )


def test_failed_analysis_at_fifty_percent_rolls_back_to_zero():
    deployment, result = rollout({50: ["ROLLBACK"]})
    assert deployment.observed == [5, 25, 50], (
        f"Traffic was analysed at {deployment.observed}; every step needs its own analysis, "
        "since some faults only show under load (here: at 50 %)."
    )
    assert deployment.weights == [5, 25, 50, 0], (
        f"The weights set were {deployment.weights}; a failed analysis at 50 % must set "
        "the canary weight to 0 and go no further."
    )
    assert deployment.promotions == 0, (
        f"promote() was called after a failed analysis: {deployment.calls}. A rollback "
        "leaves the champion alias where it is."
    )
    assert (result.outcome, result.final_weight) == ("rolled_back", 0), (
        f"RolloutResult says outcome={result.outcome!r}, final_weight={result.final_weight}."
    )


def test_failure_limit_tolerates_one_bad_window():
    deployment, result = rollout({25: ["ROLLBACK", "PROMOTE"]}, failure_limit=1)
    assert deployment.observed == [5, 25, 25, 50], (
        f"With failure_limit=1, one failed analysis at 25 % must be retried with a fresh "
        f"window; traffic was analysed at {deployment.observed}."
    )
    assert result.outcome == "promoted" and deployment.promotions == 1, (
        f"With failure_limit=1 a single bad window must not roll back; outcome was "
        f"{result.outcome!r}, calls {deployment.calls}."
    )
    deployment, result = rollout({25: ["ROLLBACK", "PROMOTE"]}, failure_limit=0)
    assert result.outcome == "rolled_back" and deployment.weights == [5, 25, 0], (
        f"With failure_limit=0 the first failed analysis must roll back; outcome was "
        f"{result.outcome!r}, weights {deployment.weights}."
    )


def test_failure_limit_counts_the_whole_rollout():
    deployment, result = rollout(
        {5: ["ROLLBACK", "PROMOTE"], 25: ["ROLLBACK", "PROMOTE"]}, failure_limit=1
    )
    assert result.outcome == "rolled_back" and deployment.promotions == 0, (
        f"Two failed analyses (one at 5 %, one at 25 %) with failure_limit=1 gave outcome "
        f"{result.outcome!r}. The limit counts failures over the whole rollout, as Argo "
        "Rollouts' failureLimit does; a counter reset at every step lets a flaky canary "
        "through."
    )
    assert deployment.weights == [5, 25, 0], f"The weights set were {deployment.weights}."


def test_no_data_never_promotes():
    deployment, result = rollout({5: ["INCONCLUSIVE"]}, inconclusive_limit=2)
    assert deployment.observed == [5, 5, 5], (
        f"With inconclusive_limit=2 an INCONCLUSIVE analysis may be repeated twice (3 "
        f"windows in all) before giving up; traffic was analysed at {deployment.observed}."
    )
    assert result.outcome == "rolled_back" and deployment.weights == [5, 0], (
        f"A canary that never produced enough data was {result.outcome!r} with weights "
        f"{deployment.weights}. No evidence is not evidence of health: roll back."
    )
    assert deployment.promotions == 0, f"promote() was called: {deployment.calls}"


def test_every_decision_is_in_the_event_log(tmp_path):
    log = tmp_path / "rollout.jsonl"
    _, result = rollout({25: ["ROLLBACK"]}, event_log=log)
    analyses = [e for e in result.events if e.get("action") == "analysis"]
    assert [(e["weight"], e["verdict"]) for e in analyses] == [(5, "PROMOTE"), (25, "ROLLBACK")], (
        "result.events must hold one {'action': 'analysis', 'weight': …, 'verdict': …} per "
        f"analysis, in order; got {result.events}."
    )
    assert all(e.get("reasons") for e in analyses), (
        "Each analysis event must carry the judge's reasons, so that the on-call engineer "
        f"can see why; got {analyses}."
    )
    last = result.events[-1]
    assert last.get("action") == "rollback" and last.get("weight") == 0, (
        f"The last event must be the rollback (action 'rollback', weight 0); got {last}."
    )
    assert log.is_file(), f"run_rollout(event_log={log}) did not write the log."
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines == json.loads(json.dumps(result.events)), (
        "The event log file must have one JSON object per line, the same events as "
        f"result.events; the file holds {lines}."
    )


# --- drift -------------------------------------------------------------------------


def batches(shifts_in_sd: list[float], seed: int = 100, n: int = 5000) -> Iterator[np.ndarray]:
    for i, shift in enumerate(shifts_in_sd):
        yield np.random.default_rng(seed + i).normal(70 + 25 * shift, 25, n)


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return np.random.default_rng(0).normal(70, 25, 20_000)


def triggers(reference: np.ndarray, shifts: list[float]) -> list[int]:
    monitor = learner("pipeline").DriftMonitor(reference)
    return [i for i, batch in enumerate(batches(shifts)) if monitor.update(batch)]


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift(reference):
    psi = learner("pipeline").psi
    same, shifted = (psi(reference, b) for b in batches([0.0, 1.0]))
    assert 0 <= same < 0.02, f"psi(reference, same distribution) = {same}; expected < 0.02."
    assert shifted > 0.5, f"psi(reference, shifted by 1 sd) = {shifted}; expected > 0.5."


def test_noise_never_triggers_retraining(reference):
    fired = triggers(reference, [0.0] * 30)
    assert fired == [], (
        f"30 batches from the training distribution triggered retraining at batches {fired}."
    )


def test_tiny_shift_at_large_n_does_not_trigger_retraining(reference):
    from scipy import stats

    batch = next(batches([0.1]))
    p_value = stats.ks_2samp(reference, batch).pvalue
    assert p_value < 1e-3, "test setup: KS must call this tiny shift significant"
    fired = triggers(reference, [0.1] * 5)
    assert fired == [], (
        f"A 0.1 sd shift (KS p-value {p_value:.1e}, so 'significant') triggered retraining at "
        f"batches {fired}. At n=5,000 a p-value flags any shift, however harmless; gate on "
        "the size of the shift (PSI > 0.2) instead."
    )


def test_retraining_triggers_once_per_drift_episode(reference):
    shifts = [0.0] * 3 + [1.0] * 6 + [0.0] * 3 + [1.0] * 4
    fired = triggers(reference, shifts)
    assert fired == [3, 12], (
        f"Two drift episodes (batches 3-8 and 12-15) triggered retraining at {fired}; "
        "expected [3, 12]: once when each episode starts. Firing on every drifted batch "
        "queues a retraining job per batch."
    )


def test_psi_hovering_near_the_threshold_is_one_episode(reference):
    # 1.0 sd gives PSI ≈ 0.9; 0.4 sd gives PSI ≈ 0.15, between reset_below and threshold.
    fired = triggers(reference, [1.0, 0.4, 1.0, 0.4, 1.0, 0.4])
    assert fired == [0], (
        f"PSI moved between 0.9 and 0.15 without ever falling below reset_below (0.1), and "
        f"retraining fired at {fired}; expected [0]. An episode ends only when PSI drops "
        "below reset_below (hysteresis), not when it dips under the threshold."
    )


# --- the CI workflow ---------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    import yaml

    assert WORKFLOW.is_file(), f"{WORKFLOW.relative_to(LAB_DIR)} is missing."
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("jobs"), dict), (
        f"{WORKFLOW.name} must be a mapping with a 'jobs' mapping (GitHub Actions syntax)."
    )
    return data


def cli_line(step: dict[str, Any], command: str) -> list[str] | None:
    """The arguments after `python -m cicd_lab <command>` in a step's run script."""
    script = str(step.get("run", "")).replace("\\\n", " ")
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        for i in range(len(words) - 3):
            if words[i].startswith("python") and words[i + 1 : i + 4] == [
                "-m",
                "cicd_lab",
                command,
            ]:
                return words[i + 3 :]
    return None


def find(workflow: dict[Any, Any], command: str) -> tuple[str, dict[str, Any], int, list[str]]:
    for job_id, job in workflow["jobs"].items():
        for index, step in enumerate(job.get("steps") or []):
            args = cli_line(step, command)
            if args is not None:
                return job_id, job, index, args
    pytest.fail(
        f"No step in {WORKFLOW.name} runs `python -m cicd_lab {command} …`. CI must run the "
        f"{command} itself, not only the unit tests."
    )


def test_workflow_runs_on_pull_requests_and_pushes(workflow):
    # YAML 1.1 reads the bare key `on` as the boolean True.
    triggers_ = workflow.get("on", workflow.get(True))
    names = set(triggers_) if isinstance(triggers_, dict | list) else {triggers_}
    assert {"pull_request", "push"} <= names, (
        f"The workflow triggers on {sorted(map(str, names))}; it must run on pull_request "
        "(gate every change) and push (deploy from main)."
    )


def test_gate_step_runs_the_gate_cli(workflow):
    from cicd_lab.__main__ import build_parser

    _, job, index, args = find(workflow, "gate")
    try:
        build_parser().parse_args(args)
    except SystemExit:
        pytest.fail(
            f"`python -m cicd_lab {' '.join(args)}` is not a valid command line; see "
            "`python -m cicd_lab gate --help`."
        )
    uses = [str(s.get("uses", "")) for s in job["steps"][:index]]
    assert any(u.startswith("actions/checkout@") for u in uses), (
        "The gate job must check out the repository (actions/checkout) before running the gate."
    )
    setups = [
        s
        for s in job["steps"][:index]
        if str(s.get("uses", "")).startswith("actions/setup-python@")
    ]
    assert setups, "The gate job must set up Python (actions/setup-python) before the gate."
    version = (setups[0].get("with") or {}).get("python-version")
    assert version == "3.11", (
        f"python-version is {version!r} ({type(version).__name__}); use the string '3.11'. "
        "Unquoted, YAML reads 3.10 as the float 3.1."
    )


def test_gate_failure_is_not_ignored(workflow):
    job_id, job, index, _ = find(workflow, "gate")
    step = job["steps"][index]
    for where, node in (("job " + job_id, job), ("the gate step", step)):
        assert not node.get("continue-on-error"), (
            f"continue-on-error is set on {where}: a failed gate would not stop the rollout."
        )
    run = str(step.get("run", ""))
    assert "|| true" not in run and "|| exit 0" not in run, (
        f"The gate step swallows the gate's exit code: {run!r}."
    )


def test_gate_reports_are_kept_even_when_the_gate_fails(workflow):
    _, job, index, _ = find(workflow, "gate")
    uploads = [
        s
        for s in job["steps"][index + 1 :]
        if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    assert uploads, (
        "After the gate step, upload its reports (metrics.json, model_card.json) with "
        "actions/upload-artifact."
    )
    condition = str(uploads[0].get("if", ""))
    assert "always()" in condition or "failure()" in condition, (
        f"The upload step has if: {condition!r}. Steps are skipped after a failure by "
        "default, and a rejected model's card is the one a reviewer needs: use if: always()."
    )


def test_rollout_waits_for_the_gate_and_only_runs_on_main(workflow):
    from cicd_lab.__main__ import build_parser

    gate_job, _, _, _ = find(workflow, "gate")
    job_id, job, _, args = find(workflow, "rollout")
    try:
        build_parser().parse_args(args)
    except SystemExit:
        pytest.fail(
            f"`python -m cicd_lab {' '.join(args)}` is not a valid command line; see "
            "`python -m cicd_lab rollout --help`."
        )
    assert job_id != gate_job, (
        "Run the rollout in its own job, which `needs` the gate job; in one job a "
        "pull request would deploy."
    )
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else list(needs)
    assert gate_job in needs, (
        f"The rollout job {job_id!r} has needs={needs}; without needs: {gate_job} it starts "
        "in parallel with the gate and ships a model that may fail it."
    )
    condition = str(job.get("if", ""))
    assert "refs/heads/main" in condition, (
        f"The rollout job has if: {condition!r}; only main may deploy (for example "
        "if: github.ref == 'refs/heads/main'), not every pull request branch."
    )


def test_two_rollouts_cannot_run_at_once(workflow):
    job_id, job, _, _ = find(workflow, "rollout")
    concurrency = job.get("concurrency") or workflow.get("concurrency")
    assert concurrency, (
        f"Neither the rollout job {job_id!r} nor the workflow sets `concurrency`. Two pushes "
        "in a row would run two rollouts that fight over the same traffic weights."
    )
    if isinstance(concurrency, dict):
        assert not concurrency.get("cancel-in-progress"), (
            "cancel-in-progress: true kills a rollout halfway, at whatever weight it had "
            "reached, with nobody to roll it back."
        )
