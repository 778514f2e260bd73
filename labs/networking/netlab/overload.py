"""Task 7: overload, done right.

A server that accepts every request it cannot serve soon builds a queue. Every request in
it waits, most of them past their caller's timeout, so the server works hard on answers
nobody reads. Past a bound, shed load: refuse at once, and say when to come back.

Server side (``python -m netlab.serve busy-rest|busy-grpc --max-in-flight N`` runs a slow
stand-in app behind what you build here):

- ``LoadShedding``: ASGI middleware. At most ``max_in_flight`` requests inside the app; the
  next one gets ``429 Too Many Requests`` with ``Retry-After: <retry_after_s>`` at once.
  The health and readiness probes (``exempt_paths``) are never shed.
- ``shedding_grpc_server``: a ``grpc.Server`` that answers RESOURCE_EXHAUSTED to a call
  arriving while ``max_in_flight`` calls are being handled or waiting for a thread.

Client side:

- ``retry_after_s``: the seconds a ``Retry-After`` header asks for.
- ``CircuitBreaker``: closed, open, half-open, on the failure *rate* over a window, timed by
  an injected ``clock`` (see its docstring for the exact rules).
- ``OverloadClient``: ``predict(rows)`` with a timeout; it asks the breaker before each
  attempt (``CircuitOpenError`` when refused, and no request is sent), tells it each
  attempt's outcome, and after a 429 or 503 with ``Retry-After`` waits that long through
  the injected ``sleep`` and tries again, if the wait fits in ``budget_s`` and attempts
  remain. A 2xx, or a 4xx other than 429, is a success for the breaker; 429, 5xx and
  transport errors are failures.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import grpc

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
HEALTH_PATHS = ("/healthz", "/readyz")  # probes an orchestrator sends: never shed


class LoadShedding:
    """ASGI middleware: at most ``max_in_flight`` HTTP requests inside ``app`` at once; one
    more gets 429 with ``Retry-After`` at once, before any work is done for it. Requests for
    ``exempt_paths`` (the health and readiness probes) are never shed."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        retry_after_s: int = 1,
        exempt_paths: Sequence[str] = HEALTH_PATHS,
    ) -> None:
        # TODO(student): keep the app and the bound; count the requests inside.
        raise NotImplementedError("TODO(student): LoadShedding")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # TODO(student): pass non-HTTP scopes and the exempt paths (scope["path"]) through;
        # refuse past the bound with http.response.start (status 429, a retry-after header)
        # and http.response.body.
        raise NotImplementedError("TODO(student): LoadShedding.__call__")


def shedding_grpc_server(*, max_workers: int, max_in_flight: int) -> grpc.Server:
    """A gRPC server that answers RESOURCE_EXHAUSTED to a call arriving while
    ``max_in_flight`` calls are being handled or are waiting for a worker thread."""
    # TODO(student)
    raise NotImplementedError("TODO(student): shedding_grpc_server")


def retry_after_s(value: str | None) -> float | None:
    """The delay a ``Retry-After`` header asks for, in seconds; None when absent or not a
    non-negative number of seconds."""
    # TODO(student)
    raise NotImplementedError("TODO(student): retry_after_s")


class CircuitOpenError(Exception):
    """Raised instead of calling: the breaker is open."""


class CircuitBreaker:
    """Closed, open and half-open, decided on the failure rate over the last ``window`` calls.

    - closed: calls go through; once the window holds at least ``min_calls`` outcomes and
      the share of failures is ``failure_rate`` or more, the breaker opens.
    - open: ``allow()`` is False until ``open_s`` seconds (on ``clock``) have passed, then
      the breaker is half-open.
    - half-open: ``allow()`` admits one trial call at a time; its success closes the
      breaker (with an empty window), its failure opens it again for ``open_s``.

    ``state`` is "closed", "open" or "half-open".
    """

    def __init__(
        self,
        *,
        failure_rate: float = 0.5,
        window: int = 20,
        min_calls: int = 10,
        open_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # TODO(student)
        raise NotImplementedError("TODO(student): CircuitBreaker")

    @property
    def state(self) -> str:
        raise NotImplementedError("TODO(student): CircuitBreaker.state")

    def allow(self) -> bool:
        """May a call go out now?"""
        raise NotImplementedError("TODO(student): CircuitBreaker.allow")

    def record(self, success: bool) -> None:
        """The outcome of a call that ``allow()`` let out."""
        raise NotImplementedError("TODO(student): CircuitBreaker.record")


class OverloadClient:
    """``POST /v1/predict`` with a timeout, a breaker, and ``Retry-After`` honoured within
    ``budget_s``."""

    def __init__(
        self,
        base_url: str,
        *,
        breaker: CircuitBreaker | None = None,
        timeout_s: float = 1.0,
        budget_s: float = 5.0,
        max_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # TODO(student): one httpx.Client; a CircuitBreaker(clock=clock) when none is given.
        raise NotImplementedError("TODO(student): OverloadClient")

    def predict(self, instances: Sequence[Sequence[float]]) -> list[float]:
        """The scores; CircuitOpenError when the breaker refuses, httpx errors otherwise."""
        raise NotImplementedError("TODO(student): OverloadClient.predict")

    def close(self) -> None:
        raise NotImplementedError("TODO(student): OverloadClient.close")
