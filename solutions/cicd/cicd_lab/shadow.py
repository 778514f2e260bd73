"""Task 6a: shadow traffic. The challenger sees a copy of live requests; users never see it.

``ShadowClient(primary_url, shadow_url).predict(features)`` sends the request to the primary
(the champion's server) and returns its answer. A copy goes to the shadow (the challenger's
server) in the background: its answer is compared with the primary's and logged, never
returned, and its latency and its failures never reach the user.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

__all__ = ["ShadowClient"]


def _post(url: str, body: bytes, timeout_s: float) -> Any:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())


class ShadowClient:
    def __init__(
        self,
        primary_url: str,
        shadow_url: str,
        *,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.primary_url = primary_url.rstrip("/") + "/predict"
        self.shadow_url = shadow_url.rstrip("/") + "/predict"
        self.timeout_s = timeout_s
        self._clock = clock
        # A small pool of its own: a slow shadow queues here, not in the user's request.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shadow")
        self._pending: list[Future[None]] = []
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._count = 0

    def predict(self, features: list[float]) -> Any:
        """The primary's answer; a copy of the request goes to the shadow, in the background."""
        body = json.dumps({"features": list(features)}).encode()
        with self._lock:
            number = self._count
            self._count += 1
        primary = _post(self.primary_url, body, self.timeout_s)  # its failure is the user's
        # Submitted after the primary answered, and never waited for here.
        future = self._pool.submit(self._mirror, number, body, primary)
        with self._lock:
            self._pending.append(future)
        return primary

    def _mirror(self, number: int, body: bytes, primary: Any) -> None:
        record: dict[str, Any] = {"request": number, "primary": primary}
        # Timed here, when a pool thread runs the call: the time spent waiting in the
        # pool's queue is this client's, not the challenger's.
        started = self._clock()
        try:
            shadow = _post(self.shadow_url, body, self.timeout_s)
            record.update(shadow=shadow, error=None, agree=shadow == primary)
        except Exception as exc:  # a broken challenger is logged, never raised
            record.update(shadow=None, error=f"{type(exc).__name__}: {exc}", agree=False)
        record["shadow_ms"] = float(self._clock() - started) * 1000
        with self._lock:
            self._records.append(record)

    def comparisons(self, wait_s: float = 10.0) -> list[dict[str, Any]]:
        """Every shadow comparison so far, in request order, after waiting for those in flight."""
        with self._lock:  # a call cancelled by close() never runs: nothing to wait for
            pending = [f for f in self._pending if not f.cancelled()]
        wait(pending, timeout=wait_s)
        with self._lock:
            return sorted(self._records, key=lambda r: r["request"])

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
