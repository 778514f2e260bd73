"""A lab's Python packages on this machine, installed the first time the lab runs locally.

``make setup`` installs only the grader. The Docker runner needs nothing more on the host
(each lab image holds its own packages), so a lab's packages are added to the grader's
environment the first time that lab is graded with the local runner, pinned by the
repository's ``constraints.txt``. pyspark alone is about 500 MB: a learner who only does
the networking lab never downloads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

from grader.lab import Lab, repo_root

__all__ = ["NO_INSTALL_ENV", "ensure_packages", "missing_packages"]

NO_INSTALL_ENV = "MLSKILLS_NO_INSTALL"  # "1": report missing packages, never install them


def _distribution_name(requirement: str) -> str:
    """'moto[server]' -> 'moto'; 'pyspark>=4' -> 'pyspark'."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    return match.group(0) if match else requirement.strip()


def missing_packages(lab: Lab) -> list[str]:
    """The requirements of ``lab`` (``[image] python``) not installed in this interpreter."""
    missing = []
    for requirement in lab.image.python:
        try:
            metadata.distribution(_distribution_name(requirement))
        except metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """Two local gradings at once (a batch with -j 2) install one after the other."""
    path = Path(sys.prefix) / ".mlskills-install.lock"
    try:
        handle = path.open("a")
    except OSError:  # a read-only environment: nothing to serialise, pip will say why
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_packages(lab: Lab, *, announce: Callable[[str], None]) -> str:
    """Install what ``lab`` lacks; '' when all is there, otherwise why it cannot be.

    ``announce`` gets one line saying what is being installed and why, before pip runs.
    """
    missing = missing_packages(lab)
    if not missing:
        return ""
    names = ", ".join(missing)
    command = f"{sys.executable} -m pip install -c constraints.txt {' '.join(missing)}"
    constraints = repo_root() / "constraints.txt"
    if os.environ.get(NO_INSTALL_ENV) == "1" or not constraints.is_file():
        return (
            f"The {lab.slug} lab needs Python packages this environment lacks: {names}. "
            f"Install them ({command}), or grade with --runner docker, whose image has them."
        )
    with _install_lock():
        missing = missing_packages(lab)  # another grading may have installed them meanwhile
        if not missing:
            return ""
        announce(
            f"Installing the {lab.slug} lab's packages ({', '.join(missing)}) into "
            f"{sys.prefix}: the first local grade of a lab adds what it needs."
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                # pip compiles every module now: the suites run with
                # PYTHONDONTWRITEBYTECODE=1, so nothing would write a .pyc later.
                "-c",
                str(constraints),
                *missing,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        cause = lines[-1].strip() if lines else f"pip exited with {proc.returncode}"
        return (
            f"Could not install the {lab.slug} lab's packages ({names}): {cause}. "
            f"Try it by hand: {command}; or grade with --runner docker."
        )
    return ""
