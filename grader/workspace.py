"""Build a fresh grading workspace from a learner's tree and the pristine lab.

Layout of a workspace (the runners mount it elsewhere in the container)::

    <workspace>/learner/   what the learner's code sees: their declared files, and the
                           lab's other files (provided modules, data) but never its tests
    <workspace>/judge/     what pytest runs in. For a sealed lab: the pristine lab without
                           the submission files, plus any hidden tests; the tests reach
                           learner code only through a worker. For an in-process lab:
                           the learner's tree with the pristine lab laid over it.
    <workspace>/grader/    the grader's pytest plugin, the boundary package, pytest.ini

Only files matching the manifest's submission globs are taken from the learner. Every
other file (tests, data, lab.toml, non-submission helpers) comes from the lab source, so
a learner's edited tests, ``conftest.py`` or ``pytest.ini`` change nothing.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.boundary.protocol import JUDGE_PYTHONPATH_ENV, ROOT_ENV
from grader.errors import SubmissionError
from grader.lab import Lab

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "Workspace",
    "build_workspace",
    "declared_files",
    "git_starter",
    "grading_env",
    "pytest_command",
    "resolve_submission",
    "submission_files",
    "supervised",
    "unusable_files",
]

MAX_FILE_BYTES = 1 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024
PLUGIN_MODULE = "mlskills_grader_plugin"
BOUNDARY_PACKAGE = "mlskills_boundary"  # grader/boundary, as a top-level package
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
    sealed: bool  # the judge's tree holds no learner code

    @property
    def learner_dir(self) -> Path:
        return self.root / "learner" if self.sealed else self.judge_dir

    @property
    def judge_dir(self) -> Path:
        return self.root / "judge"

    @property
    def grader_dir(self) -> Path:
        return self.root / "grader"


def _refuse_links(anchor: Path, rel: Path) -> None:
    """Refuse ``anchor/rel`` if it, or any folder on the way to it, is a symlink.

    Every check starts at the folder the user passed: a symlink anywhere below it could
    point at another learner's work or at the solutions.
    """
    current = anchor
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            shown = current.relative_to(anchor).as_posix()
            raise SubmissionError(
                f"{shown} is a symlink; submissions may not contain symlinks. "
                "Replace it with the real file or folder."
            )


def resolve_submission(lab: Lab, submission: Path | None) -> Path:
    """The folder laid out like ``labs/<slug>/`` that holds the learner's files.

    ``None`` means the learner's working copy, ``labs/<slug>`` itself. A whole clone is
    recognised by its ``labs/<slug>/`` folder.
    """
    if submission is None:
        return lab.root
    if submission.is_symlink():
        raise SubmissionError(
            f"The submission folder {submission.name} is a symlink; pass the real folder."
        )
    if not submission.exists():
        raise SubmissionError(f"The submission folder {submission} does not exist.")
    if not submission.is_dir():
        raise SubmissionError(f"The submission {submission} is a file; pass a folder.")
    nested = Path("labs") / lab.slug
    if (submission / nested).is_dir() or (submission / nested).is_symlink():
        _refuse_links(submission, nested)
        return submission / nested
    return submission


def submission_files(lab: Lab, tree: Path) -> dict[str, Path]:
    """Lab-relative path → file, for every file in ``tree`` matching the submission globs.

    Symlinks and other non-regular files are refused, whatever they point at.
    """
    found: dict[str, Path] = {}
    for pattern in lab.submission:
        for path in sorted(tree.glob(pattern)):
            rel = path.relative_to(tree)
            if any(part in _SKIP_DIRS for part in rel.parts):
                continue
            _refuse_links(tree, rel)
            if path.is_dir():
                continue
            if not stat.S_ISREG(path.lstat().st_mode):
                raise SubmissionError(
                    f"{rel.as_posix()} is not a regular file (a FIFO, socket or device); "
                    "submit plain files only."
                )
            found[rel.as_posix()] = path
    return found


def _matches(rel: str, pattern: str) -> bool:
    """``Path.glob``'s reading of ``pattern`` for one lab-relative path: '*' stays in a folder."""
    if "**" in pattern:
        return fnmatch.fnmatchcase(rel, pattern)
    parts, wanted = rel.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(map(fnmatch.fnmatchcase, parts, wanted))


def _git(lab: Lab, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=lab.root, capture_output=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def declared_files(lab: Lab) -> list[str]:
    """The lab-relative paths of the starter's submission files, those the learner deleted
    from their working copy included (git's HEAD still has them)."""
    names = set(submission_files(lab, lab.root))
    names |= {p for p in lab.submission if not any(c in p for c in "*?[")}
    listed = _git(lab, "ls-tree", "-r", "--name-only", "HEAD", ".") or ""
    for rel in listed.splitlines():
        if any(part in _SKIP_DIRS for part in rel.split("/")):
            continue
        if any(_matches(rel, pattern) for pattern in lab.submission):
            names.add(rel)
    return sorted(n for n in names if Path(n).name not in _NEVER_FROM_LEARNER)


def git_starter(lab: Lab, rel: str, ref: str = "HEAD") -> bytes | None:
    """The starter's version of ``rel``: as git has it at ``ref``, or, when the learner
    committed its deletion, as it was just before the commit that deleted it."""
    for spec in (ref, None):
        if spec is None:
            last = (_git(lab, "log", "-1", "--format=%H", ref, "--", rel) or "").strip()
            if not last:
                return None
            spec = f"{last}^"
        try:
            proc = subprocess.run(
                ["git", "show", f"{spec}:./{rel}"],
                cwd=lab.root,
                capture_output=True,
                check=False,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if proc.returncode == 0:
            return proc.stdout
    return None


def unusable_files(lab: Lab, tree: Path) -> dict[str, str]:
    """Declared files of ``tree`` that are missing, empty or unreadable, with which."""
    found: dict[str, str] = {}
    for rel in declared_files(lab):
        path = tree / rel
        if path.is_symlink():
            continue  # refused with its own sentence
        if not path.exists():
            found[rel] = "missing"
        elif path.is_file() and not os.access(path, os.R_OK):
            found[rel] = "unreadable"
        elif path.is_file() and path.stat().st_size == 0 and git_starter(lab, rel):
            found[rel] = "empty"  # and the starter's is not, as an __init__.py may be
    return found


def _at_the_root(lab: Lab, tree: Path) -> dict[str, Path]:
    """Declared files uploaded flat, as a drag-and-drop upload to Gradescope leaves them.

    The declared files are the starter's: its plain paths, and what its globs match.
    Only file names that are unique among them count.
    """
    plain = [p for p in lab.submission if not any(c in p for c in "*?[")]
    plain += [rel for rel in submission_files(lab, lab.root) if rel not in plain]
    if tree.name in {Path(p).parts[0] for p in plain if "/" in p}:
        return {}  # a folder inside the lab (netlab/), not an upload: say where to point
    names = [Path(p).name for p in plain]
    found: dict[str, Path] = {}
    for declared in plain:
        name = Path(declared).name
        candidate = tree / name
        if names.count(name) != 1 or "/" not in declared:
            continue
        if candidate.is_symlink() or not candidate.exists():
            continue
        if not stat.S_ISREG(candidate.lstat().st_mode):
            raise SubmissionError(f"{name} is not a regular file; submit plain files only.")
        found[declared] = candidate
    return found


def _nothing_found(lab: Lab, tree: Path, shown: str) -> SubmissionError:
    pattern = lab.submission[0]
    hint = ""
    for depth in ("*", "*/*", "*/*/*"):
        match = next(iter(sorted(tree.glob(f"{depth}/{pattern}"))), None)
        if match is not None:
            folder = match.relative_to(tree).parts[: depth.count("*")]
            hint = f" The files seem to be in {'/'.join(folder)}/; pass that folder."
            break
    else:
        if next(tree.parent.glob(pattern), None) is not None:
            hint = " This looks like a folder inside the lab; pass the lab folder itself."
    return SubmissionError(
        f"None of the lab's submission files ({', '.join(lab.submission)}) was found in "
        f"{shown}.{hint}"
    )


def _copy_regular(path: Path, target: Path, rel: str) -> int:
    """Copy one learner file without following links, reading at most the size cap."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except PermissionError:
        return -1  # the learner's state, as a deleted file is: graded as missing
    except OSError as exc:
        raise SubmissionError(f"{rel} could not be read ({exc.strerror}).") from None
    with os.fdopen(fd, "rb") as source:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SubmissionError(f"{rel} is not a regular file; submit plain files only.")
        data = source.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise SubmissionError(
            f"{rel} is over {MAX_FILE_BYTES // 1024 // 1024} MB; submission files may be at "
            f"most {MAX_FILE_BYTES // 1024 // 1024} MB each."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return len(data)


def _copy_pristine(lab: Lab, dest: Path, *, skip: set[str], tests: bool) -> None:
    for path in sorted(lab.root.rglob("*")):
        rel = path.relative_to(lab.root)
        if path.is_dir() or any(part in _SKIP_DIRS for part in rel.parts):
            continue
        if rel.as_posix() in skip or (not tests and rel.parts[0] == "tests"):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def build_workspace(
    lab: Lab, tree: Path, dest: Path, *, hidden_tests: Path | None = None, shown: str = ""
) -> Workspace:
    """Lay out a workspace in the empty folder ``dest`` (see the module docstring).

    ``shown`` names the learner's folder in messages, without a host path.
    """
    sealed = lab.mode == "sealed"
    learner_dir = dest / ("learner" if sealed else "judge")
    judge_dir = dest / "judge"
    learner_dir.mkdir(parents=True)
    judge_dir.mkdir(parents=True, exist_ok=True)

    found = submission_files(lab, tree) or _at_the_root(lab, tree)
    if not found and tree.resolve() != lab.root.resolve():
        # Not in the working copy: there, every file deleted is the learner's state.
        raise _nothing_found(lab, tree, shown or "the submission folder")
    taken = []
    total = 0
    for rel, path in found.items():
        if Path(rel).name in _NEVER_FROM_LEARNER or rel.endswith(".pth"):
            continue
        size = _copy_regular(path, learner_dir / rel, rel)
        if size < 0:
            continue
        total += size
        if total > MAX_TOTAL_BYTES:
            raise SubmissionError(
                f"The submission's files add up to more than "
                f"{MAX_TOTAL_BYTES // 1024 // 1024} MB; remove large files from it."
            )
        taken.append(rel)

    # Everything else comes from the pristine lab. A starter file the learner deleted
    # stays missing: that is their submission, and it fails with an ImportError.
    learner_owned = {
        rel for rel in submission_files(lab, lab.root) if Path(rel).name not in _NEVER_FROM_LEARNER
    }
    _copy_pristine(lab, learner_dir, skip=learner_owned, tests=not sealed)
    if sealed:  # the judge's tree: no learner code at all, so no test can import it
        _copy_pristine(lab, judge_dir, skip=learner_owned, tests=True)

    if hidden_tests is not None:
        if not hidden_tests.is_dir():
            raise SubmissionError(f"The hidden tests folder {hidden_tests} does not exist.")
        shutil.copytree(
            hidden_tests,
            judge_dir / "tests" / "hidden",
            ignore=shutil.ignore_patterns(*_SKIP_DIRS),
            dirs_exist_ok=True,
        )

    grader_dir = dest / "grader"
    grader_dir.mkdir()
    shutil.copyfile(
        Path(__file__).with_name("pytest_plugin.py"), grader_dir / f"{PLUGIN_MODULE}.py"
    )
    shutil.copytree(
        Path(__file__).with_name("boundary"),
        grader_dir / BOUNDARY_PACKAGE,
        ignore=shutil.ignore_patterns(*_SKIP_DIRS),
    )
    (grader_dir / "pytest.ini").write_text(_PYTEST_INI, encoding="utf-8")
    return Workspace(root=dest, taken=tuple(taken), sealed=sealed)


def pytest_command(
    python: str,
    grader_dir: str,
    judge_dir: str,
    tasks: tuple[str, ...] = (),
    *,
    fail_fast: bool = False,
) -> list[str]:
    """The judge's pytest command line, given where the workspace's folders are.

    ``fail_fast`` stops at the first failure: the tests it leaves "did not run", and
    count as failed.
    """
    only = [f"--mlskills-tasks={','.join(tasks)}"] if tasks else []
    if fail_fast:
        only.append("--exitfirst")
    return [
        python,
        "-m",
        "pytest",
        "-p",
        PLUGIN_MODULE,
        "-p",
        f"{BOUNDARY_PACKAGE}.fixture",
        "-c",
        f"{grader_dir}/pytest.ini",
        "--rootdir",
        judge_dir,
        "-q",
        "-rN",
        # Learner output streams to the runner, which keeps its head and tail; captured,
        # it would pile up in memory or in the tmpfs. capsys and caplog still work.
        "-s",
        *only,
        f"{judge_dir}/tests",
    ]


def supervised(
    judge_command: list[str],
    env: dict[str, str],
    *,
    python: str,
    grader_dir: str,
    judge_dir: str,
    learner_dir: str,
    judge_tmp: str,
    judge_uid: int,
    learner_uid: int,
    max_file_mb: int,
) -> list[str]:
    """``judge_command`` run by the boundary's supervisor, which starts it as ``judge_uid``
    and the learner's workers as ``learner_uid``; ``env`` (the judge's) is adjusted in place:
    the supervisor imports from the grader's folder and hands the judge its own path."""
    env[JUDGE_PYTHONPATH_ENV] = env["PYTHONPATH"]
    env["PYTHONPATH"] = grader_dir
    return [
        python,
        "-m",
        f"{BOUNDARY_PACKAGE}.supervisor",
        f"--judge-uid={judge_uid}",
        f"--learner-uid={learner_uid}",
        f"--learner-root={learner_dir}",
        f"--judge-tmp={judge_tmp}",
        f"--judge-cwd={judge_dir}",
        f"--max-file-mb={max_file_mb}",
        "--",
        *judge_command,
    ]


def grading_env(
    *, grader_dir: str, judge_dir: str, learner_dir: str, results: str
) -> dict[str, str]:
    """Environment variables every runner sets for the judge."""
    return {
        "PYTHONPATH": f"{judge_dir}:{grader_dir}",
        "MLSKILLS_RESULTS": results,
        ROOT_ENV: learner_dir,
        # Only the grader's plugins: none that happen to be installed, in or out of a venv.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "NO_COLOR": "1",
    }
