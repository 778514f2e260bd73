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
# The server's side of keepalive. By default it accepts a ping on a connection that carries
# no data at most every 5 minutes, and on one with no call in flight once in 2 hours; the
# third ping too early closes the connection with GOAWAY "too_many_pings". Accept idle
# clients' pings every 30 s (so clients ping every 60 s, say), and ping clients every
# 2 minutes ourselves, to let go of connections whose client has vanished.
KEEPALIVE = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 30_000),
    ("grpc.keepalive_time_ms", 120_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.max_pings_without_data", 0),
]


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
        self.health.enter_graceful_shutdown()

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
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), options=KEEPALIVE)
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
