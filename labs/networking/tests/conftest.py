"""Shared fixtures.

This lab is sealed: the tests never import your code. It runs in a separate process (the
worker), and the tests reach it through the ``learner`` fixture: ``learner.module("netlab.
bench")`` reads like an import, and only plain data (numbers, strings, lists, dicts) comes
back. Servers that run your code are started by the worker; the tests talk to them over
loopback, as any client would. The tests' own stand-ins (fake servers, fake clocks, the
task-4 replicas) run here, in the judge. Every file the judge writes, generated gRPC code
included, goes under pytest's tmp_path.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

LAB_DIR = Path(__file__).resolve().parent.parent
SERVICE_NAME = "netlab.v1.ModelService"
# A server imports FastAPI or grpcio before it prints its port, which takes a few seconds on
# a busy machine.
SERVER_START_TIMEOUT_S = 60.0


def pytest_configure(config: pytest.Config) -> None:
    # The grader's plugin registers this marker; registering it here too lets the suite run
    # with plain pytest (and -W error) while you work.
    config.addinivalue_line("markers", "task(n): the lab task a test belongs to")
    # The judge imports the provided modules (netlab.protos, netlab.model) from its own copy
    # of the lab, which holds none of the submission files when graded. Plain `pytest` (not
    # `python -m pytest`) does not put the lab folder on sys.path, so say where it is.
    if str(LAB_DIR) not in sys.path:
        sys.path.append(str(LAB_DIR))


@pytest.fixture(scope="session", autouse=True)
def _writable_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The judge's generated stubs (and the task-4 replicas') go to tmp: the lab folder is
    read-only."""
    saved = os.environ.get("NETLAB_STUB_DIR")
    os.environ["NETLAB_STUB_DIR"] = str(tmp_path_factory.mktemp("stubs"))
    yield
    if saved is None:
        os.environ.pop("NETLAB_STUB_DIR", None)
    else:
        os.environ["NETLAB_STUB_DIR"] = saved


@pytest.fixture(scope="session")
def pb() -> tuple[Any, Any]:
    """(model_pb2, model_pb2_grpc), generated from proto/model.proto into tmp, for the
    judge's own clients and fake servers (``netlab.protos`` is provided, not yours)."""
    from netlab import protos

    return protos.load()


# The helpers below reach the tests as fixtures, so the tests never import conftest (that
# depends on pytest's import mode).


def _expected_scores(rows: list[list[float]]) -> list[float]:
    """The model's answer, computed here independently from data/model.json."""
    spec = json.loads((LAB_DIR / "data" / "model.json").read_text())
    return [
        1
        / (
            1
            + math.exp(
                -(spec["bias"] + sum(w * x for w, x in zip(spec["weights"], row, strict=True)))
            )
        )
        for row in rows
    ]


def _wait_until(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after
    ``timeout`` seconds. Polling, not sleeping for a guessed duration."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:
            last_error = exc
        time.sleep(0.02)
    suffix = f" (last error: {last_error!r})" if last_error else ""
    pytest.fail(f"Gave up after {timeout:.0f}s waiting for {what}{suffix}.")


class Server:
    """A ``netlab.serve`` server that the worker started: its address, and its commands."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        # Asked once: the address never changes, and each question is a round trip.
        self.url: str = handle.url
        self.target: str = handle.target

    def command(self, command: str) -> str:
        reply: str = self._handle.command(command)
        return reply

    def rows_scored(self) -> int:
        rows: int = self._handle.rows_scored()
        return rows

    def stop(self) -> None:
        # An AssertionError here is LearnerGone: the worker was replaced after an earlier
        # failure, and the servers it started went with it.
        with contextlib.suppress(AssertionError):
            self._handle.stop()


@pytest.fixture(scope="session")
def expected_scores() -> Callable[[list[list[float]]], list[float]]:
    return _expected_scores


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., Any]:
    return _wait_until


def _first_cause(text: str) -> str:
    """The server's own error, where it was raised: the last line of the traceback it
    printed, and the last frame above it, so the summary shows the cause at once."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    frames = [line for line in lines if line.startswith('File "')]
    errors = [line for line in lines if not line.startswith(("File ", "raised at", "in ", "^"))]
    cause = errors[-1] if errors else "it printed nothing"
    if frames:
        path, _, rest = frames[-1].removeprefix('File "').partition('", line ')
        cause += f" ({Path(path).name}:{rest.split(',')[0]})"
    return cause


@pytest.fixture(scope="session")
def start_server(learner: Any) -> Callable[..., Server]:
    """``start_server("rest", *args)``: ``python -m netlab.serve rest <args>``, started by the
    worker (the server runs your code, so the judge never starts it itself). The test fails
    readably if it cannot start."""

    def start(kind: str, *args: str) -> Server:
        serve = learner.module("netlab.serve", timeout=SERVER_START_TIMEOUT_S)
        try:
            return Server(serve.start(kind, *args))
        except RuntimeError as exc:
            pytest.fail(f"Could not start the {kind} server: {_first_cause(str(exc))}\n{exc}")

    return start
