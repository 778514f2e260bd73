"""Task 3: the sticky, weighted traffic router (cicd_lab/router.py)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import learner

pytestmark = pytest.mark.task(3)

USERS = [f"user-{i}" for i in range(20_000)]


def canary_share(weight: int, users: list[str] = USERS) -> int:
    router = learner("router").Router(weight)
    return sum(router.route(u) == "canary" for u in users)


@pytest.mark.parametrize("weight", [5, 25, 50])
def test_observed_share_is_within_three_sigma_of_the_weight(weight):
    n, p = len(USERS), weight / 100
    got = canary_share(weight)
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(got - n * p) <= 3 * sigma, (
        f"Router({weight}) sent {got} of {n} users to the canary; expected {n * p:.0f} "
        f"± {3 * sigma:.0f} (3σ of a binomial). Map a hash of the user id uniformly onto "
        "100 buckets."
    )


def test_weights_zero_and_one_hundred_are_exact():
    zero, hundred = canary_share(0), canary_share(100)
    assert zero == 0, (
        f"Router(0) sent {zero} users to the canary; weight 0 must send nobody (is the "
        "comparison `bucket <= weight` instead of `bucket < weight`?)."
    )
    assert hundred == len(USERS), (
        f"Router(100) sent {hundred} of {len(USERS)} users to the canary; weight 100 must "
        "send everybody."
    )


@pytest.mark.parametrize("weight", [-1, 101])
def test_weights_outside_zero_to_one_hundred_are_refused(weight):
    router = learner("router")
    with pytest.raises(ValueError):
        router.Router(weight)
        pytest.fail(f"Router({weight}) was accepted; weights run from 0 to 100.")


def test_random_per_request_is_not_sticky():
    router = learner("router").Router(50)
    first = [router.route(u) for u in USERS[:2000]]
    again = [router.route(u) for u in USERS[:2000]]
    fresh = learner("router").Router(50)
    other = [fresh.route(u) for u in USERS[:2000]]
    moved = sum(a != b for a, b in zip(first, again, strict=True))
    moved_between = sum(a != b for a, b in zip(first, other, strict=True))
    assert moved == 0 and moved_between == 0, (
        f"Routing the same 2,000 users twice moved {moved} of them, and a second Router(50) "
        f"disagreed on {moved_between}. A user must stay on one model: a coin flip per "
        "request mixes both models into one session and poisons the comparison."
    )


def test_raising_the_weight_never_moves_a_canary_user_back():
    mod = learner("router")
    previous: set[str] = set()
    for weight in (5, 25, 50, 100):
        router = mod.Router(weight)
        now = {u for u in USERS[:5000] if router.route(u) == "canary"}
        lost = previous - now
        assert not lost, (
            f"Going to weight {weight}, {len(lost)} users left the canary (e.g. "
            f"{sorted(lost)[:3]}). Each step must only add users, or users flip between "
            "models during the rollout."
        )
        previous = now


def test_python_hash_is_not_stable_across_processes():
    """Run the router in two fresh interpreters with different hash seeds."""
    import cicd_lab

    lab_root = Path(cicd_lab.__file__).resolve().parents[1]
    script = (
        "import json, sys\n"
        "from cicd_lab.router import Router\n"
        "r = Router(50)\n"
        "print(json.dumps([r.route(f'user-{i}') for i in range(500)]))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(lab_root)}
        proc = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=lab_root,
        )
        assert proc.returncode == 0, f"The router failed in a subprocess:\n{proc.stderr[-2000:]}"
        outputs.append(json.loads(proc.stdout))
    differ = sum(a != b for a, b in zip(outputs[0], outputs[1], strict=True))
    assert differ == 0, (
        f"Two processes (PYTHONHASHSEED=1 and 2) routed {differ} of 500 users differently. "
        "Python's hash() of a str is salted per process, so two replicas, or one replica "
        "after a restart, disagree about the same user. Use hashlib (sha256, md5) instead."
    )
