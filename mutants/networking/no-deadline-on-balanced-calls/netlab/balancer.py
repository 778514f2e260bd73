"""Task 4: spread calls over replicas, skip the unhealthy ones, survive one dying."""

from __future__ import annotations

import json
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
        # The ipv4: scheme takes a static list of addresses; in production a DNS name or
        # xDS would resolve to the replicas instead.
        target = "ipv4:" + ",".join(targets)
        self._channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.service_config", json.dumps(service_config(service_name))),
                ("grpc.enable_retries", 1),
            ],
        )
        self._stub = pb2_grpc.ModelServiceStub(self._channel)

    def predict(self, rows: Sequence[Sequence[float]]) -> Any:
        request = self.pb2.PredictRequest(rows=[self.pb2.Row(features=row) for row in rows])
        # wait_for_ready: while no replica is ready yet (startup), queue instead of failing.
        return self._stub.Predict(request, wait_for_ready=True)

    def close(self) -> None:
        self._channel.close()
