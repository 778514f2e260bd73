"""Task 5: the benchmark harness. These tests check that it measures correctly (fake clocks,
fixed data, numpy as the oracle), never how fast anything is. Your harness runs in the
worker; the clocks and calls it is given live here, and it calls them back.

``run_open_loop`` (added in round two): each requirement of its docstring and of the
lesson, and the test that fails when that requirement alone is broken.

- "start call i at i / rate_rps seconds" (lesson: sleep until each due time, on the
  injected clock, not a fixed gap) -> test_open_loop_schedule_that_drifts_is_rejected
- "whether or not the earlier calls have finished"
  -> test_open_loop_that_waits_for_each_answer_is_rejected
- "on up to max_workers threads" -> test_open_loop_more_threads_than_max_workers_is_rejected
- "a call's latency runs from its scheduled start, so time spent waiting for a free thread
  counts" -> test_open_loop_with_coordinated_omission_is_rejected; and so does a late
  send -> test_open_loop_latency_counted_from_the_send_is_rejected
- "raise the first exception a call raised" (lesson: a failure is not a fast success)
  -> test_open_loop_failure_lost_in_the_pool_is_rejected
- "wall_s runs from the first scheduled start to the end" (measured, not read off the
  schedule) -> test_open_loop_wall_time_taken_from_the_schedule_is_rejected
- one latency per call -> the length checks in the drift and coordinated-omission tests
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.task(5)

QS = [0, 1, 25, 50, 90, 95, 99, 99.9, 100]


@pytest.fixture
def bench(learner: Any) -> Any:
    """Your ``netlab.bench``, imported in the worker."""
    return learner.module("netlab.bench")


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1001])
def test_percentile_matches_numpy(bench: Any, n: int) -> None:
    data = np.random.default_rng(n).lognormal(mean=0.0, sigma=1.0, size=n).tolist()
    for q in QS:
        got, want = bench.percentile(data, q), float(np.percentile(data, q))
        assert got == pytest.approx(want, rel=1e-12), (
            f"percentile(<{n} fixed samples>, {q}) = {got}; numpy.percentile says {want}. "
            "Sort, take rank (n - 1) * q / 100, interpolate between its two neighbours."
        )


def test_percentile_does_not_depend_on_input_order(learner: Any, bench: Any) -> None:
    # The list lives in the worker, beside percentile(), so a sort in place would show.
    data = learner.module("collections").UserList([5.0, 1.0, 4.0, 2.0, 3.0])
    got = bench.percentile(data, 50)
    after = list(data)
    assert got == 3.0 and after == [5.0, 1.0, 4.0, 2.0, 3.0], (
        f"percentile([5, 1, 4, 2, 3], 50) returned {got} and left the list as {after}; it "
        "should be 3.0, without reordering the caller's list."
    )


def test_p50_is_not_the_mean(bench: Any) -> None:
    latencies = [1.0] * 9 + [100.0]
    got = bench.percentile(latencies, 50)
    assert got == pytest.approx(1.0), (
        f"p50 of nine 1 ms calls and one 100 ms call is 1 ms, got {got}. The mean (10.9 ms) "
        "describes no real request."
    )


def test_p99_is_not_the_max(bench: Any) -> None:
    latencies = [*range(1, 1000), 60_000]
    got = bench.percentile(latencies, 99)
    assert got == pytest.approx(float(np.percentile(latencies, 99))) and got < 1000, (
        f"p99 of 1..999 ms plus one 60 s outlier is about 990 ms, got {got}. The max is one "
        "unlucky request; p99 is what 1 in 100 users waits for."
    )


class FakeClock:
    """Each call() advances the clock: warm-up calls take 1 s, measured ones 1 ms."""

    def __init__(self, warmup_calls: int) -> None:
        self.now = 50.0
        self.calls = 0
        self.warmup_calls = warmup_calls

    def __call__(self) -> float:
        return self.now

    def call(self) -> None:
        self.calls += 1
        self.now += 1.0 if self.calls <= self.warmup_calls else 0.001


def test_warmup_is_excluded(learner: Any, bench: Any) -> None:
    clock = FakeClock(warmup_calls=5)
    result = bench.run_load(clock.call, concurrency=1, requests=100, warmup=5, clock=clock)
    latencies, wall_s = result.latencies_s, result.wall_s
    assert clock.calls == 105, f"warmup=5, requests=100 should call 105 times, not {clock.calls}"
    assert len(latencies) == 100, (
        f"run_load kept {len(latencies)} latencies for 100 measured calls (plus 5 "
        "warm-up calls); expected 100."
    )
    assert max(latencies) == pytest.approx(0.001), (
        f"The slowest latency kept was {max(latencies)} s, but only the 1-second "
        "warm-up calls were that slow: leave warm-up out of the samples."
    )
    assert wall_s == pytest.approx(0.1), (
        f"wall_s = {wall_s} s for 100 measured calls of 1 ms; expected 0.1 s. Start "
        "the wall clock after warm-up, or throughput includes it."
    )
    # Asked in the worker: the default is an object of the learner's process.
    default = learner.module("inspect").signature(bench.run_load).parameters["clock"].default
    is_perf_counter = learner.module("operator").is_(default, learner.module("time").perf_counter)
    assert is_perf_counter, (
        f"run_load's clock defaults to {learner.module('builtins').repr(default)}; use "
        "time.perf_counter: monotonic (immune to clock changes) and high resolution, unlike "
        "time.time."
    )


def test_concurrency_8_really_has_8_calls_in_flight(bench: Any) -> None:
    barrier = threading.Barrier(8)
    calls = []

    def call() -> None:
        calls.append(1)
        barrier.wait(timeout=5)  # returns only when 8 calls are waiting here at once

    try:
        result = bench.run_load(call, concurrency=8, requests=80, warmup=1)
    except Exception:
        if barrier.broken:
            pytest.fail(
                "run_load(concurrency=8) never had 8 calls in flight at once (a barrier of 8 "
                "timed out). Run the calls from 8 threads."
            )
        raise
    latencies = result.latencies_s
    assert len(latencies) == 80 and len(calls) == 88, (
        f"concurrency=8, requests=80, warmup=1 made {len(calls)} calls and kept "
        f"{len(latencies)} latencies; expected 88 calls (8 warm-up) and 80 latencies."
    )


def test_requests_not_a_multiple_of_the_concurrency_are_all_sent(bench: Any) -> None:
    calls = []
    result = bench.run_load(lambda: calls.append(1), concurrency=3, requests=10, warmup=0)
    latencies = result.latencies_s
    assert len(calls) == 10 and len(latencies) == 10, (
        f"run_load(concurrency=3, requests=10, warmup=0) made {len(calls)} calls and kept "
        f"{len(latencies)} latencies; expected 10 of each. 10 // 3 calls per thread drops "
        "the remainder: give the first 10 % 3 threads one call more."
    )


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_a_failing_call_is_not_hidden(learner: Any, bench: Any, refused_port: int) -> None:
    # A call made in the worker (to a server that went away), so that the harness meets
    # the very exception, ConnectionRefusedError, that the call raised.
    call = learner.module("functools").partial(
        learner.module("socket").create_connection, ("127.0.0.1", refused_port)
    )
    with pytest.raises(ConnectionError):
        bench.run_load(call, concurrency=2, requests=10, warmup=0)


def test_summarize_reports_percentiles_in_ms_and_throughput(bench: Any) -> None:
    latencies = np.random.default_rng(3).gamma(2.0, 0.002, size=500).tolist()
    got = bench.summarize(bench.LoadResult(latencies_s=latencies, wall_s=2.0))
    want = {
        "n": 500,
        "p50_ms": float(np.percentile(latencies, 50)) * 1000,
        "p95_ms": float(np.percentile(latencies, 95)) * 1000,
        "p99_ms": float(np.percentile(latencies, 99)) * 1000,
        "throughput_rps": 250.0,
    }
    for key, value in want.items():
        assert got.get(key) == pytest.approx(value, rel=1e-9), (
            f"summarize(500 latencies over 2.0 s)[{key!r}] = {got.get(key)}, expected {value} "
            "(percentiles in milliseconds; throughput = measured calls / wall_s)."
        )


def test_report_writes_json_and_png(learner: Any, bench: Any) -> None:
    runs = [
        {"protocol": p, "concurrency": c, "n": 100, "p50_ms": 1.0 * c, "p95_ms": 2.0 * c,
         "p99_ms": 3.0 * c, "throughput_rps": 1000.0 / c}
        for c in (1, 8)
        for p in ("rest", "grpc")
    ]  # fmt: skip
    results = {"runs": runs, "grpc_over_rest_throughput": {"c1": 1.0, "c8": 1.0}}
    # The report goes to a folder of the worker's (the judge's tmp is private to the judge),
    # and the worker sends the two files back as they are: the judge parses them itself.
    path = learner.module("pathlib").Path
    out_dir = path(learner.module("tempfile").mkdtemp(), "out")
    json_path, png_path = bench.write_report(results, out_dir)
    written = path(json_path).read_text()
    assert json.loads(written) == results, (
        f"{path(json_path).name} should hold the results dict, as JSON; it holds {written[:200]!r}."
    )
    data = path(png_path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, (
        f"{path(png_path).name} is not a PNG image ({len(data)} bytes, starts {data[:8]!r})."
    )


class Stall:
    """A call that takes ``first_s`` the first time and ``then_s`` after; it records when
    each call started (judge time)."""

    def __init__(self, first_s: float, then_s: float) -> None:
        self.first_s, self.then_s = first_s, then_s
        self.starts: list[float] = []
        self._lock = threading.Lock()

    def call(self) -> None:
        with self._lock:
            self.starts.append(time.monotonic())
            first = len(self.starts) == 1
        time.sleep(self.first_s if first else self.then_s)


def test_open_loop_with_coordinated_omission_is_rejected(bench: Any) -> None:
    # One worker thread, 20 calls a second, and the first call stalls for 1 s: the calls
    # scheduled at 0.05 .. 0.45 s all wait for it. Their users waited; the latencies must say so.
    stall = Stall(first_s=1.0, then_s=0.0)
    result = bench.run_open_loop(stall.call, rate_rps=20.0, requests=10, max_workers=1)
    latencies = sorted(result.latencies_s, reverse=True)
    assert len(latencies) == 10 and all(lat > 0.4 for lat in latencies[:5]), (
        f"Open loop at 20/s, one thread, first call stalled 1 s: latencies {latencies}; "
        "expected the calls scheduled during the stall to show the wait (1.0, 0.95, ... "
        "s). Count each latency from the call's scheduled start, not from when a thread "
        "picked it up: the other way is coordinated omission, and it hides the stall."
    )


def test_open_loop_that_waits_for_each_answer_is_rejected(bench: Any) -> None:
    stall = Stall(first_s=0.5, then_s=0.5)
    result = bench.run_open_loop(stall.call, rate_rps=20.0, requests=8)
    span = max(stall.starts) - min(stall.starts)
    assert len(result.latencies_s) == 8 and span < 2.0, (
        f"8 calls of 0.5 s each, at a fixed 20 calls a second, started over {span:.2f}s; "
        "expected about 0.35 s. An open loop sends on schedule whether or not the earlier "
        "answers are back; a loop that waits for each answer slows down with the server and "
        "never sees its queue."
    )


class LateWaker:
    """A fake clock and sleep: ``sleep(s)`` wakes ``late_s`` after it was due, as sleeps do
    on a busy machine. The clock moves only when slept on, or when a call says it took time."""

    def __init__(self, late_s: float = 0.01) -> None:
        self.start = self.now = 100.0
        self.late_s = late_s
        self.sleeps = 0
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")  # as time.sleep says
        with self._lock:
            self.sleeps += 1
            if self.sleeps > 10_000:
                raise RuntimeError("10,000 sleeps: the schedule never gets anywhere")
            self.now += seconds + self.late_s

    def spend(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def test_open_loop_schedule_that_drifts_is_rejected(bench: Any) -> None:
    # 20 calls at 10/s are due at 0.0, 0.1, ... 1.9 s. Every sleep wakes 10 ms late: a loop
    # that sleeps until each call's due time absorbs that; one that sleeps a fixed 0.1 s gap
    # adds it up, and sends its last call at 19 x 0.11 = 2.09 s.
    fake = LateWaker(late_s=0.01)
    calls = []
    result = bench.run_open_loop(
        lambda: calls.append(fake.clock()),
        rate_rps=10.0,
        requests=20,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    elapsed = fake.now - fake.start
    assert len(calls) == 20 and len(result.latencies_s) == 20, (
        f"run_open_loop(rate_rps=10, requests=20) made {len(calls)} calls and returned "
        f"{len(result.latencies_s)} latencies; expected 20 of each."
    )
    # A call runs no earlier than it is due: the k-th call to run started no earlier than the
    # k-th due time, on the injected clock.
    early = [
        (round(t - fake.start, 3), k / 10)
        for k, t in enumerate(sorted(calls))
        if t - fake.start < k / 10 - 1e-9
    ]
    assert not early, (
        f"Calls ran before they were due (injected clock, seconds from the start; ran, due): "
        f"{early[:5]}. Sleep until each call's due time through the injected sleep, which is "
        "what moves the injected clock; time.sleep, or no sleep at all, sends the calls "
        "early and offers a different load."
    )
    assert elapsed <= 1.9 + 0.01 + 1e-9, (
        f"20 calls at 10/s are due over 1.9 s; with every sleep waking 10 ms late, the run "
        f"took {elapsed:.3f} s on the injected clock. The schedule drifted: sleep until call "
        "i's due time (start + i / rate_rps, read from clock()), not a fixed 1 / rate_rps "
        "after the previous send, so a late wake-up is absorbed instead of carried forward "
        "and the offered rate stays the rate you asked for."
    )


def test_open_loop_latency_counted_from_the_send_is_rejected(bench: Any) -> None:
    # Calls are due at 0.0, 0.1, ... 0.4 s; the one sleep (before call 1) wakes 1 s late, so
    # calls 1-4 are all sent at 1.1 s, and take no time. Their users waited from 0.1 .. 0.4 s.
    fake = LateWaker(late_s=1.0)
    result = bench.run_open_loop(
        lambda: None, rate_rps=10.0, requests=5, clock=fake.clock, sleep=fake.sleep
    )
    late = sorted(result.latencies_s, reverse=True)[:4]
    assert len(result.latencies_s) == 5 and all(lat >= 0.7 - 1e-6 for lat in late), (
        f"Calls due at 0.1 .. 0.4 s went out at 1.1 s (the sender's sleep woke 1 s late, "
        f"injected clock) and took no time; latencies {sorted(result.latencies_s)}; expected "
        "four of about 1.0, 0.9, 0.8 and 0.7 s. Count each latency from the call's scheduled "
        "start, not from when it was sent: a sender that fell behind delayed those calls as "
        "surely as a slow server."
    )


def test_open_loop_wall_time_taken_from_the_schedule_is_rejected(bench: Any) -> None:
    # Each call takes 1 s on the injected clock; one worker thread. The schedule lasts 0.4 s,
    # the run at least 5 s: throughput is 1 call a second, not the offered 10.
    fake = LateWaker(late_s=0.0)
    result = bench.run_open_loop(
        lambda: fake.spend(1.0),
        rate_rps=10.0,
        requests=5,
        max_workers=1,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    elapsed = fake.now - fake.start
    assert 5.0 <= result.wall_s <= elapsed + 1e-9, (
        f"Five calls of 1 s each on one thread, offered at 10/s: wall_s = {result.wall_s} s, "
        f"while the injected clock moved {elapsed:.2f} s in all; expected at least 5 s, "
        "measured on clock() from the first scheduled start to the end of the last call. A "
        "wall time read off the schedule (requests / rate_rps) makes throughput equal the "
        "offered rate however far the server falls behind."
    )


def test_open_loop_failure_lost_in_the_pool_is_rejected(
    learner: Any, bench: Any, refused_port: int
) -> None:
    # A call made in the worker, to a port that refuses: every call raises
    # ConnectionRefusedError inside the pool's threads.
    call = learner.module("functools").partial(
        learner.module("socket").create_connection, ("127.0.0.1", refused_port)
    )
    try:
        result = bench.run_open_loop(call, rate_rps=1000.0, requests=5)
    except ConnectionError:
        return
    pytest.fail(
        f"Every call raised ConnectionRefusedError, and run_open_loop returned latencies "
        f"{result.latencies_s} as if they had succeeded. An exception raised in a pool thread "
        "is kept in its Future: ask each future for its result() and re-raise, or failures "
        "count as fast successes."
    )


def test_open_loop_more_threads_than_max_workers_is_rejected(bench: Any) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]

    def call() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.03)
        with lock:
            running[0] -= 1

    bench.run_open_loop(call, rate_rps=1000.0, requests=6, max_workers=2)
    assert peak[0] <= 2, (
        f"run_open_loop(max_workers=2) had {peak[0]} calls running at once; expected at most "
        "2. The pool's size is part of the load you offer: a thread per call is another "
        "benchmark."
    )
