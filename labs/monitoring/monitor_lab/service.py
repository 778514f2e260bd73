"""Provided, not yours to edit: the churn model server that task 1 instruments.

A request is a JSON object such as::

    {"customer_id": "c-0042", "tenure_months": 14, "monthly_charges": 71.5}

``lookup_features`` stands for the feature-store call every request makes before the
model runs: it checks the request (``BadRequest``, the client's fault: HTTP 400), fetches
the customer's features (``FeatureStoreDown`` for customers whose id starts with
``down-``, the server's fault: HTTP 500), and takes ``lookup_ms`` milliseconds when the
request carries that field (a slow store). ``score`` is the model itself and is fast.

``serve(app)`` runs an HTTP server on 127.0.0.1 for any object with ``predict(request)``
and ``exposition()``: ``POST /predict`` and ``GET /metrics``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

__all__ = [
    "CONTENT_TYPE",
    "BadRequest",
    "FeatureStoreDown",
    "Served",
    "lookup_features",
    "score",
    "serve",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_MAX_BODY = 64 * 1024


class BadRequest(ValueError):
    """The request is malformed: the client's fault (HTTP 400)."""


class FeatureStoreDown(RuntimeError):
    """The feature store did not answer: the server's fault (HTTP 500)."""


def lookup_features(request: dict[str, Any]) -> dict[str, float]:
    """The features for this request, after checking it; slow when it says so."""
    if not isinstance(request, dict):
        raise BadRequest("the body must be a JSON object")
    customer = request.get("customer_id")
    if not isinstance(customer, str) or not customer:
        raise BadRequest("customer_id must be a non-empty string")
    try:
        tenure = float(request["tenure_months"])
        charges = float(request["monthly_charges"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRequest(f"tenure_months and monthly_charges must be numbers: {exc}") from None
    if not (math.isfinite(tenure) and math.isfinite(charges)) or tenure < 0 or charges < 0:
        raise BadRequest("tenure_months and monthly_charges must be finite and >= 0")
    delay_ms = float(request.get("lookup_ms", 0) or 0)
    if delay_ms > 0:
        time.sleep(min(delay_ms, 5000) / 1000)
    if customer.startswith("down-"):
        raise FeatureStoreDown(f"feature store timed out for {customer}")
    return {"tenure_months": tenure, "monthly_charges": charges}


def score(features: dict[str, float], model_version: str) -> float:
    """The churn probability (0..1) that model ``model_version`` gives these features."""
    shift = 0.25 if model_version.endswith("2") else 0.0
    z = 1.2 - 0.09 * features["tenure_months"] + 0.018 * features["monthly_charges"] - 1.5
    return 1.0 / (1.0 + math.exp(-(z + shift)))


class App(Protocol):
    def predict(self, request: dict[str, Any]) -> dict[str, Any]: ...

    def exposition(self) -> bytes: ...


class Served:
    """A running server: ``port``, and ``stop()``."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        self.port: int = httpd.server_address[1]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def serve(app: App, port: int = 0) -> Served:
    """Serve ``app`` on 127.0.0.1:``port`` (0: any free port) in a background thread."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self._send(404, b"not found\n", "text/plain")
                return
            try:
                body = app.exposition()
            except Exception as exc:  # the scrape fails; Prometheus records up == 0
                self._send(500, f"{type(exc).__name__}: {exc}\n".encode(), "text/plain")
                return
            self._send(200, body, CONTENT_TYPE)

        def do_POST(self) -> None:
            if self.path != "/predict":
                self._send(404, b"not found\n", "text/plain")
                return
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(size, _MAX_BODY))
            try:
                request = json.loads(raw or b"null")
            except ValueError:
                request = None
            try:
                answer = app.predict(request)
            except BadRequest as exc:
                self._send(400, json.dumps({"error": str(exc)}).encode(), "application/json")
                return
            except Exception as exc:
                self._send(500, json.dumps({"error": str(exc)}).encode(), "application/json")
                return
            self._send(200, json.dumps(answer).encode(), "application/json")

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    # A short poll interval: stop() waits for the loop to notice, once per server.
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.05,), name="model-server", daemon=True
    )
    thread.start()
    return Served(httpd, thread)
