"""Benchmark the networking lab's reference solution: REST vs gRPC, closed and open loop.

    python bench/networking.py [--requests 2000] [--warmup 100] [--seconds 2]

Lays solutions/networking over a temporary copy of labs/networking (the way the grader lays
a submission over the lab) and uses its task-5 harness, each server in its own process:

1. closed loop (``run_load``) at concurrency 1, 2, 4, 8 and 16: the table and ``latency.png``
   (c1 and c8), as the lesson shows them;
2. open loop (``run_open_loop``) at fixed arrival rates, from 20% to 130% of the closed
   loop's best throughput, ``--seconds`` per rate: p50 and p99 against offered load;
3. the serialization cost on its own, in this process, with no network: one request and
   its answer through pydantic + JSON, and through protobuf.

Writes bench/out/networking/results.json, latency.png and load_curve.png (closed and open
loop on the same axes: p99 against requests per second).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "labs" / "networking"
SOLUTION = ROOT / "solutions" / "networking"
OUT = ROOT / "bench" / "out" / "networking"
CONCURRENCIES = (1, 2, 4, 8, 16)
OFFERED = (0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1, 1.3)  # fractions of the best closed-loop rate


def serialization_us(n: int = 20_000) -> dict[str, float]:
    """Microseconds to encode a one-row request and decode it, then the same for the answer:
    the per-call work each protocol's message format costs, with no network at all."""
    from netlab import protos, rest_service

    pb2, _ = protos.load()
    row = [12.0, 70.0, 2.0, 15.0]

    def json_round_trip() -> None:
        body = json.dumps({"instances": [row]}).encode()
        request = rest_service.PredictRequest.model_validate_json(body)
        answer = rest_service.PredictResponse(predictions=[0.69], model_version="1")
        json.loads(answer.model_dump_json())
        assert request.instances

    def proto_round_trip() -> None:
        body = pb2.PredictRequest(rows=[pb2.Row(features=row)]).SerializeToString()
        request = pb2.PredictRequest.FromString(body)
        answer = pb2.PredictResponse(scores=[0.69], model_version="1").SerializeToString()
        pb2.PredictResponse.FromString(answer)
        assert request.rows

    def per_call(fn: Callable[[], None]) -> float:
        for _ in range(n // 10):
            fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e6

    return {"pydantic_json": per_call(json_round_trip), "protobuf": per_call(proto_round_trip)}


def open_loop(
    bench: Any, serve: Any, peak: dict[str, float], seconds: float
) -> list[dict[str, Any]]:
    points = []
    with serve.spawn("rest") as rest_server, serve.spawn("grpc") as grpc_server:
        clients = {
            "rest": bench.rest_call(rest_server.url),
            "grpc": bench.grpc_call(grpc_server.target),
        }
        try:
            for protocol, (call, _) in clients.items():
                bench._wait_ready(call, f"the {protocol} server")
                for _ in range(200):  # warm up: connections, caches
                    call()
                for fraction in OFFERED:
                    rate = peak[protocol] * fraction
                    requests = max(100, int(rate * seconds))
                    result = bench.run_open_loop(call, rate_rps=rate, requests=requests)
                    summary = bench.summarize(result)
                    points.append(
                        {
                            "protocol": protocol,
                            "offered_rps": rate,
                            "fraction_of_peak": fraction,
                            **summary,
                        }
                    )
        finally:
            for _, close in clients.values():
                close()
    return points


def plot(closed: list[dict[str, Any]], opened: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for protocol, color in (("rest", "tab:blue"), ("grpc", "tab:orange")):
        cl = [r for r in closed if r["protocol"] == protocol]
        op = [r for r in opened if r["protocol"] == protocol]
        ax.plot(
            [r["throughput_rps"] for r in cl],
            [r["p99_ms"] for r in cl],
            "o--",
            color=color,
            alpha=0.6,
            label=f"{protocol} closed loop (c=1..16), p99 vs achieved",
        )
        for r in cl:
            ax.annotate(f"c{r['concurrency']}", (r["throughput_rps"], r["p99_ms"]), fontsize=7)
        ax.plot(
            [r["offered_rps"] for r in op],
            [r["p99_ms"] for r in op],
            "s-",
            color=color,
            label=f"{protocol} open loop, p99 vs offered",
        )
    ax.set_yscale("log")
    ax.set_xlabel("requests per second (achieved for closed loop, offered for open loop)")
    ax.set_ylabel("p99 latency (ms, log scale)")
    ax.set_title("Past the knee, offered load queues: the open loop shows it, the closed loop not")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured calls per run")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured calls per worker")
    parser.add_argument("--seconds", type=float, default=2.0, help="open-loop time per rate")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-networking-") as tmp:
        work = Path(tmp) / "lab"
        shutil.copytree(LAB, work, ignore=shutil.ignore_patterns("__pycache__", "tests"))
        shutil.copytree(SOLUTION, work, dirs_exist_ok=True)
        sys.path.insert(0, str(work))
        bench = importlib.import_module("netlab.bench")
        serve = importlib.import_module("netlab.serve")
        results = bench.run_benchmark(
            OUT, requests=args.requests, warmup=args.warmup, concurrencies=CONCURRENCIES
        )
        closed = results["runs"]
        # latency.png keeps the lesson's two concurrencies.
        bench.write_report(
            {**results, "runs": [r for r in closed if r["concurrency"] in (1, 8)]}, OUT
        )
        peak = {
            p: max(r["throughput_rps"] for r in closed if r["protocol"] == p)
            for p in ("rest", "grpc")
        }
        opened = open_loop(bench, serve, peak, args.seconds)
        codec = serialization_us()

    results["open_loop"] = opened
    results["serialization_us_per_call"] = codec
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(closed, opened, OUT / "load_curve.png")

    print("closed loop (each worker waits for its answer)")
    print(f"{'protocol':<8} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for run in closed:
        print(
            f"{run['protocol']:<8} {run['concurrency']:>4} {run['p50_ms']:>8.2f} "
            f"{run['p95_ms']:>8.2f} {run['p99_ms']:>8.2f} {run['throughput_rps']:>8.0f}"
        )
    for key, ratio in results["grpc_over_rest_throughput"].items():
        print(f"gRPC / REST throughput at {key}: {ratio:.2f}x")
    print("open loop (a fixed arrival rate; latency from each call's scheduled start)")
    print(
        f"{'protocol':<8} {'offered':>8} {'of peak':>8} {'p50 ms':>9} {'p99 ms':>9} {'done/s':>8}"
    )
    for point in opened:
        print(
            f"{point['protocol']:<8} {point['offered_rps']:>8.0f} "
            f"{point['fraction_of_peak']:>8.0%} {point['p50_ms']:>9.2f} {point['p99_ms']:>9.2f} "
            f"{point['throughput_rps']:>8.0f}"
        )
    print(
        "serialization alone, one request and its answer, no network: "
        f"pydantic + JSON {codec['pydantic_json']:.1f} us, protobuf {codec['protobuf']:.1f} us"
    )
    print(f"wrote {OUT / 'results.json'}, latency.png and load_curve.png")


if __name__ == "__main__":
    main()
