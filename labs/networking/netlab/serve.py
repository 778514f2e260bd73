"""Run a server in its own process. Provided: you do not need to edit this file.

By hand (from the lab folder)::

    python -m netlab.serve rest                 # prints "PORT 41234", then serves
    python -m netlab.serve rest --poison-row 13,13,13,13   # the model crashes on that row
    python -m netlab.serve grpc --name r1       # the same for gRPC
    python -m netlab.serve grpc --tls-dir DIR   # mutual TLS (task 6); so does rest

    python -m netlab.serve busy-rest --max-in-flight 4   # a slow stand-in app behind your
    python -m netlab.serve busy-grpc --max-in-flight 4   # load shedding (task 7)

With ``--tls-dir`` the folder holds ``ca.pem`` (the CA whose clients are accepted),
``server.pem`` and ``server.key``. ``write_files()`` makes such a folder.

The process prints ``PORT <n>`` on its first line (it binds port 0, so the OS picks a free
port), then reads commands on stdin, one per line, and answers each on stdout:

    drain   start draining (readiness fails, requests are still served)  -> "OK drain"
    stats   how many rows the model has scored so far                    -> "ROWS <n>"
    stop    shut down (so does closing stdin, or Ctrl+D)                 -> "OK stop"
    reload  gRPC with --tls-dir: serve server.pem/server.key as they are now -> "OK reload"

The busy servers answer every call only once released (each call stands for slow work, such
as a model on a busy GPU), so a test can hold calls in flight and count what was shed:

    inflight  how many calls the stand-in is working on                      -> "INFLIGHT <n>"
    release   let every call held, and every later one, finish               -> "OK release"
    hold      hold calls again                                               -> "OK hold"

A REST call to ``/v1/predict?fail=1`` (and a gRPC call with no rows) fails at once instead,
with a 500 (an exception) or INTERNAL. ``GET /healthz`` and ``/readyz`` answer 200 at once.

Tests, the benchmark and you all start servers through ``spawn()``. Why a separate process?
A client and a server in one Python process share one GIL, and the latency you measure is
mostly the two fighting over it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from netlab.model import LogisticModel

LAB_DIR = Path(__file__).resolve().parent.parent


def _command_loop(handlers: dict[str, Callable[[], str]]) -> None:
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stop":
                break
            handler = handlers.get(command)
            reply = handler() if handler else f"ERR unknown command {command!r}"
            print(reply, flush=True)
    except KeyboardInterrupt:  # Ctrl+C when run by hand
        pass
    print("OK stop", flush=True)


def _wait_for_gate(gate: Path) -> None:
    # Stands in for a slow model download: loading finishes only once the file exists.
    while not gate.exists():
        time.sleep(0.01)


def _poison(model: LogisticModel, poison: list[float]) -> None:
    """Make ``model.predict`` raise RuntimeError for a batch holding ``poison``: a bug in the
    model that no validation can catch, for the server's unhandled-error path."""
    real = model.predict

    def predict(rows: Sequence[Sequence[float]], *, timeout: float | None = None) -> list[float]:
        if any([float(x) for x in row] == poison for row in rows):
            raise RuntimeError(f"the model crashed on row {poison} (--poison-row)")
        return real(rows, timeout=timeout)

    model.predict = predict  # type: ignore[method-assign]


def _tls_paths(tls_dir: str) -> tuple[str, str, str]:
    """(ca.pem, server.pem, server.key) in ``tls_dir``."""
    folder = Path(tls_dir)
    return str(folder / "ca.pem"), str(folder / "server.pem"), str(folder / "server.key")


def _serve_rest(args: argparse.Namespace) -> None:
    import uvicorn

    from netlab import rest_service
    from netlab.model import load_model

    def loader() -> LogisticModel:
        if args.model_gate:
            _wait_for_gate(Path(args.model_gate))
        model = load_model()
        if args.poison_row:
            _poison(model, [float(x) for x in args.poison_row.split(",")])
        return model

    app = rest_service.create_app(loader)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    tls: dict[str, object] = {}
    if args.tls_dir:
        from netlab import secure

        tls = secure.uvicorn_ssl_options(*_tls_paths(args.tls_dir))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **tls)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)

    def drain() -> str:
        rest_service.start_draining(app)
        return "OK drain"

    def stats() -> str:
        model = getattr(app.state, "model", None)
        return f"ROWS {model.rows_scored if model else 0}"

    _command_loop({"drain": drain, "stats": stats})
    server.should_exit = True
    thread.join(timeout=5)


def _serve_grpc(args: argparse.Namespace) -> None:
    from netlab import grpc_service
    from netlab.model import load_model

    model = load_model(row_delay_s=args.row_delay_ms / 1000)
    if args.tls_dir:
        _serve_grpc_tls(args, model)
        return
    running = grpc_service.serve(
        model, host="127.0.0.1", port=0, max_workers=args.max_workers, replica=args.name
    )
    print(f"PORT {running.port}", flush=True)

    def drain() -> str:
        running.drain()
        return "OK drain"

    _command_loop({"drain": drain, "stats": lambda: f"ROWS {model.rows_scored}"})
    running.stop(grace=1.0)


def _serve_grpc_tls(args: argparse.Namespace, model: LogisticModel) -> None:
    """Your task-2 servicer and the health service, on a port secured by your task-6
    ServerIdentity."""
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    from netlab import grpc_service, protos, secure

    identity = secure.ServerIdentity(*_tls_paths(args.tls_dir))
    _, pb2_grpc = protos.load()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.max_workers))
    pb2_grpc.add_ModelServiceServicer_to_server(
        grpc_service.ModelServicer(model, args.name), server
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_secure_port("127.0.0.1:0", identity.grpc_credentials())
    server.start()
    for name in ("", "netlab.v1.ModelService"):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    print(f"PORT {port}", flush=True)

    def reload() -> str:
        try:
            identity.reload()
        except Exception as exc:  # the old certificate stays; say why the new one did not load
            return f"ERR reload {type(exc).__name__}: {exc}"
        return "OK reload"

    _command_loop({"reload": reload, "stats": lambda: f"ROWS {model.rows_scored}"})
    server.stop(1.0).wait()


class _Gate:
    """Calls wait here until released; counts the calls waiting or working."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self._lock = threading.Lock()
        self.inflight = 0

    def enter(self) -> None:
        with self._lock:
            self.inflight += 1

    def leave(self) -> None:
        with self._lock:
            self.inflight -= 1

    def commands(self) -> dict[str, Callable[[], str]]:
        def release() -> str:
            self.released.set()
            return "OK release"

        def hold() -> str:
            self.released.clear()
            return "OK hold"

        return {
            "release": release,
            "hold": hold,
            "inflight": lambda: f"INFLIGHT {self.inflight}",
        }


def _serve_busy_rest(args: argparse.Namespace) -> None:
    """A stand-in FastAPI app whose predict waits for the gate, behind your LoadShedding."""
    import asyncio

    import uvicorn
    from fastapi import FastAPI

    from netlab import overload

    gate = _Gate()
    busy = FastAPI()

    @busy.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @busy.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @busy.post("/v1/predict")
    async def predict(body: dict[str, object], fail: int = 0) -> dict[str, object]:
        if fail:
            raise RuntimeError("scripted failure (fail=1)")
        gate.enter()
        try:
            while not gate.released.is_set():
                await asyncio.sleep(0.005)  # awaiting, as a call to a model server would
        finally:
            gate.leave()
        rows = body.get("instances", [])
        return {"predictions": [0.25] * len(rows if isinstance(rows, list) else [])}

    app = overload.LoadShedding(
        busy, max_in_flight=args.max_in_flight, retry_after_s=args.retry_after_s
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    # uvicorn's default lifespan handling, as a real deployment has: the lifespan scope
    # passes through your LoadShedding too, and stays in the app while the server runs.
    config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    _command_loop(gate.commands())
    gate.released.set()
    server.should_exit = True
    thread.join(timeout=5)


def _serve_busy_grpc(args: argparse.Namespace) -> None:
    """A stand-in ModelService whose Predict waits for the gate, on your shedding server."""
    import grpc

    from netlab import overload, protos

    pb2, pb2_grpc = protos.load()
    gate = _Gate()

    class Busy:
        def Predict(self, request: object, context: grpc.ServicerContext) -> object:
            rows = list(request.rows)  # type: ignore[attr-defined]
            if not rows:
                context.abort(grpc.StatusCode.INTERNAL, "scripted failure (no rows)")
            gate.enter()
            try:
                while not gate.released.wait(0.05) and context.is_active():
                    pass
            finally:
                gate.leave()
            return pb2.PredictResponse(scores=[0.25] * len(rows), model_version="1")

        def PredictStream(self, requests: Iterator[object], context: grpc.ServicerContext):  # type: ignore[no-untyped-def]
            for request in requests:
                yield self.Predict(request, context)

    server = overload.shedding_grpc_server(max_workers=32, max_in_flight=args.max_in_flight)
    pb2_grpc.add_ModelServiceServicer_to_server(Busy(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"PORT {port}", flush=True)
    _command_loop(gate.commands())
    gate.released.set()
    server.stop(1.0).wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m netlab.serve", description=__doc__)
    sub = parser.add_subparsers(dest="kind", required=True)
    rest = sub.add_parser("rest", help="FastAPI + uvicorn (task 1)")
    rest.add_argument("--model-gate", help="finish loading the model only once this file exists")
    rest.add_argument("--poison-row", help="a row (a,b,c,d) on which the model raises RuntimeError")
    rest.add_argument("--tls-dir", help="serve mutual TLS with ca.pem, server.pem, server.key")
    grpc_ = sub.add_parser("grpc", help="gRPC (task 2)")
    grpc_.add_argument("--name", default="", help="replica name, echoed in every response")
    grpc_.add_argument("--row-delay-ms", type=float, default=0.0, help="pretend-work per row")
    grpc_.add_argument("--max-workers", type=int, default=8, help="server thread pool size")
    grpc_.add_argument("--tls-dir", help="serve mutual TLS with ca.pem, server.pem, server.key")
    for kind in ("busy-rest", "busy-grpc"):
        busy = sub.add_parser(kind, help="a stand-in that holds calls, behind your shedding")
        busy.add_argument("--max-in-flight", type=int, default=4, help="your shedding bound")
        if kind == "busy-rest":
            busy.add_argument("--retry-after-s", type=int, default=1, help="Retry-After value")
    args = parser.parse_args(argv)
    serve = {
        "rest": _serve_rest,
        "grpc": _serve_grpc,
        "busy-rest": _serve_busy_rest,
        "busy-grpc": _serve_busy_grpc,
    }[args.kind]
    serve(args)


@dataclass
class ServerProcess:
    """A server running in a child process: ``port``, plus the stdin commands above."""

    kind: str
    port: int
    proc: subprocess.Popen[str]
    _stderr: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def rows_scored(self) -> int:
        return int(self.command("stats").split()[1])

    def stderr_tail(self, limit: int = 3000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-limit:]

    def stop(self) -> None:
        """Ask the server to stop; kill it if it does not within 5 s."""
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            if stream is not None:
                stream.close()

    def kill(self) -> None:
        """SIGKILL: the replica vanishes mid-run, as when a node dies."""
        self.proc.kill()
        self.proc.wait()


def start(kind: str, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    """Start ``python -m netlab.serve <kind> <args>`` and return once it has printed its port.

    The port being printed means it is bound, not that it is ready: poll a health endpoint.
    """
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(LAB_DIR), child_env.get("PYTHONPATH", "")) if p
    )
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by ServerProcess.stop)
    proc = subprocess.Popen(
        [sys.executable, "-m", "netlab.serve", kind, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        cwd=LAB_DIR,
        env=child_env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()  # blocks until the port is printed or the child dies
    server = ServerProcess(kind, 0, proc, stderr)
    if not first.startswith("PORT "):
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        tail = server.stderr_tail()
        server.stop()
        raise RuntimeError(
            f"`python -m netlab.serve {kind}` did not start (it printed {first!r}).\n"
            f"Its stderr ends with:\n{tail}"
        )
    server.port = int(first.split()[1])
    return server


def write_files(files: dict[str, str], folder: str | None = None) -> str:
    """Write ``{name: text}`` into ``folder`` (a new private temporary folder if None) and
    return the folder. Each file is replaced whole (written aside, then renamed), so a
    server never reads half a certificate."""
    target = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="netlab-tls-"))
    for name, text in files.items():
        if Path(name).name != name:
            raise ValueError(f"write_files: {name!r} is not a plain file name")
        aside = target / f".{name}.new"
        aside.write_text(text)
        os.chmod(aside, 0o600)
        os.replace(aside, target / name)
    return str(target)


@contextlib.contextmanager
def spawn(kind: str, *args: str, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """``with spawn("grpc", "--name", "r1") as srv: ...`` and the server is stopped after."""
    server = start(kind, *args, env=env)
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    main()
