"""Task 5: a small load harness. Latency percentiles and throughput for REST and gRPC."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from netlab import protos, serve

ROW = [12.0, 70.0, 2.0, 15.0]


@dataclass
class LoadResult:
    latencies_s: list[float]  # one per measured call; warm-up calls are not in here
    wall_s: float  # from the first measured call starting to the last one ending


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolating linearly like ``numpy.percentile``."""
    if not samples:
        raise ValueError("percentile() of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within [0, 100], got {q}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def summarize(result: LoadResult) -> dict[str, float]:
    lat_ms = [s * 1000 for s in result.latencies_s]
    return {
        "n": len(lat_ms),
        "p50_ms": percentile(lat_ms, 50),
        "p95_ms": percentile(lat_ms, 95),
        "p99_ms": percentile(lat_ms, 99),
        "throughput_rps": len(lat_ms) / result.wall_s,
    }


def run_load(
    call: Callable[[], object],
    *,
    concurrency: int,
    requests: int,
    warmup: int,
    clock: Callable[[], float] = time.perf_counter,
) -> LoadResult:
    """Run ``call`` ``requests`` times from ``concurrency`` threads; each thread first makes
    ``warmup`` calls that are not measured (connections, caches and JITs warm up there)."""
    if concurrency < 1 or requests < concurrency:
        raise ValueError("need concurrency >= 1 and at least one request per worker")
    shares = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[BaseException] = []
    start: list[float] = []
    # The barrier's action runs once, after every worker has warmed up and before any of
    # them starts measuring: the clock starts there, so warm-up stays out of throughput too.
    barrier = threading.Barrier(concurrency, action=lambda: start.append(clock()))

    def worker(i: int) -> None:
        try:
            mine = latencies[i]
            for _ in range(warmup):
                t0 = clock()
                call()
                mine.append(clock() - t0)
            barrier.wait()
            for _ in range(shares[i]):
                t0 = clock()
                call()
                mine.append(clock() - t0)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    end = clock()
    if errors:
        raise errors[0]
    return LoadResult([x for mine in latencies for x in mine], end - start[0])


def run_open_loop(
    call: Callable[[], object],
    *,
    rate_rps: float,
    requests: int,
    max_workers: int = 64,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadResult:
    """Open loop: start call ``i`` at ``i / rate_rps`` seconds, whether or not the earlier
    calls have finished, on up to ``max_workers`` threads. A call's latency runs from its
    scheduled start, so time spent waiting for a free thread counts."""
    if rate_rps <= 0 or requests < 1 or max_workers < 1:
        raise ValueError("need rate_rps > 0, requests >= 1 and max_workers >= 1")
    latencies = [0.0] * requests

    def timed(i: int, scheduled: float) -> None:
        call()
        # From the schedule, not from when a thread got to it: measuring from the actual
        # start is coordinated omission, and it hides exactly the waits a stall causes.
        latencies[i] = clock() - scheduled

    start = clock()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        pending = []
        for i in range(requests):
            scheduled = start + i / rate_rps  # a fixed schedule: no drift from slow sends
            delay = scheduled - clock()
            if delay > 0:
                sleep(delay)
            pending.append(pool.submit(timed, i, scheduled))
        for future in pending:
            future.result()  # a failing call is raised, not hidden
    return LoadResult(latencies, clock() - start)


def write_report(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``latency.png`` into ``out_dir``; return both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "results.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")

    runs = results["runs"]
    labels = [f"{r['protocol']}\nc={r['concurrency']}" for r in runs]
    colors = ["tab:blue" if r["protocol"] == "rest" else "tab:orange" for r in runs]
    fig, (ax_lat, ax_tput) = plt.subplots(1, 2, figsize=(11, 4.5))
    width = 0.27
    for k, (key, shade) in enumerate([("p50_ms", 1.0), ("p95_ms", 0.7), ("p99_ms", 0.4)]):
        xs = [i + (k - 1) * width for i in range(len(runs))]
        ax_lat.bar(xs, [r[key] for r in runs], width, color=colors, alpha=shade, label=key[:3])
    ax_lat.set_xticks(range(len(runs)), labels)
    ax_lat.set_ylabel("latency (ms), lower is better")
    ax_lat.set_title("p50 / p95 / p99 (dark to light)")
    ax_lat.legend()
    ax_tput.bar(range(len(runs)), [r["throughput_rps"] for r in runs], color=colors)
    ax_tput.set_xticks(range(len(runs)), labels)
    ax_tput.set_ylabel("requests per second, higher is better")
    ax_tput.set_title("throughput")
    fig.suptitle("REST (FastAPI + uvicorn, JSON) vs gRPC (HTTP/2, protobuf): one row per call")
    fig.tight_layout()
    png_path = out_dir / "latency.png"
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return json_path, png_path


def rest_call(url: str) -> tuple[Callable[[], object], Callable[[], None]]:
    """A call that posts one row, over one shared, pooled client; and its close function."""
    client = httpx.Client(base_url=url, timeout=5.0)

    def call() -> object:
        response = client.post("/v1/predict", json={"instances": [ROW]})
        response.raise_for_status()
        return response

    return call, client.close


def grpc_call(target: str) -> tuple[Callable[[], object], Callable[[], None]]:
    """A call that sends one row over one shared channel; and its close function."""
    import grpc

    pb2, pb2_grpc = protos.load()
    channel = grpc.insecure_channel(target)
    stub = pb2_grpc.ModelServiceStub(channel)
    request = pb2.PredictRequest(rows=[pb2.Row(features=ROW)])
    return (lambda: stub.Predict(request, timeout=5.0)), channel.close


def _wait_ready(call: Callable[[], object], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            call()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} was not ready after {timeout_s}s: {exc}") from exc
            time.sleep(0.05)


def run_benchmark(
    out_dir: Path,
    *,
    requests: int = 2000,
    warmup: int = 100,
    concurrencies: Sequence[int] = (1, 8),
) -> dict[str, Any]:
    """Start both servers (each in its own process), load them in turn, write the report."""
    runs = []
    with serve.spawn("rest") as rest_server, serve.spawn("grpc") as grpc_server:
        clients = {"rest": rest_call(rest_server.url), "grpc": grpc_call(grpc_server.target)}
        try:
            for protocol, (call, _) in clients.items():
                _wait_ready(call, f"the {protocol} server")
            for concurrency in concurrencies:
                for protocol, (call, _) in clients.items():
                    result = run_load(
                        call, concurrency=concurrency, requests=requests, warmup=warmup
                    )
                    runs.append(
                        {"protocol": protocol, "concurrency": concurrency, **summarize(result)}
                    )
        finally:
            for _, close in clients.values():
                close()
    tput = {(r["protocol"], r["concurrency"]): r["throughput_rps"] for r in runs}
    results = {
        "requests_per_run": requests,
        "warmup_per_worker": warmup,
        "runs": runs,
        "grpc_over_rest_throughput": {
            f"c{c}": tput[("grpc", c)] / tput[("rest", c)] for c in concurrencies
        },
    }
    write_report(results, out_dir)
    return results
