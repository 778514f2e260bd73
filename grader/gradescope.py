"""Package a lab as a Gradescope autograder: ``python -m grader export-gradescope <slug>``.

The zip holds what Gradescope's spec asks for at its top level, ``setup.sh`` (run once,
as root, when Gradescope builds its image) and ``run_autograder`` (run for each
submission), plus this grader, the pristine lab and ``constraints.txt``.

- ``setup.sh`` installs a final-release CPython 3.11+ and the lab's packages into
  ``/autograder/venv``: a Python the image already has if it can make a venv; else the
  distribution's own (Ubuntu 24.04: ``python3.12`` and ``python3.12-venv``); else, where
  the archive only has a pre-release (Ubuntu 22.04's ``python3.11`` is 3.11.0rc1), CPython
  built from its source tarball, taken from the Ubuntu archive and checked by SHA-256.
- ``run_autograder`` calls :func:`main` (``python -m grader.gradescope``), which finds the
  learner's files in ``/autograder/submission`` whatever its layout (the lab's folders, a
  whole clone, one folder wrapping them, or a drag-and-drop upload with every file at the
  top), grades them with the local runner (Gradescope's container is the sandbox) and
  writes ``/autograder/results/results.json``. If that Python cannot start or dies
  before writing, the script writes a ``results.json`` that says so with bash alone.

``MLSKILLS_AUTOGRADER_ROOT`` moves ``/autograder`` elsewhere, for testing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import stat
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import GraderError, SubmissionError
from grader.lab import Lab, find_lab
from grader.workspace import MAX_FILE_BYTES, resolve_submission, submission_files

__all__ = [
    "AUTOGRADER_ROOT_ENV",
    "CPYTHON_SOURCE",
    "Found",
    "find_submission",
    "main",
    "write_autograder_zip",
]

log = logging.getLogger(__name__)

AUTOGRADER_ROOT_ENV = "MLSKILLS_AUTOGRADER_ROOT"
_GRADER_DIR = Path(__file__).resolve().parent
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_STAMP = (1980, 1, 1, 0, 0, 0)  # a fixed date, so the same inputs give the same zip
# Folders an upload may carry that never hold the learner's work (macOS zips, clones).
_NOT_WORK = {"__MACOSX", ".git", *_SKIP_DIRS}
_SEARCH_DEPTH = 3  # how many wrapping folders deep the learner's files are looked for


@dataclass(frozen=True)
class _Source:
    version: str
    url: str
    sha256: str


# The upstream CPython tarball, as the Ubuntu archive carries it (noble's python3.12
# source package), so it comes from wherever the base image's apt already reaches.
CPYTHON_SOURCE = _Source(
    version="3.12.3",
    url="http://archive.ubuntu.com/ubuntu/pool/main/p/python3.12/python3.12_3.12.3.orig.tar.xz",
    sha256="56bfef1fdfc1221ce6720e43a661e3eb41785dd914ce99698d8c7896af4bdaa1",
)

_SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image. It puts a
# final-release CPython 3.11+ and this lab's packages into $root/venv, taking the first
# of these that works:
# - a Python 3.11+ the image already has, if it can make a venv;
# - the distribution's own final release and its venv package (Ubuntu 24.04:
#   python3.12 and python3.12-venv; without the latter, python3.12 cannot make a venv);
# - where the archive only has a pre-release (Ubuntu 22.04's python3.11 is 3.11.0rc1):
#   CPython {version} built from its source tarball, checked against its SHA-256, and
#   installed with "make altinstall" into {prefix}, leaving the system's python3 alone.
set -euo pipefail
root="${{{root_env}:-/autograder}}"
source_dir="$root/source"
export DEBIAN_FRONTEND=noninteractive

usable() {{  # a final release, 3.11 or newer, whose venv module works (Debian splits it out)
  "$1" -c 'import sys, ensurepip, venv
sys.exit(sys.version_info < (3, 11) or sys.version_info.releaselevel != "final")' 2>/dev/null
}}

find_python() {{
  local candidate path
  for candidate in {prefix}/bin/python{short} python3.13 python3.12 python3.11; do
    path="$(command -v "$candidate" 2>/dev/null)" || continue
    if usable "$path"; then echo "$path"; return 0; fi
  done
  return 1
}}

archive_python() {{  # the newest 3.11+ the archive has as a final release: "3.12", say
  local version candidate
  for version in 3.13 3.12 3.11; do
    candidate="$(apt-cache policy "python$version" 2>/dev/null | awk '/Candidate:/ {{print $2}}')"
    case "$candidate" in
      "" | "(none)" | *"~"*) continue ;;  # absent, or a pre-release such as 3.11.0~rc1
    esac
    echo "$version"
    return 0
  done
  return 1
}}

build_cpython() {{
  apt-get install -y -qq --no-install-recommends ca-certificates curl xz-utils gcc make \\
    libc6-dev pkg-config libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev \\
    libsqlite3-dev uuid-dev >/dev/null
  local work
  work="$(mktemp -d)"
  curl -fsSL --retry 3 -o "$work/python.tar.xz" "{url}"
  echo "{sha256}  $work/python.tar.xz" | sha256sum --check --quiet -
  tar -xJf "$work/python.tar.xz" -C "$work"
  echo "setup.sh: building CPython {version} from source; this takes a few minutes."
  if ! (cd "$work/Python-{version}" \\
        && ./configure --prefix={prefix} --with-ensurepip=install --disable-test-modules \\
        && make -j"$(nproc)" && make altinstall) >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    echo "setup.sh: building CPython {version} failed; the end of its log is above." >&2
    exit 1
  fi
  rm -rf "$work"
  # The modules the grader and the labs need, which a build skips when a library is missing.
  {prefix}/bin/python{short} -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid'
}}

if ! python="$(find_python)"; then
  apt-get update -qq
  if version="$(archive_python)"; then
    apt-get install -y -qq --no-install-recommends "python$version" "python$version-venv" \\
      >/dev/null
  else
    build_cpython
  fi
  python="$(find_python)" || {{
    echo "setup.sh: no final-release Python 3.11+ with venv could be installed." >&2
    exit 1
  }}
fi
echo "setup.sh: $("$python" -VV | head -n 1) at $python"
"$python" -m venv --clear "$root/venv"
"$root/venv/bin/python" -m pip install --quiet --disable-pip-version-check \\
  -c "$source_dir/constraints.txt" {packages}
# The grader must start in this venv: find out now, not on the first submission.
PYTHONPATH="$source_dir" "$root/venv/bin/python" -c 'import grader.cli, grader.gradescope'
"""

_RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission, as root. It grades $root/submission and
# always leaves a valid $root/results/results.json: if the grader's Python cannot start,
# or stops before it writes one, this script writes one that says so, with bash alone.
set -uo pipefail
root="${{{root_env}:-/autograder}}"
source_dir="$root/source"
python="${{MLSKILLS_PYTHON:-$root/venv/bin/python}}"
results="$root/results/results.json"
mkdir -p "$root/results"
rm -f "$results"
cd "$source_dir" || echo "run_autograder: $source_dir is missing" >&2
# As root, a sealed lab's tests and the learner's code run as two other users, as in the
# grader's own Docker sandbox.
if [ "$(id -u)" = 0 ]; then export MLSKILLS_SPLIT_USERS=1; fi
MLSKILLS_ROOT="$source_dir" PYTHONPATH="$source_dir" "$python" -m grader.gradescope {slug} \\
  --upload "$root/submission" --results "$results"{hidden}
code=$?
if [ ! -s "$results" ]; then
  if ! "$python" -c pass >/dev/null 2>&1; then
    echo "run_autograder: the grader's Python ($python) does not start:" >&2
    "$python" -c pass 2>&1 | tail -n 5 >&2
    why="its Python environment does not start"
  else
    echo "run_autograder: the grader exited with code $code before writing $results" >&2
    why="the grader stopped unexpectedly (exit code $code)"
  fi
  # A here-document, not printf: $why is fixed text and a number, so the JSON stays valid.
  cat >"$results" <<EOF
{{"score": 0, "output": "The autograder could not grade this submission: $why. This is a \\
fault in the autograder, not in your work; your instructor can read the details in the \\
autograder's log.", "output_format": "text", "visibility": "visible", \\
"stdout_visibility": "hidden", "tests": []}}
EOF
fi
exit 0
"""


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_STAMP)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _add_tree(archive: zipfile.ZipFile, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() or any(part in _SKIP_DIRS for part in rel.parts):
            continue
        if path.suffix == ".pyc":
            continue
        _add(archive, f"{prefix}/{rel.as_posix()}", path.read_bytes())


def setup_script(lab: Lab) -> str:
    """The ``setup.sh`` of ``lab``'s autograder."""
    # The CLI imports watchfiles (grader.watch); docker is only needed by its docker runner.
    packages = ["pytest", "rich", "watchfiles", *lab.image.python]
    short = ".".join(CPYTHON_SOURCE.version.split(".")[:2])
    return _SETUP.format(
        root_env=AUTOGRADER_ROOT_ENV,
        packages=shlex.join(packages),
        version=CPYTHON_SOURCE.version,
        short=short,
        url=CPYTHON_SOURCE.url,
        sha256=CPYTHON_SOURCE.sha256,
        prefix="/opt/mlskills-python",
    )


def write_autograder_zip(lab: Lab, dest: Path, *, hidden_tests: Path | None = None) -> Path:
    """Write the Gradescope autograder zip of ``lab`` to ``dest``."""
    constraints = _GRADER_DIR.parent / "constraints.txt"
    if not constraints.is_file():
        raise GraderError(
            f"{constraints} is missing; export from a checkout of the course repository."
        )
    if hidden_tests is not None and not hidden_tests.is_dir():
        raise GraderError(f"The hidden tests folder {hidden_tests} does not exist.")
    hidden = ' \\\n  --hidden-tests "$source_dir/hidden"' if hidden_tests is not None else ""
    run = _RUN.format(root_env=AUTOGRADER_ROOT_ENV, slug=shlex.quote(lab.slug), hidden=hidden)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(dest, "w") as archive:
            _add(archive, "setup.sh", setup_script(lab).encode(), executable=True)
            _add(archive, "run_autograder", run.encode(), executable=True)
            _add(archive, "constraints.txt", constraints.read_bytes())
            _add_tree(archive, _GRADER_DIR, "grader")
            _add_tree(archive, lab.root, f"labs/{lab.slug}")
            if hidden_tests is not None:
                _add_tree(archive, hidden_tests, "hidden")
    except OSError as exc:
        raise GraderError(
            f"Cannot write {dest} ({exc.strerror or exc}); pass --out with a path you can write."
        ) from None
    return dest


# --- In Gradescope's container: find the learner's files, grade, write results.json ------


@dataclass(frozen=True)
class Found:
    """The learner's files in an upload: lab-relative path → file."""

    files: dict[str, Path]
    folder: str  # where in the upload they were, "" for its top level


def _shown(upload: Path, path: Path) -> str:
    from grader.report import clean_text  # the report module is heavy; only this needs it

    return clean_text(path.relative_to(upload).as_posix())[:120]


def _declared(lab: Lab) -> list[str]:
    """The lab's submission files: the starter's files matching its globs, and its plain
    paths (a file the starter lacks may still be declared)."""
    plain = [p for p in lab.submission if not any(c in p for c in "*?[")]
    return sorted({*submission_files(lab, lab.root), *plain})


def _flat(lab: Lab, folder: Path) -> dict[str, Path]:
    """Declared files lying directly in ``folder``, as a drag-and-drop upload leaves them.

    ``netlab/client.py`` is found as ``client.py``; only names the lab declares count, so
    a learner's scratch file is never graded as a lab file. A name that two declared
    files share is left out: where it belongs is unknown.
    """
    places: dict[str, list[str]] = {}
    for rel in _declared(lab):
        parent, _, name = rel.rpartition("/")
        if parent:
            places.setdefault(name, []).append(rel)
    found: dict[str, Path] = {}
    for name, rels in places.items():
        path = folder / name
        if path.is_symlink():
            raise SubmissionError(
                f"{name} is a symlink; submissions may not contain symlinks. "
                "Replace it with the real file."
            )
        if len(rels) != 1 or not path.exists() or path.is_dir():
            continue
        if not stat.S_ISREG(path.lstat().st_mode):
            raise SubmissionError(f"{name} is not a regular file; submit plain files only.")
        found[rels[0]] = path
    return found


def _folders(upload: Path) -> list[list[Path]]:
    """The upload's folders by depth, its top level first; links are never followed."""
    levels, current = [], [upload]
    for _ in range(_SEARCH_DEPTH + 1):
        levels.append(current)
        current = [
            child
            for folder in current
            for child in sorted(folder.iterdir())
            if child.name not in _NOT_WORK
            and not child.is_symlink()
            and child.is_dir()
            and folder.name != "labs"
        ]
    return levels


def find_submission(lab: Lab, upload: Path) -> Found:
    """Find the learner's files in ``upload``, however the learner laid it out.

    The shallowest folder that holds any of the lab's submission files wins, either in
    the lab's own layout (``netlab/client.py``, or a whole clone's ``labs/<slug>/``) or
    flat (``client.py``). Where both forms are there, a file in the lab's layout wins.
    Two folders at the same depth are ambiguous, and nothing found at all is an error:
    both raise :class:`SubmissionError` with a sentence for the learner.
    """
    if not upload.is_dir():
        raise SubmissionError("The submission folder is missing; upload your files again.")
    for level in _folders(upload):
        hits = []
        for folder in level:
            tree = resolve_submission(lab, folder)
            files = {**_flat(lab, tree), **submission_files(lab, tree)}
            if files:
                hits.append(Found(files, "" if tree == upload else _shown(upload, tree)))
        if len(hits) > 1:
            where = ", ".join(f"{hit.folder}/" for hit in hits[:4])
            raise SubmissionError(
                f"Your upload holds the lab's files in more than one folder ({where}); "
                "upload one copy of your work."
            )
        if hits:
            return hits[0]
    expected = ", ".join(_declared(lab))
    names = [
        _shown(upload, p) + ("/" if p.is_dir() and not p.is_symlink() else "")
        for p in sorted(upload.iterdir())
    ]
    more = ", …" if len(names) > 10 else ""
    held = (
        f"Your upload holds: {', '.join(names[:10])}{more}." if names else "Your upload is empty."
    )
    raise SubmissionError(
        f"None of the lab's files was found in your upload. Upload {expected}, either in "
        f"those folders or all at the top level of the upload. {held}"
    )


def _stage(found: Found, dest: Path) -> None:
    """Copy the found files into ``dest`` in the lab's layout; the workspace checks them
    again, as for any submission."""
    for rel, path in found.files.items():
        size = path.lstat().st_size
        if size > MAX_FILE_BYTES:
            cap = MAX_FILE_BYTES // 1024 // 1024
            raise SubmissionError(
                f"{rel} is over {cap} MB; submission files may be at most {cap} MB each."
            )
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target, follow_symlinks=False)


def _note(lab: Lab, found: Found) -> str:
    """What the learner should know about which files were graded."""
    lines = []
    where = f" (found in {found.folder}/)" if found.folder else ""
    lines.append(f"Graded from your upload{where}: {', '.join(sorted(found.files))}.")
    missing = sorted(set(submission_files(lab, lab.root)) - set(found.files))
    if missing:
        lines.append(
            f"Not in your upload, so the starter's version was graded: {', '.join(missing)}."
        )
    return "\n".join(lines)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``path`` whole or not at all: run_autograder takes any file there as done."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _refusal(lab: Lab, reason: str, upload: Path) -> dict[str, Any]:
    from grader import report

    return report.to_gradescope(report.ungraded_report(lab, reason, runner="local", paths=[upload]))


def _grade(lab: Lab, upload: Path, hidden_tests: Path | None) -> dict[str, Any]:
    from grader import cli  # imports the whole grader: only when grading

    try:
        found = find_submission(lab, upload)
    except SubmissionError as exc:
        return _refusal(lab, str(exc), upload)
    with tempfile.TemporaryDirectory(prefix="mlskills-upload-") as tmp:
        staged, graded = Path(tmp) / "submission", Path(tmp) / "results.json"
        try:
            _stage(found, staged)
        except SubmissionError as exc:
            return _refusal(lab, str(exc), upload)
        hidden = [] if hidden_tests is None else ["--hidden-tests", str(hidden_tests)]
        argv = ["grade", lab.slug, "--runner", "local", "--submission", str(staged)]
        cli.main([*argv, "--gradescope", str(graded), *hidden])
        data: dict[str, Any] = json.loads(graded.read_text(encoding="utf-8"))
    data["output"] = f"{data.get('output', '')}\n\n{_note(lab, found)}".strip()
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Grade a Gradescope upload and write its ``results.json``; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope")
    parser.add_argument("slug")
    parser.add_argument("--upload", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--hidden-tests", type=Path)
    args = parser.parse_args(argv)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    try:
        lab = find_lab(args.slug)
        data = _grade(lab, args.upload, args.hidden_tests)
    except Exception:  # a crash still leaves a results.json; the traceback goes to the log
        log.exception("grading crashed")
        data = {
            "score": 0,
            "output": (
                "The autograder could not grade this submission: it crashed. This is a "
                "fault in the autograder, not in your work; your instructor can read the "
                "details in the autograder's log."
            ),
            "output_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [],
        }
    _write_json(args.results, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
