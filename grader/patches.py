"""Unified diffs of a lab's files: written with :mod:`difflib`, applied with ``git apply``.

A mutant is stored as a patch against the reference solution, so a reviewer sees its one
mistake in a few lines, and a solution that changes under it is caught: ``git apply``
takes no fuzz, so a patch whose context no longer matches is refused (:class:`StalePatch`)
instead of being laid over code it was never written against.

Paths in a patch are lab-relative with git's ``a/`` and ``b/`` prefixes::

    --- a/netlab/client.py
    +++ b/netlab/client.py
    @@ -40,7 +40,7 @@
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from grader.errors import GraderError

__all__ = ["StalePatch", "apply_patch", "make_patch", "patched_paths"]

_HEADER = re.compile(r"^(?:---|\+\+\+) (?:[ab]/(?P<path>\S+)|/dev/null)(?:\t.*)?$")
_NO_NEWLINE = "\\ No newline at end of file\n"


class StalePatch(GraderError):
    """A patch that does not apply, without fuzz, to the files it was written against."""


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True) if path.is_file() else []


def _file_diff(rel: str, old: list[str], new: list[str]) -> str:
    out = []
    for line in difflib.unified_diff(
        old,
        new,
        fromfile=f"a/{rel}" if old else "/dev/null",
        tofile=f"b/{rel}" if new else "/dev/null",
        n=3,
    ):
        if line.startswith(("---", "+++")):
            out.append(line if line.endswith("\n") else line + "\n")
        elif line.endswith("\n"):
            out.append(line)
        else:  # the last line of a file without a final newline, as diff -u marks it
            out.append(line + "\n" + _NO_NEWLINE)
    return "".join(out)


def make_patch(base: Path, edited: Path, files: Iterable[str]) -> str:
    """A unified diff taking ``base``'s ``files`` to ``edited``'s ('' if none differ)."""
    return "".join(
        _file_diff(rel, _lines(base / rel), _lines(edited / rel)) for rel in sorted(files)
    )


def patched_paths(text: str) -> tuple[str, ...]:
    """The lab-relative paths a patch touches, in order; ``()`` if it has no file header."""
    paths: list[str] = []
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match and match["path"] and match["path"] not in paths:
            paths.append(match["path"])
    return tuple(paths)


def apply_patch(patch: Path, dest: Path) -> None:
    """Apply ``patch`` to the files under ``dest``, exactly (no fuzz), or raise StalePatch."""
    git = shutil.which("git")
    if git is None:
        raise GraderError("Applying a mutant's patch needs git; install git and run it again.")
    # No repository above dest may change how paths are read: dest is the whole tree.
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(dest.resolve().parent)}
    proc = subprocess.run(
        [git, "apply", "--whitespace=nowarn", "-p1", str(patch.resolve())],
        cwd=dest,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        why = " ".join(proc.stderr.split()) or f"git apply exited {proc.returncode}"
        raise StalePatch(f"{patch} does not apply to the solution: {why}")
