"""A lab's Python packages on this machine, installed the first time the lab runs locally.

Where ``uv`` is at hand and ``MLSKILLS_LAB_ENVS=1`` (``make grade`` and ``./mlskills`` set
it), a local grade runs in the lab's own environment, ``.venv/labs/<slug>``: the grader and
exactly the lab's packages, as its image has them, so an import the image lacks fails
locally too. uv makes these environments cheap (hard links from one cache). Without uv,
or with the variable unset, the packages go into the grader's own environment as below.

``make setup`` installs only the grader. The Docker runner needs nothing more on the host
(each lab image holds its own packages), so a lab's packages are added to the grader's
environment the first time that lab is graded with the local runner, pinned by the
repository's ``constraints.txt``. pyspark alone is about 500 MB: a learner who only does
the networking lab never downloads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

from grader.errors import GraderError
from grader.lab import Lab, find_lab, repo_root

__all__ = [
    "LAB_ENVS_ENV",
    "NO_INSTALL_ENV",
    "ensure_lab_env",
    "ensure_packages",
    "install_missing",
    "java_problem",
    "lab_env_python",
    "missing_packages",
    "missing_requirements",
    "regrade_in_lab_env",
    "regrade_there_if_local",
]

NO_INSTALL_ENV = "MLSKILLS_NO_INSTALL"  # "1": report missing packages, never install them
LAB_ENVS_ENV = "MLSKILLS_LAB_ENVS"  # "1": grade locally in the lab's own environment
_INSIDE_ENV = "MLSKILLS_IN_LAB_ENV"  # set to the slug in the grader re-run inside it
_STAMP = ".mlskills-lab-env"


def _distribution_name(requirement: str) -> str:
    """'moto[server]' -> 'moto'; 'pyspark>=4' -> 'pyspark'."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    return match.group(0) if match else requirement.strip()


def missing_packages(lab: Lab) -> list[str]:
    """The requirements of ``lab`` (``[image] python``) not installed in this interpreter."""
    return missing_requirements(lab.image.python)


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


JAVA_MINIMUM = 17  # Spark 4's
_INSTALL_JAVA = (
    "Install one (Debian or Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: "
    "brew install openjdk@17), or grade with --runner docker, whose image has one."
)


def _java_major(java: str) -> int | None:
    """The major version ``java -version`` reports, or None when it does not run."""
    try:
        proc = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if proc.returncode != 0 or match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def java_problem(lab: Lab, environ: dict[str, str] | None = None) -> str:
    """A sentence when Spark (in ``lab``'s packages) would find no usable Java, or ''.

    Java is looked for as Spark's own launcher (``bin/spark-class``) does: ``JAVA_HOME``
    first, and ``java`` on ``PATH`` only when ``JAVA_HOME`` is unset or empty. A stale
    ``JAVA_HOME`` fails Spark even with a good ``java`` on ``PATH``, so it fails here too.
    """
    if not any(_distribution_name(r) == "pyspark" for r in lab.image.python):
        return ""
    env = os.environ if environ is None else environ
    home = env.get("JAVA_HOME", "")
    on_path = shutil.which("java", path=env.get("PATH"))
    needs = f"The {lab.slug} lab runs Spark, which needs Java {JAVA_MINIMUM} or newer"
    if home:
        java = str(Path(home) / "bin" / "java")
        major = _java_major(java)
        if major is None:
            fix = (
                f"unset JAVA_HOME (Spark will then use {on_path})"
                if on_path and _java_major(on_path)
                else _INSTALL_JAVA
            )
            return (
                f"{needs}, and Spark takes it from JAVA_HOME before PATH: JAVA_HOME is "
                f"{home}, where {java} does not run. Point JAVA_HOME at a Java "
                f"{JAVA_MINIMUM} installation, or {fix}"
            ).rstrip(".") + "."
        source = f"JAVA_HOME ({home})"
    elif on_path:
        java, source = on_path, f"PATH ({on_path})"
        major = _java_major(java)
        if major is None:
            return f"{needs}, and the java on PATH ({on_path}) does not run. {_INSTALL_JAVA}"
    else:
        return (
            f"{needs}, and this machine has none (no JAVA_HOME, no java on PATH). {_INSTALL_JAVA}"
        )
    if major < JAVA_MINIMUM:
        return f"{needs}; the one Spark would use, from {source}, is Java {major}. {_INSTALL_JAVA}"
    return ""


def ensure_packages(lab: Lab, *, announce: Callable[[str], None], check_java: bool = True) -> str:
    """Install what ``lab`` lacks; '' when all is there, otherwise why it cannot be.

    ``announce`` gets one line saying what is being installed and why, before pip runs.
    A Java that Spark could not use is said first: installing pyspark would not help
    (``check_java=False`` where the caller has just checked it).
    """
    if check_java and (problem := java_problem(lab)):
        return problem
    return install_missing(
        lambda: missing_packages(lab),
        needs=f"The {lab.slug} lab needs",
        what=f"the {lab.slug} lab's packages",
        why="the first local grade of a lab adds what it needs",
        otherwise="grade with --runner docker, whose image has them",
        announce=announce,
    )


def missing_requirements(requirements: tuple[str, ...]) -> list[str]:
    """The ``requirements`` not installed in this interpreter."""
    missing = []
    for requirement in requirements:
        try:
            metadata.distribution(_distribution_name(requirement))
        except metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def install_missing(
    missing_now: Callable[[], list[str]],
    *,
    needs: str,
    what: str,
    why: str,
    otherwise: str,
    announce: Callable[[str], None],
) -> str:
    """pip-install what ``missing_now()`` names, pinned by constraints.txt, once at a time;
    '' when all is there, otherwise a sentence saying why not and what to run."""
    missing = missing_now()
    if not missing:
        return ""
    names = ", ".join(missing)
    command = f"{sys.executable} -m pip install -c constraints.txt {' '.join(missing)}"
    constraints = repo_root() / "constraints.txt"
    if os.environ.get(NO_INSTALL_ENV) == "1" or not constraints.is_file():
        return (
            f"{needs} Python packages this environment lacks: {names}. "
            f"Install them ({command}), or {otherwise}."
        )
    with _install_lock():
        missing = missing_now()  # another grading may have installed them meanwhile
        if not missing:
            return ""
        announce(f"Installing {what} ({', '.join(missing)}) into {sys.prefix}: {why}.")
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
            f"Could not install {what} ({names}): {cause}. "
            f"Try it by hand: {command}; or {otherwise}."
        )
    return ""


# -- a lab's own environment -------------------------------------------------------------


_PROJECT = Path(__file__).resolve().parent.parent  # the grader's own checkout
# What every lab image has besides the lab's packages (grader.images.ALWAYS), and
# watchfiles, which make watch needs in the grader's process.
_IMAGE_ALWAYS = ("pytest", "rich", "watchfiles")


def lab_env_python(lab: Lab) -> Path:
    """Inside the grader's environment (``.venv/labs/<slug>``), git-ignored with it."""
    return Path(sys.prefix) / "labs" / lab.slug / "bin" / "python"


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"  # make setup installs it into .venv
    return str(beside) if beside.is_file() else shutil.which("uv")


def _env_key(lab: Lab) -> str:
    """What a lab's environment is made from: its packages and the project's pins."""
    made_of = ["recipe 3", *_IMAGE_ALWAYS, *sorted(lab.image.python)]
    digest = hashlib.sha256("\n".join(made_of).encode())
    for name in ("constraints.txt", "pyproject.toml"):
        path = _PROJECT / name
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def ensure_lab_env(lab: Lab, *, announce: Callable[[str], None]) -> tuple[Path | None, str]:
    """``lab``'s own environment, made or brought up to date with uv: (its python, '') or
    (None, why not). It holds what the lab's image holds (pytest, rich and the lab's
    packages, pinned by constraints.txt), the grader (editable, without its dependencies)
    and watchfiles."""
    uv = _uv()
    python = lab_env_python(lab)
    env_dir = python.parent.parent
    key = _env_key(lab)
    stamp = env_dir / _STAMP

    def current() -> bool:
        return python.is_file() and stamp.is_file() and stamp.read_text("utf-8") == key

    if current():
        return python, ""
    if uv is None:
        return None, "uv is not installed (make setup installs it into .venv)"
    quiet = {"capture_output": True, "text": True, "check": False}
    base = getattr(sys, "_base_executable", sys.executable)
    install = [uv, "pip", "install", "--quiet", "--python", str(python)]
    steps = [
        [uv, "venv", "--quiet", "--python", base, str(env_dir)],
        [
            *install,
            "--compile-bytecode",  # suites run with PYTHONDONTWRITEBYTECODE=1
            "-c",
            str(_PROJECT / "constraints.txt"),
            *_IMAGE_ALWAYS,
            *lab.image.python,
        ],
        # The grader without its own dependencies: the Docker SDK (and requests with it)
        # is not in the image, so it is not here either.
        [*install, "--no-deps", "-e", str(_PROJECT)],
    ]
    with _install_lock():
        if current():  # another grade made it while this one waited
            return python, ""
        announce(
            f"Making the {lab.slug} lab's own environment ({env_dir}: the grader and "
            f"{', '.join(lab.image.python)}, as the lab's image has them)."
        )
        # Made again from nothing, so a package the lab no longer needs does not stay.
        shutil.rmtree(env_dir, ignore_errors=True)
        for step in steps:
            proc = subprocess.run(step, **quiet)  # type: ignore[call-overload]
            if proc.returncode != 0:
                lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
                cause = lines[-1].strip() if lines else f"uv exited with {proc.returncode}"
                return None, f"Could not make the {lab.slug} lab's environment: {cause}"
        stamp.write_text(key, encoding="utf-8")
        # pyspark comes only as a source archive, and uv keeps a new build of it for every
        # environment (1.4 GB each): drop what no environment links to any more.
        subprocess.run([uv, "cache", "prune", "--quiet"], **quiet)  # type: ignore[call-overload]
    return python, ""


def regrade_in_lab_env(
    lab: Lab, *, local: bool, argv: list[str], announce: Callable[[str], None]
) -> str:
    """Run this grader command again in ``lab``'s own environment, when the grade is local
    and ``MLSKILLS_LAB_ENVS=1``. Does not return when it does; otherwise returns why not
    ('' when it simply does not apply), and the grade goes on here."""
    wanted = os.environ.get(LAB_ENVS_ENV) == "1" and local and bool(lab.image.python)
    if not wanted or os.environ.get(_INSIDE_ENV) == lab.slug:
        return ""
    python, problem = ensure_lab_env(lab, announce=announce)
    if python is None:
        return problem
    env = {**os.environ, _INSIDE_ENV: lab.slug}
    os.execve(str(python), [str(python), "-m", "grader", *argv], env)


def regrade_there_if_local(
    slug: str | None, runner: str, argv: list[str], *, announce: Callable[[str], None]
) -> None:
    """For ``grade`` and ``watch``: when this grade of ``slug`` will run locally (``runner``
    is local, or auto with no Docker engine), run it in the lab's own environment
    (:func:`regrade_in_lab_env`). A lab it cannot be made for is graded here, with a note."""
    if os.environ.get(LAB_ENVS_ENV) != "1" or not slug or os.environ.get(_INSIDE_ENV) == slug:
        return
    try:
        lab = find_lab(slug)
    except GraderError:
        return  # the grade itself says why
    if runner == "docker" or not lab.image.python:
        return
    if runner == "auto":
        from grader.runners.select import docker_problem  # the runners import this module

        if docker_problem() is None:
            return
    problem = regrade_in_lab_env(lab, local=True, argv=argv, announce=announce)
    if problem:
        announce(f"{problem}; grading in the grader's own environment instead.")
