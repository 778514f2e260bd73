"""A stand-in model replica for the task-4 tests (independent of your task-2 server).

    python tests/replica.py NAME [DELAY_MS]   prints "PORT <n>", then obeys stdin commands:
    unhealthy | healthy              flip grpc.health.v1 to NOT_SERVING / SERVING -> "OK"
    calls                            how many Predict calls it has received -> "OK <n>"
    in-flight                        how many it is working on right now -> "OK <n>"

It keeps answering Predict whatever its health says, like a real server that is draining:
only the health status tells a balancer to stop sending it traffic. A row without exactly
4 features is rejected with INVALID_ARGUMENT, as the real server does.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from netlab import protos

SERVICE_NAME = "netlab.v1.ModelService"
N_FEATURES = 4


def main() -> None:
    name = sys.argv[1]
    delay_s = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    pb2, pb2_grpc = protos.load()

    calls = in_flight = 0
    lock = threading.Lock()

    class Servicer:
        def Predict(self, request, context):
            nonlocal calls, in_flight
            with lock:
                calls += 1
            if any(len(row.features) != N_FEATURES for row in request.rows):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"rows need {N_FEATURES} features")
            if delay_s:
                with lock:
                    in_flight += 1
                time.sleep(delay_s)  # keeps calls in flight when a test kills this replica
                with lock:
                    in_flight -= 1
            return pb2.PredictResponse(scores=[0.5] * len(request.rows), replica=name)

        def PredictStream(self, request_iterator, context):
            for request in request_iterator:
                yield self.Predict(request, context)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb2_grpc.add_ModelServiceServicer_to_server(Servicer(), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()

    def set_all(status: int) -> None:
        for service in ("", SERVICE_NAME):
            health_servicer.set(service, status)

    set_all(health_pb2.HealthCheckResponse.SERVING)
    print(f"PORT {port}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        reply = "OK"
        if command == "unhealthy":
            set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        elif command == "healthy":
            set_all(health_pb2.HealthCheckResponse.SERVING)
        elif command == "calls":
            with lock:
                reply = f"OK {calls}"
        elif command == "in-flight":
            with lock:
                reply = f"OK {in_flight}"
        print(reply, flush=True)
    server.stop(0).wait()


if __name__ == "__main__":
    main()
