"""Task 6: shadow traffic (cicd_lab/shadow.py) and reproducibility (cicd_lab/lineage.py).

The two model servers are the tests' own: real HTTP servers on 127.0.0.1 in this process,
which record every request they get. Your ShadowClient (in the worker) calls them over
loopback. The registry is read back with the tests' own MlflowClient, and the tests train
the same model here to know what its hash must be.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import threading
import time
from collections.abc import Iterator
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


class ModelServer:
    """A model server the tests own: answers POST /predict, records what it was sent."""

    def __init__(self, prediction: float, *, delay_s: float = 0.0, status: int = 200) -> None:
        self.prediction = prediction
        self.delay_s = delay_s
        self.status = status
        self.bodies: list[Any] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with owner.lock:
                    owner.bodies.append({"path": self.path, "body": body})
                time.sleep(owner.delay_s)
                payload = json.dumps({"prediction": owner.prediction}).encode()
                if owner.status != 200:
                    payload = b'{"error": "model crashed"}'
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self) -> list[Any]:
        with self.lock:
            return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers() -> Iterator[Any]:
    made: list[ModelServer] = []

    def start(prediction: float, **kwargs: Any) -> ModelServer:
        server = ModelServer(prediction, **kwargs)
        made.append(server)
        return server

    yield start
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
    primary, shadow = servers(0.25), servers(0.75, delay_s=2.0)
    client = shadow_client(primary.url, shadow.url, timeout_s=5.0)
    times = []
    for row in ROWS:
        started = time.perf_counter()
        client.predict(row)
        times.append(time.perf_counter() - started)
    assert max(times) < 1.0, (
        f"With a challenger that takes 2 s, predict() took {[round(t, 2) for t in times]} s. "
        "The user waits for the primary only: hand the shadow call to a background thread "
        "and do not wait for it (no future.result(), no join) on the user's path."
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


def test_hung_shadow_is_cut_off_by_the_timeout(servers, shadow_client):
    primary, shadow = servers(0.25), servers(0.75, delay_s=8.0)
    client = shadow_client(primary.url, shadow.url, timeout_s=0.5)
    client.predict(ROWS[0])
    started = time.perf_counter()
    records = client.comparisons(wait_s=6)
    waited = time.perf_counter() - started
    assert len(records) == 1 and records[0].get("error"), (
        f"A shadow that hangs for 8 s with timeout_s=0.5 gave comparisons {records} after "
        f"{waited:.1f} s; expected one record with a timeout error. Without a timeout on "
        "the shadow call, a hung challenger holds a thread forever, and the pool fills up."
    )


# --- reproducibility -------------------------------------------------------------------


def file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def reference_model_sha256(path: str, seed: int) -> str:
    """The tests' own retrain: the given train_candidate recipe, hashed like model_sha256."""
    from sklearn.ensemble import GradientBoostingClassifier

    data = pd.read_csv(path)
    model = GradientBoostingClassifier(
        random_state=seed, max_depth=3, n_estimators=150, learning_rate=0.05
    ).fit(data[FEATURES], data[LABEL])
    return hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest()


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
    assert "data" in reasons.lower() and file_sha256(changed)[:12] in reasons, (
        f"rebuild's reasons are {result.get('reasons')}; say that the training data changed, "
        f"with the hash found ({file_sha256(changed)[:12]}…) beside the recorded one."
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
