"""Task 3: clients that reuse connections, bound every call, and retry only what is safe.

The rules, for both clients:

- **One connection pool per client.** Create the ``httpx.Client`` / gRPC channel once, in
  ``__init__``, and use it for every call. A new one per call pays a new TCP handshake
  (and, in production, a TLS one) every time.
- **Every call has a time limit**: ``timeout_s`` (httpx ``timeout=``, gRPC ``timeout=``).
- **Retry only what can succeed next time, and only when it is safe:**
  - retryable: HTTP 502/503/504, connection errors (``httpx.TransportError``), gRPC
    ``UNAVAILABLE``;
  - never: any other 4xx/5xx, ``INVALID_ARGUMENT``, ``DEADLINE_EXCEEDED``;
  - an HTTP POST is retried only when the caller passed an ``idempotency_key``, sent as
    the ``Idempotency-Key`` header, the same on every attempt. GET, HEAD, OPTIONS, PUT and
    DELETE are idempotent by definition.
- **Back off exponentially, with full jitter** (``backoff_delay``), at most
  ``policy.max_attempts`` attempts in all, and start no retry whose delay would take the
  total time past ``policy.budget_s`` (measured with ``clock``).
- ``sleep`` and ``clock`` are injected, so tests run without really waiting. Call
  ``self.sleep(...)``-style through what you were given, never ``time.sleep`` directly.

When the attempts run out, a client returns the last response (``request``) or raises the
last error. ``predict`` raises ``httpx.HTTPStatusError`` for a non-2xx answer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # the first try included
    base_delay_s: float = 0.05
    max_delay_s: float = 1.0
    multiplier: float = 2.0
    budget_s: float = 5.0  # no retry starts once this much time has passed since the first try


def backoff_delay(retry: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Delay before retry number ``retry`` (0 for the first retry), with full jitter:
    a uniform draw from [0, min(max_delay_s, base_delay_s * multiplier**retry)]."""
    # TODO(student)
    raise NotImplementedError("TODO(student): exponential backoff with full jitter")


class RestClient:
    """Calls the task-1 REST API through one pooled ``httpx.Client``.

    ``transport`` is handed to ``httpx.Client`` (an ``httpx.MockTransport``, to try it by hand).
    ``rng`` draws the jitter (``random.Random()`` when None).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 1.0,
        policy: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        # TODO(student)
        raise NotImplementedError("TODO(student): create the one httpx.Client this object reuses")

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request, retrying per the rules above; return the final response."""
        # TODO(student)
        raise NotImplementedError("TODO(student): send with timeout, backoff and safe retries")

    def predict(
        self, instances: Sequence[Sequence[float]], *, idempotency_key: str | None = None
    ) -> list[float]:
        """POST /v1/predict ``{"instances": ...}`` and return the predictions."""
        # TODO(student)
        raise NotImplementedError("TODO(student): call request() and unpack the predictions")

    def close(self) -> None:
        # TODO(student)
        raise NotImplementedError("TODO(student): close the httpx.Client")

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GrpcClient:
    """Calls ``ModelService.Predict`` over one gRPC channel (``protos.load()`` for stubs)."""

    def __init__(
        self,
        target: str,
        *,
        timeout_s: float = 1.0,
        policy: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        # TODO(student)
        raise NotImplementedError("TODO(student): open the one channel this object reuses")

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """Return the scores; retry UNAVAILABLE only, each attempt with ``timeout_s``."""
        # TODO(student)
        raise NotImplementedError("TODO(student): call Predict with a deadline and safe retries")

    def close(self) -> None:
        # TODO(student)
        raise NotImplementedError("TODO(student): close the channel")

    def __enter__(self) -> GrpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
