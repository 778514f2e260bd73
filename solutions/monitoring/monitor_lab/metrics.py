"""Task 1: the metrics the churn model server exposes to Prometheus.

Requirements (the tests check each one):

- Every request counts in ``predict_requests_total``, whatever its outcome; a request
  that fails on the server's side (``FeatureStoreDown`` or any other exception, an HTTP
  500) also counts in ``predict_errors_total``. A ``BadRequest`` (the client's fault, a
  400) is not an error of the service.
- ``predict_latency_seconds`` is a histogram (not a summary: replicas' histograms can be
  summed, their quantiles cannot), with a bucket boundary at the latency SLO (0.3 s). It
  times the whole request, the feature lookup included.
- ``prediction_score`` is a histogram of the scores the model returned, with buckets at
  0.1, 0.2, ... 1.0.
- Every series carries the label ``model_version`` and no label of unbounded cardinality
  (never a customer id or a request id).
- ``reload(version)`` switches the model version; the counters keep counting across a
  reload (they never go back to 0 in a running process).
"""

from __future__ import annotations

import time
from typing import Any

from monitor_lab import service
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_SLO_S = 0.3
# Buckets around the SLO: the boundary at 0.3 s makes "share of requests under the SLO"
# an exact bucket ratio instead of an interpolation.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class MonitoredModel:
    """The model server's application: predictions, with Prometheus metrics."""

    def __init__(self, model_version: str) -> None:
        self.model_version = model_version
        # One registry for the life of the process: a reload changes a label value,
        # never the counters themselves.
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "predict_requests",
            "Prediction requests received, by model version.",
            ["model_version"],
            registry=self.registry,
        )
        self.errors = Counter(
            "predict_errors",
            "Prediction requests that failed on the server's side (HTTP 500).",
            ["model_version"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "predict_latency_seconds",
            "Time to answer a prediction request, feature lookup included.",
            ["model_version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores = Histogram(
            "prediction_score",
            "Churn probability returned by the model.",
            ["model_version"],
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )

    def predict(self, request: dict[str, Any]) -> dict[str, Any]:
        """Score one request; raises ``service.BadRequest`` for a malformed one."""
        version = self.model_version
        started = time.perf_counter()
        self.requests.labels(version).inc()
        try:
            features = service.lookup_features(request)
            value = service.score(features, version)
        except service.BadRequest:
            raise
        except Exception:
            self.errors.labels(version).inc()
            raise
        finally:
            self.latency.labels(version).observe(time.perf_counter() - started)
        self.scores.labels(version).observe(value)
        return {"score": value, "model_version": version}

    def reload(self, model_version: str) -> None:
        """Serve ``model_version`` from now on."""
        self.model_version = model_version

    def exposition(self) -> bytes:
        """The text Prometheus scrapes from ``/metrics``."""
        return generate_latest(self.registry)
