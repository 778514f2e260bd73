"""Build a fresh grading workspace from a learner's tree and the pristine lab.

Layout of a workspace (the same on the host and in the container)::

    <workspace>/lab/        the learner's declared files, with the pristine lab laid over
    <workspace>/.grader/    the grader's pytest plugin and pytest config

Only files matching the manifest's submission globs are taken from the learner. Every
other file (tests, data, lab.toml, non-submission helpers) comes from the lab source, so
a learner's edited tests, ``conftest.py`` or ``pytest.ini`` change nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from grader.errors import SubmissionError
from grader.lab import Lab

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "Workspace",
    "build_workspace",
    "resolve_submission",
    "submission_files",
]

MAX_FILE_BYTES = 1 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024
PLUGIN_MODULE = "mlskills_grader_plugin"
# Files that change how Python or pytest behave; never taken from a learner.
_NEVER_FROM_LEARNER = {
    "conftest.py",
    "pytest.ini",
    "tox.ini",
    "setup.cfg",
    "pyproject.toml",
    "sitecustomize.py",
    "usercustomize.py",
}
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_PYTEST_INI = """\
[pytest]
markers =
    task(n): the lab task this test belongs to
testpaths = tests
python_files = test_*.py
addopts = --color=no -p no:cacheprovider
"""


@dataclass(frozen=True)
class Workspace:
    root: Path
    taken: tuple[str, ...]  # lab-relative paths taken from the learner

    @property
    def lab_dir(self) -> Path:
        return self.root / "lab"

    @property
    def grader_dir(self) -> Path:
        return self.root / ".grader"


def resolve_submission(lab: Lab, submission: Path | None) -> Path:
    """The folder laid out like ``labs/<slug>/`` that holds the learner's files.

    ``None`` means the learner's working copy, ``labs/<slug>`` itself. A whole clone is
    recognised by its ``labs/<slug>/`` folder.
    """
    if submission is None:
        return lab.root
    if not submission.exists():
        raise SubmissionError(f"The submission folder {submission} does not exist.")
    if not submission.is_dir():
        raise SubmissionError(f"The submission {submission} is a file; pass a folder.")
    nested = submission / "labs" / lab.slug
    return nested if nested.is_dir() else submission


def submission_files(lab: Lab, tree: Path) -> dict[str, Path]:
    """Lab-relative path → file, for every file in ``tree`` matching the submission globs."""
    found: dict[str, Path] = {}
    for pattern in lab.submission:
        for path in sorted(tree.glob(pattern)):
            rel = path.relative_to(tree)
            if path.is_dir() or any(part in _SKIP_DIRS for part in rel.parts):
                continue
            found[rel.as_posix()] = path
    return found


def _check_learner_file(tree: Path, rel: str, path: Path) -> None:
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise SubmissionError(
            f"{rel} is a broken or looping symlink; replace it with the file."
        ) from None
    if not target.is_relative_to(tree.resolve()):
        raise SubmissionError(
            f"{rel} is a symlink that points outside the submission ({target}); "
            "replace it with the file itself."
        )
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SubmissionError(
            f"{rel} is {size / 1024 / 1024:.1f} MB; submission files may be at most "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB each."
        )


def build_workspace(
    lab: Lab, tree: Path, dest: Path, *, hidden_tests: Path | None = None
) -> Workspace:
    """Lay out a workspace in the empty folder ``dest``."""
    lab_dir = dest / "lab"
    lab_dir.mkdir(parents=True)

    taken = []
    total = 0
    for rel, path in submission_files(lab, tree).items():
        if Path(rel).name in _NEVER_FROM_LEARNER or rel.endswith(".pth"):
            continue
        _check_learner_file(tree, rel, path)
        total += path.stat().st_size
        if total > MAX_TOTAL_BYTES:
            raise SubmissionError(
                f"The submission's files add up to more than "
                f"{MAX_TOTAL_BYTES // 1024 // 1024} MB; remove large files from it."
            )
        target = lab_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        taken.append(rel)

    # Everything else comes from the pristine lab. A starter file the learner deleted
    # stays missing: that is their submission, and it fails with an ImportError.
    learner_owned = set(submission_files(lab, lab.root))
    for path in sorted(lab.root.rglob("*")):
        lab_rel = path.relative_to(lab.root)
        if path.is_dir() or any(part in _SKIP_DIRS for part in lab_rel.parts):
            continue
        if lab_rel.as_posix() in learner_owned and lab_rel.name not in _NEVER_FROM_LEARNER:
            continue
        target = lab_dir / lab_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)

    if hidden_tests is not None:
        if not hidden_tests.is_dir():
            raise SubmissionError(f"The hidden tests folder {hidden_tests} does not exist.")
        shutil.copytree(
            hidden_tests,
            lab_dir / "tests" / "hidden",
            ignore=shutil.ignore_patterns(*_SKIP_DIRS),
            dirs_exist_ok=True,
        )

    grader_dir = dest / ".grader"
    grader_dir.mkdir()
    shutil.copyfile(
        Path(__file__).with_name("pytest_plugin.py"), grader_dir / f"{PLUGIN_MODULE}.py"
    )
    (grader_dir / "pytest.ini").write_text(_PYTEST_INI, encoding="utf-8")
    return Workspace(root=dest, taken=tuple(taken))


def pytest_command(python: str, workspace_root: str) -> list[str]:
    """The pytest command line, given where the workspace is mounted."""
    return [
        python,
        "-m",
        "pytest",
        "-p",
        PLUGIN_MODULE,
        "-c",
        f"{workspace_root}/.grader/pytest.ini",
        "--rootdir",
        f"{workspace_root}/lab",
        "-q",
        "-rN",
        # Learner output streams to the runner, which keeps its head and tail; captured,
        # it would pile up in memory or in the tmpfs. capsys and caplog still work.
        "-s",
    ]


def pythonpath(workspace_root: str) -> str:
    return f"{workspace_root}/lab:{workspace_root}/.grader"
