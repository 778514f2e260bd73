"""Package a lab as a Gradescope autograder: ``python -m grader export-gradescope <slug>``.

The zip holds what Gradescope's spec asks for at its top level, ``setup.sh`` (run once
when Gradescope builds its image) and ``run_autograder`` (run for each submission), plus
this grader, the pristine lab and ``constraints.txt``. ``run_autograder`` grades
``/autograder/submission`` with the local runner (Gradescope's own container is the
sandbox) and writes ``/autograder/results/results.json`` through ``--gradescope``.
``MLSKILLS_AUTOGRADER_ROOT`` moves ``/autograder`` elsewhere, for testing.
"""

from __future__ import annotations

import shlex
import zipfile
from pathlib import Path

from grader.errors import GraderError
from grader.lab import Lab

__all__ = ["AUTOGRADER_ROOT_ENV", "write_autograder_zip"]

AUTOGRADER_ROOT_ENV = "MLSKILLS_AUTOGRADER_ROOT"
_GRADER_DIR = Path(__file__).resolve().parent
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_STAMP = (1980, 1, 1, 0, 0, 0)  # a fixed date, so the same inputs give the same zip

_SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image: Python 3.11+
# and the packages this lab's tests need go into /autograder/venv.
set -euo pipefail
cd "$(dirname "$0")"
python=""
for candidate in python3.13 python3.12 python3.11; do
  if command -v "$candidate" >/dev/null; then python="$candidate"; break; fi
done
if [ -z "$python" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv
  python=python3.11
fi
"$python" -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --upgrade pip
/autograder/venv/bin/pip install --quiet -c constraints.txt {packages}
"""

_RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission. The grader grades {root}/submission with
# the local runner (this container is the sandbox) and writes results.json.
set -uo pipefail
root="${{{root_env}:-/autograder}}"
source_dir="$root/source"
python="${{MLSKILLS_PYTHON:-$root/venv/bin/python}}"
results="$root/results/results.json"
mkdir -p "$root/results"
rm -f "$results"
errors="$(mktemp)"
cd "$source_dir"
# Gradescope runs this as root: a sealed lab's tests and the learner's code then run as
# two other users, as in the grader's own Docker sandbox.
if [ "$(id -u)" = 0 ]; then export MLSKILLS_SPLIT_USERS=1; fi
MLSKILLS_ROOT="$source_dir" PYTHONPATH="$source_dir" "$python" -m grader grade {slug} \\
  --runner local --submission "$root/submission" --gradescope "$results"{hidden} 2>"$errors"
cat "$errors" >&2
if [ ! -s "$results" ]; then
  # A refusal writes its own results.json, so the grader crashed: the learner gets a
  # sentence, and the traceback, which names this machine's paths, stays in the log.
  cat >"$results" <<'EOF'
{{"score": 0, "visibility": "visible", "output_format": "text", "tests": [],
 "output": "The autograder crashed before grading this submission; the instructor has its log."}}
EOF
fi
rm -f "$errors"
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


def write_autograder_zip(lab: Lab, dest: Path, *, hidden_tests: Path | None = None) -> Path:
    """Write the Gradescope autograder zip of ``lab`` to ``dest``."""
    constraints = _GRADER_DIR.parent / "constraints.txt"
    if not constraints.is_file():
        raise GraderError(
            f"{constraints} is missing; export from a checkout of the course repository."
        )
    if hidden_tests is not None and not hidden_tests.is_dir():
        raise GraderError(f"The hidden tests folder {hidden_tests} does not exist.")
    # The CLI imports watchfiles (grader.watch); docker is only needed by its docker runner.
    packages = ["pytest", "rich", "watchfiles", *lab.image.python]
    hidden = ' \\\n  --hidden-tests "$source_dir/hidden"' if hidden_tests is not None else ""
    run = _RUN.format(
        root="/autograder", root_env=AUTOGRADER_ROOT_ENV, slug=shlex.quote(lab.slug), hidden=hidden
    )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(dest, "w") as archive:
            _add(
                archive,
                "setup.sh",
                _SETUP.format(packages=shlex.join(packages)).encode(),
                executable=True,
            )
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
