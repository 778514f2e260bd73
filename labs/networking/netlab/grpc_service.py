"""Task 2: the same model over gRPC, from ``proto/model.proto``.

- ``Predict``: one ``PredictRequest`` in, one ``PredictResponse`` out (scores in row order,
  ``model_version``, and ``replica`` set to this server's name).
- ``PredictStream``: a stream of requests in, one response per request out, in order.
- Bad input (the model raises ``BadInput``) ends the call with ``INVALID_ARGUMENT`` and a
  message that says what is wrong, not with UNKNOWN.
- Deadlines: pass the caller's remaining time (``context.time_remaining()``) to
  ``model.predict(rows, timeout=...)``. If the model raises ``ModelTimeout``, end the call
  with ``DEADLINE_EXCEEDED``, so the worker thread is free for the next caller.
- ``serve()`` also registers the standard ``grpc.health.v1`` service
  (``grpc_health.v1.health.HealthServicer``): SERVING for ``""`` and for ``SERVICE_NAME``,
  NOT_FOUND for any other name, and NOT_SERVING for all of them after ``drain()``.

Get the generated classes with ``pb2, pb2_grpc = protos.load()``. The servicer does not need
to subclass the generated base class: ``pb2_grpc.add_ModelServiceServicer_to_server`` accepts
any object with the two methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health

from netlab import protos  # noqa: F401 (you will need it)
from netlab.model import BadInput, LogisticModel, ModelTimeout  # noqa: F401

SERVICE_NAME = "netlab.v1.ModelService"


class ModelServicer:
    """Implements ``ModelService``. ``replica`` is echoed in every response."""

    def __init__(self, model: LogisticModel, replica: str = "") -> None:
        self.model = model
        self.replica = replica

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        # TODO(student)
        raise NotImplementedError("TODO(student): score request.rows and return a response")

    def PredictStream(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        # TODO(student)
        raise NotImplementedError("TODO(student): answer each request of the stream in turn")


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer

    def drain(self) -> None:
        """Report NOT_SERVING for every service from now on (calls are still answered)."""
        # TODO(student)
        raise NotImplementedError("TODO(student): tell health checkers this server is leaving")

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
    """Start a gRPC server with ModelService and the health service; return it running.

    Use a thread pool of exactly ``max_workers`` threads (the tests rely on it), bind
    ``host:port`` (port 0: the OS picks one; ``add_insecure_port`` returns it).
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): build, bind and start the gRPC server")
