"""The grader's pytest plugin: the only thing that decides what passed.

It is copied into every grading workspace as ``mlskills_grader_plugin.py`` and loaded
with ``-p mlskills_grader_plugin``, so it imports nothing but the standard library and
pytest. It appends one JSON line per finished test to the results file, so a run that is
killed at its time limit still leaves the results of the tests that finished.

Records:
    {"kind": "collected", "tests": [{"nodeid", "task", "hint"}, ...]}  first, before any test runs
    {"kind": "test", "nodeid", "task", "status": "pass|fail|skip", "message", "duration_s"}
    {"kind": "collect_error", "nodeid", "message"}
    {"kind": "session", "exitstatus", "collected"}

The path comes from ``MLSKILLS_RESULTS``, which the plugin removes from the environment
before any learner code is imported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from typing import IO, Any

import pytest

RESULTS_ENV = "MLSKILLS_RESULTS"
MESSAGE_LIMIT = 2000

_results: pytest.StashKey[IO[str]] = pytest.StashKey()
_phases: pytest.StashKey[dict[str, dict[str, Any]]] = pytest.StashKey()
# Hooks such as pytest_runtest_logreport receive no config; the one session's is kept here.
_CONFIG: dict[str, pytest.Config] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--mlskills-tasks",
        default="",
        help="run only the tests of these task ids (comma-separated), e.g. for a mutant",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = {t for t in str(config.getoption("--mlskills-tasks")).split(",") if t}
    if not wanted:
        return
    kept = [item for item in items if _task_of(item) in wanted]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "task(n): the lab task this test belongs to")
    config.addinivalue_line(
        "markers",
        "hint(text): the hint shown when this test is its task's first failure, in place of "
        "the task's own (for a test named after the mistake it rejects)",
    )
    _CONFIG["config"] = config
    path = os.environ.pop(RESULTS_ENV, None)
    if path:
        config.stash[_results] = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
        config.stash[_phases] = {}


def _write(config: pytest.Config, record: dict[str, Any]) -> None:
    handle = config.stash.get(_results, None)
    if handle is not None:
        handle.write(json.dumps(record) + "\n")


def _task_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("task")
    if marker is None:
        return None
    value = marker.args[0] if marker.args else marker.kwargs.get("taskno", marker.kwargs.get("id"))
    return None if value is None else str(value)


def _hint_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("hint")
    return str(marker.args[0]) if marker is not None and marker.args else ""


def _message(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    text = (crash.message if crash is not None else report.longreprtext).strip()
    config = _CONFIG.get("config")
    if config is not None:  # paths relative to the lab, as the learner sees them
        text = text.replace(f"{config.rootpath}{os.sep}", "")
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("File ") and ": " in lines[-1]:
        # A SyntaxError reads 'File "x.py", line 3 / code / ^ / SyntaxError: …':
        # put the error first, where a one-line summary will show it.
        text = f"{lines[-1].strip()} ({lines[0].strip()})\n" + "\n".join(lines[1:-1])
    if len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT] + " … (message truncated)"
    return text


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    report.user_properties.append(("mlskills_task", _task_of(item)))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    config = _CONFIG.get("config")
    if config is None or _phases not in config.stash:
        return
    state = config.stash[_phases].setdefault(
        report.nodeid, {"status": "pass", "message": "", "duration_s": 0.0, "task": None}
    )
    state["duration_s"] += report.duration
    state["task"] = dict(report.user_properties).get("mlskills_task", state["task"])
    if state["status"] != "pass":
        return
    if report.failed:
        state["status"] = "fail"
        state["message"] = _message(report)
    elif report.skipped and report.when != "teardown":
        state["status"] = "skip"
        state["message"] = "skipped: " + _message(report)


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    config = _CONFIG.get("config")
    if config is None or _phases not in config.stash:
        return
    state = config.stash[_phases].pop(nodeid, None)
    if state is not None:
        _write(config, {"kind": "test", "nodeid": nodeid, **state})


def pytest_collection_finish(session: pytest.Session) -> None:
    """Every test id and its task, before any test runs: the list the score is made from.

    In a sealed lab no learner code has run in this process, so the list is trusted; a
    test that never reports an outcome counts as failed.
    """
    tests = [
        {"nodeid": item.nodeid, "task": _task_of(item), "hint": _hint_of(item)}
        for item in session.items
    ]
    _write(session.config, {"kind": "collected", "tests": tests})


def pytest_collectreport(report: pytest.CollectReport) -> None:
    config = _CONFIG.get("config")
    if config is not None and report.failed:
        _write(
            config, {"kind": "collect_error", "nodeid": report.nodeid, "message": _message(report)}
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _write(
        session.config,
        {"kind": "session", "exitstatus": int(exitstatus), "collected": session.testscollected},
    )
    handle = session.config.stash.get(_results, None)
    if handle is not None:
        handle.close()
