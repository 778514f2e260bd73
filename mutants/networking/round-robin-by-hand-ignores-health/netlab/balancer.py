"""Task 4: spread calls over replicas, skip the unhealthy ones, survive one dying."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import grpc
from netlab import protos

SERVICE_NAME = "netlab.v1.ModelService"


def service_config(service_name: str = SERVICE_NAME) -> dict[str, Any]:
    return {
        # pick_first (the default) sends everything to one replica; round_robin rotates.
        "loadBalancingConfig": [{"round_robin": {}}],
        # The channel opens a grpc.health.v1 Watch stream to every replica and only picks
        # replicas that report SERVING: pushed, so a draining replica leaves at once.
        "healthCheckConfig": {"serviceName": service_name},
        # A replica killed mid-call fails that call with UNAVAILABLE before any answer;
        # the channel retries it, and round_robin picks a live replica.
        "methodConfig": [
            {
                "name": [{"service": service_name}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.02s",
                    "maxBackoff": "0.2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }


class BalancedClient:
    """One channel over several ``host:port`` replicas of ModelService."""

    def __init__(
        self, targets: Sequence[str], *, service_name: str = SERVICE_NAME, timeout_s: float = 2.0
    ) -> None:
        self.pb2, pb2_grpc = protos.load()
        self.timeout_s = timeout_s
        self._channels = [grpc.insecure_channel(target) for target in targets]
        self._stubs = [pb2_grpc.ModelServiceStub(channel) for channel in self._channels]
        self._turn = itertools.count()

    def predict(self, rows: Sequence[Sequence[float]]) -> Any:
        request = self.pb2.PredictRequest(rows=[self.pb2.Row(features=row) for row in rows])
        # Take the next replica in turn; if it is down, move on to the one after it.
        error: grpc.RpcError | None = None
        for _ in self._stubs:
            stub = self._stubs[next(self._turn) % len(self._stubs)]
            try:
                return stub.Predict(request, timeout=self.timeout_s)
            except grpc.RpcError as exc:
                if exc.code() is not grpc.StatusCode.UNAVAILABLE:
                    raise
                error = exc
        assert error is not None
        raise error

    def close(self) -> None:
        for channel in self._channels:
            channel.close()
