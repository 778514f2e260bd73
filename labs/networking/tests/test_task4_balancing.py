"""Task 4: client-side load balancing with health checks, over real replica processes
(tests/replica.py: stand-ins that do not depend on your task-2 server). The replicas run
here, in the judge; your BalancedClient runs in the worker and calls them over loopback."""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.task(4)

LAB_DIR = Path(__file__).resolve().parent.parent
ROW = [[12.0, 70.0, 2.0, 15.0]]
NAMES = ["r1", "r2", "r3"]
# A balanced call takes milliseconds, or timeout_s (2 s by default) when it cannot be
# served; one still running after this long never ends, and the worker is replaced.
CALL_TIMEOUT_S = 10.0


class Replica:
    def __init__(self, name: str, delay_ms: int = 0) -> None:
        self.name = name
        env = {**os.environ, "PYTHONPATH": str(LAB_DIR)}
        self.proc = subprocess.Popen(
            [sys.executable, str(LAB_DIR / "tests" / "replica.py"), name, str(delay_ms)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        if not first or first[0] != "PORT":
            self.stop()
            pytest.fail(f"replica {name} did not start (tests/replica.py printed {first})")
        self.target = f"127.0.0.1:{first[1]}"

    def command(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        assert reply.startswith("OK"), f"replica {self.name} answered {command!r} with {reply!r}"
        return reply

    def calls(self) -> int:
        """How many Predict calls this replica has received."""
        return int(self.command("calls").split()[1])

    def in_flight(self) -> int:
        """How many Predict calls this replica is working on right now."""
        return int(self.command("in-flight").split()[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def _running(names: list[str], delay_ms: int = 0) -> Iterator[list[Replica]]:
    replicas: list[Replica] = []
    try:
        for name in names:
            replicas.append(Replica(name, delay_ms))
        yield replicas
    finally:
        for r in replicas:
            r.stop()


def _close(client: Any) -> None:
    # An AssertionError here is LearnerGone: the worker, and the channel it held, were
    # replaced after an earlier failure.
    with contextlib.suppress(AssertionError):
        client.close()


@pytest.fixture
def balancer(learner: Any) -> Any:
    """Your ``netlab.balancer``, imported in the worker."""
    return learner.module("netlab.balancer", timeout=CALL_TIMEOUT_S)


@pytest.fixture(scope="module")
def replicas() -> Iterator[list[Replica]]:
    with _running(NAMES) as started:
        yield started


@pytest.fixture(scope="module")
def client(learner: Any, replicas: list[Replica]) -> Iterator[Any]:
    balancer = learner.module("netlab.balancer", timeout=CALL_TIMEOUT_S)
    c = balancer.BalancedClient([r.target for r in replicas])
    yield c
    _close(c)


def _served_by(client: Any, calls: int) -> list[str]:
    return [client.predict(ROW).replica for _ in range(calls)]


def test_calls_are_spread_round_robin(client: Any) -> None:
    # Replicas become ready one by one (connect, then a first health answer): count only
    # once each has served a call, or the first few calls all land on the fastest one.
    warming = collections.Counter[str]()
    deadline = time.monotonic() + 5
    while not all(warming[name] for name in NAMES) and time.monotonic() < deadline:
        warming.update(_served_by(client, 3))
    assert all(warming[name] for name in NAMES), (
        f"For 5 s, predict() calls over 3 healthy replicas were served {dict(warming)}; "
        "expected every replica to get some. Everything on one replica is pick_first, "
        "gRPC's default policy: choose round_robin (or rotate over the replicas yourself)."
    )
    counts = collections.Counter(_served_by(client, 90))
    assert all(counts[name] >= 15 for name in NAMES), (
        f"90 predict() calls over 3 healthy replicas were served {dict(counts)}; expected "
        "about 30 each. Everything on one replica is pick_first, gRPC's default policy: "
        "choose round_robin (or rotate over the replicas yourself)."
    )


def test_unhealthy_replica_gets_no_calls_and_comes_back(
    client: Any, replicas: list[Replica], wait_until: Any
) -> None:
    r2 = replicas[1]
    r2.command("unhealthy")
    try:
        wait_until(
            lambda: "r2" not in _served_by(client, 15),
            timeout=5,
            what=(
                "r2 to get no more calls after its health turned NOT_SERVING. A balancer "
                "must watch (or poll) grpc.health.v1 and skip replicas that are not SERVING"
            ),
        )
        counts = collections.Counter(_served_by(client, 40))
        assert counts["r2"] == 0 and counts["r1"] > 0 and counts["r3"] > 0, (
            f"With r2 NOT_SERVING, 40 calls were served {dict(counts)}; expected r1 and r3 only."
        )
    finally:
        r2.command("healthy")
    wait_until(
        lambda: "r2" in _served_by(client, 15),
        timeout=5,
        what="r2 to get calls again after its health went back to SERVING",
    )


def test_a_rejected_request_is_not_sent_to_another_replica(
    learner: Any, client: Any, replicas: list[Replica]
) -> None:
    before = sum(r.calls() for r in replicas)
    with learner.raises("grpc.RpcError") as info:
        client.predict([[1.0, 2.0, 3.0]])
    sent = sum(r.calls() for r in replicas) - before
    assert info.value.code == "INVALID_ARGUMENT" and sent == 1, (
        f"predict() with a row of 3 features reached the replicas {sent} times and ended "
        f"with {info.value.code}; expected one call, then INVALID_ARGUMENT raised. Every "
        "replica rejects it the same way: retry only UNAVAILABLE, the one code that says "
        "'not processed, try elsewhere'."
    )


def test_killing_a_replica_mid_run_loses_no_request(balancer: Any, wait_until: Any) -> None:
    # Each call takes 10 ms and 4 threads keep calling; k1 is killed while it is working on
    # a call, so that call must go elsewhere.
    with _running(["k1", "k2", "k3"], delay_ms=10) as replicas:
        client = balancer.BalancedClient([r.target for r in replicas])
        served: list[list[str]] = [[] for _ in range(4)]
        failures: list[str] = []
        warmed_up = threading.Barrier(5)

        def run(mine: list[str]) -> None:
            for i in range(80):
                try:
                    mine.append(client.predict(ROW).replica)
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])
                if i == 19:
                    warmed_up.wait(30)

        workers = [threading.Thread(target=run, args=(mine,)) for mine in served]
        try:
            for worker in workers:
                worker.start()
            warmed_up.wait(30)  # 4 x 20 calls done, 4 x 60 to go
            wait_until(replicas[0].in_flight, timeout=10, what="k1 to be working on a call")
            replicas[0].stop()  # SIGKILL mid-call: no goodbye, no drain
            for worker in workers:
                worker.join(60)
        finally:
            _close(client)
    assert not failures, (
        f"After replica k1 was killed mid-run, {len(failures)} of 320 calls failed, e.g. "
        f"{failures[:2]}. A call that meets UNAVAILABLE should go to another replica "
        "(a retryPolicy on UNAVAILABLE, or your own retry on the next healthy replica)."
    )
    late = collections.Counter(name for mine in served for name in mine[-20:])
    assert late["k1"] == 0, f"The dead replica k1 still 'served' calls: {dict(late)}"


def test_a_call_with_no_replica_serving_ends_by_its_deadline(learner: Any) -> None:
    balancer = learner.module("netlab.balancer", timeout=5.0)  # 10 deadlines of 0.5 s
    with _running(["d1", "d2"]) as replicas:
        for r in replicas:
            r.command("unhealthy")
        client = balancer.BalancedClient([r.target for r in replicas], timeout_s=0.5)
        t0 = time.perf_counter()
        try:
            client.predict(ROW)
        except AssertionError as exc:  # LearnerTimeout: it had not ended after 10 deadlines
            pytest.fail(
                f"With no replica SERVING, predict() on a BalancedClient with timeout_s=0.5 "
                f"was still waiting after {time.perf_counter() - t0:.0f}s ({exc}). "
                "wait_for_ready without a deadline waits for ever: pass timeout=timeout_s on "
                "every call, so the caller gets DEADLINE_EXCEEDED and can fail over or report "
                "the outage."
            )
        except Exception:
            pass  # failing is right: no replica may take the call, and how it fails is yours
        elapsed = time.perf_counter() - t0
        _close(client)
    assert elapsed < 2.0, (
        f"With no replica SERVING, predict() with timeout_s=0.5 took {elapsed:.1f}s to end; "
        "expected about 0.5 s: the deadline bounds the wait for a replica too."
    )
