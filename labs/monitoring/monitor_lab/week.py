"""Provided, not yours to edit: a seeded week of traffic with incidents in it (task 6).

``batch(seed, hour, incidents)`` is one hour of traffic (300 requests), as columns:

    tenure_months    float, months (0..72)
    monthly_charges  float, dollars (18..120)
    channel          str: "web", "ios", "android", "store"
    score            float, the model's churn score
    latency_ms       float, the request's latency
    label            int, the labels that arrived this hour (for requests of six hours
                     earlier; the same number of them)

``reference(seed)`` is a clean day's worth of the same columns (2,000 rows). The incidents
are windows of hours ``[start, end)`` in which the batches carry the effect:

    covariate_shift  tenure_months ramps down over four hours (a promotion brings new
                     customers) and stays down
    unit_change      monthly_charges arrives in cents (an upstream change), x100
    label_shift      the share of churned labels rises from 20 % to 45 %
    latency          one request in thirty takes 1,000-1,500 ms longer (a slow dependency)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["INCIDENTS", "KINDS", "Incident", "batch", "reference", "week"]

KINDS = ("covariate_shift", "unit_change", "label_shift", "latency")
ROWS = 300
HOURS = 168


@dataclass(frozen=True)
class Incident:
    kind: str
    start: int
    end: int


INCIDENTS = (
    Incident("covariate_shift", 30, 48),
    Incident("unit_change", 70, 82),
    Incident("label_shift", 100, 118),
    Incident("latency", 140, 150),
)


def _active(incidents: tuple[Incident, ...] | list[Incident], kind: str, hour: int) -> float:
    """How far into ``kind`` this hour is: 0 outside it, up to 1 (covariate shift ramps)."""
    for incident in incidents:
        if incident.kind == kind and incident.start <= hour < incident.end:
            return min(1.0, (hour - incident.start + 1) / 4) if kind == "covariate_shift" else 1.0
    return 0.0


def _rows(rng: np.random.Generator, n: int, hour: int, incidents: tuple | list) -> dict:
    shift = _active(incidents, "covariate_shift", hour)
    tenure = np.clip(rng.gamma(2.0, 12.0, n) * (1.0 - 0.55 * shift), 0, 72)
    charges = np.clip(rng.normal(65.0, 22.0, n), 18, 120)
    channel = rng.choice(["web", "ios", "android", "store"], n, p=[0.45, 0.25, 0.2, 0.1])
    z = 1.2 - 0.09 * tenure + 0.018 * charges - 1.5
    score = 1.0 / (1.0 + np.exp(-z))
    if _active(incidents, "unit_change", hour):
        charges = charges * 100.0
    latency = rng.lognormal(math.log(60.0), 0.35, n)
    if _active(incidents, "latency", hour):
        slow = rng.random(n) < 1 / 30
        latency = latency + slow * rng.uniform(1000.0, 1500.0, n)
    rate = 0.45 if _active(incidents, "label_shift", hour) else 0.2
    label = (rng.random(n) < rate).astype(int)
    return {
        "tenure_months": [round(float(v), 3) for v in tenure],
        "monthly_charges": [round(float(v), 3) for v in charges],
        "channel": [str(v) for v in channel],
        "score": [round(float(v), 5) for v in score],
        "latency_ms": [round(float(v), 2) for v in latency],
        "label": [int(v) for v in label],
    }


def reference(seed: int) -> dict:
    """A clean day's traffic, 2,000 rows: what normal looks like."""
    return _rows(np.random.default_rng([seed, 10_000]), 2000, -1, ())


def batch(seed: int, hour: int, incidents: tuple | list = INCIDENTS) -> dict:
    """Hour ``hour`` of the week (0..167), 300 requests."""
    return {"hour": hour, **_rows(np.random.default_rng([seed, hour]), ROWS, hour, incidents)}


def week(seed: int, incidents: tuple | list = INCIDENTS) -> list[dict]:
    """Every hour of the week, in order."""
    return [batch(seed, hour, incidents) for hour in range(HOURS)]
