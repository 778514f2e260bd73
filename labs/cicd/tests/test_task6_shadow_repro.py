"""Task 6: shadow traffic (cicd_lab/shadow.py) and reproducibility (cicd_lab/lineage.py).

The two model servers are the tests' own: real HTTP servers on 127.0.0.1 in this process,
which record every request they get. Your ShadowClient (in the worker) calls them over
loopback. The registry is read back with the tests' own MlflowClient, and the tests train
the same model here to know what its hash must be.

Nothing here depends on how fast the machine is. A slow or hung server is one the tests
hold until they let it go (an Event), so "predict() returned before the shadow answered"
is an order of events, not a duration; shadow latency is read from a clock the tests hand
in (``clock=``).

Each requirement of the docstrings and the lesson, and the test that fails when it alone
is broken:

ShadowClient
- predict posts {"features": [...]} to the primary's /predict and returns its decoded
  answer: test_shadow_receives_a_copy_of_every_request,
  test_user_gets_the_primary_answer_not_the_shadow
- the shadow's answer is never returned: test_user_gets_the_primary_answer_not_the_shadow
- a copy of the same request goes to the shadow, for every request:
  test_shadow_receives_a_copy_of_every_request
- without waiting for it (a slow challenger costs the user nothing):
  test_slow_shadow_adds_no_latency_to_the_user
- a failing challenger (500, closed port) never reaches the user, and each failure is
  logged with its error, shadow None, agree False: test_shadow_failure_never_reaches_the_user
- a failure of the primary is the user's to see, so it raises:
  test_primary_failure_is_raised_not_swallowed_into_an_empty_answer
- timeout_s bounds the call to the primary: test_hung_primary_is_cut_off_by_the_timeout
- timeout_s bounds the call to the shadow: test_hung_shadow_is_cut_off_by_the_timeout
- one record per request with both answers, agree, error and shadow_ms:
  test_comparisons_log_both_answers_in_request_order
- agree is whether the two answers are equal: test_records_are_in_request_order_not_completion_order
  (equal answers), test_comparisons_log_both_answers_in_request_order (different ones)
- records in request order, each with its own request's answers:
  test_records_are_in_request_order_not_completion_order
- comparisons waits for calls still in flight: test_comparisons_log_both_answers_in_request_order
- but at most wait_s, and a call still in flight has no record yet:
  test_comparisons_waits_at_most_wait_s
- shadow_ms is timed with the given clock, and is the call's own latency, not its time in
  the queue: test_shadow_latency_does_not_include_time_in_the_queue
- close returns without waiting for a hung shadow, and starts no queued call:
  test_close_does_not_wait_for_a_hung_shadow

lineage
- data_sha256 is the SHA-256 hex of the file's bytes (not its path, size or mtime), and
  one changed label changes it: test_data_hash_is_of_the_content_not_the_path
- register_reproducible trains train_candidate(data, seed=seed), records param seed and
  tags data_sha256, code_version, model_sha256, points challenger at it and returns the
  version as a string: test_every_registered_model_records_its_lineage
- rebuild retrains with the seed recorded on that version and returns the new and the
  recorded model hash: test_rebuild_uses_the_recorded_seed_of_that_version
- identical only when the model hashes match: test_rebuild_compares_the_model_hash_not_only_the_data
- on changed data the reasons say so, with both data hashes:
  test_rebuild_on_changed_data_explains_the_difference
- verify_lineage passes a complete record on the approved data, refuses other data:
  test_gate_refuses_a_model_trained_on_unapproved_data
- and refuses a record without a data hash: test_gate_refuses_a_model_with_no_recorded_lineage
- or without its code version or seed:
  test_lineage_check_refuses_a_record_without_its_code_version_or_seed
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import DATA_DIR, FEATURES, LABEL, cicd, learner_function

pytestmark = pytest.mark.task(6)

ROWS = [
    [12.0, 70.5, 2.0, 1.0],
    [40.0, 20.0, 0.0, 0.0],
    [3.0, 99.9, 5.0, 2.0],
    [24.0, 55.0, 1.0, 1.0],
]
# A safety net only: a held request is let go after this long, so that a wrong solution
# fails its test instead of hanging the suite. No assertion depends on it.
HOLD_LIMIT_S = 20.0


def numbered(i: int) -> list[float]:
    """Request ``i``'s features: the first one is ``i``, so the servers know which it is."""
    return [float(i), 50.0, 1.0, 0.0]


class ModelServer:
    """A model server the tests own: answers POST /predict, records what it was sent.

    ``hold(body)`` may return an Event: the request is then answered only once it is set
    (or after HOLD_LIMIT_S). ``echo`` answers ``features[0] / 10`` instead of
    ``prediction``, so each answer says which request it belongs to.
    """

    def __init__(
        self,
        prediction: float,
        *,
        delay_s: float = 0.0,
        status: int = 200,
        hold: Callable[[Any], threading.Event | None] | None = None,
        echo: bool = False,
    ) -> None:
        self.prediction = prediction
        self.delay_s = delay_s
        self.status = status
        self.hold = hold
        self.echo = echo
        self.bodies: list[Any] = []
        self.answered: list[Any] = []
        self.lock = threading.Lock()
        self.arrival = threading.Condition(self.lock)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with owner.arrival:
                    owner.bodies.append({"path": self.path, "body": body})
                    owner.arrival.notify_all()
                event = owner.hold(body) if owner.hold else None
                if event is not None:
                    event.wait(HOLD_LIMIT_S)
                time.sleep(owner.delay_s)
                prediction = owner.prediction
                if owner.echo and isinstance(body, dict):
                    prediction = body["features"][0] / 10
                payload = json.dumps({"prediction": prediction}).encode()
                if owner.status != 200:
                    payload = b'{"error": "model crashed"}'
                with contextlib.suppress(OSError):  # the client may have given up
                    self.send_response(owner.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                with owner.arrival:
                    owner.answered.append(body)
                    owner.arrival.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll, so that close() (shutdown) returns in 50 ms, not 500.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self) -> list[Any]:
        with self.lock:
            return list(self.bodies)

    def wait_for(self, count: int, timeout_s: float = HOLD_LIMIT_S) -> bool:
        """Wait until ``count`` requests have arrived (an event, not a guess at a time)."""
        with self.arrival:
            return self.arrival.wait_for(lambda: len(self.bodies) >= count, timeout_s)

    def settled(self, quiet_s: float = 1.0) -> int:
        """How many requests arrived, once none has arrived for ``quiet_s``.

        Used only to decide which requests to look at; each assertion holds whatever the
        answer is."""
        with self.arrival:
            seen = -1
            while seen != len(self.bodies):
                seen = len(self.bodies)
                self.arrival.wait(quiet_s)
            return seen

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Gate:
    """An Event that a test opens, with a timer that opens it anyway after ``after_s``."""

    def __init__(self, after_s: float = HOLD_LIMIT_S) -> None:
        self.event = threading.Event()
        self.timer = threading.Timer(after_s, self.event.set)
        self.timer.daemon = True
        self.timer.start()

    def __call__(self, body: Any) -> threading.Event:
        return self.event

    def is_open(self) -> bool:
        return self.event.is_set()

    def open(self) -> None:
        self.timer.cancel()
        self.event.set()


class FakeClock:
    """The tests' clock, handed to ShadowClient: it says what time it is."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def servers() -> Iterator[Any]:
    made: list[ModelServer] = []
    gates: list[Gate] = []

    def start(prediction: float, **kwargs: Any) -> ModelServer:
        server = ModelServer(prediction, **kwargs)
        made.append(server)
        if isinstance(kwargs.get("hold"), Gate):
            gates.append(kwargs["hold"])
        return server

    yield start
    for gate in gates:
        gate.open()
    for server in made:
        server.close()


@pytest.fixture
def shadow_client(learner) -> Iterator[Any]:
    made: list[Any] = []
    cls = learner_function(learner, "shadow", "ShadowClient")

    def make(primary: str, shadow: str, **kwargs: Any) -> Any:
        client = cls(primary, shadow, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        with contextlib.suppress(Exception):  # the test already failed on what matters
            client.close()


def closed_port_url() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


# --- shadow traffic ------------------------------------------------------------------


def test_slow_shadow_adds_no_latency_to_the_user(servers, shadow_client):
    held = Gate()
    primary, shadow = servers(0.25), servers(0.75, hold=held)
    client = shadow_client(primary.url, shadow.url, timeout_s=60.0)
    for row in ROWS:
        client.predict(row)
    answered_while_held = not held.is_open()
    held.open()
    assert answered_while_held, (
        "predict() returned only after the shadow server answered: the user waited for the "
        "challenger. The user waits for the primary only: hand the shadow call to a "
        "background thread and do not wait for it (no future.result(), no join) on the "
        "user's path."
    )


def test_user_gets_the_primary_answer_not_the_shadow(servers, shadow_client):
    primary, shadow = servers(0.25), servers(0.75)
    client = shadow_client(primary.url, shadow.url)
    answers = [client.predict(row) for row in ROWS]
    client.comparisons(wait_s=10)
    assert answers == [{"prediction": 0.25}] * len(ROWS), (
        f"predict() returned {answers}; the primary answers 0.25 and the shadow 0.75. A "
        "shadow's answers are logged and compared, never returned: the challenger has not "
        "passed its canary yet."
    )


@pytest.mark.parametrize("failure", ["http-500", "connection-refused"])
def test_shadow_failure_never_reaches_the_user(servers, shadow_client, failure):
    primary = servers(0.25)
    shadow_url = servers(0.75, status=500).url if failure == "http-500" else closed_port_url()
    client = shadow_client(primary.url, shadow_url)
    try:
        answers = [client.predict(row) for row in ROWS]
    except Exception as exc:
        pytest.fail(
            f"predict() raised {type(exc).__name__} when the shadow failed ({failure}): "
            f"{str(exc)[:300]}. A broken challenger must cost the user nothing: catch its "
            "failure in the background call and log it."
        )
    assert answers == [{"prediction": 0.25}] * len(ROWS), f"predict() returned {answers}."
    records = client.comparisons(wait_s=10)
    assert len(records) == len(ROWS) and all(r.get("error") for r in records), (
        f"The shadow failed ({failure}) on every request, and comparisons() gave {records}. "
        "Log each failure with its reason (error) so the challenger's problems are seen "
        "before it gets any real traffic."
    )
    assert all(r.get("shadow") is None and r.get("agree") is False for r in records), (
        f"Records of failed shadow calls must have shadow None and agree False: {records}."
    )


@pytest.mark.parametrize("failure", ["http-500", "connection-refused"])
def test_primary_failure_is_raised_not_swallowed_into_an_empty_answer(
    learner, servers, shadow_client, failure
):
    primary_url = servers(0.25, status=500).url if failure == "http-500" else closed_port_url()
    client = shadow_client(primary_url, servers(0.75).url)
    with learner.raises("Exception"):
        answer = client.predict(ROWS[0])
        pytest.fail(
            f"The primary failed ({failure}) and predict() returned {answer!r}. The user's "
            "answer comes from the primary: when it fails, raise (the caller retries or "
            "shows an error). An empty answer looks like a prediction to the caller, and "
            "the shadow's answer was never judged."
        )


def test_hung_primary_is_cut_off_by_the_timeout(learner, servers, shadow_client):
    held = Gate()
    client = shadow_client(servers(0.25, hold=held).url, servers(0.75).url, timeout_s=0.5)
    with learner.raises("Exception"):
        answer = client.predict(ROWS[0])
        pytest.fail(f"predict() returned {answer!r} from a primary that never answered.")
    assert not held.is_open(), (
        "With timeout_s=0.5, predict() on a primary that hangs returned only when the test "
        "let the primary go: timeout_s bounds the call to the primary too. Without it a "
        "hung champion holds the user's request for ever."
    )


def test_shadow_receives_a_copy_of_every_request(servers, shadow_client):
    primary, shadow = servers(0.25), servers(0.25)
    client = shadow_client(primary.url, shadow.url)
    for row in ROWS:
        client.predict(row)
    client.comparisons(wait_s=10)
    sent = [b["body"] for b in primary.received()]
    mirrored = sorted((b["body"] for b in shadow.received()), key=json.dumps)
    assert sent == [{"features": row} for row in ROWS], (
        f"The primary received {sent}; expected one POST /predict with {{'features': row}} "
        "per predict(row), in order."
    )
    assert mirrored == sorted(sent, key=json.dumps), (
        f"The shadow received {mirrored}; expected a copy of every request the primary got "
        f"({sent}). A shadow that sees only some requests (or other ones) tells you nothing "
        "about how the challenger handles live traffic."
    )


def test_comparisons_log_both_answers_in_request_order(servers, shadow_client):
    primary, shadow = servers(0.25), servers(0.75, delay_s=0.3)
    client = shadow_client(primary.url, shadow.url, timeout_s=5.0)
    for row in ROWS:
        client.predict(row)
    records = client.comparisons(wait_s=15)
    assert [r.get("request") for r in records] == list(range(len(ROWS))), (
        f"comparisons() gave {records}; expected one record per request, numbered 0.. in "
        "request order, after waiting for the shadow calls still in flight."
    )
    for r in records:
        assert r.get("primary") == {"prediction": 0.25} and r.get("shadow") == {
            "prediction": 0.75
        }, f"A record must hold both answers: {r}."
        assert r.get("agree") is False and r.get("error") is None, (
            f"The two models disagree (0.25 vs 0.75) and nothing failed: {r}."
        )
        assert isinstance(r.get("shadow_ms"), float) and r["shadow_ms"] >= 250, (
            f"shadow_ms={r.get('shadow_ms')!r}; the shadow took at least 300 ms per call."
        )


def test_records_are_in_request_order_not_completion_order(servers, shadow_client):
    """Request 0's shadow call is held until the others have been answered, so the
    shadow answers 1, 2, 3, then 0."""
    others_done = threading.Event()
    answered_others = 0

    def hold(body: Any) -> threading.Event | None:
        return others_done if body["features"][0] == 0 else None

    primary, shadow = servers(0.25, echo=True), servers(0.75, echo=True, hold=hold)
    client = shadow_client(primary.url, shadow.url, timeout_s=60.0)
    for i in range(4):
        client.predict(numbered(i))
    with shadow.arrival:
        shadow.arrival.wait_for(lambda: len(shadow.answered) >= 3, HOLD_LIMIT_S)
        answered_others = len(shadow.answered)
    others_done.set()
    records = client.comparisons(wait_s=30)
    got = [(r.get("request"), r.get("shadow")) for r in records]
    expected = [(i, {"prediction": i / 10}) for i in range(4)]
    assert got == expected, (
        f"The shadow answered request 0 last (after {answered_others} others), and "
        f"comparisons() gave (request, shadow answer) {got}; expected {expected}. Records "
        "come back in request order, each with its own request's answers: sort by the "
        "request number taken when predict() was called, not by when the shadow answered."
    )
    assert all(r.get("agree") is True for r in records), (
        f"Both models gave the same answer to every request, and agree is "
        f"{[r.get('agree') for r in records]}: agree says whether the answers are equal."
    )


def test_shadow_latency_does_not_include_time_in_the_queue(servers, shadow_client):
    """The tests' clock stands still at 0 while the first shadow calls are held, then
    jumps to 100 s and the server lets them go. A call that started at 0 took 100 s; a
    call that was still queued then started at 100 s and took no time at all."""
    clock, held = FakeClock(), Gate()
    primary, shadow = servers(0.25), servers(0.75, hold=held)
    client = shadow_client(primary.url, shadow.url, timeout_s=60.0, clock=clock)
    for i in range(12):
        client.predict(numbered(i))
    shadow.wait_for(1)
    shadow.settled()
    early = {int(b["body"]["features"][0]) for b in shadow.received()}
    clock.now = 100.0
    before_release = len(shadow.received())
    held.open()
    records = {r.get("request"): r for r in client.comparisons(wait_s=30)}
    late = {int(b["body"]["features"][0]) for b in shadow.received()[before_release:]}
    for i in sorted(early):
        ms = records.get(i, {}).get("shadow_ms")
        assert ms == pytest.approx(100_000.0), (
            f"Request {i}'s shadow call started when the given clock said 0 s and was "
            f"answered when it said 100 s, and its shadow_ms is {ms!r}; expected 100000. "
            "Time the shadow call with the clock you were given (clock=…), in ms."
        )
    for i in sorted(late):
        ms = records.get(i, {}).get("shadow_ms")
        assert isinstance(ms, float) and ms < 50_000, (
            f"Request {i} waited in the pool's queue while the clock went from 0 to 100 s, "
            f"then its shadow call was answered at once; its shadow_ms is {ms!r}. That is "
            "the queue, not the challenger: start timing when a background thread sends "
            "the request, not when predict() hands it over, or a busy pool makes a fast "
            "challenger look slow."
        )


def test_comparisons_waits_at_most_wait_s(servers, shadow_client):
    held = Gate()
    client = shadow_client(servers(0.25).url, servers(0.75, hold=held).url, timeout_s=60.0)
    client.predict(ROWS[0])
    records = client.comparisons(wait_s=0.5)
    returned_while_held = not held.is_open()
    held.open()
    assert returned_while_held, (
        "comparisons(wait_s=0.5) returned only when the test let the hung shadow go: it "
        "must wait at most wait_s for calls in flight (concurrent.futures.wait(…, timeout=))."
    )
    assert records == [], (
        f"comparisons(wait_s=0.5) gave {records} while the only shadow call was still in "
        "flight; a call that has not finished has no record yet."
    )


def test_close_does_not_wait_for_a_hung_shadow(servers, shadow_client):
    held = Gate()
    shadow = servers(0.75, hold=held)
    client = shadow_client(servers(0.25).url, shadow.url, timeout_s=60.0)
    for i in range(8):
        client.predict(numbered(i))
    shadow.wait_for(1)
    shadow.settled()
    started = len(shadow.received())
    client.close()
    returned_while_held = not held.is_open()
    held.open()
    assert returned_while_held, (
        "close() returned only when the test let the hung shadow go (timeout_s=60): it "
        "waited for the challenger. Shut the pool down without waiting "
        "(shutdown(wait=False)); a hung call ends by its own timeout."
    )
    with shadow.arrival:  # the held calls finish; then give queued ones time to show up
        shadow.arrival.wait_for(lambda: len(shadow.answered) >= started, HOLD_LIMIT_S)
    shadow.settled()
    assert len(shadow.received()) == started, (
        f"{started} shadow calls were running when close() was called, and the shadow "
        f"received {len(shadow.received())} requests in all: close() let the queued ones "
        "start afterwards. Cancel what has not started (cancel_futures=True)."
    )


def test_hung_shadow_is_cut_off_by_the_timeout(servers, shadow_client):
    held = Gate()
    primary, shadow = servers(0.25), servers(0.75, hold=held)
    client = shadow_client(primary.url, shadow.url, timeout_s=0.5)
    client.predict(ROWS[0])
    records = client.comparisons(wait_s=HOLD_LIMIT_S / 2)
    cut_off = not held.is_open()
    assert cut_off and len(records) == 1 and records[0].get("error"), (
        f"A shadow that hangs with timeout_s=0.5 gave comparisons {records}; expected one "
        "record with a timeout error, while the shadow was still hanging. Without a timeout "
        "on the shadow call, a hung challenger holds a thread for ever, and the pool fills "
        "up."
    )


# --- reproducibility -------------------------------------------------------------------


def file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


_REFERENCE_HASHES: dict[tuple[str, int], str] = {}


def reference_model_sha256(path: str, seed: int) -> str:
    """The tests' own retrain: the given train_candidate recipe, hashed like model_sha256.
    Trained once per session for each (file content, seed)."""
    from sklearn.ensemble import GradientBoostingClassifier

    key = (file_sha256(path), seed)
    if key not in _REFERENCE_HASHES:
        data = pd.read_csv(path)
        model = GradientBoostingClassifier(
            random_state=seed, max_depth=3, n_estimators=150, learning_rate=0.05
        ).fit(data[FEATURES], data[LABEL])
        _REFERENCE_HASHES[key] = hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest()
    return _REFERENCE_HASHES[key]


@pytest.fixture
def lineage(learner, registry_env) -> Any:
    return cicd(learner, "lineage")


@pytest.fixture
def data_dir(bridge, shared_dir, request) -> str:
    return str(Path(shared_dir) / "data" / request.node.name[:60])


def recorded(mlflow_client: Any, model_name: str, version: str) -> dict[str, Any]:
    run = mlflow_client.get_run(mlflow_client.get_model_version(model_name, version).run_id)
    return {"tags": dict(run.data.tags), "params": dict(run.data.params)}


def test_data_hash_is_of_the_content_not_the_path(lineage, bridge, data_dir):
    same = bridge.training_copy(data_dir, "copy-of-train.csv")
    fixed = bridge.training_copy(data_dir, "one-label-fixed.csv", [17])
    original = file_sha256(str(DATA_DIR / "churn_train.csv"))
    got_same, got_fixed = (
        lineage.data_sha256(bridge.path(same)),
        lineage.data_sha256(bridge.path(fixed)),
    )
    assert got_same == original, (
        f"data_sha256 of a byte-for-byte copy (another path) is {got_same!r}; expected the "
        f"SHA-256 hex of its bytes, {original}. Hash the content, not the file name or "
        "the modification time."
    )
    assert got_fixed == file_sha256(fixed) != original, (
        f"One label changed and data_sha256 gave {got_fixed!r} (unchanged file: "
        f"{original}). A changed dataset must give another hash: hash every byte."
    )


def test_every_registered_model_records_its_lineage(
    lineage, bridge, data_dir, mlflow_client, model_name
):
    train = bridge.training_copy(data_dir, "train.csv")
    version = lineage.register_reproducible(
        bridge.path(train), model_name, seed=7, code_version="3f2a9c1"
    )
    assert isinstance(version, str) and version.isdigit(), (
        f"register_reproducible returned {version!r}; return the new version as a string."
    )
    got = recorded(mlflow_client, model_name, version)
    expected = {
        "data_sha256": file_sha256(train),
        "code_version": "3f2a9c1",
        "model_sha256": reference_model_sha256(train, 7),
    }
    missing = {k: (got["tags"].get(k), v) for k, v in expected.items() if got["tags"].get(k) != v}
    assert not missing, (
        f"The run of version {version} has the wrong lineage tags (got, expected): {missing}. "
        "data_sha256 is the training file's SHA-256; model_sha256 is model_sha256() of the "
        "model trained with train_candidate(data, seed=seed) (a model trained with another "
        "seed has another hash)."
    )
    assert got["params"].get("seed") == "7", (
        f"The run's params are {got['params']}; record the seed (param 'seed') so that the "
        "model can be rebuilt."
    )
    aliases = mlflow_client.get_registered_model(model_name).aliases
    assert {k: str(v) for k, v in aliases.items()} == {"challenger": version}, (
        f"After register_reproducible the aliases are {aliases}; expected challenger={version}."
    )


def test_rebuild_uses_the_recorded_seed_of_that_version(
    lineage, bridge, data_dir, mlflow_client, model_name
):
    train = bridge.training_copy(data_dir, "train.csv")
    v1 = lineage.register_reproducible(bridge.path(train), model_name, seed=7, code_version="a1")
    lineage.register_reproducible(bridge.path(train), model_name, seed=8, code_version="a2")
    result = bridge.plain(lineage.rebuild(model_name, v1, bridge.path(train)))
    assert isinstance(result, dict), f"rebuild returned {result!r}; return a dict."
    expected = reference_model_sha256(train, 7)
    assert result.get("identical") is True and result.get("model_sha256") == expected, (
        f"rebuild(version {v1}) on the same data gave {result}; expected identical True and "
        f"model_sha256 {expected}: retrain with the seed recorded on version {v1}'s run "
        "(7), not a default or the latest version's."
    )
    assert result.get("recorded_model_sha256") == expected, (
        f"rebuild(version {v1}) gave recorded_model_sha256 "
        f"{result.get('recorded_model_sha256')!r}; expected the model_sha256 tag recorded "
        f"on that version's run, {expected}."
    )


def test_rebuild_on_changed_data_explains_the_difference(
    lineage, bridge, data_dir, mlflow_client, model_name
):
    train = bridge.training_copy(data_dir, "train.csv")
    changed = bridge.training_copy(data_dir, "train-relabelled.csv", list(range(0, 3000, 7)))
    version = lineage.register_reproducible(
        bridge.path(train), model_name, seed=7, code_version="a1"
    )
    result = bridge.plain(lineage.rebuild(model_name, version, bridge.path(changed)))
    assert isinstance(result, dict) and result.get("identical") is False, (
        f"rebuild on a relabelled copy of the training data gave {result}; the data "
        "changed, so the model cannot be the one registered: identical must be False."
    )
    reasons = " ".join(map(str, result.get("reasons") or []))
    found, was = file_sha256(changed), file_sha256(train)
    assert "data" in reasons.lower() and found[:12] in reasons and was[:12] in reasons, (
        f"rebuild's reasons are {result.get('reasons')}; say that the training data changed, "
        f"with the hash found ({found[:12]}…) beside the recorded one ({was[:12]}…)."
    )


def test_rebuild_compares_the_model_hash_not_only_the_data(
    lineage, learner, bridge, data_dir, mlflow_client, model_name
):
    """The run records the training file's hash and a seed, and a model hash the rebuild
    cannot match (a library upgrade changed how the model trains, say): the same data is
    not the same model."""
    train = bridge.training_copy(data_dir, "train.csv")
    version = cicd(learner, "registry").register_challenger(bridge.model("lr_v1"), model_name)
    run_id = mlflow_client.get_model_version(model_name, version).run_id
    mlflow_client.set_tag(run_id, "data_sha256", file_sha256(train))
    mlflow_client.set_tag(run_id, "code_version", "a1")
    mlflow_client.set_tag(run_id, "model_sha256", "0" * 64)
    mlflow_client.log_param(run_id, "seed", "7")
    result = bridge.plain(lineage.rebuild(model_name, version, bridge.path(train)))
    assert isinstance(result, dict) and result.get("identical") is False, (
        f"The recorded model_sha256 is 000…0 and rebuild on the same data gave {result}. "
        "identical is True only when the rebuilt model's hash equals the recorded one; the "
        "same data with another model means the recipe, a library or the seed changed."
    )
    reasons = " ".join(map(str, result.get("reasons") or []))
    assert "model" in reasons.lower() and result.get("recorded_model_sha256") == "0" * 64, (
        f"rebuild gave reasons {result.get('reasons')} and recorded_model_sha256 "
        f"{result.get('recorded_model_sha256')!r}; say that the model hash differs, and "
        "return the recorded hash as it is."
    )


def test_gate_refuses_a_model_trained_on_unapproved_data(
    lineage, bridge, data_dir, mlflow_client, model_name
):
    train = bridge.training_copy(data_dir, "train.csv")
    changed = bridge.training_copy(data_dir, "train-unreviewed.csv", [3])
    approved = file_sha256(train)
    good = lineage.register_reproducible(bridge.path(train), model_name, seed=7, code_version="a1")
    bad = lineage.register_reproducible(bridge.path(changed), model_name, seed=7, code_version="a1")
    assert recorded(mlflow_client, model_name, bad)["tags"].get("data_sha256") == file_sha256(
        changed
    ), "A model trained on changed data must record the changed data's hash."
    ok = bridge.plain(lineage.verify_lineage(model_name, good, approved))
    refused = bridge.plain(lineage.verify_lineage(model_name, bad, approved))
    assert isinstance(ok, dict) and ok.get("passed") is True, (
        f"verify_lineage(version {good}, the approved hash) gave {ok}; it was trained on the "
        "approved data and must pass."
    )
    assert (
        isinstance(refused, dict) and refused.get("passed") is False and refused.get("reasons")
    ), (
        f"verify_lineage(version {bad}, the approved hash) gave {refused}; one label differs "
        "from the approved dataset, so the gate must refuse it and say why."
    )


@pytest.mark.parametrize("missing", ["code_version", "seed"])
def test_lineage_check_refuses_a_record_without_its_code_version_or_seed(
    lineage, learner, bridge, mlflow_client, model_name, missing
):
    """A version trained on the approved data whose run lacks one field of the record."""
    registry = cicd(learner, "registry")
    version = registry.register_challenger(bridge.model("lr_v1"), model_name)
    run_id = mlflow_client.get_model_version(model_name, version).run_id
    approved = file_sha256(str(DATA_DIR / "churn_train.csv"))
    mlflow_client.set_tag(run_id, "data_sha256", approved)
    mlflow_client.set_tag(run_id, "model_sha256", "1" * 64)
    if missing != "code_version":
        mlflow_client.set_tag(run_id, "code_version", "3f2a9c1")
    if missing != "seed":
        mlflow_client.log_param(run_id, "seed", "7")
    result = bridge.plain(lineage.verify_lineage(model_name, version, approved))
    assert isinstance(result, dict) and result.get("passed") is False, (
        f"verify_lineage on a version trained on the approved data but with no recorded "
        f"{missing} gave {result}. A record without its {missing} cannot be rebuilt, so "
        "the gate must refuse it: check data_sha256, code_version and seed."
    )
    assert missing in " ".join(map(str, result.get("reasons") or [])), (
        f"verify_lineage refused it with reasons {result.get('reasons')}; name what is "
        f"missing ({missing})."
    )


def test_gate_refuses_a_model_with_no_recorded_lineage(
    lineage, learner, bridge, mlflow_client, model_name
):
    registry = cicd(learner, "registry")
    version = registry.register_challenger(bridge.model("lr_v1"), model_name)
    approved = file_sha256(str(DATA_DIR / "churn_train.csv"))
    result = bridge.plain(lineage.verify_lineage(model_name, version, approved))
    assert isinstance(result, dict) and result.get("passed") is False, (
        f"verify_lineage on a version registered without lineage tags gave {result}; a "
        "model whose training data is unknown cannot be approved."
    )
