"""Run a server in its own process. Provided: you do not need to edit this file.

By hand (from the lab folder)::

    python -m netlab.serve rest                 # prints "PORT 41234", then serves
    python -m netlab.serve grpc --name r1       # the same for gRPC
    python -m netlab.serve grpc --tls-dir DIR   # mutual TLS (task 6); so does rest

With ``--tls-dir`` the folder holds ``ca.pem`` (the CA whose clients are accepted),
``server.pem`` and ``server.key``. ``write_files()`` makes such a folder.

The process prints ``PORT <n>`` on its first line (it binds port 0, so the OS picks a free
port), then reads commands on stdin, one per line, and answers each on stdout:

    drain   start draining (readiness fails, requests are still served)  -> "OK drain"
    stats   how many rows the model has scored so far                    -> "ROWS <n>"
    stop    shut down (so does closing stdin, or Ctrl+D)                 -> "OK stop"
    reload  gRPC with --tls-dir: serve server.pem/server.key as they are now -> "OK reload"

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
        return load_model()

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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m netlab.serve", description=__doc__)
    sub = parser.add_subparsers(dest="kind", required=True)
    rest = sub.add_parser("rest", help="FastAPI + uvicorn (task 1)")
    rest.add_argument("--model-gate", help="finish loading the model only once this file exists")
    rest.add_argument("--tls-dir", help="serve mutual TLS with ca.pem, server.pem, server.key")
    grpc_ = sub.add_parser("grpc", help="gRPC (task 2)")
    grpc_.add_argument("--name", default="", help="replica name, echoed in every response")
    grpc_.add_argument("--row-delay-ms", type=float, default=0.0, help="pretend-work per row")
    grpc_.add_argument("--max-workers", type=int, default=8, help="server thread pool size")
    grpc_.add_argument("--tls-dir", help="serve mutual TLS with ca.pem, server.pem, server.key")
    args = parser.parse_args(argv)
    if args.kind == "rest":
        _serve_rest(args)
    else:
        _serve_grpc(args)


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
