"""Benchmark the networking lab's reference solution: REST vs gRPC at concurrency 1 and 8.

    python bench/networking.py [--requests 2000] [--warmup 100]

Lays solutions/networking over a temporary copy of labs/networking (the way the grader lays
a submission over the lab), runs its task-5 harness (each server in its own process), prints
a table, and writes bench/out/networking/results.json and latency.png.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "labs" / "networking"
SOLUTION = ROOT / "solutions" / "networking"
OUT = ROOT / "bench" / "out" / "networking"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured calls per run")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured calls per worker")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-networking-") as tmp:
        work = Path(tmp) / "lab"
        shutil.copytree(LAB, work, ignore=shutil.ignore_patterns("__pycache__", "tests"))
        shutil.copytree(SOLUTION, work, dirs_exist_ok=True)
        sys.path.insert(0, str(work))
        bench = importlib.import_module("netlab.bench")
        results = bench.run_benchmark(OUT, requests=args.requests, warmup=args.warmup)

    print(f"{'protocol':<8} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for run in results["runs"]:
        print(
            f"{run['protocol']:<8} {run['concurrency']:>4} {run['p50_ms']:>8.2f} "
            f"{run['p95_ms']:>8.2f} {run['p99_ms']:>8.2f} {run['throughput_rps']:>8.0f}"
        )
    for key, ratio in results["grpc_over_rest_throughput"].items():
        print(f"gRPC / REST throughput at {key}: {ratio:.2f}x")
    print(f"wrote {OUT / 'results.json'} and {OUT / 'latency.png'}")


if __name__ == "__main__":
    main()
