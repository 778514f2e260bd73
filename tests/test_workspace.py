"""Collecting a submission: only declared files, pristine tests, no escapes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.errors import SubmissionError
from grader.lab import find_lab, load_lab
from grader.workspace import MAX_FILE_BYTES, build_workspace, resolve_submission
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, SUBMISSIONS


@pytest.fixture
def calc():  # type: ignore[no-untyped-def]
    return find_lab("calc", FIXTURE_LABS)


def test_takes_only_declared_files_and_pristine_tests(calc, tmp_path: Path) -> None:
    tree = SUBMISSIONS / "calc-tampered"
    ws = build_workspace(calc, tree, tmp_path / "ws")
    assert ws.taken == ("fx/calc.py",)
    assert (ws.learner_dir / "fx/calc.py").read_text() == (tree / "fx/calc.py").read_text()
    # the learner's edited test, conftest.py and pytest.ini changed nothing
    pristine = (calc.root / "tests/test_task2_mul.py").read_text()
    assert (ws.judge_dir / "tests/test_task2_mul.py").read_text() == pristine
    for folder in (ws.learner_dir, ws.judge_dir):
        assert not (folder / "conftest.py").exists()
        assert not (folder / "fx/conftest.py").exists()
        assert not (folder / "pytest.ini").exists()
    assert (ws.grader_dir / "mlskills_grader_plugin.py").is_file()
    assert (ws.grader_dir / "mlskills_boundary" / "worker.py").is_file()


def test_a_sealed_lab_keeps_learner_code_and_tests_apart(calc, tmp_path: Path) -> None:
    ws = build_workspace(calc, FIXTURE_SOLUTIONS / "calc", tmp_path / "ws")
    assert ws.sealed
    # the judge's tree has no learner code that a test could import by mistake
    assert not list(ws.judge_dir.glob("fx/*.py"))
    assert (ws.judge_dir / "tests/test_task1_add.py").is_file()
    # the learner's tree has their code, and never the tests
    assert (ws.learner_dir / "fx/calc.py").is_file()
    assert not (ws.learner_dir / "tests").exists()


def test_an_in_process_lab_runs_tests_beside_the_code(tmp_path: Path) -> None:
    lab_dir = tmp_path / "labs" / "calc"
    shutil.copytree(FIXTURE_LABS / "calc", lab_dir)
    manifest = lab_dir / "lab.toml"
    manifest.write_text(manifest.read_text().replace('mode = "sealed"', 'mode = "in-process"'))
    ws = build_workspace(load_lab(lab_dir), FIXTURE_SOLUTIONS / "calc", tmp_path / "ws")
    assert not ws.sealed and ws.learner_dir == ws.judge_dir
    assert (ws.judge_dir / "fx/calc.py").is_file() and (ws.judge_dir / "tests").is_dir()


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
    (tree / "fx" / "__init__.py").write_text("")
    ws = build_workspace(calc, tree, tmp_path / "ws")
    assert not (ws.learner_dir / "fx/calc.py").exists()
    assert (ws.judge_dir / "tests/test_task1_add.py").exists()


@pytest.mark.parametrize(
    ("layout", "advice"),
    [
        ("empty", ""),
        ("parent", "seem to be in calc/; pass that folder"),
        ("inside", "a folder inside the lab"),
        ("deeper", "seem to be in course/labs/calc/"),
    ],
)
def test_a_submission_with_none_of_the_files_says_where_it_looked(
    calc, tmp_path: Path, layout: str, advice: str
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    if layout == "parent":
        tree = tmp_path / "labs"
        shutil.copytree(FIXTURE_SOLUTIONS / "calc", tree / "calc")
    elif layout == "inside":
        shutil.copytree(FIXTURE_SOLUTIONS / "calc", tmp_path / "lab")
        tree = tmp_path / "lab" / "fx"
    elif layout == "deeper":
        shutil.copytree(FIXTURE_SOLUTIONS / "calc", tree / "course" / "labs" / "calc")
    with pytest.raises(SubmissionError) as info:
        build_workspace(calc, tree, tmp_path / "ws", shown="the upload")
    assert "submission files (fx/*.py) was found in the upload" in str(info.value)
    assert advice in str(info.value)


def test_files_uploaded_flat_are_taken_where_the_lab_declares_them(tmp_path: Path) -> None:
    lab_dir = tmp_path / "labs" / "calc"
    shutil.copytree(FIXTURE_LABS / "calc", lab_dir)
    manifest = lab_dir / "lab.toml"
    manifest.write_text(
        manifest.read_text().replace('files = ["fx/*.py"]', 'files = ["fx/calc.py"]')
    )
    upload = tmp_path / "upload"
    upload.mkdir()
    shutil.copyfile(FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py", upload / "calc.py")
    ws = build_workspace(load_lab(lab_dir), upload, tmp_path / "ws")
    assert ws.taken == ("fx/calc.py",)
    assert "a * b" in (ws.learner_dir / "fx/calc.py").read_text()


def test_files_uploaded_flat_are_taken_for_a_lab_declared_with_a_glob(calc, tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    upload.mkdir()
    shutil.copyfile(FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py", upload / "calc.py")
    (upload / "notes.py").write_text("# not a file of the lab\n")
    ws = build_workspace(calc, upload, tmp_path / "ws")
    assert ws.taken == ("fx/calc.py",)
    assert "a * b" in (ws.learner_dir / "fx/calc.py").read_text()


def test_symlink_outside_the_submission_is_refused(calc, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    tree = tmp_path / "tree"
    (tree / "fx").mkdir(parents=True)
    os.symlink(secret, tree / "fx" / "calc.py")
    with pytest.raises(SubmissionError, match=r"fx/calc\.py is a symlink"):
        build_workspace(calc, tree, tmp_path / "ws")


def test_symlinked_folder_outside_the_submission_is_refused(calc, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "calc.py").write_text("x = 1\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(outside, tree / "fx")
    with pytest.raises(SubmissionError, match="fx is a symlink"):
        build_workspace(calc, tree, tmp_path / "ws")


def test_a_symlink_inside_the_submission_is_refused_too(calc, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "fx").mkdir(parents=True)
    (tree / "real.py").write_text("def add(a, b):\n    return a + b\n")
    os.symlink(tree / "real.py", tree / "fx" / "calc.py")
    with pytest.raises(SubmissionError, match="may not contain symlinks"):
        build_workspace(calc, tree, tmp_path / "ws")


def test_a_symlinked_lab_folder_in_a_clone_is_refused(calc, tmp_path: Path) -> None:
    """The forgery of issue 13: labs/<slug> pointing at the solutions scored 100/100."""
    clone = tmp_path / "clone"
    (clone / "labs").mkdir(parents=True)
    os.symlink(FIXTURE_SOLUTIONS / "calc", clone / "labs" / "calc")
    with pytest.raises(SubmissionError, match="labs/calc is a symlink"):
        resolve_submission(calc, clone)


def test_a_symlinked_submission_folder_is_refused(calc, tmp_path: Path) -> None:
    os.symlink(FIXTURE_SOLUTIONS / "calc", tmp_path / "alice")
    with pytest.raises(SubmissionError, match="is a symlink"):
        resolve_submission(calc, tmp_path / "alice")


def test_a_fifo_is_refused_with_a_sentence(calc, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "fx").mkdir(parents=True)
    os.mkfifo(tree / "fx" / "calc.py")
    with pytest.raises(SubmissionError, match="not a regular file"):
        build_workspace(calc, tree, tmp_path / "ws")


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
    assert (ws.judge_dir / "tests/hidden/test_hidden.py").is_file()
    assert not list(ws.learner_dir.rglob("test_hidden.py"))


def test_an_unreadable_file_is_left_out_like_a_deleted_one(
    calc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", tree)
    real_open = os.open

    def refuse_calc(path, flags, *args):  # type: ignore[no-untyped-def]
        if str(path).endswith("calc.py"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr("grader.workspace.os.open", refuse_calc)
    ws = build_workspace(calc, tree, tmp_path / "ws")
    assert "fx/calc.py" not in ws.taken
    assert not (ws.learner_dir / "fx/calc.py").exists()


def test_the_working_copy_with_every_file_deleted_is_graded_not_refused(tmp_path: Path) -> None:
    lab_dir = tmp_path / "labs" / "calc"
    shutil.copytree(FIXTURE_LABS / "calc", lab_dir)
    for path in (lab_dir / "fx").glob("*.py"):
        path.unlink()
    lab = load_lab(lab_dir)
    ws = build_workspace(lab, lab.root, tmp_path / "ws")
    assert ws.taken == ()
    with pytest.raises(SubmissionError, match="None of the lab's submission files"):
        build_workspace(lab, tmp_path / "elsewhere", tmp_path / "ws2")
