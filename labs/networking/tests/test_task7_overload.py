"""Task 7: overload. Your shedding runs in front of stand-in servers that hold every call
until the test releases it (``python -m netlab.serve busy-rest|busy-grpc``), so the queue
bound is counted, not timed. The breaker and the client run on a fake clock that only
moves when the client sleeps; the client calls a scripted server here, in the judge.

Each requirement of overload.py's docstrings and of the lesson, and the test that fails when
that requirement alone is broken:

- LoadShedding "at most max_in_flight requests inside the app; the next one gets 429 at
  once" -> test_rest_server_without_a_queue_bound_is_rejected; "with Retry-After:
  <retry_after_s>" -> test_rest_shedding_without_retry_after_is_rejected; "give the slot
  back in a finally" -> test_rest_shedding_slot_leaked_by_a_failed_request_is_rejected;
  count only HTTP requests (lesson) -> test_rest_shedding_counting_the_lifespan_scope_..;
  "exempt_paths are never shed" -> test_rest_shedding_the_health_probes_is_rejected
- shedding_grpc_server "RESOURCE_EXHAUSTED while max_in_flight calls are handled or wait"
  -> test_grpc_server_without_a_queue_bound_is_rejected
- retry_after_s "None when absent or not a non-negative number of seconds"
  -> test_retry_after_parsed_wrong_is_rejected
- CircuitBreaker closed: "at least min_calls" -> test_breaker_opening_before_min_calls_..;
  "the share of failures is failure_rate or more" -> test_breaker_not_opening_at_the_
  failure_rate_..; a rate, not failures in a row -> test_breaker_counting_consecutive_..;
  "the last window calls" -> test_breaker_without_a_window_is_rejected
- open: "allow() is False until open_s seconds (on clock)" -> test_breaker_timed_by_the_
  wall_clock_is_rejected, test_breaker_counting_while_open_is_rejected
- half-open: "one trial call at a time" -> test_half_open_breaker_letting_every_call_..;
  "its success closes the breaker (with an empty window)" -> test_successful_trial_not_
  closing_..; "its failure opens it again" -> test_failed_trial_not_reopening_..; and
  for open_s only, then one new trial -> test_breaker_never_trying_again_after_a_failed_..
- OverloadClient "with a timeout" -> test_client_without_a_timeout_is_rejected; "asks the
  breaker before each attempt (no request sent)" -> test_client_calling_through_an_open_
  breaker_is_rejected, the retries too -> test_client_retrying_through_an_open_breaker_..;
  "tells it each attempt's outcome: 429, 5xx and transport errors are failures"
  -> test_client_calling_through_an_open_breaker_is_rejected (500),
  test_client_keeping_an_overload_answer_from_the_breaker_is_rejected (429, 503),
  test_client_keeping_transport_errors_from_the_breaker_is_rejected (refused, dropped);
  "a 4xx other than 429 is a success" -> test_client_counting_a_400_against_the_server_..;
  "after a 429 or 503 with Retry-After waits that long" -> test_client_ignoring_retry_
  after_is_rejected (429, 503); "if the wait fits in budget_s" -> test_client_waiting_past_
  its_budget_is_rejected, on the injected clock -> test_client_budget_timed_by_the_wall_
  clock_is_rejected; "and attempts remain" -> test_client_retrying_a_429_for_ever_..
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import httpx
import pytest

pytestmark = pytest.mark.task(7)

ROW = [12.0, 70.0, 2.0, 15.0]
BOUND = 3  # --max-in-flight of the busy servers
BURST = 8  # calls sent at once: BOUND are admitted, the rest shed
RETRY_AFTER_S = 2
CALL_TIMEOUT_S = 15.0
POLL_S = 0.02


class FakeTime:
    """A clock that only moves when it is told to, or when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) >= 50:
            raise RuntimeError("50 sleeps and counting: the retries are unbounded")
        self.now += seconds


@pytest.fixture(scope="module")
def overload(learner: Any) -> Any:
    """Your ``netlab.overload``, imported in the worker."""
    return learner.module("netlab.overload", timeout=CALL_TIMEOUT_S)


# -- the server sheds load past its bound ----------------------------------------------------


class Busy:
    """A busy server the worker started, and the judge's view of a burst sent to it."""

    def __init__(self, server: Any, wait_until: Any) -> None:
        self.server = server
        self.wait_until = wait_until

    def inflight(self) -> int:
        return int(self.server.command("inflight").split()[1])

    def burst(self, call: Callable[[], Any], shed: Callable[[Any], bool]) -> tuple[int, list[Any]]:
        """Send BURST calls at once while the server holds them. Wait until every call is
        either held by the server or has come back shed; release; return (how many the
        server held, every outcome)."""
        assert self.server.command("hold") == "OK hold"
        pool = futures.ThreadPoolExecutor(max_workers=BURST)
        pending = [pool.submit(call) for _ in range(BURST)]
        try:

            def settled() -> bool:
                back = sum(1 for f in pending if f.done() and shed(f.result()))
                return back + self.inflight() == BURST

            self.wait_until(
                settled,
                timeout=12,
                what=f"each of {BURST} calls sent at once to be either held by the server or "
                f"refused (bound {BOUND}); the server held {self.inflight()}",
            )
            held = self.inflight()
        finally:
            self.server.command("release")
            outcomes = [f.result(timeout=20) for f in pending]
            pool.shutdown()
        return held, outcomes


@pytest.fixture(scope="module")
def busy_rest(start_server: Any, wait_until: Any) -> Iterator[Busy]:
    server = start_server(
        "busy-rest", "--max-in-flight", str(BOUND), "--retry-after-s", str(RETRY_AFTER_S)
    )
    url = server.url

    def up() -> bool:
        with httpx.Client(timeout=2) as http:
            return http.post(f"{url}/v1/predict?fail=1", json={}).status_code == 500

    wait_until(up, timeout=30, what=f"the busy REST server at {url} to answer")
    yield Busy(server, wait_until)
    server.stop()


def _rest_call(url: str) -> Callable[[], httpx.Response]:
    def call() -> httpx.Response:
        with httpx.Client(timeout=20) as http:  # a client each: a connection each
            return http.post(f"{url}/v1/predict", json={"instances": [ROW]})

    return call


def test_rest_server_without_a_queue_bound_is_rejected(busy_rest: Busy) -> None:
    url = busy_rest.server.url
    held, responses = busy_rest.burst(_rest_call(url), lambda r: r.status_code == 429)
    codes = sorted(r.status_code for r in responses)
    assert held == BOUND and codes.count(200) == BOUND and codes.count(429) == BURST - BOUND, (
        f"{BURST} requests at once to a server with --max-in-flight {BOUND}: it held {held} "
        f"and answered {codes}; expected {BOUND} held (then 200) and {BURST - BOUND} x 429 "
        "at once. Past the bound, a request must be refused, not queued: in a queue it "
        "waits past its caller's timeout, and is work done for nobody."
    )


def test_rest_shedding_without_retry_after_is_rejected(busy_rest: Busy) -> None:
    url = busy_rest.server.url
    _, responses = busy_rest.burst(_rest_call(url), lambda r: r.status_code == 429)
    shed = [r for r in responses if r.status_code == 429]
    headers = sorted({r.headers.get("Retry-After", "<none>") for r in shed})
    assert shed and headers == [str(RETRY_AFTER_S)], (
        f"The 429s carried Retry-After {headers}; expected '{RETRY_AFTER_S}' (the server "
        f"was started with --retry-after-s {RETRY_AFTER_S}). Without it every client guesses, "
        "and they all guess short."
    )


def test_rest_shedding_slot_leaked_by_a_failed_request_is_rejected(busy_rest: Busy) -> None:
    url = busy_rest.server.url
    failed = []
    for _ in range(BOUND + 1):
        # A connection each: after an exception the server may close the connection.
        with httpx.Client(timeout=10) as http:
            failed.append(http.post(f"{url}/v1/predict?fail=1", json={}).status_code)
    held, responses = busy_rest.burst(_rest_call(url), lambda r: r.status_code == 429)
    codes = sorted(r.status_code for r in responses)
    assert held == BOUND and codes.count(200) == BOUND, (
        f"After {BOUND + 1} requests that raised inside the app (answered {failed}), a burst "
        f"of {BURST} got {held} held and {codes}; expected {BOUND} admitted. A request that "
        "fails must give its slot back (try/finally), or the server ends up shedding "
        "everything."
    )


def test_rest_shedding_the_health_probes_is_rejected(busy_rest: Busy) -> None:
    url = busy_rest.server.url
    assert busy_rest.server.command("hold") == "OK hold"
    pool = futures.ThreadPoolExecutor(max_workers=BOUND)
    held = [pool.submit(_rest_call(url)) for _ in range(BOUND)]
    try:
        busy_rest.wait_until(
            lambda: busy_rest.inflight() == BOUND,
            timeout=12,
            what=f"{BOUND} calls to be held by the server (its bound)",
        )
        with httpx.Client(base_url=url, timeout=10) as http:
            probes = {path: http.get(path).status_code for path in ("/healthz", "/readyz")}
            one_more = http.post("/v1/predict", json={"instances": [ROW]}).status_code
    finally:
        busy_rest.server.command("release")
        for future in held:
            future.result(timeout=20)
        pool.shutdown()
    assert probes == {"/healthz": 200, "/readyz": 200} and one_more == 429, (
        f"With {BOUND} calls held (the bound), GET /healthz and /readyz answered {probes}, "
        f"and one more POST /v1/predict {one_more}; expected 200 for both probes, and 429 for "
        "the POST. A probe that is shed reads as 'dead' to the orchestrator: it restarts, "
        "or stops routing to, a pod that is only busy, just when its capacity is needed. "
        "Let exempt_paths through without counting them against the bound."
    )


def test_rest_shedding_counting_the_lifespan_scope_is_rejected(busy_rest: Busy) -> None:
    # The busy server runs its FastAPI app with uvicorn's default lifespan handling: the
    # "lifespan" scope stays inside the app for the server's whole life.
    url = busy_rest.server.url
    assert busy_rest.server.command("hold") == "OK hold"
    pool = futures.ThreadPoolExecutor(max_workers=BOUND)
    pending = [pool.submit(_rest_call(url)) for _ in range(BOUND)]
    try:
        busy_rest.wait_until(
            lambda: busy_rest.inflight() + sum(1 for f in pending if f.done()) == BOUND,
            timeout=12,
            what=f"each of {BOUND} calls to be held by the server or answered",
        )
        held = busy_rest.inflight()
    finally:
        busy_rest.server.command("release")
        codes = sorted(f.result(timeout=20).status_code for f in pending)
        pool.shutdown()
    assert held == BOUND and codes == [200] * BOUND, (
        f"{BOUND} requests at once, with --max-in-flight {BOUND}: the server held {held} and "
        f"answered {codes}; expected all {BOUND} held, then 200. Count only scope['type'] == "
        "'http': the 'lifespan' scope (startup and shutdown) stays inside a FastAPI app for "
        "the server's whole life, and counting it takes one slot for good."
    )


@pytest.fixture(scope="module")
def busy_grpc(start_server: Any, wait_until: Any, pb: Any) -> Iterator[Busy]:
    server = start_server("busy-grpc", "--max-in-flight", str(BOUND))
    pb2, pb2_grpc = pb

    def up() -> bool:
        with grpc.insecure_channel(server.target) as channel:
            stub = pb2_grpc.ModelServiceStub(channel)
            try:
                stub.Predict(pb2.PredictRequest(), timeout=2)
            except grpc.RpcError as exc:
                return exc.code() == grpc.StatusCode.INTERNAL
        return False

    wait_until(up, timeout=30, what=f"the busy gRPC server at {server.target} to answer")
    yield Busy(server, wait_until)
    server.stop()


def test_grpc_server_without_a_queue_bound_is_rejected(busy_grpc: Busy, pb: Any) -> None:
    pb2, pb2_grpc = pb
    channel = grpc.insecure_channel(busy_grpc.server.target)
    stub = pb2_grpc.ModelServiceStub(channel)
    request = pb2.PredictRequest(rows=[pb2.Row(features=ROW)])

    def call() -> str:
        try:
            stub.Predict(request, timeout=20)
        except grpc.RpcError as exc:
            return str(exc.code().name)
        return "OK"

    try:
        held, codes = busy_grpc.burst(call, lambda code: code == "RESOURCE_EXHAUSTED")
    finally:
        channel.close()
    codes.sort()
    assert held == BOUND and codes.count("OK") == BOUND, (
        f"{BURST} calls at once to a gRPC server with --max-in-flight {BOUND}: it held {held} "
        f"and they ended {codes}; expected {BOUND} held (then OK) and {BURST - BOUND} x "
        "RESOURCE_EXHAUSTED at once. A thread pool alone does not bound the queue: calls "
        "past max_workers wait, unbounded, until their deadline."
    )
    assert codes.count("RESOURCE_EXHAUSTED") == BURST - BOUND, (
        f"The calls past the bound ended {codes}; expected RESOURCE_EXHAUSTED, the status "
        "that says 'overloaded, not broken'."
    )


# -- the breaker, on a fake clock -------------------------------------------------------------


def _breaker(overload: Any, fake: FakeTime, **kw: Any) -> Any:
    params = {"failure_rate": 0.5, "window": 10, "min_calls": 6, "open_s": 5.0}
    return overload.CircuitBreaker(clock=fake.clock, **(params | kw))


def _feed(breaker: Any, outcomes: str) -> None:
    """'s' a success, 'f' a failure, each asked for with allow() first, as a client would."""
    for outcome in outcomes:
        assert breaker.allow() is True, "allow() refused a call while the breaker was closed"
        breaker.record(outcome == "s")


def test_breaker_opening_before_min_calls_is_rejected(overload: Any) -> None:
    breaker = _breaker(overload, FakeTime())
    _feed(breaker, "fffff")
    assert breaker.state == "closed", (
        f"5 failures out of 5 calls, with min_calls=6, left the breaker {breaker.state!r}; "
        "expected 'closed'. Five calls say little: a breaker that trips on a blip takes a "
        "healthy server out."
    )


def test_breaker_not_opening_at_the_failure_rate_is_rejected(overload: Any) -> None:
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    _feed(breaker, "sfsfsf")
    state = breaker.state
    allowed = breaker.allow()
    assert state == "open" and allowed is False, (
        f"3 failures in 6 calls (rate 0.5, min_calls=6) left the breaker {state!r} with "
        f"allow()={allowed}; expected 'open' and False: fail fast, and give the server air."
    )


def test_breaker_counting_consecutive_failures_is_rejected(overload: Any) -> None:
    breaker = _breaker(overload, FakeTime())
    _feed(breaker, "ffsffs")  # 4 of 6 failed, never 3 in a row
    assert breaker.state == "open", (
        f"4 failures in 6 calls (never 3 in a row) left the breaker {breaker.state!r}; "
        "expected 'open'. The rule is the failure *rate* over the window: a server that "
        "fails two calls in three is failing, even if a success comes between."
    )


def test_breaker_without_a_window_is_rejected(overload: Any) -> None:
    breaker = _breaker(overload, FakeTime())
    _feed(breaker, "s" * 30 + "fffff")  # the last 10: 5 successes, 5 failures
    assert breaker.state == "open", (
        f"30 successes then 5 failures, window=10, left the breaker {breaker.state!r}; "
        "expected 'open': the last 10 calls failed half the time. Counting since the start "
        "hides an outage behind a long good past."
    )


def test_breaker_counting_while_open_is_rejected(overload: Any) -> None:
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    _feed(breaker, "ffffff")
    fake.now += 4.9
    refused = breaker.allow()
    fake.now += 0.2
    state = breaker.state
    assert refused is False and state == "half-open", (
        f"An open breaker (open_s=5) answered allow()={refused} after 4.9 s and was "
        f"{state!r} after 5.1 s (fake clock); expected False, then 'half-open'. Time it with "
        "the injected clock, and move to half-open once open_s has passed."
    )


def test_breaker_timed_by_the_wall_clock_is_rejected(overload: Any) -> None:
    fake = FakeTime()
    breaker = _breaker(overload, fake, open_s=0.05)
    _feed(breaker, "ffffff")
    time.sleep(0.2)  # real time passes; the injected clock does not move
    state = breaker.state
    assert state == "open", (
        f"With open_s=0.05, 0.2 s of real time and no time on the injected clock, the breaker "
        f"was {state!r}; expected 'open'. Read time only from the clock you were given."
    )


def test_half_open_breaker_letting_every_call_through_is_rejected(overload: Any) -> None:
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    _feed(breaker, "ffffff")
    fake.now += 5.0
    first, second = breaker.allow(), breaker.allow()
    assert first is True and second is False, (
        f"Half-open, allow() answered {first} then {second}; expected True (one trial call) "
        "then False until that trial is recorded. A flood of trials is the load that "
        "knocked the server over in the first place."
    )


def test_failed_trial_not_reopening_the_breaker_is_rejected(overload: Any) -> None:
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    _feed(breaker, "ffffff")
    fake.now += 5.0
    assert breaker.allow() is True
    breaker.record(False)
    state = breaker.state
    fake.now += 4.0
    still = breaker.allow()
    assert state == "open" and still is False, (
        f"After a failed trial the breaker was {state!r}, and 4 s later allow()={still}; "
        "expected 'open' and False: a failed trial opens it again for a full open_s."
    )


def test_breaker_never_trying_again_after_a_failed_trial_is_rejected(overload: Any) -> None:
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    _feed(breaker, "ffffff")
    fake.now += 5.0
    assert breaker.allow() is True
    breaker.record(False)  # the trial failed: open for another open_s
    fake.now += 5.0
    state = breaker.state
    second_trial = breaker.allow()
    assert state == "half-open" and second_trial is True, (
        f"A failed trial, then open_s (5 s, fake clock) later, the breaker was {state!r} and "
        f"allow()={second_trial}; expected 'half-open' and True: each half-open period lets "
        "one new trial out. A trial flag that stays set after the failed trial keeps the "
        "breaker open for ever, and the client never finds out that the server came back."
    )


def test_successful_trial_not_closing_the_breaker_is_rejected(overload: Any) -> None:
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    _feed(breaker, "ffffff")
    fake.now += 5.0
    assert breaker.allow() is True
    breaker.record(True)
    state = breaker.state
    _feed(breaker, "f")  # a fresh window: one failure proves nothing
    assert state == "closed" and breaker.state == "closed", (
        f"After a successful trial the breaker was {state!r}, then {breaker.state!r} after "
        "one more failure; expected 'closed' both times, with the old failures forgotten."
    )


# -- the client: Retry-After within its budget, and the breaker -------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Scripted

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, retry_after = self.server.next()
        self.server.answer.wait(self.server.hold_s)  # 0 unless a test holds answers back
        if status == 0:  # hang up without an answer, as a crashed or resetting server does
            self.close_connection = True
            return
        body = b'{"predictions": [0.5], "model_version": "1"}'
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Scripted(ThreadingHTTPServer):
    """Plays ``(status, Retry-After or None)`` per request, the last one repeating; status 0
    closes the connection without an answer."""

    daemon_threads = True

    def __init__(self, *script: tuple[int, str | None]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script)
        self.requests = 0
        self.lock = threading.Lock()
        self.hold_s = 0.0
        self.answer = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def next(self) -> tuple[int, str | None]:
        with self.lock:
            self.requests += 1
            return self.script[min(self.requests, len(self.script)) - 1]


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    made: list[tuple[Scripted, threading.Thread]] = []

    def make(*script: tuple[int, str | None]) -> Scripted:
        server = Scripted(*script)
        thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), daemon=True)
        thread.start()
        made.append((server, thread))
        return server

    yield make
    for server, thread in made:
        server.answer.set()
        server.shutdown()
        server.server_close()
        thread.join()


def _client(overload: Any, server: Scripted, fake: FakeTime, **kw: Any) -> Any:
    return overload.OverloadClient(server.url, sleep=fake.sleep, clock=fake.clock, **kw)


def _outcome(call: Callable[[], Any]) -> str:
    try:
        return repr(call())
    except AssertionError:
        raise
    except Exception as exc:
        return type(exc).__name__


def test_retry_after_parsed_wrong_is_rejected(overload: Any) -> None:
    cases = {"2": 2.0, " 7 ": 7.0, "0": 0.0, None: None, "soon": None, "-3": None}
    got = {value: overload.retry_after_s(value) for value in cases}
    assert got == cases, f"retry_after_s gave {got}; expected {cases}."


@pytest.mark.parametrize("status", [429, 503])
def test_client_ignoring_retry_after_is_rejected(overload: Any, scripted: Any, status: int) -> None:
    server = scripted((status, str(RETRY_AFTER_S)), (200, None))
    fake = FakeTime()
    client = _client(overload, server, fake, budget_s=5.0)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    assert outcome == "[0.5]" and fake.sleeps == [RETRY_AFTER_S], (
        f"Against {status} (Retry-After: {RETRY_AFTER_S}) then 200, predict() ended with "
        f"{outcome} after sleeping {fake.sleeps}; expected [0.5] after sleeping exactly "
        f"[{RETRY_AFTER_S}]. The server said when it can take the request: sooner is "
        "refused again, and a backoff guess is not what it asked for."
    )


def test_client_waiting_past_its_budget_is_rejected(overload: Any, scripted: Any) -> None:
    server = scripted((503, "30"), (200, None))
    fake = FakeTime()
    client = _client(overload, server, fake, budget_s=5.0)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    assert outcome != "[0.5]" and fake.sleeps == [] and server.requests == 1, (
        f"Against 503 with Retry-After: 30 and budget_s=5, predict() slept {fake.sleeps} "
        f"and ended with {outcome} after {server.requests} requests; expected an error at "
        "once, without sleeping. A wait the caller cannot afford is a timeout, only later."
    )


def test_client_retrying_a_429_for_ever_is_rejected(overload: Any, scripted: Any) -> None:
    server = scripted((429, "0"))
    fake = FakeTime()
    client = _client(overload, server, fake, max_attempts=3)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    assert outcome != "[0.5]" and server.requests == 3, (
        f"Against 429 with Retry-After: 0, every time, and max_attempts=3, predict() ended "
        f"with {outcome} after {server.requests} requests; expected an error after 3."
    )


def test_client_calling_through_an_open_breaker_is_rejected(overload: Any, scripted: Any) -> None:
    server = scripted((500, None))
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    client = _client(overload, server, fake, breaker=breaker)
    try:
        outcomes = [_outcome(lambda: client.predict([ROW])) for _ in range(10)]
    finally:
        client.close()
    assert server.requests == 6 and outcomes[6:] == ["CircuitOpenError"] * 4, (
        f"10 predict() calls to a server that answers 500, with a breaker that opens at 50% "
        f"of 6 calls, sent {server.requests} requests and ended {outcomes}; expected 6 "
        "requests, then CircuitOpenError without a request. Every outcome goes to "
        "breaker.record(); allow() is asked before each attempt."
    )


def test_client_retrying_through_an_open_breaker_is_rejected(overload: Any, scripted: Any) -> None:
    # min_calls=2: the second 429 opens the breaker, between two attempts of one predict().
    server = scripted((429, "1"))
    fake = FakeTime()
    breaker = _breaker(overload, fake, min_calls=2)
    client = _client(overload, server, fake, breaker=breaker, budget_s=5.0, max_attempts=3)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    assert server.requests == 2 and outcome == "CircuitOpenError", (
        f"Against 429 (Retry-After: 1) every time, max_attempts=3, and a breaker that opens "
        f"after 2 failures in 2 calls, predict() sent {server.requests} requests and ended "
        f"with {outcome}; expected 2 requests, then CircuitOpenError. Ask allow() before "
        "every attempt, the retries included: the breaker opened after the second attempt, "
        "and a third request is load on a server that said it has none to spare."
    )


def test_client_counting_a_400_against_the_server_is_rejected(overload: Any, scripted: Any) -> None:
    server = scripted((400, None))
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    client = _client(overload, server, fake, breaker=breaker)
    try:
        for _ in range(8):
            _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    assert breaker.state == "closed" and server.requests == 8, (
        f"8 calls answered 400 left the breaker {breaker.state!r} after {server.requests} "
        "requests; expected 'closed' after 8. A 400 is the caller's bug, not the server "
        "failing: counting it opens the breaker on a healthy server."
    )


@pytest.mark.parametrize(
    "status",
    [429, 502, 503],
    ids=["429-without-retry-after", "502", "503-without-retry-after"],
)
def test_client_keeping_an_overload_answer_from_the_breaker_is_rejected(
    overload: Any, scripted: Any, status: int
) -> None:
    server = scripted((status, None))
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    client = _client(overload, server, fake, breaker=breaker)
    try:
        outcomes = [_outcome(lambda: client.predict([ROW])) for _ in range(10)]
    finally:
        client.close()
    assert server.requests == 6 and outcomes[6:] == ["CircuitOpenError"] * 4, (
        f"10 predict() calls to a server that answers {status} (no Retry-After), with a "
        f"breaker that opens at 50% of 6 calls, sent {server.requests} requests and ended "
        f"{outcomes}; expected 6 requests, then CircuitOpenError. A {status} says the server "
        "cannot take the call: it is a failure for the breaker (record(False)), or a server "
        "that sheds everything is called at full rate for ever."
    )


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound, never listening."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("how", ["connection-refused", "connection-dropped"])
def test_client_keeping_transport_errors_from_the_breaker_is_rejected(
    overload: Any, scripted: Any, closed_port: int, how: str
) -> None:
    fake = FakeTime()
    breaker = _breaker(overload, fake)
    if how == "connection-refused":
        url, server = f"http://127.0.0.1:{closed_port}", None
    else:
        server = scripted((0, None))
        url = server.url
    client = overload.OverloadClient(url, breaker=breaker, sleep=fake.sleep, clock=fake.clock)
    try:
        outcomes = [_outcome(lambda: client.predict([ROW])) for _ in range(10)]
    finally:
        client.close()
    sent = server.requests if server else "-"
    assert outcomes[6:] == ["CircuitOpenError"] * 4 and breaker.state == "open", (
        f"10 predict() calls to a server whose {how.replace('-', ' ')}, with a breaker that "
        f"opens at 50% of 6 calls, ended {outcomes} (requests that reached the server: "
        f"{sent}), and the breaker is {breaker.state!r}; expected 6 transport errors, then "
        "CircuitOpenError. A connection error or timeout is the clearest failure there is: "
        "record it (record(False)) before re-raising, or a dead server is never cut off."
    )
    assert all(o not in ("CircuitOpenError", "[0.5]") for o in outcomes[:6]), (
        f"The first 6 calls ended {outcomes[:6]}; expected each to raise the transport error."
    )


def test_client_budget_timed_by_the_wall_clock_is_rejected(overload: Any, scripted: Any) -> None:
    # After the first wait of 2 s (on the injected clock), a second wait of 2 s would end at
    # 4 s: past the budget of 3 s. Only the injected clock knows the first 2 s went by.
    server = scripted((429, "2"), (429, "2"), (200, None))
    fake = FakeTime()
    client = _client(overload, server, fake, budget_s=3.0, max_attempts=5)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    assert fake.sleeps == [2.0] and outcome != "[0.5]" and server.requests == 2, (
        f"Against 429 (Retry-After: 2) twice, then 200, with budget_s=3, predict() slept "
        f"{fake.sleeps} and ended with {outcome} after {server.requests} requests; expected "
        "one sleep of 2 s, then an error: 2 s spent plus 2 s more is past the budget. Time "
        "the budget with the injected clock, which is the one the injected sleep moves."
    )


def test_client_without_a_timeout_is_rejected(overload: Any, scripted: Any) -> None:
    # The server holds its answer for 3 s (real time); the client was given 0.3 s.
    server = scripted((200, None))
    server.hold_s = 3.0
    fake = FakeTime()
    client = _client(overload, server, fake, timeout_s=0.3)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        server.answer.set()
        client.close()
    assert outcome != "[0.5]", (
        f"OverloadClient(timeout_s=0.3).predict() against a server that answers after 3 s "
        f"ended with {outcome}; expected a timeout error. Give the httpx.Client "
        "timeout=timeout_s: its default is 5 s, whatever the caller asked for."
    )
