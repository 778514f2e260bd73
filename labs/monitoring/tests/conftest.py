"""Shared fixtures: handles on your code, and the tests' own Prometheus.

This lab is sealed: the tests never import your code. It runs in a worker process of its
own, and the tests reach it through the ``learner`` fixture
(``learner.module("monitor_lab.metrics").MonitoredModel("v1")`` is built there; only
plain data comes back). ``monitoring_bridge`` (provided) serves your model over HTTP,
feeds events in bulk and turns numpy values into plain numbers.

What the tests trust is their own: they send the requests, their own Prometheus scrapes
your ``/metrics`` and answers their PromQL, they generate every data set from fixed seeds
and compute the right answers with their own numpy, scipy and DuckDB, and they run
``promtool`` on a copy of your rules file that came back as text.

Shared state, audited (docs/authoring-labs.md, "Shared state"): the evidence is the
judge's (its Prometheus' scrapes, its own references, its promtool run); no library in
the judge opens anything the worker wrote (the DuckDB log stays in the worker, the rules
come back as text and are read with yaml.safe_load); no folder is shared; the judge's
Prometheus keeps its admin, lifecycle and remote-write APIs off and its files in the
judge's private tmp, so the worker on the same loopback can only query it.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LAB_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from promserver import Prometheus  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # The grader's plugin registers this marker too; this lets the suite run without it.
    config.addinivalue_line("markers", "task(n): the lab task this test belongs to")
    config.addinivalue_line("markers", "hint(text): the hint for this test's failure")


def monitor(learner: Any, module: str) -> Any:
    """A handle on ``monitor_lab.<module>``: your code, imported in the worker."""
    return learner.module(f"monitor_lab.{module}", timeout=60)


@pytest.fixture
def bridge(learner: Any) -> Any:
    """``monitoring_bridge`` in the worker (provided: serving, bulk calls, plain data)."""
    return learner.module("monitoring_bridge", timeout=60)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """The tests' own Prometheus server, on loopback, scraping every second."""
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.fail(
            "prometheus and promtool are not installed on this machine: "
            "sudo apt-get install prometheus (Debian, Ubuntu), or grade with "
            "--runner docker, whose image has them.",
            pytrace=False,
        )
    server = Prometheus(tmp_path_factory.mktemp("prometheus"))
    try:
        yield server
    finally:
        server.close()


def post(port: int, body: Any) -> int:
    """POST ``body`` as JSON to the server's /predict; the HTTP status."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)
