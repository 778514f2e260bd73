"""Run the suite in a subprocess on the host: fast, and no isolation at all.

The judge and the learner's workers run as you: a sealed lab's tests still reach the
learner's code only through a worker process, so they behave as in the sandbox, but
nothing stops that code from reading or writing anything you can.

Where the host itself is a throwaway container run as root (Gradescope's, or the
compose ``grader`` service), ``MLSKILLS_SPLIT_USERS=1`` starts the judge and the workers
as two other users through the same supervisor as the docker runner, so a sealed lab's
grade cannot be written by the learner's code there either.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from grader.boundary.protocol import JOB_ENV
from grader.errors import RunnerUnavailable
from grader.images import JUDGE_UID, LEARNER_UID
from grader.install import ensure_packages, java_problem
from grader.lab import Lab
from grader.runners.base import OutputCapture, RunOutcome, RunRequest, echo_to_stderr
from grader.workspace import Workspace, grading_env, pytest_command, supervised

__all__ = ["LocalRunner"]

SPLIT_ENV = "MLSKILLS_SPLIT_USERS"
SPLIT_USERS = (
    "The local runner started the tests and your code as two other users on this machine "
    "(MLSKILLS_SPLIT_USERS=1), without a container's limits."
)
NO_ISOLATION = "The local runner gives no isolation: the code ran as you, on this machine."
# Variables that would let the host's settings change what the suite does.
_DROPPED = (
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTHONHOME",
    "VIRTUAL_ENV_PROMPT",
)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _kill_job(token: str) -> None:
    """Kill every process that carries this run's token: the learner's workers start
    sessions of their own, so the judge's process group does not hold them."""
    marker = f"{JOB_ENV}={token}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                found = marker in handle.read().split(b"\0")
        except OSError:
            continue
        if found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry), signal.SIGKILL)


def missing_tools(lab: Lab) -> str:
    """A sentence naming what this machine lacks to run ``lab``'s suite, or ''.

    Checked before anything runs: a missing runtime is the machine's problem, never the
    learner's failure. The lab images always have these.
    """
    if problem := java_problem(lab):  # Java as Spark's launcher finds it
        return problem
    absent = [c for c in lab.image.commands if shutil.which(c) is None]
    if absent:
        them = "them" if len(absent) > 1 else "it"
        packages = " ".join(lab.image.debian) or f"the package that provides {them}"
        return (
            f"The {lab.slug} lab's tests run {', '.join(absent)}, which this machine does not "
            f"have on PATH. Install {them} (Debian or Ubuntu: sudo apt-get install {packages}), "
            f"or grade with --runner docker, whose image has {them}."
        )
    return ""


def reachable_by_others(path: Path) -> bool:
    """Whether a user who is neither the owner nor in the group can run ``path``."""
    target = path.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in (target, *target.parents))


def _split_users(workspace: Workspace, python: str) -> str:
    """'' when the users can be split for this run, otherwise why not ('-' if not asked)."""
    if os.environ.get(SPLIT_ENV) != "1" or not workspace.sealed:
        return "-"
    if os.geteuid() != 0:
        raise RunnerUnavailable(
            f"{SPLIT_ENV}=1 starts the tests and your code as two other users, which needs "
            "root; run as root in a throwaway container, or unset it."
        )
    if not reachable_by_others(Path(python)):
        return (
            f"{SPLIT_ENV}=1 was ignored: other users cannot run {python}, so the "
            "tests and your code ran as one user."
        )
    return ""


def _hand_over(folder: Path, uid: int) -> Path:
    folder.mkdir(exist_ok=True)
    os.chown(folder, uid, uid)
    os.chmod(folder, 0o700)
    return folder


def _prepare_split(workspace: Workspace) -> tuple[Path, Path]:
    """Permissions for two users: the judge's folders are its own and closed to everyone
    else; the learner's code and the grader's files are readable, and nothing is writable.

    Returns the judge's results folder and its temporary folder.
    """
    for folder in (workspace.root.parent, workspace.root):
        os.chmod(folder, 0o711)  # passable, not listable (the temporary folder is 0700)
    _hand_over(workspace.judge_dir, JUDGE_UID)
    private = workspace.root / "judge-private"
    private.mkdir()
    os.chmod(private, 0o711)
    return _hand_over(private / "results", JUDGE_UID), _hand_over(private / "tmp", JUDGE_UID)


class LocalRunner:
    name = "local"

    def __init__(self, notice: str = "", *, python: str = sys.executable) -> None:
        self.notice = notice
        self.python = python  # runs pytest (and, with split users, the supervisor)

    def run(self, request: RunRequest) -> RunOutcome:
        workspace = request.workspace
        missing = missing_tools(request.lab)
        if not missing and self.python == sys.executable:
            missing = ensure_packages(request.lab, announce=_announce, check_java=False)
        if missing:
            return RunOutcome(
                runner=self.name,
                exit_code=None,
                results=None,
                output="",
                duration_s=0.0,
                error=missing,
            )
        why_not = _split_users(workspace, self.python)
        split = not why_not
        if split:
            results_dir, judge_tmp = _prepare_split(workspace)
            notices: tuple[str, ...] = (SPLIT_USERS,)
        else:
            results_dir = Path(tempfile.mkdtemp(prefix="mlskills-results-"))
            notices = (why_not.strip("-"), NO_ISOLATION)
            # The suite's and the workers' temporary files (a worker's HOME among them) go
            # under the folder removed below: a run cut short by Ctrl-C or the time limit
            # kills the workers before they can clean up after themselves.
            run_tmp = results_dir / "tmp"
            run_tmp.mkdir()
        notices = tuple(n for n in (self.notice, *notices) if n)
        results_path = results_dir / f"{secrets.token_hex(16)}.jsonl"
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _DROPPED and not k.startswith("MLSKILLS_")
        }
        if not split:
            env["TMPDIR"] = str(run_tmp)
        token = secrets.token_hex(8)
        env[JOB_ENV] = token
        env.update(
            grading_env(
                grader_dir=str(workspace.grader_dir),
                judge_dir=str(workspace.judge_dir),
                learner_dir=str(workspace.learner_dir),
                results=str(results_path),
            )
        )
        command = pytest_command(
            self.python,
            str(workspace.grader_dir),
            str(workspace.judge_dir),
            request.tasks,
            fail_fast=request.fail_fast,
        )
        cwd = workspace.judge_dir
        if split:
            command = supervised(
                command,
                env,
                python=self.python,
                grader_dir=str(workspace.grader_dir),
                judge_dir=str(workspace.judge_dir),
                learner_dir=str(workspace.learner_dir),
                judge_tmp=str(judge_tmp),
                judge_uid=JUDGE_UID,
                learner_uid=LEARNER_UID,
                max_file_mb=request.lab.limits.memory_mb // 2,
            )
            cwd = workspace.root
        # Removed however the run ends, Ctrl-C included (a split run's results are in the
        # workspace, removed with it).
        try:
            capture = OutputCapture(echo=echo_to_stderr if request.live else None)
            started = time.monotonic()
            timed_out = False
            proc = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a timeout kills it all
            )
            assert proc.stdout is not None
            reader = threading.Thread(target=_pump, args=(proc.stdout, capture), daemon=True)
            reader.start()
            try:
                proc.wait(timeout=request.lab.limits.time_limit_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)  # also reaps servers the suite left running
                proc.wait()
                _kill_job(token)
                reader.join(timeout=5)
                proc.stdout.close()
            try:
                results = results_path.read_text(encoding="utf-8")
            except FileNotFoundError:
                results = None
        finally:
            if not split:
                shutil.rmtree(results_dir, ignore_errors=True)
        return RunOutcome(
            runner=self.name,
            exit_code=None if timed_out else proc.returncode,
            results=results,
            output=capture.text(),
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            notices=notices,
        )


def _announce(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _pump(stream: IO[bytes], capture: OutputCapture) -> None:
    while chunk := stream.read1(65536):  # type: ignore[attr-defined]
        capture.feed(chunk)
