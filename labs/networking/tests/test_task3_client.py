"""Task 3: resilient clients. Your client runs in the worker; the servers it calls run here,
in the judge, on loopback. Retry rules are checked against a scripted server with a fake
clock and sleep (no real waiting: the client calls them back across the boundary);
connection reuse and timeouts against servers that count connections or never answer."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest

pytestmark = pytest.mark.task(3)

ROW = [12.0, 70.0, 2.0, 15.0]
# Each test makes a few calls of a fraction of a second; a call still running after this
# long is a retry loop that never ends, and the worker is replaced.
CALL_TIMEOUT_S = 10.0
RUNAWAY = 50  # sleeps before the fake sleep calls the retries unbounded
# How often a loopback server looks for shutdown(): the default, 0.5 s, is paid per test.
POLL_S = 0.02
DROP = "drop"  # a scripted outcome: read the request, then close the connection unanswered


class TooManyAttempts(Exception):
    """Raised by the fake sleep at its 50th call: the retries are unbounded.

    The client sees it as an exception from ``sleep()``; one that swallows it and keeps
    looping is stopped by the call's timeout instead.
    """


class TopOfRange(random.Random):
    """An rng whose draws land at the top of their range: backoff_delay returns its cap."""

    def random(self) -> float:
        return 1.0

    def uniform(self, a: float, b: float) -> float:
        return b


class FakeTime:
    """A clock that only moves when the client sleeps.

    ``after_sleep`` maps a sleep's number (1 for the first) to what the world does then:
    a server that was restarting comes back, say.
    """

    def __init__(self, after_sleep: dict[int, Callable[[], None]] | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.after_sleep = dict(after_sleep or {})

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) >= RUNAWAY:
            raise TooManyAttempts(f"{RUNAWAY} attempts and counting: the retries are unbounded")
        self.now += seconds
        then = self.after_sleep.get(len(self.sleeps))
        if then is not None:
            then()


@dataclass(frozen=True)
class Seen:
    """One request as the scripted server received it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]


class _ScriptHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    server: _ScriptHTTPServer

    def _play(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        outcome = self.server.script.next_outcome(seen)
        # httpx raises RemoteProtocolError here: a TransportError, and not a ConnectError.
        if outcome == DROP:
            self.close_connection = True
            return
        body = b'{"predictions": [0.5], "model_version": "1"}'
        self.send_response(int(outcome))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _play

    def log_message(self, *args: Any) -> None:
        pass


class _ScriptHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    script: ScriptedServer


class ScriptedServer:
    """A loopback HTTP server that plays a list of outcomes (status codes, or DROP), one
    per request, the last one repeating, and records every request it saw.

    Made with ``listening=False`` it holds its port but refuses connections (a server that
    is restarting) until ``listen()``.
    """

    def __init__(self, *outcomes: int | str, listening: bool = True) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._http = _ScriptHTTPServer(("127.0.0.1", 0), _ScriptHandler, bind_and_activate=False)
        self._http.script = self
        self._http.server_bind()  # bound, not listening: connections are refused
        self._thread: threading.Thread | None = None
        host, port = self._http.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        if listening:
            self.listen()

    def listen(self) -> None:
        self._http.server_activate()
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(POLL_S,), daemon=True
        )
        self._thread.start()

    def next_outcome(self, seen: Seen) -> int | str:
        with self._lock:
            self.requests.append(seen)
            return self.outcomes[min(len(self.requests), len(self.outcomes)) - 1]

    def close(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
        self._http.server_close()


@pytest.fixture
def script() -> Iterator[Callable[..., ScriptedServer]]:
    """``script(503, 503, 200)``: a scripted server, closed after the test."""
    made: list[ScriptedServer] = []

    def make(*outcomes: int | str, listening: bool = True) -> ScriptedServer:
        made.append(ScriptedServer(*outcomes, listening=listening))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def client(learner: Any) -> Any:
    """Your ``netlab.client``, imported in the worker."""
    return learner.module("netlab.client", timeout=CALL_TIMEOUT_S)


def make_client(client: Any, server: ScriptedServer, fake: FakeTime, **kw: Any) -> Any:
    """A RestClient in the worker, calling ``server``, sleeping and timing with ``fake``."""
    kw.setdefault("policy", client.RetryPolicy())
    kw.setdefault("rng", TopOfRange())
    return client.RestClient(server.url, sleep=fake.sleep, clock=fake.clock, **kw)


def _grpc_outcome(call: Callable[[], Any]) -> str:
    """The gRPC status code a call ended with ("OK" when it returned), or what it raised."""
    try:
        call()
    except AssertionError:  # the worker timed out or is gone: its own message says it best
        raise
    except Exception as exc:
        code = getattr(exc, "code", None)  # a grpc.RpcError's code, by name
        return code if isinstance(code, str) else f"{type(exc).__name__}: {exc}".splitlines()[0]
    return "OK"


def _outcome(call: Callable[[], Any]) -> int | str:
    """What a call ended with: the response's status code, or the exception it raised."""
    try:
        return call().status_code
    except AssertionError:  # the worker timed out or is gone: its own message says it best
        raise
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


def test_backoff_is_exponential_and_capped(client: Any) -> None:
    policy = client.RetryPolicy(base_delay_s=0.05, max_delay_s=1.0, multiplier=2.0)
    got = [client.backoff_delay(retry, policy, TopOfRange()) for retry in range(7)]
    want = [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert got == pytest.approx(want), (
        f"backoff_delay(0..6) with the rng at the top of its range gave {got}; expected the "
        f"caps {want}: base * multiplier**retry, never above max_delay_s."
    )


def test_backoff_has_full_jitter(client: Any) -> None:
    policy = client.RetryPolicy(base_delay_s=0.05, max_delay_s=1.0, multiplier=2.0)
    rng = random.Random(7)
    draws = [client.backoff_delay(3, policy, rng) for _ in range(500)]
    assert all(0 <= d <= 0.4 for d in draws), "backoff_delay(3) must stay within [0, 0.4]"
    assert min(draws) < 0.04 and max(draws) > 0.36, (
        f"500 draws of backoff_delay(3) ranged over [{min(draws):.3f}, {max(draws):.3f}]; "
        "full jitter spreads them over all of [0, 0.4]. Without jitter, clients that failed "
        "together retry together, and knock the server over again."
    )


def test_retry_does_not_retry_a_400(client: Any, script: Any) -> None:
    server, fake = script(400, 200), FakeTime()
    response = make_client(client, server, fake).request("GET", "/v1/thing")
    status = response.status_code
    assert len(server.requests) == 1 and status == 400, (
        f"A GET answered 400 was sent {len(server.requests)} times (final status "
        f"{status}); expected once. A 400 will fail the same way every time."
    )
    assert fake.sleeps == [], f"Nothing to retry, so no sleep; it slept {fake.sleeps}"


def test_retry_does_not_retry_a_500(client: Any, script: Any) -> None:
    server, fake = script(500, 200), FakeTime()
    response = make_client(client, server, fake).request("GET", "/v1/thing")
    status = response.status_code
    assert len(server.requests) == 1 and status == 500, (
        f"A GET answered 500 was sent {len(server.requests)} times (final status "
        f"{status}); expected once. A 500 is the server's own bug, not a passing overload: "
        "it fails the same way on every retry. Retry only 502, 503 and 504."
    )


def test_retry_a_503_with_backoff(client: Any, script: Any) -> None:
    server, fake = script(503, 503, 200), FakeTime()
    response = make_client(client, server, fake).request("GET", "/v1/thing")
    status = response.status_code
    assert status == 200 and len(server.requests) == 3, (
        f"A GET answered 503, 503, then 200 ended with {status} after "
        f"{len(server.requests)} attempts; expected 200 after 3."
    )
    assert fake.sleeps == pytest.approx([0.05, 0.1]), (
        f"Between the attempts it slept {fake.sleeps}; expected backoff_delay(0) and "
        "backoff_delay(1), drawn with the rng you were given (here: [0.05, 0.1]). Retrying "
        "at once hammers a server that just said it is overloaded."
    )


def test_connection_errors_are_retried(client: Any, script: Any) -> None:
    # The server is restarting: it refuses connections until the client has backed off twice.
    server = script(200, listening=False)
    fake = FakeTime(after_sleep={2: server.listen})
    outcome = _outcome(lambda: make_client(client, server, fake).request("GET", "/v1/thing"))
    assert outcome == 200 and len(fake.sleeps) == 2, (
        f"A GET to a server that refused 2 connections, then answered 200, ended with "
        f"{outcome!r} after {len(fake.sleeps) + 1} attempts; expected 200 after 3: a "
        "connection error (httpx.TransportError) is retryable."
    )


def test_a_connection_dropped_before_the_answer_is_retried(client: Any, script: Any) -> None:
    server, fake = script(DROP, DROP, 200), FakeTime()
    outcome = _outcome(lambda: make_client(client, server, fake).request("GET", "/v1/thing"))
    assert outcome == 200 and len(server.requests) == 3, (
        f"A GET whose connection was closed twice before any answer, then answered 200, "
        f"ended with {outcome!r} after {len(server.requests)} attempts; expected 200 after "
        "3. A reset or a protocol error mid-response is a transport error like a refused "
        "connection: retry every httpx.TransportError, not only httpx.ConnectError."
    )


def test_retries_are_bounded(client: Any, script: Any) -> None:
    server, fake = script(503), FakeTime()
    rest = make_client(client, server, fake, policy=client.RetryPolicy(max_attempts=4))
    response = rest.request("GET", "/x")
    assert len(server.requests) == 4, (
        f"A server answering 503 forever got {len(server.requests)} attempts with "
        "max_attempts=4; expected exactly 4 (the first try included)."
    )
    assert response.status_code == 503, "Once attempts run out, return the last response."


def test_retries_stop_at_the_time_budget(client: Any, script: Any) -> None:
    policy = client.RetryPolicy(max_attempts=100, base_delay_s=0.1, max_delay_s=0.5, budget_s=1.0)
    server, fake = script(503), FakeTime()
    make_client(client, server, fake, policy=policy).request("GET", "/x")
    slept = sum(fake.sleeps)
    assert 0 < slept <= 1.0 and 2 <= len(server.requests) < 100, (
        f"With budget_s=1.0 it made {len(server.requests)} attempts and slept {slept:.2f}s in "
        "all (on the injected clock); expected retries that stop before 1 s has passed."
    )


def test_post_without_idempotency_key_is_not_retried(
    learner: Any, client: Any, script: Any
) -> None:
    server, fake = script(503, 200), FakeTime()
    with learner.raises("httpx.HTTPStatusError"):
        make_client(client, server, fake).predict([ROW])
    assert len(server.requests) == 1, (
        f"predict() without an idempotency key was sent {len(server.requests)} times after a "
        "503; expected once. The first POST may already have done its work: resend it only "
        "when the server can recognise the repeat by its Idempotency-Key."
    )


def test_post_with_idempotency_key_is_retried_with_the_same_key(client: Any, script: Any) -> None:
    server, fake = script(503, 503, 200), FakeTime()
    scores = make_client(client, server, fake).predict([ROW], idempotency_key="order-42")
    keys = [r.headers.get("idempotency-key") for r in server.requests]
    assert scores == [0.5] and keys == ["order-42"] * 3, (
        f"predict(idempotency_key='order-42') against 503, 503, 200 returned {scores} and sent "
        f"Idempotency-Key {keys}; expected [0.5] and the same key on all 3 attempts."
    )


class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.connections += 1  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"predictions": [0.5], "model_version": "1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    server.daemon_threads = True
    server.connections = 0  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_rest_client_reuses_one_connection(
    client: Any, counting_server: ThreadingHTTPServer
) -> None:
    host, port = counting_server.server_address[:2]
    with client.RestClient(f"http://{host!s}:{port}") as rest:
        for _ in range(20):
            assert rest.predict([ROW]) == [0.5]
    opened = counting_server.connections  # type: ignore[attr-defined]
    assert opened == 1, (
        f"20 predict() calls on one RestClient opened {opened} TCP connections; expected 1. "
        "Create the httpx.Client once, in __init__: a client per call pays a handshake per "
        "call (25 ms instead of 1 ms, measured on this kind of machine)."
    )


def test_rest_call_has_a_timeout(learner: Any, client: Any) -> None:
    silent = socket.socket()  # accepts connections (backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        rest = client.RestClient(
            f"http://127.0.0.1:{port}", timeout_s=0.3, policy=client.RetryPolicy(max_attempts=1)
        )
        t0 = time.perf_counter()
        with learner.raises("httpx.TimeoutException"):
            rest.request("GET", "/healthz")
        elapsed = time.perf_counter() - t0
        rest.close()
    finally:
        silent.close()
    assert elapsed < 2.0, (
        f"A GET to a server that never answers, with timeout_s=0.3, gave up after "
        f"{elapsed:.1f}s; expected about 0.3 s. Pass timeout_s to httpx."
    )


class FakeModelService:
    """An in-process ModelService whose behaviour each test sets."""

    def __init__(self, pb2: Any) -> None:
        self.pb2 = pb2
        self.peers: list[str] = []
        self.plan: list[Callable[[Any], None]] = []
        self.release = threading.Event()

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.peers.append(context.peer())
        if self.plan:
            self.plan.pop(0)(context)
        return self.pb2.PredictResponse(scores=[0.25] * len(request.rows), model_version="1")

    def PredictStream(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:
        for request in request_iterator:
            yield self.Predict(request, context)


@pytest.fixture
def fake_grpc(pb: Any) -> Iterator[tuple[FakeModelService, str]]:
    pb2, pb2_grpc = pb
    service = FakeModelService(pb2)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb2_grpc.add_ModelServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, f"127.0.0.1:{port}"
    service.release.set()
    server.stop(0).wait()


def _abort(code: grpc.StatusCode) -> Callable[[Any], None]:
    return lambda context: context.abort(code, f"scripted {code.name}")


def _grpc_client(client: Any, target: str, fake: FakeTime, **kw: Any) -> Any:
    return client.GrpcClient(target, sleep=fake.sleep, clock=fake.clock, rng=TopOfRange(), **kw)


def test_grpc_client_reuses_one_channel(
    client: Any, fake_grpc: tuple[FakeModelService, str]
) -> None:
    service, target = fake_grpc
    with _grpc_client(client, target, FakeTime()) as grpc_client:
        for _ in range(10):
            assert grpc_client.predict([ROW]) == [0.25]
    assert len(set(service.peers)) == 1, (
        f"10 predict() calls on one GrpcClient came from {len(set(service.peers))} different "
        "client ports; expected 1. Open the channel once, in __init__: a channel per call "
        "pays a connection setup per call."
    )


def test_grpc_does_not_retry_invalid_argument(
    learner: Any, client: Any, fake_grpc: tuple[FakeModelService, str]
) -> None:
    service, target = fake_grpc
    service.plan = [_abort(grpc.StatusCode.INVALID_ARGUMENT)] * 5
    fake = FakeTime()
    with (
        _grpc_client(client, target, fake) as grpc_client,
        learner.raises("grpc.RpcError") as info,
    ):
        grpc_client.predict([ROW])
    code = info.value.code
    assert code == "INVALID_ARGUMENT" and len(service.peers) == 1, (
        f"A call rejected with INVALID_ARGUMENT reached the server {len(service.peers)} times "
        f"and ended with {code}; expected once, then INVALID_ARGUMENT raised."
    )


def test_grpc_does_not_retry_deadline_exceeded(
    learner: Any, client: Any, fake_grpc: tuple[FakeModelService, str]
) -> None:
    service, target = fake_grpc
    service.plan = [_abort(grpc.StatusCode.DEADLINE_EXCEEDED)] * 5
    fake = FakeTime()
    with (
        _grpc_client(client, target, fake) as grpc_client,
        learner.raises("grpc.RpcError") as info,
    ):
        grpc_client.predict([ROW])
    code = info.value.code
    assert code == "DEADLINE_EXCEEDED" and len(service.peers) == 1, (
        f"A call that ended with DEADLINE_EXCEEDED reached the server {len(service.peers)} "
        f"times and ended with {code}; expected once, then DEADLINE_EXCEEDED raised. The "
        "caller's time is spent: another attempt makes it wait a whole deadline more."
    )


def test_grpc_retries_unavailable_with_backoff(
    client: Any, fake_grpc: tuple[FakeModelService, str]
) -> None:
    service, target = fake_grpc
    service.plan = [_abort(grpc.StatusCode.UNAVAILABLE)] * 2
    fake = FakeTime()
    with _grpc_client(client, target, fake) as grpc_client:
        scores = grpc_client.predict([ROW])
    assert scores == [0.25] and len(service.peers) == 3, (
        f"Against UNAVAILABLE, UNAVAILABLE, OK, predict() returned {scores} after "
        f"{len(service.peers)} calls; expected [0.25] after 3."
    )
    assert fake.sleeps == pytest.approx([0.05, 0.1]), (
        f"It slept {fake.sleeps} between attempts; expected backoff_delay(0), backoff_delay(1)."
    )


def test_grpc_call_has_a_deadline(client: Any, fake_grpc: tuple[FakeModelService, str]) -> None:
    service, target = fake_grpc
    service.plan = [lambda context: service.release.wait(5)] * 5
    with _grpc_client(client, target, FakeTime(), timeout_s=0.3) as grpc_client:
        t0 = time.perf_counter()
        code = _grpc_outcome(lambda: grpc_client.predict([ROW]))
        elapsed = time.perf_counter() - t0
    assert code == "DEADLINE_EXCEEDED" and elapsed < 2.0, (
        f"A call to a server that hangs for 5 s, with timeout_s=0.3, ended with {code} "
        f"after {elapsed:.1f}s; expected DEADLINE_EXCEEDED after about 0.3 s (and no retry: "
        "the time budget is spent)."
    )
