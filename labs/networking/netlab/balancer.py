"""Task 4: spread calls over several replicas, skip unhealthy ones, survive one dying.

``BalancedClient(["127.0.0.1:5001", "127.0.0.1:5002", ...])`` sends each ``predict`` to
one replica of ModelService and returns the ``PredictResponse`` (its ``replica`` field says
who answered). It must:

1. rotate round-robin over the healthy replicas (not send everything to the first one);
2. watch each replica's ``grpc.health.v1`` status for ``service_name``: a replica that
   reports NOT_SERVING gets no new calls, and gets them again once it reports SERVING;
3. lose no call when a replica dies: a call that fails with UNAVAILABLE goes to another one.

Two ways to get there, both fine:

- let gRPC do it: one channel to ``"ipv4:HOST1:PORT1,HOST2:PORT2"`` whose
  ``grpc.service_config`` option selects ``round_robin``, turns on client-side health
  checking (``healthCheckConfig``) and a ``retryPolicy`` for UNAVAILABLE. Read
  https://github.com/grpc/grpc/blob/master/doc/service_config.md and health-checking.md;
- or build it yourself: one channel per replica, a thread that polls ``Health.Check``
  every 100 ms or so, a rotating index over the healthy ones, and a retry on another one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SERVICE_NAME = "netlab.v1.ModelService"


class BalancedClient:
    """One client over several ``host:port`` replicas of ModelService."""

    def __init__(
        self, targets: Sequence[str], *, service_name: str = SERVICE_NAME, timeout_s: float = 2.0
    ) -> None:
        # TODO(student)
        raise NotImplementedError("TODO(student): connect to every replica, with health checks")

    def predict(self, rows: Sequence[Sequence[float]]) -> Any:
        """Send one Predict call to a healthy replica and return its PredictResponse."""
        # TODO(student)
        raise NotImplementedError("TODO(student): pick a healthy replica round-robin and call it")

    def close(self) -> None:
        # TODO(student)
        raise NotImplementedError("TODO(student): close what __init__ opened")
