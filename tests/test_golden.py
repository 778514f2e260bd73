"""Fixture labs graded end to end, compared with golden reports.

Each case runs under the local runner and, against a real engine, the docker runner;
both must produce the same golden report. ``UPDATE_GOLDEN=1`` rewrites the files.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from grader import api
from grader.results import GradeReport
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, FIXTURES, SUBMISSIONS

GOLDEN = FIXTURES / "golden"

CASES = {
    "all-pass": ("calc", FIXTURE_SOLUTIONS / "calc"),
    "starter": ("calc", None),
    "partial": ("calc", SUBMISSIONS / "calc-partial"),
    "import-error": ("calc", SUBMISSIONS / "calc-import-error"),
    "syntax-error": ("calc", SUBMISSIONS / "calc-syntax-error"),
    "tampered": ("calc", SUBMISSIONS / "calc-tampered"),
    "timeout": ("sleepy", SUBMISSIONS / "sleepy-forever"),
    "no-tests": ("empty", None),
}


def normalised(report: GradeReport | dict[str, Any]) -> dict[str, Any]:
    """The report (or its JSON) without what legitimately varies: timings, runner, addresses."""
    raw = report.as_json() if isinstance(report, GradeReport) else report
    data = json.loads(re.sub(r" at 0x[0-9a-f]+", " at 0x…", json.dumps(raw)))
    for key in ("duration_s", "runner", "notices"):
        data.pop(key)
    for task in data["tasks"]:
        for test in task["tests"]:
            test.pop("duration_s")
    return data


def check_golden(case: str, report: GradeReport) -> None:
    path = GOLDEN / f"{case}.json"
    actual = normalised(report)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    expected = json.loads(path.read_text())
    assert actual == expected, f"{case}: the report differs from {path}"


def grade(case: str, runner: Any) -> GradeReport:
    slug, submission = CASES[case]
    return api.grade(slug=slug, submission=submission, runner=runner, labs_root=FIXTURE_LABS)


@pytest.mark.parametrize("case", sorted(CASES))
def test_local_runner_matches_golden(case: str, local_runner: Any) -> None:
    check_golden(case, grade(case, local_runner))


@pytest.mark.docker
@pytest.mark.parametrize("case", sorted(CASES))
def test_docker_runner_matches_golden(case: str, docker_runner: Any) -> None:
    check_golden(case, grade(case, docker_runner))


def test_golden_statuses_and_exit_codes_are_what_the_contract_says() -> None:
    """Guards the golden files themselves against being regenerated into nonsense."""
    want = {
        "all-pass": ("pass", 30),
        "starter": ("fail", 0),
        "partial": ("fail", 20),
        "import-error": ("fail", 0),
        "syntax-error": ("fail", 0),
        "tampered": ("fail", 20),
        "timeout": ("timeout", 5),
        "no-tests": ("error", 0),
    }
    for case, (status, score) in want.items():
        data = json.loads((GOLDEN / f"{case}.json").read_text())
        assert (data["status"], data["score"]) == (status, score), case
    syntax = json.loads((GOLDEN / "syntax-error.json").read_text())
    assert syntax["tasks"][0]["message"].startswith("SyntaxError: ")
