"""Task 3: the sticky, weighted traffic router (cicd_lab/router.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import cicd

pytestmark = pytest.mark.task(3)

USERS = [f"user-{i}" for i in range(20_000)]


@pytest.fixture
def router(learner) -> Any:
    return cicd(learner, "router")


@pytest.fixture
def routes(router, bridge) -> Any:
    """``routes(weight, users, salt=None)``: each user's route, computed in the worker."""

    def run(weight: int, users: list[str] = USERS, salt: str | None = None) -> list[str]:
        made = router.Router(weight) if salt is None else router.Router(weight, salt=salt)
        got = bridge.route_all(made, users)
        assert set(got) <= {"canary", "baseline"}, (
            f"Router.route returned {sorted(set(got) - {'canary', 'baseline'})[:3]}; it must "
            "return 'canary' or 'baseline'."
        )
        return got

    return run


def share(got: list[str]) -> int:
    return sum(r == "canary" for r in got)


@pytest.mark.parametrize("weight", [5, 25, 50])
def test_observed_share_is_within_three_sigma_of_the_weight(routes, weight):
    n, p = len(USERS), weight / 100
    got = share(routes(weight))
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(got - n * p) <= 3 * sigma, (
        f"Router({weight}) sent {got} of {n} users to the canary; expected {n * p:.0f} "
        f"± {3 * sigma:.0f} (3σ of a binomial). Map a hash of the user id uniformly onto "
        "100 buckets."
    )


def test_weights_zero_and_one_hundred_are_exact(routes):
    zero, hundred = share(routes(0)), share(routes(100))
    assert zero == 0, (
        f"Router(0) sent {zero} users to the canary; weight 0 must send nobody (is the "
        "comparison `bucket <= weight` instead of `bucket < weight`?)."
    )
    assert hundred == len(USERS), (
        f"Router(100) sent {hundred} of {len(USERS)} users to the canary; weight 100 must "
        "send everybody."
    )


@pytest.mark.parametrize("weight", [-1, 101])
def test_weights_outside_zero_to_one_hundred_are_refused(router, weight):
    with pytest.raises(ValueError):
        router.Router(weight)
        pytest.fail(f"Router({weight}) was accepted; weights run from 0 to 100.")


def test_random_per_request_is_not_sticky(routes):
    first = routes(50, USERS[:2000])
    again = routes(50, USERS[:2000])
    moved = sum(a != b for a, b in zip(first, again, strict=True))
    assert moved == 0, (
        f"Two Router(50) routed the same 2,000 users and disagreed on {moved}. A user must "
        "stay on one model: a coin flip per request mixes both models into one session and "
        "poisons the comparison."
    )


def test_raising_the_weight_never_moves_a_canary_user_back(routes):
    previous: set[str] = set()
    users = USERS[:5000]
    for weight in (5, 25, 50, 100):
        now = {u for u, r in zip(users, routes(weight, users), strict=True) if r == "canary"}
        lost = previous - now
        assert not lost, (
            f"Going to weight {weight}, {len(lost)} users left the canary (e.g. "
            f"{sorted(lost)[:3]}). Each step must only add users, or users flip between "
            "models during the rollout."
        )
        previous = now


def test_python_hash_is_not_stable_across_processes(learner, bridge):
    """Run the router in two fresh interpreters with different hash seeds, and in two
    workers (each started with its own random hash seed)."""
    users = USERS[:500]
    before = bridge.route_all(cicd(learner, "router").Router(50), users)
    learner.restart()
    fresh = learner.module("cicd_bridge")
    after = fresh.route_all(cicd(learner, "router").Router(50), users)
    moved = sum(a != b for a, b in zip(before, after, strict=True))
    assert moved == 0, (
        f"A restarted worker routed {moved} of 500 users differently. Python's hash() of a "
        "str is salted per process, so a replica that restarts disagrees with itself. Use "
        "hashlib (sha256, md5) instead."
    )
    outputs = []
    for seed in ("1", "2"):
        run = fresh.route_in_subprocess(users, seed)
        assert run["returncode"] == 0, f"The router failed in a subprocess:\n{run['stderr']}"
        outputs.append(run["routes"])
    differ = sum(a != b for a, b in zip(outputs[0], outputs[1], strict=True))
    assert differ == 0, (
        f"Two processes (PYTHONHASHSEED=1 and 2) routed {differ} of 500 users differently. "
        "Python's hash() of a str is salted per process, so two replicas, or one replica "
        "after a restart, disagree about the same user. Use hashlib (sha256, md5) instead."
    )


# --- the salt: each experiment gets its own, independent split of users


def test_salt_is_not_ignored(routes):
    users = USERS[:4000]
    default = routes(50, users)
    other = routes(50, users, salt="pricing-2026")
    differ = sum(a != b for a, b in zip(default, other, strict=True))
    assert 1600 <= differ <= 2400, (
        f"Router(50) and Router(50, salt='pricing-2026') disagree on {differ} of 4,000 users; "
        "expected about half (two independent 50/50 splits). With the salt ignored every "
        "experiment gets the same users, so the same people always see every new model."
    )


def test_salt_changes_the_split_across_processes_too(bridge):
    users = USERS[:500]
    runs = [bridge.route_in_subprocess(users, seed, 50, "exp-7") for seed in ("3", "4")]
    assert all(r["returncode"] == 0 for r in runs), f"The router failed: {runs[0]['stderr']}"
    assert runs[0]["routes"] == runs[1]["routes"], (
        "Router(50, salt='exp-7') routed users differently in two processes; the salted "
        "hash must be stable too (hashlib of salt and user id)."
    )


def test_bucket_and_route_agree(router, routes):
    users = USERS[:400]
    got = routes(30, users, salt="exp-7")
    buckets = [router.bucket(u, "exp-7") for u in users]
    assert all(type(b) is int and 0 <= b < 100 for b in buckets), (
        f"bucket(user, 'exp-7') returned {buckets[:5]}…; expected ints in range(100)."
    )
    wrong = [u for u, b, r in zip(users, buckets, got, strict=True) if (b < 30) != (r == "canary")]
    assert not wrong, (
        f"Router(30, salt='exp-7').route disagrees with bucket(user, 'exp-7') < 30 for "
        f"{len(wrong)} users (e.g. {wrong[:3]}). Route by the salted bucket."
    )
