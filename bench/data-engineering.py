"""The data-engineering lab's benchmarks: the test suite, Spark settings, and the job.

    python bench/data-engineering.py [--parts suite settings job] [--sizes 100000 1000000]

- ``suite``: the reference solution's test suite under plain pytest, in one run: the
  in-process suite as it was before the lab was sealed (``--before-rev``, tasks 1-5,
  Spark in the judge), the sealed suite on the same tasks 1-5 (Spark in the worker), and
  the whole sealed suite (with task 6). Reported as ratios to the in-process suite,
  since this machine's load changes between runs.
- ``settings``: the solution's pipeline (ingest, dedup, quality, features, write) on the
  tests' 4,000-event log, on one warm session, with Spark's defaults for small data
  (200 shuffle partitions, adaptive execution off) and with the suite's (2 partitions,
  adaptive execution on). Reported as a ratio.
- ``job``: etl_lab.job.run() at 10^5 and 10^6 events on one warm session (the raw logs
  are generated first, untimed; a small warm-up batch absorbs JVM start-up and JIT).

Writes bench/out/data-engineering.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
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


def _suite_folder(folder: Path, lab: Path) -> Path:
    """``lab`` copied into ``folder`` with the solution laid over it."""
    shutil.copytree(lab, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (SOLUTION / "etl_lab").glob("*.py"):
        if (folder / "etl_lab" / path.name).exists():
            shutil.copyfile(path, folder / "etl_lab" / path.name)
    return folder


def _pytest(folder: Path, *args: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the suite failed in {folder}:\n{proc.stdout[-3000:]}")
    return seconds


def bench_suite(before_rev: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-de-suite-") as tmp:
        old_lab = Path(tmp) / "before"
        old_lab.mkdir()
        archive = subprocess.run(
            ["git", "archive", before_rev, "labs/data-engineering"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old_lab)], input=archive, check=True)
        before = _suite_folder(Path(tmp) / "in-process", old_lab / "labs" / "data-engineering")
        after = _suite_folder(Path(tmp) / "sealed", LAB)
        old_s = _pytest(before, "tests")
        print(f"in-process suite, tasks 1-5 ({before_rev}): {old_s:6.1f} s", flush=True)
        five_s = _pytest(after, "tests", "--ignore", "tests/test_task6_lakehouse.py")
        print(f"sealed suite, tasks 1-5:                 {five_s:6.1f} s", flush=True)
        all_s = _pytest(after, "tests")
        print(f"sealed suite, tasks 1-6:                 {all_s:6.1f} s", flush=True)
    print(
        f"ratios to the in-process suite: sealed 1-5 {five_s / old_s:.2f}, "
        f"sealed 1-6 {all_s / old_s:.2f}"
    )
    return {
        "before_rev": before_rev,
        "in_process_tasks_1_5_s": round(old_s, 1),
        "sealed_tasks_1_5_s": round(five_s, 1),
        "sealed_tasks_1_6_s": round(all_s, 1),
        "ratio_sealed_1_5": round(five_s / old_s, 2),
        "ratio_sealed_1_6": round(all_s / old_s, 2),
    }


def bench_settings(spark: object, tmp: str) -> dict[str, object]:
    from etl_lab import datagen, job

    raw = Path(tmp) / "settings.jsonl"
    datagen.generate(raw, 4000, seed=7)
    variants = {
        "defaults: 200 partitions, AQE off": {
            "spark.sql.shuffle.partitions": "200",
            "spark.sql.adaptive.enabled": "false",
        },
        "2 partitions, AQE off": {
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.adaptive.enabled": "false",
        },
        "suite: 2 partitions, AQE on": {
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.adaptive.enabled": "true",
        },
    }
    times: dict[str, float] = {}
    job.run(spark, str(raw), f"{tmp}/settings-warmup")  # type: ignore[arg-type]
    for name, conf in variants.items():
        for key, value in conf.items():
            spark.conf.set(key, value)  # type: ignore[attr-defined]
        runs = [
            job.run(spark, str(raw), f"{tmp}/settings-{len(times)}-{i}").seconds  # type: ignore[arg-type]
            for i in range(2)
        ]
        times[name] = min(runs)
        print(f"pipeline on 4,000 events, {name:<36} {times[name]:6.2f} s", flush=True)
    base = times["defaults: 200 partitions, AQE off"]
    ratios = {name: round(t / base, 2) for name, t in times.items()}
    print(f"ratios to the defaults: {ratios}")
    return {"seconds": {k: round(v, 2) for k, v in times.items()}, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["suite", "settings", "job"])
    parser.add_argument("--before-rev", default="78cd946~1", help="the in-process lab")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    args = parser.parse_args()

    report: dict[str, object] = {
        "lab": "data-engineering",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_1m": os.getloadavg()[0],
    }
    if "suite" in args.parts:
        report["suite"] = bench_suite(args.before_rev)
    if "settings" in args.parts or "job" in args.parts:
        report.update(bench_spark(args))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


def bench_spark(args: argparse.Namespace) -> dict[str, object]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    _import_solution()
    from etl_lab import datagen, job

    assert Path(job.__file__).parent == LAB / "etl_lab"
    from etl_lab import features

    assert Path(features.__file__).parent == SOLUTION / "etl_lab", "not the reference solution"

    out: dict[str, object] = {}
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-de-") as tmp:
        spark = job.build_session(
            args.master, args.shuffle_partitions, {"spark.ui.showConsoleProgress": "false"}
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            if "settings" in args.parts:
                out["settings"] = bench_settings(spark, tmp)
                spark.conf.set("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
            if "job" not in args.parts:
                return out
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
    out["job"] = {
        "master": args.master,
        "shuffle_partitions": args.shuffle_partitions,
        "results": results,
        "ratio": round(ratio, 2) if ratio is not None else None,
    }
    return out


if __name__ == "__main__":
    main()
