"""Provided, not yours to edit: how the tests reach ``monitor_lab`` across the process boundary.

The grader never imports your code into the process that judges it. Your code runs in a
worker process of its own (in the sandbox, as another user), and the tests call it through
handles that read like imports. Only plain data crosses: None, bool, int, float, str,
bytes, and lists, tuples and dicts of them.

This module is the worker's half of that arrangement. It is not a submission file: the
grader always uses this copy, and nothing in it decides a grade. It only:

- serves your ``MonitoredModel`` over HTTP with the provided server (``serve``): the
  tests send it requests and their own Prometheus scrapes its ``/metrics``;
- feeds your prediction log many events in one request (``replay``);
- runs your functions over many windows in one request (``each``, ``each_against``),
  and returns numpy values as plain numbers (``plain``);
- returns your rules file as text (``read_text``): the tests run ``promtool`` on a copy
  of their own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["each", "each_against", "plain", "read_text", "replay", "serve", "stop"]

_MAX_TEXT = 256 * 1024
_SERVED: dict[int, Any] = {}


def plain(value: Any) -> Any:
    """``value`` as plain data: numpy numbers and arrays as Python ones, tuples as lists,
    dataclasses as dicts."""
    if value is None or type(value) in (bool, int, float, str, bytes):
        return value
    if type(value).__module__ == "numpy":
        return plain(value.tolist()) if hasattr(value, "tolist") else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool | int | float | str):
        return value
    return repr(value)[:200]


def serve(app: Any) -> int:
    """Serve ``app`` (your ``MonitoredModel``) on 127.0.0.1; the port."""
    from monitor_lab import service

    served = service.serve(app)
    _SERVED[served.port] = served
    return int(served.port)


def stop(port: int) -> None:
    """Stop the server on ``port`` that ``serve`` started."""
    served = _SERVED.pop(port, None)
    if served is not None:
        served.stop()


def replay(log: Any, events: list[list[Any]]) -> None:
    """Feed events to your ``PredictionLog`` in order, in one request.

    ``["prediction", request_id, customer_id, ts, score, model_version]`` calls
    ``log.log_prediction(...)``; ``["label", request_id, label, arrived_at]`` calls
    ``log.log_label(...)``.
    """
    for event in events:
        kind, *args = event
        if kind == "prediction":
            log.log_prediction(*args)
        elif kind == "label":
            log.log_label(*args)
        else:
            raise ValueError(f"unknown event {kind!r}")


def each(fn: Any, arguments: list[list[Any]], **kwargs: Any) -> list[Any]:
    """``[fn(*args, **kwargs) for args in arguments]`` in one request, as plain data."""
    return [plain(fn(*args, **kwargs)) for args in arguments]


def each_against(fn: Any, first: Any, items: list[Any], **kwargs: Any) -> list[Any]:
    """``[fn(first, item, **kwargs) for item in items]`` in one request: one reference
    sample crosses once for a hundred windows."""
    return [plain(fn(first, item, **kwargs)) for item in items]


def read_text(relative: str) -> str | None:
    """A file of your submission (such as ``rules/slo_alerts.yml``), or None if missing."""
    target = Path.cwd() / relative
    if not target.is_file():
        return None
    return target.read_bytes()[:_MAX_TEXT].decode("utf-8", errors="replace")
