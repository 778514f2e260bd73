"""Shared fixtures. Servers run in their own processes (``netlab.serve``); every file the
suite writes, generated gRPC code included, goes under pytest's tmp_path."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

LAB_DIR = Path(__file__).resolve().parent.parent
SERVICE_NAME = "netlab.v1.ModelService"


def pytest_configure(config: pytest.Config) -> None:
    # The grader's plugin registers this marker; registering it here too lets the suite run
    # with plain pytest (and -W error) while you work.
    config.addinivalue_line("markers", "task(n): the lab task a test belongs to")


@pytest.fixture(scope="session", autouse=True)
def _writable_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Generated stubs and matplotlib's cache go to tmp: the lab folder is read-only."""
    saved = {k: os.environ.get(k) for k in ("NETLAB_STUB_DIR", "MPLCONFIGDIR")}
    os.environ["NETLAB_STUB_DIR"] = str(tmp_path_factory.mktemp("stubs"))
    os.environ["MPLCONFIGDIR"] = str(tmp_path_factory.mktemp("mpl"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def pb() -> tuple[Any, Any]:
    """(model_pb2, model_pb2_grpc), generated from proto/model.proto into tmp."""
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


def _start_server(kind: str, *args: str) -> Any:
    """``python -m netlab.serve <kind> <args>``, failing the test readably if it cannot start."""
    from netlab import serve

    try:
        return serve.start(kind, *args)
    except RuntimeError as exc:
        pytest.fail(f"Could not start the {kind} server.\n{exc}")


@pytest.fixture(scope="session")
def expected_scores() -> Callable[[list[list[float]]], list[float]]:
    return _expected_scores


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., Any]:
    return _wait_until


@pytest.fixture(scope="session")
def start_server() -> Callable[..., Any]:
    return _start_server
