"""Task 2: the same model over gRPC, with the standard health service and deadlines."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from netlab import protos
from netlab.model import BadInput, LogisticModel, ModelTimeout

SERVICE_NAME = "netlab.v1.ModelService"


class ModelServicer:
    """Implements ``ModelService`` from proto/model.proto."""

    def __init__(self, model: LogisticModel, replica: str = "") -> None:
        self.model = model
        self.replica = replica
        self.pb2, _ = protos.load()

    def _score(self, request: Any, context: grpc.ServicerContext) -> Any:
        rows = [list(row.features) for row in request.rows]
        try:
            # Pass the caller's remaining time down: once the deadline has passed nobody is
            # waiting for the answer, and the worker thread should go serve someone else.
            scores = self.model.predict(rows, timeout=context.time_remaining())
        except BadInput as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except ModelTimeout as exc:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, str(exc))
        return self.pb2.PredictResponse(
            scores=scores, model_version=self.model.version, replica=self.replica
        )

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._score(request, context)

    def PredictStream(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        # A generator: each answer goes out as soon as it is ready, and the loop stops at the
        # next message once the call is cancelled or out of time.
        for request in request_iterator:
            yield self._score(request, context)


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer

    def drain(self) -> None:
        """Report NOT_SERVING for every service, so balancers move traffic elsewhere."""
        self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.NOT_SERVING)

    def stop(self, grace: float = 1.0) -> None:
        self.server.stop(grace).wait()


def serve(
    model: LogisticModel,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_workers: int = 8,
    replica: str = "",
) -> RunningServer:
    """Start a gRPC server with ModelService and grpc.health.v1 on ``host:port``."""
    _, pb2_grpc = protos.load()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
    pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(model, replica), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    # "" means "the server as a whole"; the full service name is what clients usually ask for.
    # Any other name stays unknown: the health service answers NOT_FOUND for it.
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server=server, port=bound, health=health_servicer)
