"""Task 6a: shadow traffic. The challenger sees a copy of live requests; users never see it.

``ShadowClient(primary_url, shadow_url).predict(features)`` sends the request to the primary
(the champion's server) and returns its answer. A copy goes to the shadow (the challenger's
server) in the background: its answer is compared with the primary's and logged, never
returned, and its latency and its failures never reach the user.

Both servers answer ``POST <url>/predict`` with the JSON body ``{"features": [...]}`` by
``{"prediction": <float>}``. ``urllib.request`` (standard library) is enough to call them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["ShadowClient"]


class ShadowClient:
    def __init__(
        self,
        primary_url: str,
        shadow_url: str,
        *,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """``timeout_s`` bounds each HTTP call, to the primary and to the shadow.

        ``clock()`` (seconds) is what times the shadow calls: use it, not a clock of your
        own (the tests pass one they control).
        """
        # TODO(student): keep the URLs, and whatever runs the shadow calls in the
        # background (a ThreadPoolExecutor of its own) and holds their results.
        raise NotImplementedError("TODO(student): set up the shadow client")

    def predict(self, features: list[float]) -> Any:
        """The primary's answer (the decoded JSON body), for the user.

        A copy of the same request goes to the shadow without waiting for it: a slow or
        failing challenger must cost the user nothing. A failure of the primary is the
        user's to see, so it raises.
        """
        # TODO(student): call the primary; hand the shadow call to the background.
        raise NotImplementedError("TODO(student): serve from the primary, mirror to the shadow")

    def comparisons(self, wait_s: float = 10.0) -> list[dict[str, Any]]:
        """One record per request, in request order, after waiting up to ``wait_s`` for
        shadow calls still in flight::

            {"request": 0, "primary": {...}, "shadow": {...} or None,
             "agree": bool, "error": None or "what went wrong", "shadow_ms": float}

        ``request`` numbers the ``predict`` calls from 0, in the order they were made (the
        order the shadow answered in is another). ``agree`` is whether the two answers are
        equal. ``shadow_ms`` is the shadow call's own latency, by ``clock``: from just
        before its request is sent to its answer (or failure), not counting the time it
        waited for a free background thread. Calls still in flight after ``wait_s`` are
        left out; this never waits longer.
        """
        # TODO(student): wait for the pending shadow calls, return their records.
        raise NotImplementedError("TODO(student): return the shadow comparisons")

    def close(self) -> None:
        """Stop the background workers and return at once: never wait for a hung shadow
        (its call ends by its own timeout), and start no queued ones."""
        raise NotImplementedError("TODO(student): shut the background pool down")
