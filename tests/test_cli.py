"""The command line: verbs, exit codes, and one sentence (never a traceback) on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, FIXTURES, REPO, SUBMISSIONS


def run_cli(
    *args: str, root: Path = FIXTURES, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MLSKILLS_ROOT": str(root), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


def test_list_shows_the_labs_present() -> None:
    proc = run_cli("list")
    assert proc.returncode == 0, proc.stderr
    for slug in ("calc", "sleepy", "empty"):
        assert slug in proc.stdout
    assert "1. Add (10)" in proc.stdout


def test_unknown_lab_lists_known_ones_and_exits_2() -> None:
    assert_clean_error(
        run_cli("grade", "nosuch", "--runner", "local"),
        "no lab called 'nosuch'",
        "calc, empty, sleepy",
    )


def test_missing_submission_folder_exits_2() -> None:
    assert_clean_error(
        run_cli("grade", "calc", "--runner", "local", "--submission", "/nope"),
        "/nope does not exist",
    )


def test_broken_manifest_names_the_field_and_exits_2(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "broken"
    lab.mkdir(parents=True)
    text = (FIXTURE_LABS / "calc" / "lab.toml").read_text()
    text = text.replace('slug = "calc"', 'slug = "broken"').replace('title = "Calc', "title = 3 #")
    (lab / "lab.toml").write_text(text)
    assert_clean_error(
        run_cli("grade", "broken", "--runner", "local", root=tmp_path), "lab.toml", "'title'"
    )


def test_docker_runner_without_engine_says_how_to_fix_it() -> None:
    proc = run_cli(
        "grade",
        "calc",
        "--runner",
        "docker",
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert_clean_error(
        proc, "No Docker engine answered at unix:///nonexistent/docker.sock", "--runner local"
    )


def test_auto_runner_without_engine_falls_back_to_local_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = run_cli(
        "grade",
        "calc",
        "--submission",
        str(FIXTURE_SOLUTIONS / "calc"),
        "--json",
        str(out),
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No Docker engine answered" in proc.stdout
    assert json.loads(out.read_text())["runner"] == "local"


def test_grade_writes_every_report_format_and_exit_code_1_on_failure(tmp_path: Path) -> None:
    paths = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "junit", "gradescope", "md")}
    proc = run_cli(
        "grade",
        "calc",
        "--runner",
        "local",
        "--submission",
        str(SUBMISSIONS / "calc-partial"),
        "--json",
        str(paths["json"]),
        "--junit",
        str(paths["junit"]),
        "--gradescope",
        str(paths["gradescope"]),
        "--markdown",
        str(paths["md"]),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "20/30" in proc.stdout
    assert "hint: Anything times zero is zero" in proc.stdout  # the failing test's own hint
    assert json.loads(paths["json"].read_text())["score"] == 20
    assert 'failures="1"' in paths["junit"].read_text()
    assert json.loads(paths["gradescope"].read_text())["score"] == 20
    assert "| 2 | Multiply | 10/20 |" in paths["md"].read_text()


def test_learner_syntax_error_is_a_failed_task_not_a_crash() -> None:
    proc = run_cli(
        "grade", "calc", "--runner", "local", "--submission", str(SUBMISSIONS / "calc-syntax-error")
    )
    assert proc.returncode == 1
    assert "SyntaxError: expected ':'" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_hint_gets_more_specific_each_time(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "labs").mkdir(parents=True)
    (root / "labs" / "calc").symlink_to(FIXTURE_LABS / "calc")
    first = run_cli("hint", "calc", "2", root=root).stdout
    second = run_cli("hint", "calc", "2", root=root).stdout
    third = run_cli("hint", "calc", "2", root=root).stdout
    assert "hint 1/3: Return a * b." in first and "hint 2/3" not in first
    assert "hint 2/3: Zero times anything is zero." in second and "hint 3/3" not in second
    assert "hint 3/3: Use the * operator." in third
    assert_clean_error(run_cli("hint", "calc", "9", root=root), "has no task '9'")


@pytest.mark.parametrize("slug", ["calc", "sleepy"])
def test_check_passes_on_fixture_labs(slug: str) -> None:
    proc = run_cli("check", slug, "--runner", "local")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fail on the starter and pass on the solution" in proc.stdout


def test_check_fails_when_a_task_passes_on_the_starter(tmp_path: Path) -> None:
    root = tmp_path / "root"
    lab = root / "labs" / "calc"
    lab.parent.mkdir(parents=True)
    import shutil

    shutil.copytree(FIXTURE_LABS / "calc", lab)
    shutil.copytree(FIXTURE_SOLUTIONS, root / "solutions")
    # a starter that already solves task 1 is a broken lab
    (lab / "fx" / "calc.py").write_text(
        "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    raise NotImplementedError\n"
    )
    proc = run_cli("check", "calc", "--runner", "local", root=root)
    assert proc.returncode == 1
    assert "task 1 (Add) passes on the untouched starter" in proc.stdout
