"""The judge for many submissions of one lab in one process: each is a pytest session.

    python -m mlskills_boundary.bulk --status FILE --results-prefix PREFIX \\
        --time-limit 240 --root /grading/workspace/lab-0 --root ... -- <pytest arguments>

Used for mutants (``grader check --mutants``): all the mutants of one task are graded in
one container, so the judge's imports (pytest, the lab's libraries, the collection) are
paid once, not once per mutant. Each submission is still graded on its own:

- its own pytest session, so every session fixture (servers, stores, the ``learner``
  fixture and so its worker) is built afresh and torn down after it;
- the test modules and conftests are imported again (they are dropped from
  ``sys.modules`` between sessions), and the environment is restored;
- its worker starts in its own folder (``MLSKILLS_LEARNER_ROOT``), and between sessions
  the supervisor kills every process of the learner's user and removes its files from
  ``/tmp``;
- its own results file (``PREFIX-<n>.jsonl``), written by the grader's plugin.

A line per submission in ``--status`` says when its session started and how it ended
(``done`` with pytest's exit code, or ``timeout``). A session past ``--time-limit`` ends
the whole process, as a time limit ends a single grade: the grader reads what finished
and grades the rest in a new container. Only a sealed lab's suite may run here: its
tests never import the learner's code, so no submission's code runs in this process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from .fixture import _SUPERVISOR_LOCK, supervisor_socket
from .protocol import ROOT_ENV

RESULTS_ENV = "MLSKILLS_RESULTS"  # the grader's plugin reads (and removes) it
MARKER = "=== mlskills bulk submission {} ==="


def _drop_modules(folders: list[str]) -> None:
    """Forget the modules imported from ``folders`` (the tests), so the next session
    imports them afresh; libraries stay imported, which is the point of this module."""
    prefixes = tuple(str(Path(f).resolve()) + os.sep for f in folders)
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and str(Path(path).resolve()).startswith(prefixes):
            del sys.modules[name]


def _reset_learner() -> None:
    """Ask the supervisor to end every process of the learner's and clear its files."""
    sock = supervisor_socket()
    if sock is None:  # no supervisor (the local runner): the spawner killed its workers
        return
    with _SUPERVISOR_LOCK:
        sock.sendall(json.dumps({"op": "reset"}).encode())
        sock.recv(65536)


def _note(status: IO[str], **record: object) -> None:
    status.write(json.dumps(record) + "\n")
    status.flush()


def run(args: argparse.Namespace, pytest_args: list[str]) -> int:
    environ = dict(os.environ)
    folders = [os.getcwd()]
    with open(args.status, "a", encoding="utf-8") as status:
        for index, root in enumerate(args.root):
            os.environ.clear()
            os.environ.update(environ)
            os.environ[ROOT_ENV] = root
            os.environ[RESULTS_ENV] = f"{args.results_prefix}-{args.first + index}.jsonl"
            number = args.first + index
            print(MARKER.format(number), flush=True)
            _note(status, index=number, event="start")
            started = time.monotonic()

            def out_of_time(number: int = number) -> None:
                _note(status, index=number, event="timeout")
                print(f"\n{MARKER.format(number)} timed out", flush=True)
                os._exit(124)

            watchdog = threading.Timer(args.time_limit, out_of_time)
            watchdog.daemon = True
            watchdog.start()
            try:
                code = int(pytest.main(list(pytest_args)))
            finally:
                watchdog.cancel()
            duration = round(time.monotonic() - started, 3)
            _note(status, index=number, event="done", exitstatus=code, duration_s=duration)
            sys.stdout.flush()
            _drop_modules(folders)
            _reset_learner()
            gc.collect()
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mlskills bulk")
    parser.add_argument("--status", required=True, help="one JSON line per session event")
    parser.add_argument("--results-prefix", required=True, help="PREFIX-<n>.jsonl per session")
    parser.add_argument("--time-limit", type=float, required=True, help="seconds per session")
    parser.add_argument("--first", type=int, default=0, help="the number of the first root")
    parser.add_argument("--root", action="append", required=True, help="a learner's folder")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    rest = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    sys.exit(run(args, rest))


__all__ = ["MARKER", "main", "run"]

if __name__ == "__main__":
    main()
