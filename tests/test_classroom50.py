"""Classroom 50: result.json in its v1 schema, and the exported autograder run as the
Classroom 50 runner runs it: in a checkout of the learner's commit, grading it with the
course's tests cloned at the pinned commit (a real bare repository on disk)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.classroom50 import SCHEMA, export_bundle
from grader.errors import GraderError
from grader.lab import find_lab
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, FIXTURES, REPO, SUBMISSIONS
from tests.test_cli import run_cli

RUNNER_ENV = {
    "CLASSROOM": "ml-2027",
    "ASSIGNMENT": "calc",
    "USERNAME": "ada",
    "SUBMISSION_TAG": "submit/2027-01-09T12-00-00Z-abc1234",
    "COMMIT_URL": "https://github.com/ml-2027/calc-ada/commit/abc1234",
    "RELEASE_URL": "https://github.com/ml-2027/calc-ada/releases/tag/submit%2F2027",
}


def git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "course",
        "GIT_AUTHOR_EMAIL": "course@example.com",
        "GIT_COMMITTER_NAME": "course",
        "GIT_COMMITTER_EMAIL": "course@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_partial_grade_is_one_row_per_task_in_whole_points(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = run_cli(
        "grade",
        "calc",
        "--runner",
        "local",
        "--submission",
        str(SUBMISSIONS / "calc-partial"),
        "--classroom50",
        str(out),
        env=RUNNER_ENV,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["schema"] == SCHEMA
    assert {k: result[k] for k in ("classroom", "assignment", "submission")} == {
        "classroom": "ml-2027",
        "assignment": "calc",
        "submission": RUNNER_ENV["SUBMISSION_TAG"],
    }
    assert result["review"] == result["commit"] == RUNNER_ENV["COMMIT_URL"]
    assert [t["test-name"] for t in result["tests"]] == ["1. Add", "2. Multiply"]
    assert all(isinstance(t["score"], int) for t in result["tests"])
    assert result["score"] == sum(t["score"] for t in result["tests"]) < result["max-score"] == 30
    failed = [t for t in result["tests"] if not t["passed"]]
    assert failed and all(t["message"] for t in failed)


def test_a_submission_that_cannot_be_graded_scores_nothing_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = run_cli(
        "grade",
        "calc",
        "--runner",
        "local",
        "--submission",
        str(tmp_path / "missing"),
        "--classroom50",
        str(out),
    )
    assert proc.returncode == 2
    result = json.loads(out.read_text())
    assert (result["score"], result["max-score"]) == (0, 30)
    assert result["tests"][0]["test-name"] == "could not be graded"
    assert "does not exist" in result["tests"][0]["message"]


def test_export_refuses_a_branch_name_for_the_pinned_tests(tmp_path: Path) -> None:
    proc = run_cli(
        "export-classroom50",
        "calc",
        "--course-repo",
        "https://example.org/c.git",
        "--ref",
        "main",
        "--out",
        str(tmp_path / "bundle"),
    )
    assert proc.returncode == 2 and "full commit id" in proc.stderr
    with pytest.raises(GraderError, match="course repository"):
        export_bundle(find_lab("calc", FIXTURE_LABS), tmp_path, course_repo=" ", ref="0" * 40)


def test_the_exported_autograder_grades_with_the_courses_tests_not_the_learners(
    tmp_path: Path,
) -> None:
    # The course repository: the grader and the calc lab, committed; its commit is pinned.
    course = tmp_path / "course-src"
    shutil.copytree(
        REPO / "grader", course / "grader", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "constraints.txt", "README.md"):
        shutil.copy(REPO / name, course / name)
    shutil.copytree(FIXTURE_LABS / "calc", course / "labs" / "calc")
    git("init", "--quiet", "-b", "main", cwd=course)
    git("add", "-A", cwd=course)
    git("commit", "--quiet", "-m", "course", cwd=course)
    pinned = git("rev-parse", "HEAD", cwd=course)
    bare = tmp_path / "course.git"
    git("clone", "--quiet", "--bare", str(course), str(bare), cwd=tmp_path)
    # A later course commit breaks the tests: the pinned commit's tests must still grade.
    (course / "labs" / "calc" / "tests" / "test_task1_add.py").write_text("syntax error(\n")
    git("commit", "--quiet", "-am", "broken", cwd=course)
    git("push", "--quiet", str(bare), "main", cwd=course)

    proc = run_cli(
        "export-classroom50",
        "calc",
        "--course-repo",
        str(bare),
        "--ref",
        pinned,
        "--out",
        str(tmp_path / "bundle"),
        root=FIXTURES,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    script = tmp_path / "bundle" / "autograder.py"

    # The learner's checkout: a right add, a wrong mul, and a test edited to pass it.
    learner = tmp_path / "learner"
    shutil.copytree(FIXTURE_LABS / "calc", learner / "labs" / "calc")
    solution = (FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py").read_text()
    (learner / "labs/calc/fx/calc.py").write_text(solution.replace("a * b", "a - b"))
    (learner / "labs/calc/tests/test_task2_mul.py").write_text(
        "import pytest\n\n\n@pytest.mark.task(2)\ndef test_mul(learner):\n    pass\n"
    )
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    env = {
        **os.environ,
        **RUNNER_ENV,
        "GITHUB_OUTPUT": str(outputs),
        "MLSKILLS_PYTHON": sys.executable,  # the runner would make a venv; this one has it all
        "MLSKILLS_RUNNER": "local",
    }
    env.pop("MLSKILLS_ROOT", None)
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=learner,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((learner / "result.json").read_text())
    assert result["schema"] == SCHEMA and result["classroom"] == "ml-2027"
    rows = {t["test-name"]: t for t in result["tests"]}
    assert rows["1. Add"]["score"] == 10  # the pinned tests, not the broken later ones
    assert rows["2. Multiply"]["score"] == 0  # the learner's edited test changed nothing
    assert "calc: 10/30" in outputs.read_text() and "status=success" in outputs.read_text()
    assert (learner / "release-body.md").read_text().strip()
