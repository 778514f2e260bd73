"""Time the reference etl_lab job at 10^5 and 10^6 events.

    python bench/data-engineering.py [--master local[2]] [--sizes 100000 1000000]

Generates each raw log with the lab's seeded generator (not timed as part of the job),
runs a small warm-up batch so JVM start-up and JIT are not charged to the first size,
then times etl_lab.job.run() per size on one SparkSession. Prints the times and their
ratio, and writes bench/out/data-engineering.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "data-engineering"
LAB = ROOT / "labs" / "data-engineering"
OUT = ROOT / "bench" / "out" / "data-engineering.json"


def _import_solution() -> None:
    # The solution folder holds only the submission files; the package itself
    # (__init__.py, datagen.py, job.py) lives in the lab. Solution first on sys.path,
    # and first on the package's __path__, so its modules win over the starter stubs.
    sys.path[:0] = [str(SOLUTION), str(LAB)]
    import etl_lab

    etl_lab.__path__.insert(0, str(SOLUTION / "etl_lab"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    args = parser.parse_args()

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    _import_solution()
    from etl_lab import datagen, job

    assert Path(job.__file__).parent == LAB / "etl_lab"
    from etl_lab import features

    assert Path(features.__file__).parent == SOLUTION / "etl_lab", "not the reference solution"

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-de-") as tmp:
        spark = job.build_session(
            args.master, args.shuffle_partitions, {"spark.ui.showConsoleProgress": "false"}
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            warm = Path(tmp) / "warmup.jsonl"
            datagen.generate(warm, 2_000, seed=1)
            job.run(spark, str(warm), f"{tmp}/warmup-out")
            for n in args.sizes:
                raw = Path(tmp) / f"events-{n}.jsonl"
                started = time.perf_counter()
                stats = datagen.generate(raw, n, seed=7)
                gen_s = time.perf_counter() - started
                result = job.run(spark, str(raw), f"{tmp}/out-{n}")
                results.append(
                    {
                        "events": n,
                        "raw_lines": stats.lines,
                        "raw_mb": round(raw.stat().st_size / 1e6, 1),
                        "clean_events": result.events,
                        "job_s": round(result.seconds, 2),
                        "generate_s": round(gen_s, 2),
                    }
                )
                print(
                    f"{n:>9,} events ({results[-1]['raw_mb']} MB raw): job {result.seconds:6.1f} s"
                    f"  (generating the log took {gen_s:.1f} s)",
                    flush=True,
                )
                raw.unlink()
        finally:
            spark.stop()

    ratio = results[-1]["job_s"] / results[0]["job_s"] if len(results) > 1 else None
    if ratio is not None:
        growth = results[-1]["events"] / results[0]["events"]
        print(f"ratio: {ratio:.2f}x the time for {growth:.0f}x the events")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "lab": "data-engineering",
                "master": args.master,
                "shuffle_partitions": args.shuffle_partitions,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_avg_1m": os.getloadavg()[0],
                "results": results,
                "ratio": round(ratio, 2) if ratio is not None else None,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
