"""Turn the plugin's records and the run's outcome into a :class:`GradeReport`.

Only the plugin's records decide what passed, and the list of tests comes from the
collection the judge made before any test ran. A run that could not produce them is an
``error`` (could not grade), never a learner's failure. A run killed at its time limit is
a ``timeout``: tests that finished keep their outcome, and the rest count as failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from grader.lab import Lab, Task
from grader.results import GradeReport, Status, TaskResult, TestResult
from grader.runners.base import RunOutcome

__all__ = ["Records", "parse_records", "score"]

HIDDEN_PREFIX = "tests/hidden/"
HIDDEN_FILE = "a hidden test file"  # how a hidden file that fails to import is named
# pytest exit codes: 0 ok, 1 tests failed, 2 interrupted, 3 internal error, 4 usage, 5 none
_PYTEST_BROKEN = {3: "pytest hit an internal error", 4: "pytest was called wrongly"}


DID_NOT_RUN = "did not run"
DID_NOT_FINISH = "did not finish before the time limit"


@dataclass
class Records:
    tests: list[TestResult] = field(default_factory=list)
    collect_errors: list[tuple[str, str]] = field(default_factory=list)
    exitstatus: int | None = None
    collected: int = 0
    expected: list[tuple[str, str | None]] | None = None  # the trusted list, in order
    hints: dict[str, str] = field(default_factory=dict)  # nodeid -> the test's own hint
    problems: list[str] = field(default_factory=list)  # records that cannot be trusted


def _parse_lines(text: str) -> tuple[Records, dict[str, dict[str, Any]]]:
    records = Records()
    outcomes: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(item, dict):
            records.problems.append("a record that is not a JSON object")
            continue
        kind = item.get("kind")
        if kind == "collected":
            tests = item.get("tests")
            if records.expected is not None or not isinstance(tests, list):
                records.problems.append("a second or malformed list of collected tests")
                continue
            entries = [t for t in tests if isinstance(t, dict)]
            records.expected = [
                (str(t.get("nodeid", "")), None if t.get("task") is None else str(t["task"]))
                for t in entries
            ]
            records.hints = {
                str(t.get("nodeid", "")): str(t["hint"]) for t in entries if t.get("hint")
            }
        elif kind == "test":
            nodeid = str(item.get("nodeid", ""))
            if nodeid in outcomes:
                records.problems.append(f"two outcomes for one test ({nodeid})")
            outcomes[nodeid] = item
        elif kind == "collect_error":
            nodeid = str(item.get("nodeid", ""))
            if nodeid.startswith(HIDDEN_PREFIX):  # neither its path nor its source is shown
                records.collect_errors.append((HIDDEN_FILE, "it failed to import."))
            else:
                records.collect_errors.append((nodeid, str(item.get("message", ""))))
        elif kind == "session":
            records.exitstatus = int(item.get("exitstatus", 0))
            records.collected = int(item.get("collected", 0))
    return records, outcomes


def parse_records(text: str, *, timed_out: bool = False) -> Records:
    """Parse the plugin's JSON lines; a torn last line (a killed run) is ignored.

    The score is made from the list of tests collected before any test ran. A test on
    that list with no outcome failed: it did not run, or did not finish in time. An
    outcome for a test not on the list, or two for one test, makes the run untrustworthy.
    """
    records, outcomes = _parse_lines(text)
    if records.expected is None:
        expected = [(nodeid, item.get("task")) for nodeid, item in outcomes.items()]
    else:
        expected = records.expected
        known = {nodeid for nodeid, _ in expected}
        for nodeid in outcomes:
            if nodeid not in known:
                records.problems.append(
                    f"an outcome for a test that was never collected ({nodeid})"
                )
    hidden_count = 0
    for nodeid, task in expected:
        item = outcomes.get(nodeid)
        hidden = nodeid.startswith(HIDDEN_PREFIX)
        if item is None:
            status, message, duration = (
                Status.FAIL,
                DID_NOT_FINISH if timed_out else DID_NOT_RUN,
                0.0,
            )
        else:
            status = Status.PASS if item.get("status") == "pass" else Status.FAIL
            message, duration = str(item.get("message", "")), float(item.get("duration_s", 0.0))
        name = nodeid
        if hidden:  # the learner sees that a hidden test exists, not its code or message
            hidden_count += 1
            name, message = f"hidden test {hidden_count}", ""
        records.tests.append(
            TestResult(
                name=name,
                status=status,
                message=message,
                task=None if task is None else str(task),
                hidden=hidden,
                duration_s=duration,
                hint="" if hidden else records.hints.get(nodeid, ""),
            )
        )
    return records


def _score_part(
    task: Task,
    tests: list[TestResult],
    points: float,
    *,
    hidden: bool,
    timed_out: bool,
) -> TaskResult:
    passed = sum(t.status is Status.PASS for t in tests)
    # The hint fits the failure shown (the first one): a test that knows the mistake it
    # caught brings its own.
    first_failed = next((t for t in tests if t.status is not Status.PASS), None)
    hint = (first_failed.hint if first_failed else "") or task.hint
    unfinished = sum(t.message == DID_NOT_FINISH for t in tests)
    if passed == len(tests):
        score, status, message = points, Status.PASS, ""
    else:
        score = points * passed / len(tests) if task.partial else 0
        status = Status.TIMEOUT if timed_out and unfinished else Status.FAIL
        message = ""
        if hidden:
            message = f"{len(tests) - passed} of {len(tests)} hidden tests did not pass."
        elif unfinished:
            message = f"{unfinished} of {len(tests)} tests did not finish before the time limit."
    return TaskResult(
        id=task.id,
        title=f"{task.title} (hidden tests)" if hidden else task.title,
        score=round(score, 2),
        max_score=round(points, 2),
        status=status,
        hint="" if hidden else hint,
        tests=tuple(tests),
        message=message,
        hidden=hidden,
    )


def _score_task(
    task: Task, tests: list[TestResult], records: Records, outcome: RunOutcome
) -> list[TaskResult]:
    """The task's visible entry, scored on visible tests only, and its hidden entry if any.

    With hidden tests, the task's points are shared between the two in proportion to
    their numbers of tests.
    """
    if not tests:
        if records.collect_errors:
            # A visible file's error first: a hidden one's would hide the learner's cause.
            shown = [e for e in records.collect_errors if e[0] != HIDDEN_FILE]
            nodeid, message = (shown or records.collect_errors)[0]
            status, text = Status.FAIL, f"The tests could not be loaded ({nodeid}): {message}"
        elif outcome.timed_out:
            status, text = Status.TIMEOUT, "These tests did not run before the time limit."
        else:
            status, text = Status.ERROR, "No test ran for this task."
        return [TaskResult(task.id, task.title, 0, task.points, status, task.hint, (), text)]
    visible = [t for t in tests if not t.hidden]
    hidden = [t for t in tests if t.hidden]
    visible_points = round(task.points * len(visible) / len(tests), 2)
    parts = []
    if visible:
        parts.append(
            _score_part(task, visible, visible_points, hidden=False, timed_out=outcome.timed_out)
        )
    if hidden:
        parts.append(
            _score_part(
                task, hidden, task.points - visible_points, hidden=True, timed_out=outcome.timed_out
            )
        )
    return parts


HIDDEN_OUTPUT = (
    "pytest's output is withheld because this grade ran hidden tests; "
    "the task messages above say what failed in the visible tests."
)


def score(
    lab: Lab, outcome: RunOutcome, *, hidden_tests: bool = False, tasks: tuple[str, ...] = ()
) -> GradeReport:
    """Score ``outcome``; with ``hidden_tests``, pytest's raw output is not passed on.

    With ``tasks``, only those tasks ran, so only they are scored and reported.
    """
    records = parse_records(outcome.results or "", timed_out=outcome.timed_out)
    chosen = [task for task in lab.tasks if not tasks or task.id in tasks]
    results = tuple(
        part
        for task in chosen
        for part in _score_task(
            task, [t for t in records.tests if t.task == task.id], records, outcome
        )
    )
    if records.problems:  # nothing from an untrustworthy run counts, for or against
        results = tuple(replace(t, score=0, status=Status.ERROR) for t in results)
    total = sum(t.score for t in results)
    message = _run_problem(records, outcome)
    if outcome.error or (message and not outcome.timed_out):
        status = Status.ERROR
    elif outcome.timed_out:
        status = Status.TIMEOUT
    elif all(t.status is Status.PASS for t in results) and results:
        status = Status.PASS
    elif any(t.status is Status.ERROR for t in results):
        status = Status.ERROR
        message = message or "Some tasks have no tests; the lab itself needs fixing."
    else:
        status = Status.FAIL
    return GradeReport(
        lab=lab.slug,
        score=round(total, 2),
        max_score=sum(t.points for t in chosen),
        status=status,
        runner=outcome.runner,
        duration_s=outcome.duration_s,
        tasks=results,
        message=message,
        notices=outcome.notices,
        output=HIDDEN_OUTPUT if hidden_tests else outcome.output,
        unscored=tuple(t for t in records.tests if lab.task(t.task or "") is None),
    )


def _run_problem(records: Records, outcome: RunOutcome) -> str:
    """A sentence when the run itself went wrong, or ''."""
    if outcome.error:
        return outcome.error
    if records.problems:
        return (
            "The results could not be trusted (" + records.problems[0] + "); "
            "this is the grader's fault, not yours. Please report it."
        )
    if outcome.timed_out:
        return (
            "The tests were stopped at the lab's time limit; tests that did not finish "
            "count as failed."
        )
    if outcome.results is None or records.exitstatus is None:
        code = "" if outcome.exit_code is None else f" (exit code {outcome.exit_code})"
        return (
            f"The test run ended before it reported its results{code}; "
            "something killed or exited the Python process. See the output below."
        )
    if records.exitstatus in _PYTEST_BROKEN:
        return _PYTEST_BROKEN[records.exitstatus] + "; see the output below."
    if records.exitstatus == 5 and not records.collect_errors:
        return "No tests were collected; the lab's tests folder is empty."
    return ""
