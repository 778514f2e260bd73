"""Provided, not yours to edit: how the tests reach ``cloudsec`` across the process boundary.

The grader never imports your code into the process that judges it. Your code runs in a
worker process of its own (in the sandbox, as another user), and the tests call it through
handles that read like imports. Only plain data crosses: None, bool, int, float, str, bytes,
and lists, tuples and dicts of them. Everything else (a boto3 client, a Finding) stays in
the worker and the tests get a handle on it.

This module is the worker's half of that arrangement. It is not a submission file: the
grader always uses this copy, and nothing in it decides a grade. It only:

- points boto3 in the worker at the tests' moto server (``setenv``) and builds clients;
- turns ``Finding`` objects and datetimes into plain data;
- wraps the tests' endpoint (which lives in the judge) as a ``ModelEndpoint`` here, so the
  ``Unauthorized`` your code catches is the one from ``cloudsec.endpoint``;
- captures log records, as the tests used to with ``caplog``.

What this module reports comes from your process, so the tests trust it only for what can
be seen nowhere else (your log records, what your code did to its own argument). Requests
are counted, and AssumeRole's parameters read, by the tests' moto server, in the judge.
"""

from __future__ import annotations

import builtins
import copy
import logging
import os
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import boto3
from cloudsec.endpoint import ModelEndpoint, Unauthorized

__all__ = [
    "JudgeEndpoint",
    "LogCapture",
    "argument_after",
    "capture_logs",
    "client",
    "failing",
    "findings",
    "plain",
    "predictor",
    "refusing",
    "seed_random",
    "setenv",
]

_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def setenv(**values: str) -> None:
    """Set these environment variables here (and forget any AWS profile or role)."""
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ.update({k: str(v) for k, v in values.items()})
    boto3.DEFAULT_SESSION = None


def client(
    service: str,
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
) -> Any:
    """A boto3 client here, with the environment's credentials or these."""
    if access_key is None:
        return boto3.client(service)
    return boto3.client(
        service,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
    )


def plain(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601 text and tuples as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def findings(value: Any) -> dict[str, Any]:
    """What ``audit_policy`` returned, as plain data the tests can check."""
    from cloudsec.findings import Finding

    if not isinstance(value, list):
        return {"type": type(value).__name__, "items": []}
    items = []
    for f in value:
        if not isinstance(f, Finding):
            items.append({"finding": False, "repr": repr(f)[:200]})
            continue
        severity = f.severity
        items.append(
            {
                "finding": True,
                "repr": repr(f)[:200],
                "rule": str(f.rule),
                "severity": int(severity) if isinstance(severity, int) else repr(severity),
                "reason": f.reason if isinstance(f.reason, str) else repr(f.reason),
                "statement": f.statement if isinstance(f.statement, int) else -1,
            }
        )
    return {"type": "list", "items": items}


def argument_after(fn: Callable[[Any], Any], argument: Any) -> Any:
    """Call ``fn(argument)`` and return ``argument`` as it is afterwards (a copy goes in)."""
    mine = copy.deepcopy(argument)
    fn(mine)
    return mine


class JudgeEndpoint(ModelEndpoint):
    """The tests' endpoint (in the judge), as a ModelEndpoint here.

    Every key operation goes to the tests' endpoint; ``predict`` raises this module's
    ``Unauthorized`` for a key it refuses, as the real one does.
    """

    def __init__(self, remote: Any) -> None:
        super().__init__()
        self._remote = remote

    def add_key(self, key: str) -> None:
        self._remote.add_key(key)

    def revoke_key(self, key: str) -> None:
        self._remote.revoke_key(key)

    def accepts(self, key: str) -> bool:
        return bool(self._remote.accepts(key))


def predictor(endpoint: ModelEndpoint, features: Sequence[float]) -> Callable[[str], float]:
    """``lambda key: endpoint.predict(key, features)``, here."""
    row = list(features)

    def predict(key: str) -> float:
        return endpoint.predict(key, row)

    return predict


def refusing(note: Callable[[str], Any]) -> Callable[[str], float]:
    """A call that tells the tests each key it was given, then is refused."""

    def refused(key: str) -> float:
        note(key)
        raise Unauthorized("the endpoint rejected the API key")

    return refused


_NOT_AUTHORISATION = ("ConnectionError", "TimeoutError", "ValueError")


def failing(note: Callable[[str], Any], error: str) -> Callable[[str], float]:
    """A call that tells the tests each key it was given, then fails with ``error``
    (a builtin exception that has nothing to do with the key, such as a timeout)."""
    if error not in _NOT_AUTHORISATION:
        raise ValueError(f"failing() raises one of {_NOT_AUTHORISATION}, not {error!r}")
    exception = getattr(builtins, error)

    def fails(key: str) -> float:
        note(key)
        raise exception("the endpoint did not answer (this has nothing to do with the key)")

    return fails


def seed_random(seed: int) -> None:
    """``random.seed(seed)`` here, as a test harness or a library might do."""
    random.seed(seed)


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string is the learner's bug, not ours
            message = f"<unformattable: {exc}> {record.msg!r}"
        self._records.append(
            {
                "name": record.name,
                "message": message,
                "args": repr(record.args),
                "exc_text": logging.Formatter().formatException(record.exc_info)
                if record.exc_info
                else "",
            }
        )

    def records(self) -> list[dict[str, Any]]:
        return list(self._records)

    def stop(self) -> None:
        logging.getLogger().removeHandler(self)


def capture_logs(logger: str = "cloudsec") -> LogCapture:
    """Capture every log record, with ``logger`` at DEBUG (as caplog.set_level does)."""
    handler = LogCapture()
    logging.getLogger().addHandler(handler)
    logging.getLogger(logger).setLevel(logging.DEBUG)
    return handler
