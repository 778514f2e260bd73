"""Task 1: the metrics the model server exposes (monitor_lab/metrics.py).

Your ``MonitoredModel`` runs in the worker behind the provided HTTP server; these tests
send it requests, and their own Prometheus scrapes its ``/metrics`` and answers PromQL.

Requirement sentences, and the test that fails when each alone is broken:

- Every request counts in predict_requests_total, whatever its outcome:
  test_failed_requests_count_in_the_request_total
- A server-side failure counts in predict_errors_total; a 400 does not:
  test_server_errors_are_counted, test_a_bad_request_is_not_a_server_error
- predict_latency_seconds is a histogram that replicas can sum:
  test_latency_is_a_histogram_that_replicas_can_sum
- ... with a bucket boundary at the 0.3 s SLO: test_latency_buckets_have_a_boundary_at_the_slo
- ... timing the whole request, the feature lookup included:
  test_latency_includes_the_feature_lookup
- ... however the request ends (a failure is timed too): test_latency_timed_only_on_success
- prediction_score holds the scores, bucketed by tenths:
  test_score_histogram_holds_the_scores_not_classes
- Every series carries model_version and no per-customer label:
  test_no_label_per_customer
- Counters keep counting across a reload: test_counters_survive_a_reload
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import monitor, post
from monitor_lab import service

pytestmark = pytest.mark.task(1)

SLO_S = 0.3


def customers(seed: int, n: int, prefix: str = "c") -> list[dict[str, Any]]:
    """Seeded, valid requests from ``n`` distinct customers."""
    rng = random.Random(seed)
    return [
        {
            "customer_id": f"{prefix}-{seed}-{i:04d}",
            "tenure_months": rng.randint(0, 72),
            "monthly_charges": round(rng.uniform(18, 120), 2),
        }
        for i in range(n)
    ]


class Fleet:
    """Every scenario's servers, started and sent their traffic once for the module, then
    scraped by the tests' Prometheus together (target discovery takes seconds)."""

    def __init__(self, learner: Any, prometheus: Any) -> None:
        self.bridge = learner.module("monitoring_bridge", timeout=60)
        self.metrics = monitor(learner, "metrics")
        self.prometheus = prometheus
        self.ports: dict[str, list[int]] = {}
        self.apps: dict[str, list[Any]] = {}
        self.failed: dict[str, BaseException] = {}
        self.statuses: dict[str, list[int]] = {}
        self.finished = 0.0

    def start(self, scenario: str, n: int = 1, version: str = "v1") -> list[int]:
        apps = [self.metrics.MonitoredModel(version) for _ in range(n)]
        self.apps[scenario] = apps
        self.ports[scenario] = [int(self.bridge.serve(app)) for app in apps]
        self.prometheus.watch(scenario, self.ports[scenario])
        return self.ports[scenario]

    def run(self, scenario: str, traffic: Callable[[], None]) -> None:
        try:
            traffic()
        except Exception as exc:  # reported by the scenario's own test
            self.failed[scenario] = exc

    def scraped(self, scenario: str) -> Any:
        """The tests' Prometheus, once it has scraped the scenario after its traffic."""
        if scenario in self.failed:
            raise self.failed[scenario]
        prom = self.prometheus
        prom.wait_for_scrape(scenario, self.finished, len(self.ports[scenario]))
        found = prom.query(f'up{{lab_test="{scenario}"}}')
        if any(s["value"][1] != "1" for s in found):
            errors = [t.get("lastError") for t in prom.health(scenario)]
            raise AssertionError(f"Prometheus could not scrape your /metrics: {errors}")
        return prom

    def stop(self) -> None:
        for ports in self.ports.values():
            for port in ports:
                self.bridge.stop(port)


@pytest.fixture(scope="module")
def fleet(learner: Any, prometheus: Any) -> Iterator[Fleet]:
    fleet = Fleet(learner, prometheus)
    for scenario, traffic in SCENARIOS.items():
        fleet.run(scenario, lambda t=traffic: t(fleet))
    fleet.finished = time.time()
    try:
        yield fleet
    finally:
        fleet.stop()


def _send(ports: list[int], bodies: list[dict[str, Any]]) -> list[int]:
    return [post(ports[i % len(ports)], body) for i, body in enumerate(bodies)]


BAD = [
    {"customer_id": "c-1"},
    {"tenure_months": 3},
    {"customer_id": "c-2", "tenure_months": -1, "monthly_charges": 20},
]


def _reload(fleet: Fleet) -> None:
    ports = fleet.start("reload", version="v1")
    _send(ports, customers(13, 30))
    fleet.apps["reload"][0].reload("v2")
    _send(ports, customers(14, 20))


SCENARIOS: dict[str, Callable[[Fleet], Any]] = {
    "outcomes": lambda f: f.statuses.update(
        outcomes=_send(f.start("outcomes"), customers(1, 20) + customers(2, 5, prefix="down") + BAD)
    ),
    "replicas": lambda f: _send(f.start("replicas", n=2), customers(6, 20)),
    "slow": lambda f: _send(
        f.start("slow"),
        customers(10, 6) + [dict(b, lookup_ms=450) for b in customers(9, 4)],
    ),
    "scores": lambda f: _send(f.start("scores"), customers(11, 40)),
    "customers": lambda f: _send(f.start("customers"), customers(12, 30)),
    "reload": _reload,
}


def total(prom: Any, scenario: str, metric: str) -> float:
    found = prom.value(f'sum({metric}{{lab_test="{scenario}"}})')
    return 0.0 if found is None else found


def test_failed_requests_count_in_the_request_total(fleet):
    prom = fleet.scraped("outcomes")
    statuses = fleet.statuses["outcomes"]
    assert statuses == [200] * 20 + [500] * 5 + [400] * 3, f"the server answered {statuses}"
    counted = total(prom, "outcomes", "predict_requests_total")
    assert counted == 28, (
        f"20 requests succeeded, 5 failed (feature store down) and 3 were malformed; "
        f"sum(predict_requests_total) is {counted}, expected 28. The error ratio is "
        "errors / requests: a request that failed must be in the denominator too, or a "
        "full outage reads as 5/0."
    )


def test_server_errors_are_counted(fleet):
    prom = fleet.scraped("outcomes")
    errors = total(prom, "outcomes", "predict_errors_total")
    assert errors >= 5, (
        f"5 requests failed with a 500 (feature store down); sum(predict_errors_total) is "
        f"{errors}, expected 5."
    )


def test_a_bad_request_is_not_a_server_error(fleet):
    prom = fleet.scraped("outcomes")
    errors = total(prom, "outcomes", "predict_errors_total")
    assert errors <= 5, (
        f"5 server failures and 3 malformed requests (HTTP 400) made "
        f"sum(predict_errors_total) {errors}, expected 5: a client that sends garbage "
        "must not burn your error budget and page you at 3 a.m. Count only failures on "
        "the server's side."
    )


@pytest.mark.hint(
    "Histogram, not Summary: the replicas' bucket counts add up, their quantiles do not."
)
def test_latency_is_a_histogram_that_replicas_can_sum(fleet):
    prom = fleet.scraped("replicas")
    kind = prom.metric_type("predict_latency_seconds")
    assert kind == "histogram", (
        f"predict_latency_seconds is a {kind}, expected a histogram. A summary's "
        "quantiles are computed in each replica and cannot be averaged into the fleet's "
        "p99; histogram buckets can be summed: histogram_quantile(0.99, sum by (le) "
        "(rate(predict_latency_seconds_bucket[5m])))."
    )
    found = prom.query('sum by (le) (predict_latency_seconds_bucket{lab_test="replicas"})')
    inf = [float(s["value"][1]) for s in found if s["metric"].get("le") == "+Inf"]
    assert inf == [20.0], (
        f"the two replicas' +Inf buckets sum to {inf}, expected [20.0] (10 requests each)"
    )


def bucket_bounds(prom: Any, scenario: str) -> list[float]:
    found = prom.query(f'predict_latency_seconds_bucket{{lab_test="{scenario}"}}')
    return sorted({float(s["metric"]["le"]) for s in found})


def test_latency_buckets_have_a_boundary_at_the_slo(fleet):
    prom = fleet.scraped("replicas")
    bounds = bucket_bounds(prom, "replicas")
    assert bounds, "no predict_latency_seconds_bucket series were scraped"
    assert SLO_S in bounds, (
        f"predict_latency_seconds has bucket boundaries {bounds}, none at the SLO "
        f"({SLO_S} s). 'Share of requests under 300 ms' is then an interpolation between "
        "two buckets, and the SLO alert can be off by a whole bucket."
    )


def test_latency_includes_the_feature_lookup(fleet):
    prom = fleet.scraped("slow")
    bounds = [b for b in bucket_bounds(prom, "slow") if b <= SLO_S]
    assert bounds, "predict_latency_seconds has no bucket at or below 0.3 s"
    le = repr(float(bounds[-1]))
    under = prom.value(f'sum(predict_latency_seconds_bucket{{lab_test="slow",le="{le}"}})')
    count = prom.value('sum(predict_latency_seconds_count{lab_test="slow"})')
    above = None if under is None or count is None else count - under
    assert count == 10 and above is not None and above >= 4, (
        f"4 of 10 requests spent 450 ms in the feature lookup, yet {above} of {count} were "
        f"recorded above {bounds[-1]} s. Time the whole request, the lookup included: the "
        "user waits for all of it, and a slow feature store is the usual cause."
    )


def test_score_histogram_holds_the_scores_not_classes(fleet):
    prom = fleet.scraped("scores")
    scores = [service.score(service.lookup_features(b), "v1") for b in customers(11, 40)]
    found = {
        float(s["metric"]["le"]): float(s["value"][1])
        for s in prom.query('prediction_score_bucket{lab_test="scores"}')
    }
    expected = {b / 10: float(sum(s <= b / 10 for s in scores)) for b in range(1, 11)}
    got = {le: found.get(le) for le in expected}
    assert got == expected, (
        f"prediction_score buckets (le: count) are {got}, expected {expected} for the 40 "
        "scores the model returned. Observe the score itself: a histogram of classes "
        "(0 or 1) cannot show the scores sliding towards 0.5 long before accuracy falls."
    )


def test_no_label_per_customer(fleet):
    prom = fleet.scraped("customers")
    found = prom.query('{lab_test="customers",__name__=~"predict_.*|prediction_.*"}')
    ids = {body["customer_id"] for body in customers(12, 30)}
    leaking = sorted({k for s in found for k, v in s["metric"].items() if v in ids})
    assert not leaking, (
        f"label(s) {leaking} carry customer ids: 30 customers made {len(found)} series. "
        "Each label value is a new time series; a million customers is a million series, "
        "and Prometheus runs out of memory. Keep per-customer data in logs (task 2), not "
        "in labels."
    )
    versions = {s["metric"].get("model_version") for s in found}
    assert versions == {"v1"}, (
        f"the series carry model_version {versions}, expected {{'v1'}} on every series"
    )


def test_counters_survive_a_reload(fleet):
    prom = fleet.scraped("reload")
    by_version = {
        s["metric"].get("model_version"): float(s["value"][1])
        for s in prom.query('sum by (model_version) (predict_requests_total{lab_test="reload"})')
    }
    assert by_version == {"v1": 30.0, "v2": 20.0}, (
        f"30 requests on v1, a reload to v2, then 20 on v2 gave predict_requests_total "
        f"{by_version}, expected {{'v1': 30.0, 'v2': 20.0}}. Counters that start again at "
        "0 on a reload lose every request since the last scrape, and v1's series vanish "
        "before anyone compared the versions."
    )


def test_latency_timed_only_on_success(fleet):
    prom = fleet.scraped("outcomes")
    timed = total(prom, "outcomes", "predict_latency_seconds_count")
    assert timed >= 25, (
        f"20 requests succeeded and 5 failed on the server's side (feature store down); "
        f"sum(predict_latency_seconds_count) is {timed}, expected at least 25. Time every "
        "request however it ends (try/finally): a feature store that times out makes the "
        "slowest requests of all, and a histogram of successes only hides them."
    )
