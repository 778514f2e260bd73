"""Scoring: only the plugin's records decide; infrastructure failures are never the learner's."""

from __future__ import annotations

import json

import pytest

from grader.lab import find_lab
from grader.results import Status
from grader.runners.base import RunOutcome
from grader.scoring import parse_records, score
from tests.conftest import FIXTURE_LABS

CALC = find_lab("calc", FIXTURE_LABS)


def line(**record: object) -> str:
    return json.dumps(record) + "\n"


def rec(nodeid: str, task: str, status: str, message: str = "") -> str:
    return line(
        kind="test", nodeid=nodeid, task=task, status=status, message=message, duration_s=0.1
    )


SESSION = line(kind="session", exitstatus=1, collected=3)


def outcome(results: str | None, **kwargs: object) -> RunOutcome:
    base: dict[str, object] = {
        "runner": "local",
        "exit_code": 1,
        "results": results,
        "output": "",
        "duration_s": 1.0,
    }
    base.update(kwargs)
    return RunOutcome(**base)  # type: ignore[arg-type]


def test_all_or_nothing_task_scores_zero_when_one_test_fails() -> None:
    text = rec("a", "1", "pass") + rec("b", "2", "pass") + rec("c", "2", "fail", "boom") + SESSION
    calc_strict = CALC.tasks[0]
    report = score(CALC, outcome(text))
    assert report.tasks[0].score == calc_strict.points
    assert report.tasks[1].score == 10  # task 2 is partial: 1 of 2 tests
    assert report.tasks[1].first_failure == "boom"
    assert report.status is Status.FAIL and report.exit_code == 1


def test_torn_last_line_of_a_killed_run_is_ignored() -> None:
    records = parse_records(rec("a", "1", "pass") + '{"kind": "test", "nodeid": "b", "ta')
    assert [t.name for t in records.tests] == ["a"]


def test_missing_results_is_an_error_not_a_failed_learner() -> None:
    report = score(CALC, outcome(None, exit_code=137))
    assert report.status is Status.ERROR and report.exit_code == 2
    assert "exit code 137" in report.message


def test_results_without_session_record_means_the_process_died() -> None:
    report = score(CALC, outcome(rec("a", "1", "pass")))
    assert report.status is Status.ERROR
    assert "ended before it reported" in report.message


def test_timeout_keeps_credit_for_finished_tasks() -> None:
    report = score(CALC, outcome(rec("a", "1", "pass"), timed_out=True, exit_code=None))
    assert report.status is Status.TIMEOUT and report.exit_code == 1
    assert report.tasks[0].status is Status.PASS and report.score == 10
    assert report.tasks[1].status is Status.TIMEOUT


def test_runner_error_wins_over_results() -> None:
    text = rec("a", "1", "pass") + SESSION
    report = score(CALC, outcome(text, error="The tests ran out of memory."))
    assert report.status is Status.ERROR and report.message == "The tests ran out of memory."


def test_collection_error_fails_the_tasks_with_its_message() -> None:
    text = line(kind="collect_error", nodeid="tests/test_x.py", message="SyntaxError: bad") + line(
        kind="session", exitstatus=2, collected=0
    )
    report = score(CALC, outcome(text))
    assert report.status is Status.FAIL
    assert "SyntaxError: bad" in report.tasks[0].first_failure


def test_hidden_tests_are_counted_but_their_code_and_messages_stay_hidden() -> None:
    text = (
        rec("tests/hidden/test_secret.py::test_edge_case", "1", "fail", "expected 42")
        + rec("a", "1", "pass")
        + SESSION
    )
    report = score(CALC, outcome(text))
    hidden = report.hidden_tests
    assert len(hidden) == 1 and hidden[0].name == "hidden test 1" and hidden[0].message == ""
    assert "expected 42" not in json.dumps(report.as_json())
    assert report.as_json()["hidden_tests"] == {"count": 1, "passed": 0}
    visible, hidden_part = report.tasks[0], report.tasks[1]
    # the visible entry is scored on the visible test alone, and keeps its own message
    assert (visible.id, visible.hidden, visible.status, visible.score) == ("1", False, "pass", 5)
    assert visible.first_failure == ""
    assert (hidden_part.id, hidden_part.hidden, hidden_part.score, hidden_part.max_score) == (
        "1",
        True,
        0,
        5,
    )
    assert hidden_part.first_failure == "1 of 1 hidden tests did not pass."


def test_a_hidden_failure_never_replaces_the_visible_message() -> None:
    text = (
        rec("tests/hidden/test_secret.py::test_edge_case", "1", "fail", "secret detail")
        + rec("tests/test_task1_add.py::test_add", "1", "fail", "add(2, 3) returned 6")
        + SESSION
    )
    visible = score(CALC, outcome(text)).tasks[0]
    assert visible.first_failure == "add(2, 3) returned 6"


def test_a_test_with_no_trusted_outcome_failed() -> None:
    collected = line(
        kind="collected",
        tests=[
            {"nodeid": "a", "task": "1"},
            {"nodeid": "b", "task": "2"},
            {"nodeid": "c", "task": "2"},
        ],
    )
    report = score(
        CALC, outcome(collected + rec("a", "1", "pass") + rec("b", "2", "pass") + SESSION)
    )
    task2 = report.tasks[1]
    assert [t.message for t in task2.tests] == ["", "did not run"]
    assert task2.score == 10  # partial credit: one of two, never the one that did not run


def test_a_timeout_credits_no_unfinished_test() -> None:
    collected = line(
        kind="collected", tests=[{"nodeid": "b", "task": "2"}, {"nodeid": "c", "task": "2"}]
    )
    report = score(CALC, outcome(collected + rec("b", "2", "pass"), timed_out=True))
    task2 = report.tasks[1]
    assert task2.status is Status.TIMEOUT and task2.score == 10
    assert task2.tests[1].message == "did not finish before the time limit"


@pytest.mark.parametrize(
    "records",
    [
        rec("ghost", "1", "pass"),  # a test that was never collected
        rec("a", "1", "fail") + rec("a", "1", "pass"),  # two outcomes for one test
    ],
)
def test_unknown_or_duplicated_records_make_the_run_an_error(records: str) -> None:
    collected = line(kind="collected", tests=[{"nodeid": "a", "task": "1"}])
    report = score(CALC, outcome(collected + records + SESSION))
    assert report.status is Status.ERROR and report.score == 0
    assert "could not be trusted" in report.message


def test_unmarked_tests_are_reported_as_unscored() -> None:
    report = score(CALC, outcome(rec("stray", None, "pass") + SESSION))  # type: ignore[arg-type]
    assert [t.name for t in report.unscored] == ["stray"]


def test_a_failing_test_with_its_own_hint_replaces_the_tasks_hint() -> None:
    collected = line(
        kind="collected",
        tests=[
            {"nodeid": "a", "task": "1", "hint": ""},
            {"nodeid": "b", "task": "2", "hint": "A NaN feature is a 422, not a 500."},
            {"nodeid": "c", "task": "2", "hint": ""},
        ],
    )
    text = collected + rec("a", "1", "fail", "x") + rec("b", "2", "fail", "500") + SESSION
    report = score(CALC, outcome(text + rec("c", "2", "fail", "y")))
    assert report.tasks[0].hint == CALC.tasks[0].hint  # no test hint: the task's own
    assert report.tasks[1].hint == "A NaN feature is a 422, not a 500."
    passing_b = collected + rec("a", "1", "fail") + rec("b", "2", "pass") + rec("c", "2", "fail")
    assert score(CALC, outcome(passing_b + SESSION)).tasks[1].hint == CALC.tasks[1].hint


def test_a_visible_import_error_is_shown_even_when_a_hidden_file_failed_first() -> None:
    text = (
        line(kind="collected", tests=[])
        + line(kind="collect_error", nodeid="tests/hidden/test_h.py", message="secret boom")
        + line(kind="collect_error", nodeid="tests/test_task1_add.py", message="NameError: x")
        + SESSION
    )
    report = score(CALC, outcome(text), hidden_tests=True)
    first = report.tasks[0].first_failure
    assert "tests/test_task1_add.py" in first and "NameError: x" in first
    assert "secret boom" not in json.dumps(report.as_json())
