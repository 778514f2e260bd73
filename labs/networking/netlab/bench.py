"""Task 5: a small load harness. Latency percentiles and throughput for REST and gRPC.

Yours to write: ``percentile``, ``summarize``, ``run_load``, ``run_open_loop`` and
``write_report``.
Provided below them: the two call factories and ``run_benchmark``, which starts both
servers in their own processes and drives your harness with them.

The rules of honest measurement this task is about:

- time each call with ``time.perf_counter`` (monotonic, high resolution), passed in as
  ``clock`` so tests can hand you a fake one;
- leave warm-up out: the first calls open connections and fill caches;
- report percentiles, not the mean (the mean hides the slow tail your users feel), and not
  the max as p99 (the max is one unlucky request);
- throughput is measured calls divided by the wall time of the measured phase only;
- a closed loop (``run_load``: each worker waits for its answer before sending again)
  slows down with the server and so hides queueing; an open loop (``run_open_loop``: a
  fixed arrival rate) does not, if each latency is counted from the call's *scheduled*
  start (counting from the actual start is *coordinated omission*).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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
    """The q-th percentile (0-100), interpolating linearly like ``numpy.percentile``.

    For sorted samples x[0..n-1], the rank is (n - 1) * q / 100; between two ranks,
    interpolate. Raise ValueError for no samples or q outside [0, 100].
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): the q-th percentile, as numpy.percentile has it")


def summarize(result: LoadResult) -> dict[str, float]:
    """Return ``n``, ``p50_ms``, ``p95_ms``, ``p99_ms`` (milliseconds) and ``throughput_rps``
    (measured calls per second of ``wall_s``)."""
    # TODO(student)
    raise NotImplementedError("TODO(student): summarise a LoadResult with your percentile()")


def run_load(
    call: Callable[[], object],
    *,
    concurrency: int,
    requests: int,
    warmup: int,
    clock: Callable[[], float] = time.perf_counter,
) -> LoadResult:
    """Run ``call`` ``requests`` times from ``concurrency`` threads; each thread first makes
    ``warmup`` calls that are not measured (connections, caches and JITs warm up there).

    Spread the ``requests`` measured calls over the threads (all of them, exactly). Time each
    measured call with ``clock``, and start the wall clock only once every thread has
    finished warming up: ``threading.Barrier(concurrency, action=...)`` runs its action
    exactly then. If a call raises, re-raise it once the threads are done.
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): drive call() from threads and time it")


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
    scheduled start, so time spent waiting for a free thread counts. Raise the first
    exception a call raised. ``wall_s`` runs from the first scheduled start to the end."""
    # TODO(student): a fixed schedule (start + i / rate_rps), a thread pool, and latency
    # measured from the scheduled time, not from when a thread picked the call up.
    raise NotImplementedError("TODO(student): run_open_loop")


def write_report(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``latency.png`` into ``out_dir``; return both paths.

    ``results["runs"]`` is a list of ``summarize()`` dicts, each with ``protocol``
    ("rest"/"grpc") and ``concurrency`` added. Plot p50/p95/p99 and throughput per run
    with matplotlib; call ``matplotlib.use("Agg")`` first, as there is no display.
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): write the JSON and the PNG plot")


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
