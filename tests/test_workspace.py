"""Collecting a submission: only declared files, pristine tests, no escapes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.errors import SubmissionError
from grader.lab import find_lab
from grader.workspace import MAX_FILE_BYTES, build_workspace, resolve_submission
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, SUBMISSIONS


@pytest.fixture
def calc():  # type: ignore[no-untyped-def]
    return find_lab("calc", FIXTURE_LABS)


def test_takes_only_declared_files_and_pristine_tests(calc, tmp_path: Path) -> None:
    tree = SUBMISSIONS / "calc-tampered"
    ws = build_workspace(calc, tree, tmp_path / "ws")
    assert ws.taken == ("fx/calc.py",)
    assert (ws.lab_dir / "fx/calc.py").read_text() == (tree / "fx/calc.py").read_text()
    # the learner's edited test, conftest.py and pytest.ini changed nothing
    pristine = (calc.root / "tests/test_task2_mul.py").read_text()
    assert (ws.lab_dir / "tests/test_task2_mul.py").read_text() == pristine
    assert not (ws.lab_dir / "conftest.py").exists()
    assert not (ws.lab_dir / "fx/conftest.py").exists()
    assert not (ws.lab_dir / "pytest.ini").exists()
    assert (ws.grader_dir / "mlskills_grader_plugin.py").is_file()


def test_whole_clone_is_recognised_by_its_labs_folder(calc, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", clone / "labs" / "calc")
    assert resolve_submission(calc, clone) == clone / "labs" / "calc"
    assert resolve_submission(calc, FIXTURE_SOLUTIONS / "calc") == FIXTURE_SOLUTIONS / "calc"


def test_missing_submission_folder_is_a_clear_error(calc, tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="does not exist"):
        resolve_submission(calc, tmp_path / "nowhere")


def test_deleted_starter_file_stays_missing(calc, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "fx").mkdir(parents=True)
    ws = build_workspace(calc, tree, tmp_path / "ws")
    assert not (ws.lab_dir / "fx/calc.py").exists()
    assert (ws.lab_dir / "fx/__init__.py").exists() is False
    assert (ws.lab_dir / "tests/test_task1_add.py").exists()


def test_symlink_outside_the_submission_is_refused(calc, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    tree = tmp_path / "tree"
    (tree / "fx").mkdir(parents=True)
    os.symlink(secret, tree / "fx" / "calc.py")
    with pytest.raises(SubmissionError, match="points outside the submission"):
        build_workspace(calc, tree, tmp_path / "ws")


def test_symlinked_folder_outside_the_submission_is_refused(calc, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "calc.py").write_text("x = 1\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(outside, tree / "fx")
    with pytest.raises(SubmissionError, match="outside the submission"):
        build_workspace(calc, tree, tmp_path / "ws")


def test_symlink_inside_the_submission_is_followed(calc, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "fx").mkdir(parents=True)
    (tree / "real.py").write_text("def add(a, b):\n    return a + b\n")
    os.symlink(tree / "real.py", tree / "fx" / "calc.py")
    ws = build_workspace(calc, tree, tmp_path / "ws")
    assert "return a + b" in (ws.lab_dir / "fx/calc.py").read_text()


def test_oversized_file_is_refused(calc, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "fx").mkdir(parents=True)
    (tree / "fx" / "calc.py").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(SubmissionError, match="at most 1 MB"):
        build_workspace(calc, tree, tmp_path / "ws")


def test_hidden_tests_are_laid_over(calc, tmp_path: Path) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_hidden.py").write_text("def test_x():\n    pass\n")
    ws = build_workspace(calc, FIXTURE_SOLUTIONS / "calc", tmp_path / "ws", hidden_tests=hidden)
    assert (ws.lab_dir / "tests/hidden/test_hidden.py").is_file()
