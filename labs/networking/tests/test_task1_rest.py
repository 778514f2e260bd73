"""Task 1: REST service (FastAPI). The worker starts the server in its own process on a free
port; the tests call it over loopback with their own httpx client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.task(1)

ROWS = [[12.0, 70.0, 2.0, 15.0], [1.0, 20.0, 0.0, 3.5], [60.0, 110.0, 7.0, 80.0]]
# The model the server loads raises RuntimeError on this row (serve.py --poison-row): a bug
# no validation can catch, to see what an unhandled exception answers.
POISON = [13.0, 13.0, 13.0, 13.0]


@pytest.fixture(scope="module")
def rest(start_server: Any, wait_until: Any) -> Iterator[httpx.Client]:
    server = start_server("rest", "--poison-row", ",".join(map(str, POISON)))
    client = httpx.Client(base_url=server.url, timeout=5.0)
    try:
        wait_until(
            lambda: client.get("/readyz").status_code == 200,
            timeout=30,
            what="GET /readyz to answer 200 on a server whose model loads at once",
        )
        yield client
    finally:
        client.close()
        server.stop()


def _status(client: httpx.Client, method: str, path: str, **kw: Any) -> int | str:
    try:
        return client.request(method, path, **kw).status_code
    except httpx.HTTPError as exc:
        return f"no answer ({type(exc).__name__})"


@pytest.fixture(scope="module")
def lifecycle(learner: Any, start_server: Any, wait_until: Any) -> Iterator[dict[str, Any]]:
    """Walk one server through its life, and note what each endpoint said at each stage:
    model loading (held back by a gate file), loaded, then draining."""
    # The server runs as the learner, who cannot see the judge's private tmp: the gate file
    # goes in a folder of the worker's, and the worker creates it when the model may load.
    gate = os.path.join(learner.module("tempfile").mkdtemp(), "model-may-load")
    server = start_server("rest", "--model-gate", gate)
    client = httpx.Client(base_url=server.url, timeout=5.0)
    seen: dict[str, Any] = {}
    body = {"instances": ROWS[:1]}
    try:
        # Stage 1: alive, model still loading. Poll until the process answers at all.
        def answers() -> bool:
            client.get("/healthz")
            return True

        wait_until(
            answers,
            timeout=15,
            what=(
                "GET /healthz to answer while the model loads (the model-loader blocks "
                "until the test allows it). If startup waits for the model, nothing answers: "
                "load it in a background thread started from the lifespan"
            ),
        )
        seen["loading_healthz"] = _status(client, "GET", "/healthz")
        seen["loading_readyz"] = _status(client, "GET", "/readyz")
        seen["loading_predict"] = _status(client, "POST", "/v1/predict", json=body)
        # Stage 2: let the model load, then poll readiness.
        learner.module("pathlib").Path(gate).write_text("go")
        try:
            wait_until(lambda: client.get("/readyz").status_code == 200, timeout=10, what="")
            seen["ready_readyz"] = 200
        except pytest.fail.Exception:
            seen["ready_readyz"] = _status(client, "GET", "/readyz")
        # Stage 3: draining.
        server.command("drain")
        seen["draining_readyz"] = _status(client, "GET", "/readyz")
        seen["draining_healthz"] = _status(client, "GET", "/healthz")
        seen["draining_predict"] = _status(client, "POST", "/v1/predict", json=body)
        yield seen
    finally:
        client.close()
        server.stop()


def test_predict_returns_one_score_per_row(rest: httpx.Client, expected_scores: Any) -> None:
    r = rest.post("/v1/predict", json={"instances": ROWS})
    assert r.status_code == 200, (
        f"POST /v1/predict with 3 valid rows answered {r.status_code}: {r.text[:300]}"
    )
    body = r.json()
    assert body.get("predictions") == pytest.approx(expected_scores(ROWS), rel=1e-9), (
        f"POST /v1/predict returned {body}; expected predictions "
        f"{expected_scores(ROWS)} (one model.predict score per row, in order)."
    )
    assert body.get("model_version") == "1", f"model_version should be '1', got {body}"


BAD_BODIES = [
    ("3 features instead of 4", {"instances": [[1.0, 2.0, 3.0]]}, True),
    ("5 features instead of 4", {"instances": [[1.0, 2.0, 3.0, 4.0, 5.0]]}, True),
    ("an empty batch", {"instances": []}, True),
    ("a string feature", {"instances": [[1.0, "two", 3.0, 4.0]]}, True),
    ("no 'instances' field", {"rows": [[1.0, 2.0, 3.0, 4.0]]}, True),
    ("a batch over MAX_BATCH (1000)", {"instances": [[1.0, 2.0, 3.0, 4.0]] * 1001}, True),
    ("a NaN feature", b'{"instances": [[NaN, 2.0, 3.0, 4.0]]}', True),
    ("a body that is not JSON", b"instances=1,2,3,4", False),
]


@pytest.mark.parametrize(
    ("what", "body", "names_field"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_input_is_a_422_not_a_500(
    rest: httpx.Client, what: str, body: Any, names_field: bool
) -> None:
    if isinstance(body, bytes):
        r = rest.post("/v1/predict", content=body, headers={"Content-Type": "application/json"})
    else:
        r = rest.post("/v1/predict", json=body)
    assert r.status_code == 422, (
        f"POST /v1/predict with {what} answered {r.status_code} ({r.text[:200]!r}); expected "
        "422. A 500 says 'our bug, maybe retry'; a 422 says 'your input, do not retry'. "
        "Let a pydantic model with length and finiteness constraints reject it."
    )
    try:
        detail = r.json().get("detail")
    except ValueError:
        detail = None
    assert detail, (
        f"The 422 for {what} should be JSON with a 'detail' explaining it, got {r.text!r}"
    )
    if names_field:
        assert "instances" in r.text, (
            f"The 422 for {what} should point at the field at fault ('instances'): {r.text}"
        )


def test_liveness_answers_while_the_model_loads(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["loading_healthz"] == 200, (
        f"While the model was still loading, GET /healthz answered "
        f"{lifecycle['loading_healthz']}; expected 200. Liveness asks 'is the process stuck?'. "
        "Fail it during a slow load and the orchestrator restarts the pod forever. Load the "
        "model in the background, and keep /healthz independent of it."
    )


def test_readiness_is_not_always_200(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["loading_readyz"] == 503, (
        f"While the model was still loading, GET /readyz answered "
        f"{lifecycle['loading_readyz']}; expected 503, so no load balancer sends traffic to "
        "a server that cannot score yet."
    )
    assert lifecycle["ready_readyz"] == 200, (
        f"Once the model had loaded, GET /readyz answered {lifecycle['ready_readyz']} "
        "(polled for 10 s); expected 200."
    )


def test_predict_is_503_while_the_model_loads(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["loading_predict"] == 503, (
        f"POST /v1/predict before the model had loaded answered {lifecycle['loading_predict']}; "
        "expected 503 (unavailable, try again), not a 500 or a made-up answer."
    )


def test_readiness_fails_while_draining(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["draining_readyz"] == 503, (
        f"After start_draining(), GET /readyz answered {lifecycle['draining_readyz']}; "
        "expected 503, so the load balancer stops sending new requests before shutdown."
    )


def test_liveness_is_not_readiness_while_draining(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["draining_healthz"] == 200, (
        f"After start_draining(), GET /healthz answered {lifecycle['draining_healthz']}; "
        "expected 200. A draining server is healthy, just leaving: failing liveness would "
        "get it killed with requests still in flight."
    )
    assert lifecycle["draining_predict"] == 200, (
        f"After start_draining(), POST /v1/predict answered {lifecycle['draining_predict']}; "
        "expected 200: requests that still arrive while draining must be served."
    )


def test_request_id_is_propagated(rest: httpx.Client) -> None:
    r = rest.post(
        "/v1/predict", json={"instances": ROWS[:1]}, headers={"X-Request-ID": "trace-abc-123"}
    )
    assert r.headers.get("X-Request-ID") == "trace-abc-123", (
        "POST /v1/predict with 'X-Request-ID: trace-abc-123' answered with X-Request-ID "
        f"{r.headers.get('X-Request-ID')!r}; expected the caller's id back, so one request "
        "can be followed through every service's logs."
    )
    bad = rest.post("/v1/predict", json={"instances": []}, headers={"X-Request-ID": "trace-422"})
    assert bad.headers.get("X-Request-ID") == "trace-422", (
        f"A 422 answered with X-Request-ID {bad.headers.get('X-Request-ID')!r}; errors need "
        "the id most of all."
    )
    first, second = (rest.get("/healthz").headers.get("X-Request-ID") for _ in range(2))
    assert first and second and first != second, (
        "Requests without an X-Request-ID should each get a fresh one in the response; got "
        f"{first!r} and {second!r}."
    )


def test_unhandled_error_without_the_request_id_is_rejected(rest: httpx.Client) -> None:
    r = rest.post(
        "/v1/predict", json={"instances": [POISON]}, headers={"X-Request-ID": "trace-500"}
    )
    assert r.status_code == 500 and r.headers.get("X-Request-ID") == "trace-500", (
        f"The model raised RuntimeError on a valid row; POST /v1/predict with 'X-Request-ID: "
        f"trace-500' answered {r.status_code} with X-Request-ID "
        f"{r.headers.get('X-Request-ID')!r}; expected 500 carrying 'trace-500'. A 500 is the "
        "answer someone will come asking about: catch the exception around call_next in the "
        "middleware, log it with the id, and answer the 500 there (Starlette's own 500 "
        "handler runs outside your middleware, and never sees the id)."
    )
    detail = r.text
    assert "RuntimeError" not in detail and "Traceback" not in detail, (
        f"The 500's body was {detail[:300]!r}: an internal error's details belong in the "
        "server's log, next to the request id, not in the answer."
    )


def test_openapi_schema_is_served(rest: httpx.Client) -> None:
    r = rest.get("/openapi.json")
    assert r.status_code == 200, f"GET /openapi.json answered {r.status_code}"
    paths = r.json().get("paths", {})
    for path, method in [("/v1/predict", "post"), ("/healthz", "get"), ("/readyz", "get")]:
        assert method in paths.get(path, {}), (
            f"The OpenAPI schema has no {method.upper()} {path}; it lists {sorted(paths)}."
        )
