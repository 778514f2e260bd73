"""Turn the plugin's records and the run's outcome into a :class:`GradeReport`.

Only the plugin's records decide what passed. A run that could not produce them is an
``error`` (could not grade), never a learner's failure; a run killed at its time limit is
a ``timeout`` that keeps the credit of the tests that finished.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grader.lab import Lab, Task
from grader.results import GradeReport, Status, TaskResult, TestResult
from grader.runners.base import RunOutcome

__all__ = ["Records", "parse_records", "score"]

HIDDEN_PREFIX = "tests/hidden/"
# pytest exit codes: 0 ok, 1 tests failed, 2 interrupted, 3 internal error, 4 usage, 5 none
_PYTEST_BROKEN = {3: "pytest hit an internal error", 4: "pytest was called wrongly"}


@dataclass
class Records:
    tests: list[TestResult] = field(default_factory=list)
    collect_errors: list[tuple[str, str]] = field(default_factory=list)
    exitstatus: int | None = None
    collected: int = 0


def parse_records(text: str) -> Records:
    """Parse the plugin's JSON lines; a torn last line (a killed run) is ignored."""
    records = Records()
    hidden_count = 0
    for line in text.splitlines():
        try:
            item: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind = item.get("kind")
        if kind == "test":
            nodeid = str(item.get("nodeid", ""))
            hidden = nodeid.startswith(HIDDEN_PREFIX)
            status = {"pass": Status.PASS}.get(str(item.get("status")), Status.FAIL)
            if hidden:  # the learner sees that a hidden test exists, not its code or message
                hidden_count += 1
                nodeid, message = f"hidden test {hidden_count}", ""
            else:
                message = str(item.get("message", ""))
            task = item.get("task")
            records.tests.append(
                TestResult(
                    name=nodeid,
                    status=status,
                    message=message,
                    task=None if task is None else str(task),
                    hidden=hidden,
                    duration_s=float(item.get("duration_s", 0.0)),
                )
            )
        elif kind == "collect_error":
            nodeid = str(item.get("nodeid", ""))
            if nodeid.startswith(HIDDEN_PREFIX):  # neither its path nor its source is shown
                records.collect_errors.append(("a hidden test file", "it failed to import."))
            else:
                records.collect_errors.append((nodeid, str(item.get("message", ""))))
        elif kind == "session":
            records.exitstatus = int(item.get("exitstatus", 0))
            records.collected = int(item.get("collected", 0))
    return records


def _score_task(
    task: Task, tests: list[TestResult], records: Records, outcome: RunOutcome
) -> TaskResult:
    def result(score: float, status: Status, message: str = "") -> TaskResult:
        return TaskResult(
            id=task.id,
            title=task.title,
            score=score,
            max_score=task.points,
            status=status,
            hint=task.hint,
            tests=tuple(tests),
            message=message,
        )

    if not tests:
        if records.collect_errors:
            nodeid, message = records.collect_errors[0]
            return result(0, Status.FAIL, f"The tests could not be loaded ({nodeid}): {message}")
        if outcome.timed_out:
            return result(0, Status.TIMEOUT, "These tests did not run before the time limit.")
        return result(0, Status.ERROR, "No test ran for this task.")
    passed = sum(t.status is Status.PASS for t in tests)
    if passed == len(tests):
        return result(task.points, Status.PASS)
    score = task.points * passed / len(tests) if task.partial else 0
    return result(round(score, 2), Status.FAIL)


HIDDEN_OUTPUT = (
    "pytest's output is withheld because this grade ran hidden tests; "
    "the task messages above say what failed in the visible tests."
)


def score(lab: Lab, outcome: RunOutcome, *, hidden_tests: bool = False) -> GradeReport:
    """Score ``outcome``; with ``hidden_tests``, pytest's raw output is not passed on."""
    records = parse_records(outcome.results or "")
    tasks = tuple(
        _score_task(task, [t for t in records.tests if t.task == task.id], records, outcome)
        for task in lab.tasks
    )
    total = sum(t.score for t in tasks)
    message = _run_problem(records, outcome)
    if outcome.error or (message and not outcome.timed_out):
        status = Status.ERROR
    elif outcome.timed_out:
        status = Status.TIMEOUT
    elif all(t.status is Status.PASS for t in tasks):
        status = Status.PASS
    elif any(t.status is Status.ERROR for t in tasks):
        status = Status.ERROR
        message = message or "Some tasks have no tests; the lab itself needs fixing."
    else:
        status = Status.FAIL
    return GradeReport(
        lab=lab.slug,
        score=round(total, 2),
        max_score=lab.max_score,
        status=status,
        runner=outcome.runner,
        duration_s=outcome.duration_s,
        tasks=tasks,
        message=message,
        notices=outcome.notices,
        output=HIDDEN_OUTPUT if hidden_tests else outcome.output,
        unscored=tuple(t for t in records.tests if lab.task(t.task or "") is None),
    )


def _run_problem(records: Records, outcome: RunOutcome) -> str:
    """A sentence when the run itself went wrong, or ''."""
    if outcome.error:
        return outcome.error
    if outcome.timed_out:
        return "The tests were stopped at the lab's time limit; unfinished tasks score 0."
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
