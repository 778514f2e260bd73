"""Task 5: the rollout, the drift monitor and the CI workflow (cicd_lab/pipeline.py,
workflows/model-ci.yml).

The rollout is driven through the callables it is given. A scripted judge decides each
analysis, so these tests check the pipeline's logic and not task 4's statistics. The
workflow is judged by what GitHub would do with it: which jobs run when, what a step's
exit status is, which files an artifact gets, and what two security tools say about it.
"""

from __future__ import annotations

import json
import math
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gha
import numpy as np
import pytest
from conftest import DATA_DIR, cicd, read_shared

pytestmark = pytest.mark.task(5)

WORKFLOW = "workflows/model-ci.yml"


class Deployment:
    """Plays the router and the registry; a script says what the judge sees per step.

    It lives here, in the tests; the learner's run_rollout calls it through
    ``cicd_bridge.Scripted``. ``fail_at`` makes ``observe`` raise at that weight, as a
    metrics system that is down would.
    """

    def __init__(self, script: dict[int, list[str]], fail_at: int | None = None) -> None:
        self.script = {weight: list(verdicts) for weight, verdicts in script.items()}
        self.fail_at = fail_at
        self.calls: list[tuple[Any, ...]] = []

    def set_weight(self, weight: int) -> None:
        self.calls.append(("set_weight", weight))

    def observe(self, weight: int) -> None:
        self.calls.append(("observe", weight))
        if weight == self.fail_at:
            raise RuntimeError(f"metrics backend unreachable while observing {weight}%")

    def promote(self) -> None:
        self.calls.append(("promote",))

    def verdict(self) -> tuple[str, list[str]]:
        weight = next(c[1] for c in reversed(self.calls) if c[0] == "observe")
        verdicts = self.script.get(weight) or ["PROMOTE"]
        verdict = verdicts.pop(0) if len(verdicts) > 1 else verdicts[0]
        return verdict, [f"scripted {verdict}"]

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


@pytest.fixture
def rollout(learner, bridge) -> Any:
    """``rollout(script, event_log=None, fail_at=None, **config)``: (deployment, result)."""
    pipeline = cicd(learner, "pipeline")
    rng = np.random.default_rng(0)
    latency = [float(x) for x in rng.lognormal(3.7, 0.3, 600)]

    def run(
        script: dict[int, list[str]],
        event_log: str | None = None,
        fail_at: int | None = None,
        **config: Any,
    ) -> tuple[Deployment, Any]:
        deployment = Deployment(script, fail_at)
        scripted = bridge.Scripted(deployment, latency, [False] * 600)
        result = scripted.run(pipeline, config, event_log)
        assert isinstance(result, dict) and "outcome" in result, (
            f"run_rollout returned {result!r}; return a RolloutResult."
        )
        return deployment, SimpleNamespace(**result)

    return run


# --- the rollout -------------------------------------------------------------------


def test_healthy_canary_walks_every_step_then_is_promoted(rollout):
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


def test_failed_analysis_at_fifty_percent_rolls_back_to_zero(rollout):
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


def test_failure_limit_tolerates_one_bad_window(rollout):
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


def test_failure_limit_counts_the_whole_rollout(rollout):
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


def test_no_data_never_promotes(rollout):
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


def test_every_decision_is_in_the_event_log(rollout, bridge, out_dir):
    _, result = rollout({25: ["ROLLBACK"]}, event_log=f"{out_dir}/rollout.jsonl")
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
    text = read_shared(bridge, out_dir, "rollout.jsonl")
    assert text is not None, "run_rollout(event_log=…/rollout.jsonl) did not write the log."
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines == json.loads(json.dumps(result.events)), (
        "The event log file must have one JSON object per line, the same events as "
        f"result.events; the file holds {lines}."
    )


def test_event_log_survives_a_rollout_that_raises(rollout, bridge, out_dir):
    with pytest.raises(Exception, match="metrics backend unreachable") as raised:
        rollout({}, event_log=f"{out_dir}/rollout.jsonl", fail_at=50)
    assert not isinstance(raised.value, AssertionError), f"the worker failed: {raised.value}"
    text = read_shared(bridge, out_dir, "rollout.jsonl") or ""
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    got = [(e.get("action"), e.get("weight"), e.get("verdict")) for e in lines]
    expected = [
        ("set_weight", 5, None),
        ("analysis", 5, "PROMOTE"),
        ("set_weight", 25, None),
        ("analysis", 25, "PROMOTE"),
        ("set_weight", 50, None),
    ]
    assert got == expected, (
        f"observe() raised at 50 % and the event log holds {got}; expected every decision "
        f"made before the crash, {expected}. Append each event to the file as it happens: "
        "the log is what the on-call engineer reads after a rollout that died halfway."
    )


def test_rollout_config_steps_are_used(rollout):
    deployment, result = rollout({}, steps=(10, 100))
    assert deployment.weights == [10, 100] and deployment.observed == [10], (
        f"RolloutConfig(steps=(10, 100)) set weights {deployment.weights} and analysed at "
        f"{deployment.observed}; expected [10, 100] and [10]."
    )
    assert (result.outcome, result.final_weight) == ("promoted", 100), (
        f"outcome={result.outcome!r}, final_weight={result.final_weight}."
    )


# --- drift -------------------------------------------------------------------------


def batches(shifts_in_sd: list[float], seed: int = 100, n: int = 5000) -> Iterator[list[float]]:
    for i, shift in enumerate(shifts_in_sd):
        yield np.random.default_rng(seed + i).normal(70 + 25 * shift, 25, n).tolist()


@pytest.fixture(scope="module")
def reference() -> list[float]:
    return np.random.default_rng(0).normal(70, 25, 20_000).tolist()


@pytest.fixture
def psi(learner) -> Any:
    return cicd(learner, "pipeline").psi


@pytest.fixture
def triggers(learner) -> Any:
    def run(reference: list[float], shifts: list[float]) -> list[int]:
        monitor = cicd(learner, "pipeline").DriftMonitor(reference)
        return [i for i, batch in enumerate(batches(shifts)) if monitor.update(batch) is True]

    return run


def reference_psi(reference: Any, current: Any, bins: int = 10) -> float:
    """The tests' own PSI, as the task defines it: bins are the reference's deciles
    (duplicates dropped), a value v goes in the bin with edges[i-1] <= v < edges[i], the
    outer bins are open, and empty shares are floored at 1e-6."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    a = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    e = np.maximum(e / e.sum(), 1e-6)
    a = np.maximum(a / a.sum(), 1e-6)
    return float(np.sum((a - e) * np.log(a / e)))


def check_psi(got: Any, expected: float, what: str, why: str) -> None:
    assert isinstance(got, float) and math.isfinite(got), (
        f"psi({what}) returned {got!r}; expected a finite float. {why}"
    )
    assert got == pytest.approx(expected, rel=2e-3, abs=1e-6), (
        f"psi({what}) = {got:.6g}; expected {expected:.6g}. {why}"
    )


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift(psi, reference):
    same, shifted = (psi(reference, b) for b in batches([0.0, 1.0]))
    assert 0 <= same < 0.02, f"psi(reference, same distribution) = {same}; expected < 0.02."
    assert shifted > 0.5, f"psi(reference, shifted by 1 sd) = {shifted}; expected > 0.5."


def test_psi_pinned_value_for_a_hand_computed_case(psi):
    # Reference 0..99: ten bins of 10 %. Current: half at 0, half at 99, so two bins hold
    # 50 % each and eight are empty (1e-6):
    # 2 * (0.5 - 0.1) * ln(5) + 8 * (1e-6 - 0.1) * ln(1e-5) = 10.4978
    got = psi([float(x) for x in range(100)], [0.0] * 50 + [99.0] * 50)
    check_psi(
        got,
        2 * 0.4 * math.log(5) + 8 * (1e-6 - 0.1) * math.log(1e-6 / 0.1),
        "0..99, half 0 and half 99",
        "Each bin holds 10 % of the reference; floor the empty shares at 1e-6.",
    )


def test_psi_bins_come_from_the_reference_not_the_current_batch(psi, reference):
    # A narrower batch, same centre: bins cut on the batch itself would hold 10 % each.
    narrow = np.random.default_rng(7).normal(70, 10, 5000).tolist()
    check_psi(
        psi(reference, narrow),
        reference_psi(reference, narrow),
        "reference, a batch with a third of its spread",
        "The bin edges are the reference's deciles, fixed once: cut on the current batch "
        "(or on both together) and every batch looks like its own reference.",
    )


def test_psi_empty_bins_get_an_epsilon_not_nan(psi, reference):
    pinned = [70.0] * 1000  # every value in one bin, nine bins empty
    got = psi(reference, pinned)
    check_psi(
        got,
        reference_psi(reference, pinned),
        "reference, 1,000 copies of 70.0",
        "An empty bin's share is 0 and ln(0) is -inf: floor each share at 1e-6 (NaN or inf "
        "would compare False with every threshold and never trigger retraining).",
    )


def test_psi_counts_values_outside_the_reference_range(psi, reference):
    rng = np.random.default_rng(8)
    batch = rng.normal(70, 25, 5000)
    batch[:1500] = rng.uniform(400, 900, 1500)  # 30 % far above anything in training
    got = psi(reference, batch.tolist())
    check_psi(
        got,
        reference_psi(reference, batch),
        "reference, a batch with 30 % of its values above the reference's maximum",
        "The outer bins are open-ended: a value above the last edge belongs in the last "
        "bin. np.histogram with the reference's min and max as outer edges drops it, and "
        "the worst drift disappears from the metric.",
    )


def test_psi_of_a_discrete_feature_with_ties(psi):
    import pandas as pd

    train = pd.read_csv(DATA_DIR / "churn_train.csv")["support_calls"].tolist()
    holdout = pd.read_csv(DATA_DIR / "churn_holdout.csv")["support_calls"].tolist()
    more_calls = [x + 1.0 for x in holdout]
    same = psi(train, train)
    assert isinstance(same, float) and abs(same) < 1e-9, (
        f"psi(support_calls, itself) = {same!r}; expected 0. support_calls takes 7 values, "
        "so several deciles are equal: drop the duplicate edges (np.unique) and put a "
        "value equal to an edge in the bin above it."
    )
    check_psi(
        psi(train, holdout),
        reference_psi(train, holdout),
        "support_calls in training, in the holdout",
        "Tied values: a value equal to an edge goes in the bin above it (edges[i-1] <= v "
        "< edges[i], np.searchsorted(edges, v, side='right')).",
    )
    check_psi(
        psi(train, more_calls),
        reference_psi(train, more_calls),
        "support_calls in training, holdout + 1 call each",
        "Tied values: a value equal to an edge goes in the bin above it.",
    )


def test_noise_never_triggers_retraining(triggers, reference):
    fired = triggers(reference, [0.0] * 30)
    assert fired == [], (
        f"30 batches from the training distribution triggered retraining at batches {fired}."
    )


def test_tiny_shift_at_large_n_does_not_trigger_retraining(triggers, reference):
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


def test_retraining_triggers_once_per_drift_episode(triggers, reference):
    shifts = [0.0] * 3 + [1.0] * 6 + [0.0] * 3 + [1.0] * 4
    fired = triggers(reference, shifts)
    assert fired == [3, 12], (
        f"Two drift episodes (batches 3-8 and 12-15) triggered retraining at {fired}; "
        "expected [3, 12]: once when each episode starts. Firing on every drifted batch "
        "queues a retraining job per batch."
    )


def test_psi_hovering_near_the_threshold_is_one_episode(triggers, reference):
    # 1.0 sd gives PSI ≈ 0.9; 0.4 sd gives PSI ≈ 0.15, between reset_below and threshold.
    fired = triggers(reference, [1.0, 0.4, 1.0, 0.4, 1.0, 0.4])
    assert fired == [0], (
        f"PSI moved between 0.9 and 0.15 without ever falling below reset_below (0.1), and "
        f"retraining fired at {fired}; expected [0]. An episode ends only when PSI drops "
        "below reset_below (hysteresis), not when it dips under the threshold."
    )


# --- the CI workflow ---------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow_text(learner) -> str:
    text = learner.module("cicd_bridge").read_text(WORKFLOW)
    assert isinstance(text, str), f"{WORKFLOW} is missing from the submission."
    return text


@pytest.fixture(scope="module")
def workflow(workflow_text) -> dict[Any, Any]:
    import yaml

    try:
        data = yaml.safe_load(workflow_text)
    except yaml.YAMLError as exc:
        pytest.fail(f"{WORKFLOW} is not valid YAML: {exc}", pytrace=False)
    assert isinstance(data, dict) and isinstance(data.get("jobs"), dict), (
        f"{WORKFLOW} must be a mapping with a 'jobs' mapping (GitHub Actions syntax)."
    )
    return data


def cli_line(step: dict[str, Any], command: str) -> list[str] | None:
    """The arguments after `python -m cicd_lab <command>` in a step's run script."""
    script = str(step.get("run", "")).replace("\\\n", " ")
    for line in script.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
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
        for index, step in enumerate((job or {}).get("steps") or []):
            args = cli_line(step, command)
            if args is not None:
                return job_id, job, index, args
    pytest.fail(
        f"No step in {WORKFLOW} runs `python -m cicd_lab {command} …`. CI must run the "
        f"{command} itself, not only the unit tests."
    )


def parsed(args: list[str]) -> Any:
    from cicd_lab.__main__ import build_parser

    # Only the CLI's own arguments: stop at a shell operator or redirection.
    words: list[str] = []
    for word in args:
        if word in ("|", "||", "&&", ";", ">", ">>", "2>&1") or word.startswith(("|", ">")):
            break
        words.append(word)
    try:
        return build_parser().parse_args(words)
    except SystemExit:
        pytest.fail(
            f"`python -m cicd_lab {' '.join(words)}` is not a valid command line; see "
            f"`python -m cicd_lab {words[0] if words else 'gate'} --help`."
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
    _, job, index, args = find(workflow, "gate")
    parsed(args)
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
        assert node.get("continue-on-error") in (None, False, "false"), (
            f"continue-on-error is set on {where}: a failed gate would not stop the rollout."
        )


def test_gate_exit_status_is_not_swallowed_by_the_shell(workflow, bridge):
    """Run the gate step's script with the shell GitHub uses, with a python that plays a
    gate rejecting the model (exit 1). The script runs in your worker, not here."""
    _, job, index, _ = find(workflow, "gate")
    step = job["steps"][index]
    try:
        plan = gha.step_plan(workflow, job, step, gate_exit=1)
    except gha.ExpressionError as exc:
        pytest.fail(f"The gate step cannot be run: {exc}")
    failed = bridge.run_step(plan)
    assert any("-m cicd_lab gate" in c for c in failed["calls"]), (
        f"The gate step's script never ran `python -m cicd_lab gate` (calls: "
        f"{failed['calls']}, output: {failed['output']!r})."
    )
    assert failed["status"] != 0, (
        f"The gate rejected the model (exit 1) and the step still exited {failed['status']}. "
        f"Something after the gate swallows its status: `|| echo …`, `|| true`, or a pipe "
        f"such as `| tee gate.log` under GitHub's default shell `bash -e {{0}}`, which has no "
        f"pipefail (set `shell: bash` to get `-o pipefail`). The script:\n{step.get('run')}"
    )
    passed = bridge.run_step(gha.step_plan(workflow, job, step, gate_exit=0))
    assert passed["status"] == 0, (
        f"The gate passed (exit 0) and the step exited {passed['status']}: {passed['output']!r}"
    )


@pytest.mark.parametrize(
    ("event", "ref", "gate_result", "should_run"),
    [
        ("push", "refs/heads/main", "success", True),
        ("push", "refs/heads/main", "failure", False),
        ("pull_request", "refs/pull/7/merge", "success", False),
        ("push", "refs/heads/feature", "success", False),
    ],
    ids=["main-gate-passed", "main-gate-failed", "pull-request", "other-branch"],
)
def test_rollout_runs_only_on_main_after_the_gate_passed(
    workflow, event, ref, gate_result, should_run
):
    gate_job, _, _, _ = find(workflow, "gate")
    job_id, job, _, args = find(workflow, "rollout")
    parsed(args)
    assert job_id != gate_job, (
        "Run the rollout in its own job, which `needs` the gate job; in one job a "
        "pull request would deploy."
    )
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else list(needs or [])
    assert gate_job in needs, (
        f"The rollout job {job_id!r} has needs={needs}; without needs: {gate_job} it starts "
        "in parallel with the gate and ships a model that may fail it."
    )
    try:
        runs = gha.job_runs(workflow, job_id, event, ref, {gate_job: gate_result})
    except gha.ExpressionError as exc:
        pytest.fail(f"The rollout job's if: is not an expression GitHub can evaluate: {exc}")
    assert runs is should_run, (
        f"On a {event} to {ref} with the gate job's result '{gate_result}', GitHub would "
        f"{'start' if runs else 'skip'} the rollout job (if: {job.get('if')!r}); it must "
        f"{'start' if should_run else 'be skipped'}. Only main deploys, and only after the "
        "gate passed. A status function in a job's if: (always(), failure()) replaces the "
        "implicit success() that makes `needs:` wait for a passing gate: with if: always() "
        "&& …, a rejected model ships anyway."
    )


def test_two_rollouts_cannot_run_at_once(workflow):
    job_id, job, _, _ = find(workflow, "rollout")
    concurrency = job.get("concurrency") or workflow.get("concurrency")
    assert concurrency, (
        f"Neither the rollout job {job_id!r} nor the workflow sets `concurrency`. Two pushes "
        "in a row would run two rollouts that fight over the same traffic weights."
    )
    if isinstance(concurrency, dict):
        group = concurrency.get("group", "")
        assert concurrency.get("cancel-in-progress") in (None, False, "false"), (
            "cancel-in-progress: true kills a rollout halfway, at whatever weight it had "
            "reached, with nobody to roll it back."
        )
    else:
        group = concurrency
    first, second = (
        gha.interpolate(group, gha.contexts_for("push", "refs/heads/main", run_id=r, sha=s))
        for r, s in ((1001, "a" * 40), (1002, "b" * 40))
    )
    assert first == second, (
        f"Two pushes to main get the concurrency groups {first!r} and {second!r}. Runs only "
        "wait for each other inside one group: a group keyed on the run id (or run number, "
        "or commit) puts every run in a group of its own and excludes nothing. Use a fixed "
        "name such as `rollout-churn`."
    )


def artifact_paths(step: dict[str, Any]) -> list[str]:
    text = str((step.get("with") or {}).get("path", ""))
    text = text.replace("${{ github.workspace }}/", "").replace("${{github.workspace}}/", "")
    return [line.strip() for line in text.splitlines() if line.strip()]


def covers(patterns: list[str], target: str) -> bool:
    """Whether upload-artifact's ``path:`` lines (relative to the repository) take ``target``."""
    import fnmatch
    import posixpath

    hit = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        clean = posixpath.normpath(pattern.lstrip("!"))
        matched = (
            clean == target or target.startswith(clean + "/") or fnmatch.fnmatch(target, clean)
        )
        if matched:
            hit = not negate
    return hit


def uploaded(
    workflow: dict[Any, Any], command: str, out_file: str, option: str
) -> tuple[str, list[str], dict[str, Any] | None]:
    """Where the CLI writes ``out_file`` (repository-relative) and the upload step after it."""
    import posixpath

    _, job, index, args = find(workflow, command)
    step = job["steps"][index]
    where = gha.working_directory(workflow, job, step)
    value = getattr(parsed(args), option)
    target = posixpath.normpath(posixpath.join(where, str(value), out_file))
    for later in job["steps"][index + 1 :]:
        if str(later.get("uses", "")).startswith("actions/upload-artifact@"):
            return target, artifact_paths(later), later
    return target, [], None


def test_gate_reports_are_kept_even_when_the_gate_fails(workflow):
    target, patterns, upload = uploaded(workflow, "gate", "model_card.json", "out")
    assert upload is not None, (
        "After the gate step, upload its reports (metrics.json, model_card.json) with "
        "actions/upload-artifact."
    )
    condition = str(upload.get("if", ""))
    assert gha.uses_status_function(condition) and (
        "always" in condition or "failure" in condition
    ), (
        f"The upload step has if: {condition!r}. Steps are skipped after a failure by "
        "default, and a rejected model's card is the one a reviewer needs: use if: always()."
    )
    assert covers(patterns, target), (
        f"The gate writes {target} (its --out, inside the step's working directory), but the "
        f"upload step's path is {patterns}. `defaults.run.working-directory` applies only to "
        "`run:` steps; an action's `path:` is relative to the repository root, so the "
        "artifact would be empty ('No files were found')."
    )


def test_rollout_event_log_is_uploaded_from_where_it_is_written(workflow):
    target, patterns, upload = uploaded(workflow, "rollout", "", "event_log")
    assert upload is not None and covers(patterns, target), (
        f"The rollout writes its event log to {target}, but "
        + (f"the upload step's path is {patterns}" if upload else "no step uploads it")
        + ". Keep the event log as an artifact, with its path relative to the repository "
        "root (working-directory does not apply to actions)."
    )


# --- what reaches production: the registry, the version, the secret, the packages ------

LAB_DIR = DATA_DIR.parent
GATE_WROTE = "7"  # the version the gate step writes to $GITHUB_OUTPUT in these runs


def secrets_in(workflow_text: str) -> dict[str, str]:
    """Every secret the workflow names, holding a value that says which secret it is."""
    import re

    names = re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", workflow_text)
    names += re.findall(r"secrets\[\s*'([^']+)'\s*\]", workflow_text)
    return {name: f"secret:{name}" for name in names}


def cli_value(
    workflow: dict[Any, Any],
    job: dict[str, Any],
    step: dict[str, Any],
    args: list[str],
    contexts: dict[str, Any],
    option: str,
    env_name: str | None = None,
) -> str | None:
    """What ``option`` of the step's CLI call is when GitHub runs it: ``${{ }}`` evaluated,
    ``$VAR`` taken from the step's env; else the env variable the CLI falls back to."""
    import re

    env = gha.step_env(workflow, job, step, contexts)

    def value(word: str) -> str:
        word = gha.interpolate(word, contexts)
        return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), word)

    for i, word in enumerate(args):
        if word == option and i + 1 < len(args):
            return value(args[i + 1])
        if word.startswith(option + "="):
            return value(word.split("=", 1)[1])
    return env.get(env_name) if env_name else None


def registry_used(
    workflow: dict[Any, Any], text: str, command: str, event: str, ref: str
) -> str | None:
    _, job, index, args = find(workflow, command)
    contexts = gha.contexts_for(event, ref, secrets=secrets_in(text))
    return cli_value(
        workflow, job, job["steps"][index], args, contexts, "--tracking-uri", "MLFLOW_TRACKING_URI"
    )


def test_pull_requests_are_gated_against_a_scratch_registry(workflow, workflow_text):
    on_pr = registry_used(workflow, workflow_text, "gate", "pull_request", "refs/pull/7/merge")
    on_main = registry_used(workflow, workflow_text, "gate", "push", "refs/heads/main")
    assert on_pr and not on_pr.startswith("secret:"), (
        f"On a pull request the gate step's registry (MLFLOW_TRACKING_URI or --tracking-uri) "
        f"is {on_pr!r}. The gate registers the model it passes and points 'challenger' at it: "
        "against the production registry, an unmerged PR's model becomes what the next "
        "rollout ships, and the PR's code runs with production's credentials. Gate a pull "
        "request against a throwaway registry, such as "
        "format('sqlite:///{0}/scratch-registry.db', runner.temp)."
    )
    assert on_main and on_main.startswith("secret:"), (
        f"On a push to main the gate step's registry is {on_main!r}; it must be the "
        "production registry (the secret), where the rollout job reads the version the gate "
        "registered."
    )


def test_rollout_ships_the_version_the_gate_registered(workflow, workflow_text):
    gate_id, gate_job, gate_index, _ = find(workflow, "gate")
    _, job, index, args = find(workflow, "rollout")
    gate_step = gate_job["steps"][gate_index]
    steps = {}
    if gate_step.get("id"):
        steps[str(gate_step["id"])] = {
            "outputs": {"version": GATE_WROTE},
            "outcome": "success",
            "conclusion": "success",
        }
    gate_contexts = gha.contexts_for("push", "refs/heads/main", steps=steps)
    outputs = {
        str(name): gha.interpolate(value, gate_contexts).strip()
        for name, value in (gate_job.get("outputs") or {}).items()
    }
    contexts = gha.contexts_for(
        "push",
        "refs/heads/main",
        secrets=secrets_in(workflow_text),
        needs={gate_id: {"result": "success", "outputs": outputs}},
    )
    shipped = cli_value(workflow, job, job["steps"][index], args, contexts, "--model-version")
    ran_with = "no --model-version" if shipped is None else f"--model-version {shipped!r}"
    assert str(shipped) == GATE_WROTE, (
        f"The gate step wrote version={GATE_WROTE} to $GITHUB_OUTPUT (the gate CLI does when "
        f"it registers a model), and the rollout step ran with {ran_with}. "
        "Without it the rollout ships whatever 'challenger' points at when it starts: a later "
        "push's model, or a pull request's. Give the gate step an id, expose "
        f"steps.<id>.outputs.version as an output of job {gate_id!r}, and pass "
        f"needs.{gate_id}.outputs.version to the rollout's --model-version (through env:, "
        "so the value is never parsed as part of the script)."
    )
    registry = cli_value(
        workflow, job, job["steps"][index], args, contexts, "--tracking-uri", "MLFLOW_TRACKING_URI"
    )
    assert registry and registry.startswith("secret:"), (
        f"The rollout step's registry is {registry!r}; it rolls out in the production "
        "registry (the secret)."
    )


def test_registry_secret_is_scoped_to_the_steps_that_use_it(workflow):
    _, gate_job, gate_index, _ = find(workflow, "gate")
    _, job, index, _ = find(workflow, "rollout")
    allowed = {id(gate_job["steps"][gate_index]), id(job["steps"][index])}
    exposed = []
    if "secrets." in json.dumps(workflow.get("env") or {}):
        exposed.append("the workflow's env")
    for job_id, each in workflow["jobs"].items():
        if "secrets." in json.dumps((each or {}).get("env") or {}):
            exposed.append(f"job {job_id}'s env")
        for n, step in enumerate((each or {}).get("steps") or []):
            if "secrets." in json.dumps(step) and id(step) not in allowed:
                exposed.append(f"step {n} of job {job_id} ({step.get('name') or step.get('uses')})")
    assert not exposed, (
        f"A secret is visible to {exposed}. In a workflow or job env, every step of the job "
        "gets the registry's credentials, actions included (setup-python, pip and "
        "everything it installs). Give the secret to the gate step and the rollout step "
        "only, in their own env:."
    )


Install = tuple[dict[str, Any], dict[str, Any], list[str]]


def pip_installs(workflow: dict[Any, Any]) -> list[Install]:
    """Each `pip install` in a run: step (its job, the step, the words after install)."""
    found: list[Install] = []
    for each in workflow["jobs"].values():
        for step in (each or {}).get("steps") or []:
            for line in str(step.get("run", "")).replace("\\\n", " ").splitlines():
                try:
                    words = shlex.split(line, comments=True)
                except ValueError:
                    continue
                for i in range(len(words) - 1):
                    if words[i].split("/")[-1].startswith("pip") and words[i + 1] == "install":
                        found.append((each, step, words[i + 2 :]))
                    elif words[i + 1 : i + 4] == ["-m", "pip", "install"]:
                        found.append((each, step, words[i + 4 :]))
    return found


def test_dependencies_are_installed_from_a_hash_locked_file(workflow):
    installs = pip_installs(workflow)
    assert installs, "No step runs `pip install`: the jobs need mlflow, scikit-learn, …"
    for each, step, words in installs:
        files, loose, hashes = [], [], False
        i = 0
        while i < len(words):
            word = words[i]
            if word in ("|", "||", "&&", ";"):
                break
            if word == "--require-hashes":
                hashes = True
            elif word in ("-r", "--requirement") and i + 1 < len(words):
                files.append(words[i + 1])
                i += 1
            elif word.startswith("-r") and len(word) > 2:
                files.append(word[2:])
            elif not word.startswith("-"):
                loose.append(word)
            i += 1
        command = " ".join(words)
        assert hashes and files and not loose, (
            f"`pip install {command}` installs "
            + (f"{loose} by name" if loose else "without --require-hashes")
            + ". Whatever version (and file) the index serves that day runs in CI with the "
            "job's token: install from a file that pins every version and its sha256, with "
            "`pip install --require-hashes -r requirements-ci.txt` (given, in labs/cicd)."
        )
        where = gha.working_directory(workflow, each, step)
        for name in files:
            import posixpath

            relative = posixpath.normpath(posixpath.join(where, name))
            target = LAB_DIR / posixpath.relpath(relative, "labs/cicd")
            assert relative.startswith("labs/cicd/") and target.is_file(), (
                f"`pip install {command}` (in {where}) reads {relative}, which is not a file "
                "of the lab; use the given labs/cicd/requirements-ci.txt."
            )


# Node 20 is being retired on GitHub's runners: these are the first majors of each action
# that run on Node 24 (actions/checkout v5, setup-python v6, upload-artifact v6).
NODE24_MAJORS = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 6,
}
# Commits of releases that still run on Node 20 (the lab's earlier reference pins).
NODE20_COMMITS = {
    "11bd71901bbe5b1630ceea73d27597364c9af683": "actions/checkout v4.2.2",
    "a26af69be951a213d495a4c3e4e4022e16d87065": "actions/setup-python v5.6.0",
    "ea165f8d65b6e75b540449e92b4886f43607fa02": "actions/upload-artifact v4.6.2",
}


def test_actions_are_on_majors_that_run_on_node_24(workflow_text):
    import re

    old = []
    for line in workflow_text.splitlines():
        found = re.search(r"uses:\s*['\"]?([\w.-]+/[\w.-]+)@([0-9a-f]{40})\b(.*)", line)
        if not found:
            continue
        action, commit, rest = found.groups()
        if commit in NODE20_COMMITS:
            old.append(f"{action}@{commit[:12]}… is {NODE20_COMMITS[commit]}")
            continue
        if action not in NODE24_MAJORS:
            continue
        major = re.search(r"#\s*v(\d+)", rest)
        if major is None or int(major.group(1)) < NODE24_MAJORS[action]:
            old.append(
                f"{action}@{commit[:12]}… ({rest.strip() or 'no # vX.Y.Z comment'}) is not "
                f"v{NODE24_MAJORS[action]} or later"
            )
    assert not old, (
        f"{old}. These releases run on Node 20, which GitHub is retiring on its runners. "
        "Pin the commit of a current release (each one's tag in its repository) and say "
        "which in a comment: `uses: actions/checkout@<40 hex digits>  # v7.0.1`."
    )


# --- workflow security: the same checks a reviewer would run -------------------------


def tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed where the tests run; it is part of the lab image.")
    return path


def test_workflow_matches_the_github_workflow_schema(workflow_text, tmp_path):
    target = tmp_path / "model-ci.yml"
    target.write_text(workflow_text, encoding="utf-8")
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, (
        "check-jsonschema --builtin-schema vendor.github-workflows rejects the workflow "
        f"(GitHub would refuse to run it):\n{(proc.stdout + proc.stderr)[-3000:]}"
    )


def test_workflow_has_no_zizmor_findings(workflow_text, tmp_path):
    target = tmp_path / "model-ci.yml"
    target.write_text(workflow_text, encoding="utf-8")
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--format", "json", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    try:
        findings = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"zizmor could not audit the workflow:\n{proc.stderr[-3000:]}")
    summary = sorted(
        {f"{f.get('ident')}: {f.get('desc')}" for f in findings if isinstance(f, dict)}
    )
    assert not findings, (
        f"zizmor --offline reports {len(findings)} finding(s): {summary}. Pin each action to "
        "a full commit SHA (a tag can be moved to other code), check out with "
        "persist-credentials: false (or the token lands in the uploaded workspace), and set "
        "`permissions:` per job to what it needs (contents: read), with `permissions: {}` at "
        "the top."
    )
