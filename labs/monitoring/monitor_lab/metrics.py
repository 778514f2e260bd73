"""Task 1: the metrics the churn model server exposes to Prometheus.

Requirements (the tests check each one):

- Every request counts in ``predict_requests_total``, whatever its outcome; a request
  that fails on the server's side (``FeatureStoreDown`` or any other exception, an HTTP
  500) also counts in ``predict_errors_total``. A ``BadRequest`` (the client's fault, a
  400) is not an error of the service.
- ``predict_latency_seconds`` is a histogram (not a summary: replicas' histograms can be
  summed, their quantiles cannot), with a bucket boundary at the latency SLO (0.3 s). It
  times the whole request, the feature lookup included, however it ends (a failure too).
- ``prediction_score`` is a histogram of the scores the model returned, with buckets at
  0.1, 0.2, ... 1.0.
- Every series carries the label ``model_version`` and no label of unbounded cardinality
  (never a customer id or a request id).
- ``reload(version)`` switches the model version; the counters keep counting across a
  reload (they never go back to 0 in a running process).
"""

from __future__ import annotations

from typing import Any

from monitor_lab import service  # noqa: F401  (predict needs it)

LATENCY_SLO_S = 0.3


class MonitoredModel:
    """The model server's application: predictions, with Prometheus metrics."""

    def __init__(self, model_version: str) -> None:
        self.model_version = model_version
        # TODO(student): a CollectorRegistry of this object's own, and in it the two
        # counters and two histograms the module docstring names (prometheus_client).
        raise NotImplementedError("TODO(student): create the registry and the metrics")

    def predict(self, request: dict[str, Any]) -> dict[str, Any]:
        """Score one request; raises ``service.BadRequest`` for a malformed one.

        The work itself is ``service.score(service.lookup_features(request), version)``;
        return ``{"score": value, "model_version": version}``.
        """
        # TODO(student): count, time and observe around the lookup and the model.
        raise NotImplementedError("TODO(student): serve and measure one prediction")

    def reload(self, model_version: str) -> None:
        """Serve ``model_version`` from now on."""
        # TODO(student): switch versions without losing what the counters counted.
        raise NotImplementedError("TODO(student): switch the model version")

    def exposition(self) -> bytes:
        """The text Prometheus scrapes from ``/metrics`` (prometheus_client.generate_latest)."""
        # TODO(student): the registry's metrics in Prometheus' text format.
        raise NotImplementedError("TODO(student): expose the metrics")
