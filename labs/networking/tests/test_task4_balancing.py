"""Task 4: client-side load balancing with health checks, over real replica processes
(tests/replica.py: stand-ins that do not depend on your task-2 server)."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.task(4)

LAB_DIR = Path(__file__).resolve().parent.parent
ROW = [[12.0, 70.0, 2.0, 15.0]]


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

    def command(self, command: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "OK"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def _start(names: list[str], delay_ms: int = 0) -> list[Replica]:
    replicas: list[Replica] = []
    try:
        for name in names:
            replicas.append(Replica(name, delay_ms))
    except BaseException:
        for r in replicas:
            r.stop()
        raise
    return replicas


@pytest.fixture(scope="module")
def replicas() -> Iterator[list[Replica]]:
    started = _start(["r1", "r2", "r3"])
    yield started
    for r in started:
        r.stop()


@pytest.fixture(scope="module")
def client(replicas: list[Replica]) -> Iterator[Any]:
    from netlab.balancer import BalancedClient

    c = BalancedClient([r.target for r in replicas])
    yield c
    c.close()


def _served_by(client: Any, calls: int) -> list[str]:
    return [client.predict(ROW).replica for _ in range(calls)]


def test_calls_are_spread_round_robin(client: Any) -> None:
    counts = collections.Counter(_served_by(client, 90))
    assert all(counts[name] >= 15 for name in ("r1", "r2", "r3")), (
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


def test_killing_a_replica_mid_run_loses_no_request() -> None:
    from netlab.balancer import BalancedClient

    # Each call takes 10 ms and 4 threads keep calling, so the kill lands mid-call.
    replicas = _start(["k1", "k2", "k3"], delay_ms=10)
    client = BalancedClient([r.target for r in replicas])
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
        replicas[0].stop()  # SIGKILL while calls are in flight: no goodbye, no drain
        for worker in workers:
            worker.join(60)
    finally:
        client.close()
        for r in replicas:
            r.stop()
    assert not failures, (
        f"After replica k1 was killed mid-run, {len(failures)} of 320 calls failed, e.g. "
        f"{failures[:2]}. A call that meets UNAVAILABLE should go to another replica "
        "(a retryPolicy on UNAVAILABLE, or your own retry on the next healthy replica)."
    )
    late = collections.Counter(name for mine in served for name in mine[-20:])
    assert late["k1"] == 0, f"The dead replica k1 still 'served' calls: {dict(late)}"
