"""Task 5: the benchmark harness. These tests check that it measures correctly (fake clocks,
fixed data, numpy as the oracle), never how fast anything is."""

from __future__ import annotations

import inspect
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.task(5)

QS = [0, 1, 25, 50, 90, 95, 99, 99.9, 100]


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1001])
def test_percentile_matches_numpy(n: int) -> None:
    from netlab.bench import percentile

    data = np.random.default_rng(n).lognormal(mean=0.0, sigma=1.0, size=n).tolist()
    for q in QS:
        got, want = percentile(data, q), float(np.percentile(data, q))
        assert got == pytest.approx(want, rel=1e-12), (
            f"percentile(<{n} fixed samples>, {q}) = {got}; numpy.percentile says {want}. "
            "Sort, take rank (n - 1) * q / 100, interpolate between its two neighbours."
        )


def test_percentile_does_not_depend_on_input_order() -> None:
    from netlab.bench import percentile

    data = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(data, 50) == 3.0 and data == [5.0, 1.0, 4.0, 2.0, 3.0], (
        "percentile([5, 1, 4, 2, 3], 50) should be 3.0, without reordering the caller's list."
    )


def test_p50_is_not_the_mean() -> None:
    from netlab.bench import percentile

    latencies = [1.0] * 9 + [100.0]
    assert percentile(latencies, 50) == pytest.approx(1.0), (
        f"p50 of nine 1 ms calls and one 100 ms call is 1 ms, got "
        f"{percentile(latencies, 50)}. The mean (10.9 ms) describes no real request."
    )


def test_p99_is_not_the_max() -> None:
    from netlab.bench import percentile

    latencies = [*range(1, 1000), 60_000]
    got = percentile(latencies, 99)
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


def test_warmup_is_excluded() -> None:
    from netlab.bench import run_load

    clock = FakeClock(warmup_calls=5)
    result = run_load(clock.call, concurrency=1, requests=100, warmup=5, clock=clock)
    assert clock.calls == 105, f"warmup=5, requests=100 should call 105 times, not {clock.calls}"
    assert len(result.latencies_s) == 100, (
        f"run_load kept {len(result.latencies_s)} latencies for 100 measured calls (plus 5 "
        "warm-up calls); expected 100."
    )
    assert max(result.latencies_s) == pytest.approx(0.001), (
        f"The slowest latency kept was {max(result.latencies_s)} s, but only the 1-second "
        "warm-up calls were that slow: leave warm-up out of the samples."
    )
    assert result.wall_s == pytest.approx(0.1), (
        f"wall_s = {result.wall_s} s for 100 measured calls of 1 ms; expected 0.1 s. Start "
        "the wall clock after warm-up, or throughput includes it."
    )
    default = inspect.signature(run_load).parameters["clock"].default
    assert default is time.perf_counter, (
        f"run_load's clock defaults to {default!r}; use time.perf_counter: monotonic (immune "
        "to clock changes) and high resolution, unlike time.time."
    )


def test_concurrency_8_really_has_8_calls_in_flight() -> None:
    from netlab.bench import run_load

    barrier = threading.Barrier(8)
    calls = []

    def call() -> None:
        calls.append(1)
        barrier.wait(timeout=5)  # returns only when 8 calls are waiting here at once

    try:
        result = run_load(call, concurrency=8, requests=80, warmup=1)
    except threading.BrokenBarrierError:
        pytest.fail(
            "run_load(concurrency=8) never had 8 calls in flight at once (a barrier of 8 "
            "timed out). Run the calls from 8 threads."
        )
    assert len(result.latencies_s) == 80 and len(calls) == 88, (
        f"concurrency=8, requests=80, warmup=1 made {len(calls)} calls and kept "
        f"{len(result.latencies_s)} latencies; expected 88 calls (8 warm-up) and 80 latencies."
    )


def test_a_failing_call_is_not_hidden() -> None:
    from netlab.bench import run_load

    def call() -> None:
        raise ConnectionError("server went away")

    with pytest.raises(ConnectionError):
        run_load(call, concurrency=2, requests=10, warmup=0)


def test_summarize_reports_percentiles_in_ms_and_throughput() -> None:
    from netlab.bench import LoadResult, summarize

    latencies = np.random.default_rng(3).gamma(2.0, 0.002, size=500).tolist()
    got = summarize(LoadResult(latencies_s=latencies, wall_s=2.0))
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


def test_report_writes_json_and_png(tmp_path: Path) -> None:
    from netlab.bench import write_report

    runs = [
        {"protocol": p, "concurrency": c, "n": 100, "p50_ms": 1.0 * c, "p95_ms": 2.0 * c,
         "p99_ms": 3.0 * c, "throughput_rps": 1000.0 / c}
        for c in (1, 8)
        for p in ("rest", "grpc")
    ]  # fmt: skip
    results = {"runs": runs, "grpc_over_rest_throughput": {"c1": 1.0, "c8": 1.0}}
    json_path, png_path = write_report(results, tmp_path / "out")
    assert json.loads(Path(json_path).read_text()) == results, (
        f"{json_path} should hold the results dict, as JSON."
    )
    data = Path(png_path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, (
        f"{png_path} is not a PNG image ({len(data)} bytes, starts {data[:8]!r})."
    )
