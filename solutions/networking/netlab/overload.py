"""Task 7: overload, done right. Servers shed what they cannot do soon; clients wait as long
as the server asks, within their own budget, and stop calling a dependency that is failing."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from concurrent import futures
from typing import Any

import grpc
import httpx

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
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.exempt_paths = frozenset(exempt_paths)
        self.in_flight = 0  # one event loop runs this: no lock needed between awaits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A probe answered 429 reads as "dead" to an orchestrator: a busy pod would be
        # restarted, or taken out of rotation, just when its capacity is needed. Probes cost
        # microseconds, so they pass without taking a slot.
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            # Refuse fast: a request that waits in a queue past its caller's timeout is work
            # done for nobody, and it makes every request behind it late too.
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"retry-after", str(self.retry_after_s).encode()),
                        (b"content-type", b"application/json"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"detail":"overloaded"}'})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:  # an exception must give its slot back, or the server sheds for ever
            self.in_flight -= 1


def shedding_grpc_server(*, max_workers: int, max_in_flight: int) -> grpc.Server:
    """A gRPC server that answers RESOURCE_EXHAUSTED to a call arriving while
    ``max_in_flight`` calls are being handled or are waiting for a worker thread."""
    # Without the limit, calls beyond max_workers wait in an unbounded queue and time out
    # there. gRPC counts the calls it has accepted and refuses the next one itself.
    return grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        maximum_concurrent_rpcs=max_in_flight,
    )


def retry_after_s(value: str | None) -> float | None:
    """The delay a ``Retry-After`` header asks for, in seconds; None when absent or not a
    number of seconds (the HTTP-date form is not used by this lab's servers)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


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
        self.failure_rate = failure_rate
        self.min_calls = min_calls
        self.open_s = open_s
        self.clock = clock
        self._outcomes: deque[bool] = deque(maxlen=window)  # True: a failure
        self._state = CLOSED
        self._opened_at = 0.0
        self._trial_out = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._current()

    def _current(self) -> str:
        if self._state == OPEN and self.clock() - self._opened_at >= self.open_s:
            self._state, self._trial_out = HALF_OPEN, False
        return self._state

    def allow(self) -> bool:
        with self._lock:
            state = self._current()
            if state == CLOSED:
                return True
            if state == HALF_OPEN and not self._trial_out:
                self._trial_out = True  # one probe; everyone else still fails fast
                return True
            return False

    def record(self, success: bool) -> None:
        with self._lock:
            state = self._current()
            if state == HALF_OPEN:
                if success:
                    self._state = CLOSED
                    self._outcomes.clear()
                else:
                    self._open()
                return
            if state == OPEN:
                return  # a straggler that started before the breaker opened
            self._outcomes.append(not success)
            calls, failures = len(self._outcomes), sum(self._outcomes)
            if calls >= self.min_calls and failures >= self.failure_rate * calls:
                self._open()

    def _open(self) -> None:
        self._state, self._opened_at, self._trial_out = OPEN, self.clock(), False
        self._outcomes.clear()


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
        self.breaker = breaker or CircuitBreaker(clock=clock)
        self.budget_s = budget_s
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.clock = clock
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)

    def predict(self, instances: Sequence[Sequence[float]]) -> list[float]:
        body = {"instances": [list(row) for row in instances]}
        start = self.clock()
        for attempt in range(1, self.max_attempts + 1):
            if not self.breaker.allow():
                # Fail fast: the caller gets an answer now, and the struggling server gets
                # no traffic from us while it recovers.
                raise CircuitOpenError(f"circuit open: not calling {self._http.base_url}")
            try:
                response = self._http.post("/v1/predict", json=body)
            except httpx.TransportError:
                self.breaker.record(False)
                raise
            # A 4xx other than 429 is the caller's mistake: the server is healthy.
            self.breaker.record(response.status_code < 500 and response.status_code != 429)
            delay = (
                retry_after_s(response.headers.get("Retry-After"))
                if response.status_code in (429, 503)
                else None
            )
            # 429 and 503 with Retry-After mean "not done, come back then": safe to resend
            # even a POST. Only when the wait fits in what the caller gave us.
            if (
                delay is not None
                and attempt < self.max_attempts
                and self.clock() - start + delay <= self.budget_s
            ):
                self.sleep(delay)
                continue
            response.raise_for_status()
            return list(response.json()["predictions"])
        raise AssertionError("unreachable: the last attempt returns or raises")

    def close(self) -> None:
        self._http.close()
