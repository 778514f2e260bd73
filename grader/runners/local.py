"""Run the suite in a subprocess on the host: fast, and no isolation at all.

The judge and the learner's workers run as you: a sealed lab's tests still reach the
learner's code only through a worker process, so they behave as in the sandbox, but
nothing stops that code from reading or writing anything you can.
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

from grader.runners.base import OutputCapture, RunOutcome, RunRequest
from grader.workspace import grading_env, pytest_command

__all__ = ["LocalRunner"]

JOB_ENV = "MLSKILLS_JOB"  # inherited by the judge, its workers and their children
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


class LocalRunner:
    name = "local"

    def __init__(self, notice: str = "") -> None:
        self.notices = tuple(n for n in (notice, NO_ISOLATION) if n)

    def run(self, request: RunRequest) -> RunOutcome:
        workspace = request.workspace
        results_dir = Path(tempfile.mkdtemp(prefix="mlskills-results-"))
        results_path = results_dir / f"{secrets.token_hex(16)}.jsonl"
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _DROPPED and not k.startswith("MLSKILLS_")
        }
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
        capture = OutputCapture()
        started = time.monotonic()
        timed_out = False
        proc = subprocess.Popen(
            pytest_command(
                sys.executable, str(workspace.grader_dir), str(workspace.judge_dir), request.tasks
            ),
            cwd=workspace.judge_dir,
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
            shutil.rmtree(results_dir, ignore_errors=True)
        return RunOutcome(
            runner=self.name,
            exit_code=None if timed_out else proc.returncode,
            results=results,
            output=capture.text(),
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            notices=self.notices,
        )


def _pump(stream: IO[bytes], capture: OutputCapture) -> None:
    while chunk := stream.read1(65536):  # type: ignore[attr-defined]
        capture.feed(chunk)
