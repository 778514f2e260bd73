"""The learner loop: progress, reset, and watch."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from grader.lab import load_lab
from grader.watch import relevant_changes, watch_lab
from tests.conftest import FIXTURE_LABS
from tests.test_cli import run_cli


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A git checkout holding the calc and sleepy fixture labs."""
    root = tmp_path / "course"
    for slug in ("calc", "sleepy"):
        shutil.copytree(FIXTURE_LABS / slug, root / "labs" / slug)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "s"],
        cwd=root,
        check=True,
    )
    return root


SOLVED_ADD = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    raise NotImplementedError\n"


def test_progress_shows_done_not_yet_and_not_started(course: Path) -> None:
    (course / "labs/calc/fx/calc.py").write_text(SOLVED_ADD)
    assert run_cli("grade", "calc", "--runner", "local", root=course).returncode == 1
    proc = run_cli("progress", root=course)
    assert proc.returncode == 0, proc.stderr
    calc_row = next(line for line in proc.stdout.splitlines() if "calc" in line)
    sleepy_row = next(line for line in proc.stdout.splitlines() if "sleepy" in line)
    assert "✔" in calc_row and "✘" in calc_row and "10/30" in calc_row
    assert "·" in sleepy_row and "0/10" in sleepy_row
    assert "course total 10/40 points" in proc.stdout


def test_progress_shows_the_other_labs_when_one_manifest_is_broken(course: Path) -> None:
    manifest = course / "labs/sleepy/lab.toml"
    manifest.write_text(manifest.read_text().replace("points = 5", "points = 'five'", 1))
    proc = run_cli("progress", root=course)
    assert proc.returncode == 2
    assert any("calc" in line and "0/30" in line for line in proc.stdout.splitlines())
    assert "not shown:" in proc.stdout and "tasks[1].points" in proc.stdout


def test_reset_restores_the_starter_and_keeps_a_backup(course: Path) -> None:
    edited = course / "labs/calc/fx/calc.py"
    starter = edited.read_text()
    edited.write_text(SOLVED_ADD)
    refused = run_cli("reset", "calc", root=course)  # no terminal, no --yes: nothing changes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert edited.read_text() == SOLVED_ADD
    proc = run_cli("reset", "calc", "fx/calc.py", "--yes", root=course)
    assert proc.returncode == 0, proc.stderr
    assert edited.read_text() == starter
    backups = list((course / ".mlskills/backups/calc").glob("*/fx/calc.py"))
    assert len(backups) == 1 and backups[0].read_text() == SOLVED_ADD
    again = run_cli("reset", "calc", "--yes", root=course)
    assert "Nothing to reset" in again.stdout


def test_reset_refuses_a_file_that_is_not_the_learners(course: Path) -> None:
    proc = run_cli("reset", "calc", "tests/test_task1_add.py", "--yes", root=course)
    assert proc.returncode == 2 and "not one of the files you edit" in proc.stderr


def test_relevant_changes_keeps_only_submission_files() -> None:
    lab = load_lab(FIXTURE_LABS / "calc")
    changed = [
        str(lab.root / "fx/calc.py"),
        str(lab.root / "tests/test_task1_add.py"),
        str(lab.root / "README.md"),
    ]
    assert relevant_changes(lab, changed) == [str(lab.root / "fx/calc.py")]


@pytest.mark.parametrize("poll", [False, True])
def test_watch_calls_back_once_per_debounced_burst_of_edits(course: Path, poll: bool) -> None:
    lab = load_lab(course / "labs" / "calc")
    target = lab.root / "fx" / "calc.py"
    seen: list[list[str]] = []
    thread = threading.Thread(
        target=watch_lab,
        args=(lab, seen.append),
        kwargs={"poll": poll, "debounce_ms": 300, "stop_after": 1},
        daemon=True,
    )
    thread.start()
    time.sleep(1.0)  # let the watcher take its first look before the edits
    for n in range(3):
        target.write_text(f"# edit {n}\n" + SOLVED_ADD)
        (lab.root / "tests" / "scratch.txt").write_text(str(n))  # not a submission file
    thread.join(timeout=20)
    assert not thread.is_alive(), "the watcher never reported the edit"
    assert seen == [[str(target)]]
