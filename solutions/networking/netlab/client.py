"""Task 3: clients that reuse connections, bound every call, and retry only what is safe."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import httpx
from netlab import protos

T = TypeVar("T")

RETRYABLE_HTTP_STATUS = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_GRPC_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # the first try included
    base_delay_s: float = 0.05
    max_delay_s: float = 1.0
    multiplier: float = 2.0
    budget_s: float = 5.0  # no retry starts once this much time has passed since the first try


def backoff_delay(retry: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Delay before retry number ``retry`` (0 for the first retry): full jitter.

    Uniform in [0, min(max_delay, base * multiplier**retry)]. The jitter matters as much as
    the exponent: without it every client that failed together retries together.
    """
    cap = min(policy.max_delay_s, policy.base_delay_s * policy.multiplier**retry)
    return rng.uniform(0.0, cap)


class _Retrier:
    def __init__(
        self,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random | None,
    ) -> None:
        self.policy = policy
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()

    def run(
        self, attempt: Callable[[], T], should_retry: Callable[[T | None, Exception | None], bool]
    ) -> T:
        start = self.clock()
        for retry in range(self.policy.max_attempts):
            try:
                result, error = attempt(), None
            except Exception as exc:
                result, error = None, exc
            if retry + 1 < self.policy.max_attempts and should_retry(result, error):
                delay = backoff_delay(retry, self.policy, self.rng)
                if self.clock() - start + delay <= self.policy.budget_s:
                    self.sleep(delay)
                    continue
            if error is not None:
                raise error
            assert result is not None
            return result
        raise AssertionError("unreachable: the last attempt always returns or raises")


class RestClient:
    """One pooled ``httpx.Client`` per instance: create it once, use it for every call."""

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
        # Keep-alive connections are the point: a fresh client per call pays a TCP (and in
        # production a TLS) handshake every time.
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport)
        self._retrier = _Retrier(policy, sleep, clock, rng)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        method = method.upper()
        all_headers = dict(headers or {})
        if idempotency_key is not None:
            all_headers["Idempotency-Key"] = idempotency_key
        # A POST may have done its work before the failure; resending it is only safe when
        # the server can recognise the repeat by its key.
        safe = method in IDEMPOTENT_METHODS or idempotency_key is not None

        def should_retry(response: httpx.Response | None, error: Exception | None) -> bool:
            if not safe:
                return False
            if error is not None:
                return isinstance(error, httpx.TransportError)
            return response is not None and response.status_code in RETRYABLE_HTTP_STATUS

        return self._retrier.run(
            lambda: self._http.request(method, path, json=json, headers=all_headers), should_retry
        )

    def predict(
        self, instances: Sequence[Sequence[float]], *, idempotency_key: str | None = None
    ) -> list[float]:
        response = self.request(
            "POST",
            "/v1/predict",
            json={"instances": [list(row) for row in instances]},
            idempotency_key=idempotency_key,
        )
        response.raise_for_status()
        return list(response.json()["predictions"])

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GrpcClient:
    """One channel per instance: it multiplexes every call over one HTTP/2 connection."""

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
        self.pb2, pb2_grpc = protos.load()
        self.timeout_s = timeout_s
        # Keepalive pings find a dead connection (say, a NAT that forgot it) before a call
        # does. gRPC pings a connection with no call in flight only with permit_without_calls,
        # and, while no data flows, only max_pings_without_data times (default 2; 0: no
        # limit). A server closes a connection that pings more often than its policy allows
        # (GOAWAY "too_many_pings"); 60 s suits servers that, like task 2's, accept 30 s.
        self._channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.keepalive_time_ms", 60_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.max_pings_without_data", 0),
            ],
        )
        self._stub = pb2_grpc.ModelServiceStub(self._channel)
        self._retrier = _Retrier(policy, sleep, clock, rng)

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        request = self.pb2.PredictRequest(rows=[self.pb2.Row(features=row) for row in rows])

        def should_retry(_: Any, error: Exception | None) -> bool:
            # INVALID_ARGUMENT will fail the same way every time; DEADLINE_EXCEEDED has spent
            # the budget. Only UNAVAILABLE ("not processed, try again") is worth another go.
            return isinstance(error, grpc.RpcError) and error.code() in RETRYABLE_GRPC_CODES

        response = self._retrier.run(
            lambda: self._stub.Predict(request, timeout=self.timeout_s), should_retry
        )
        return list(response.scores)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> GrpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
