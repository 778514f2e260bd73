"""Grading outside this machine: the Gradescope autograder zip, and the GitHub Actions
workflow that grades the labs a push touched."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.gradescope import AUTOGRADER_ROOT_ENV, write_autograder_zip
from grader.lab import Lab, find_lab
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, REPO, SUBMISSIONS
from tests.test_cli import assert_clean_error, run_cli
from tests.test_golden import GOLDEN

WORKFLOW = REPO / ".github" / "workflows" / "grade.yml"


@pytest.fixture(scope="module")
def calc() -> Lab:
    return find_lab("calc", FIXTURE_LABS)


def unpack(archive: Path, autograder: Path) -> Path:
    """Lay the zip out as Gradescope does: its contents in /autograder/source."""
    source = autograder / "source"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(source)
        for info in zipped.infolist():
            mode = info.external_attr >> 16
            if mode:
                (source / info.filename).chmod(stat.S_IMODE(mode))
    return source


def run_autograder(autograder: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [str(autograder / "source" / "run_autograder")],
        env={**os.environ, AUTOGRADER_ROOT_ENV: str(autograder), "MLSKILLS_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(json.loads((autograder / "results" / "results.json").read_text()))


def test_zip_holds_the_scripts_the_grader_and_the_pristine_lab(calc: Lab, tmp_path: Path) -> None:
    archive = write_autograder_zip(calc, tmp_path / "calc.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in zipped.infolist()}
    expected = {
        "setup.sh",
        "run_autograder",
        "constraints.txt",
        "grader/__main__.py",
        "grader/cli.py",
        "grader/pytest_plugin.py",
        "grader/runners/local.py",
        *(f"labs/calc/{p.relative_to(calc.root).as_posix()}" for p in calc.root.rglob("*.py")),
        "labs/calc/lab.toml",
    }
    assert expected <= names, expected - names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & 0o111, f"{script} is not executable"
        syntax = subprocess.run(["bash", "-n", "/dev/stdin"], input=zipped_text(archive, script))
        assert syntax.returncode == 0, f"{script} is not valid bash"


def zipped_text(archive: Path, name: str) -> bytes:
    with zipfile.ZipFile(archive) as zipped:
        return zipped.read(name)


def test_the_same_lab_gives_the_same_zip(calc: Lab, tmp_path: Path) -> None:
    first = write_autograder_zip(calc, tmp_path / "a.zip").read_bytes()
    assert write_autograder_zip(calc, tmp_path / "b.zip").read_bytes() == first


def test_setup_installs_the_packages_the_lab_image_needs(tmp_path: Path) -> None:
    lab = find_lab("networking")
    setup = zipped_text(write_autograder_zip(lab, tmp_path / "n.zip"), "setup.sh").decode()
    install = next(line for line in setup.splitlines() if "-c constraints.txt" in line)
    for package in ("pytest", *lab.image.python):
        assert f" {package}" in install


def test_run_autograder_writes_results_json_with_the_grade(calc: Lab, tmp_path: Path) -> None:
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(calc, tmp_path / "calc.zip"), autograder)
    shutil.copytree(SUBMISSIONS / "calc-partial", autograder / "submission")
    results = run_autograder(autograder)
    expected = json.loads((GOLDEN / "partial.json").read_text())
    assert results["score"] == expected["score"]
    assert [t["score"] for t in results["tests"]] == [t["score"] for t in expected["tasks"]]
    assert all(t["visibility"] == "visible" for t in results["tests"])


def test_run_autograder_grades_a_whole_repository_submission_with_hidden_tests(
    calc: Lab, tmp_path: Path
) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_more.py").write_text(
        "import pytest\n\n\n@pytest.mark.task(1)\ndef test_more(learner):\n"
        "    add = learner.module('fx.calc').add\n\n    assert add(-1, 1) == 0\n"
    )
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(calc, tmp_path / "calc.zip", hidden_tests=hidden), autograder)
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", autograder / "submission" / "labs" / "calc")
    results = run_autograder(autograder)
    assert results["score"] == calc.max_score
    hidden_entries = [t for t in results["tests"] if t.get("visibility") == "after_published"]
    assert [t["output"] for t in hidden_entries] == ["1/1 hidden tests passed"]


def test_run_autograder_gives_the_learner_the_reason_it_could_not_grade(
    calc: Lab, tmp_path: Path
) -> None:
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(calc, tmp_path / "calc.zip"), autograder)
    (autograder / "submission" / "fx").mkdir(parents=True)
    (autograder / "submission" / "fx" / "calc.py").symlink_to("/etc/hostname")
    results = run_autograder(autograder)
    assert results["score"] == 0
    assert "could not grade" in results["output"]
    assert "could not grade this submission: fx/calc.py is a symlink" in results["output"]


def test_export_gradescope_cli_writes_the_zip_and_refuses_an_unknown_lab(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "calc.zip"
    proc = run_cli("export-gradescope", "calc", "--out", str(dest))
    assert proc.returncode == 0, proc.stderr
    assert str(dest) in proc.stdout
    assert "run_autograder" in zipfile.ZipFile(dest).namelist()
    assert_clean_error(run_cli("export-gradescope", "nosuch"), "no lab called 'nosuch'")


# --- .github/workflows/grade.yml ------------------------------------------------------


def workflow_steps() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(WORKFLOW.read_text())
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in triggers
    steps = data["jobs"]["grade"]["steps"]
    return {step["name"]: step for step in steps}


def test_workflow_checks_out_history_and_grades_with_a_markdown_summary() -> None:
    steps = workflow_steps()
    checkout = steps["Check out the push with its history"]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] in (0, 2)
    grade = steps["Grade"]["run"]
    assert "-m grader grade" in grade and "--markdown summary.md" in grade
    assert '>> "$GITHUB_STEP_SUMMARY"' in grade
    assert "${{" not in grade, "expressions go through env:, never into the script"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def run_step(
    script: str, repo: Path, tmp_path: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=repo,
        env={
            **os.environ,
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc, output, summary


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_workflow_grades_only_the_labs_the_push_touched_and_fails_by_exit_code(
    tmp_path: Path,
) -> None:
    steps = workflow_steps()
    repo = tmp_path / "course"
    for slug in ("calc", "sleepy"):
        shutil.copytree(FIXTURE_LABS / slug, repo / "labs" / slug)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "course")
    shutil.copyfile(SUBMISSIONS / "calc-partial" / "fx" / "calc.py", repo / "labs/calc/fx/calc.py")
    git(repo, "commit", "-q", "-am", "learner works on calc")

    proc, output, _ = run_step(
        steps["Find the labs this push touched"]["run"], repo, tmp_path, {"BEFORE": ""}
    )
    assert proc.returncode == 0, proc.stderr
    assert output.read_text().strip() == "labs=calc"

    env = {
        "LABS": "calc",
        "PYTHON": sys.executable,
        "PYTHONPATH": str(REPO),
        "MLSKILLS_ROOT": str(repo),
        "MLSKILLS_RUNNER": "local",
    }
    proc, _, summary = run_step(steps["Grade"]["run"], repo, tmp_path, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the partial calc fails a task
    partial = json.loads((GOLDEN / "partial.json").read_text())
    assert f"### calc: {partial['score']}/{partial['max_score']}" in summary.read_text()

    shutil.copyfile(FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py", repo / "labs/calc/fx/calc.py")
    proc, _, summary = run_step(steps["Grade"]["run"], repo, tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    summary.unlink()
    proc, _, summary = run_step(steps["Grade"]["run"], repo, tmp_path, {**env, "LABS": ""})
    assert proc.returncode == 0
    assert "No lab changed" in summary.read_text()
