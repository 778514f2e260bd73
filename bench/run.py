"""The project's benchmarks, in one go: ``make bench`` (or ``make bench lab=<slug>``).

Figures are ratios measured in one run, because these machines are noisy:

- grader overhead on one lab's solution: bare pytest (plain ``pytest`` in the lab folder),
  the local runner, and the docker runner with a cold and a warm image, each as a ratio
  to bare pytest (target for networking, warm: at most 1.25)
- the worker round trip: one call to learner code and back, p50 and p99
- image: a cold build, and the warm check that must not rebuild
- ``grader check`` of every lab under docker: wall time, and per-lab suite times
- ``grader check --mutants``: each lab's kill rate (mutants rejected / mutants) and survivors,
  and the run's wall time
- ``--mutant-speed SLUG``: that lab's mutants graded one container each (as before bulk
  grading) and in bulk (one judge per task, workers forked from a fork server), back to
  back, with the ratio (``--task N`` for one task's mutants only)
- a learner's first run per lab: a fresh venv with the grader and that lab's packages,
  seconds and MB on a warm pip cache (goal for networking: 30 s, 250 MB)
- each lab's own benchmark, ``bench/<slug>.py``, where there is one
- batch throughput, ``bench/batch.py``: a cohort graded at ``-j 1`` and ``-j 2``

Writes everything to ``bench/results.json`` and prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from grader.api import check_lab, grade_lab  # noqa: E402
from grader.lab import find_lab, list_labs, load_lab  # noqa: E402
from grader.runners.local import LocalRunner  # noqa: E402
from grader.runners.select import docker_problem  # noqa: E402


def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def bare_pytest(slug: str) -> float:
    """The solution's suite under plain ``pytest`` in the lab folder, as a learner runs it.

    The lab folder is copied and the solution laid over it; a sealed lab's tests still
    reach the code through a worker (the fixture comes from the installed grader).
    """
    lab = find_lab(slug)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / slug
        shutil.copytree(lab.root, folder, ignore=shutil.ignore_patterns("__pycache__"))
        solution = REPO / "solutions" / slug
        for path in solution.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                shutil.copyfile(path, folder / path.relative_to(solution))
        seconds, proc = timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-s", "tests"],
                cwd=folder,
                env=dict(os.environ),
                capture_output=True,
                check=False,
            )
        )
        if proc.returncode != 0:
            raise SystemExit(f"bare pytest failed on the {slug} solution:\n{proc.stdout[-2000:]}")
    return float(seconds)


def worker_round_trip(rows: list[tuple[str, str, str]], out: dict[str, Any]) -> None:
    """One call across the boundary and back: p50 and p99 of 2000, after a warm-up."""
    from grader.boundary.fixture import Learner

    learner = Learner(REPO)
    try:
        hypot = learner.module("math").hypot
        for _ in range(200):
            hypot(3.0, 4.0)
        samples = []
        for _ in range(2000):
            started = time.perf_counter()
            hypot(3.0, 4.0)
            samples.append(time.perf_counter() - started)
    finally:
        learner.close()
    samples.sort()
    p50, p99 = samples[len(samples) // 2], samples[int(len(samples) * 0.99)]
    out["worker_round_trip"] = {"p50_us": p50 * 1e6, "p99_us": p99 * 1e6, "calls": len(samples)}
    rows.append(("worker round trip, p50", f"{p50 * 1e6:.0f} µs", ""))
    rows.append(("worker round trip, p99", f"{p99 * 1e6:.0f} µs", ""))


def overhead(slug: str, rows: list[tuple[str, str, str]], out: dict[str, Any]) -> None:
    lab = find_lab(slug)
    solution = REPO / "solutions" / slug
    bare = bare_pytest(slug)
    local, _ = timed(lambda: grade_lab(lab, submission=solution, runner=LocalRunner()))
    figures = {"bare_s": bare, "local_s": local, "local_ratio": local / bare}
    rows.append((f"{slug}: bare pytest", f"{bare:.2f} s", "1.00"))
    rows.append((f"{slug}: local runner", f"{local:.2f} s", f"{local / bare:.2f}"))
    if docker_problem() is None:
        import docker

        from grader.runners.docker import DockerRunner, ensure_lab_image

        client = docker.from_env()
        tag = ensure_lab_image(client, lab)
        # Cold: the image (every tag of it) and the build cache go, so the next grade
        # builds it again from the base image and the host's wheelhouse.
        client.images.remove(client.images.get(tag).id, force=True)
        client.images.prune(filters={"dangling": True})
        cold, _ = timed(lambda: grade_lab(lab, submission=solution, runner=DockerRunner()))
        check, _ = timed(lambda: ensure_lab_image(client, lab))
        warm, _ = timed(lambda: grade_lab(lab, submission=solution, runner=DockerRunner()))
        client.close()
        figures.update(
            docker_cold_s=cold,
            docker_warm_s=warm,
            docker_warm_ratio=warm / bare,
            image_warm_check_s=check,
        )
        rows.append((f"{slug}: docker runner, cold image", f"{cold:.2f} s", f"{cold / bare:.2f}"))
        rows.append((f"{slug}: docker runner, warm image", f"{warm:.2f} s", f"{warm / bare:.2f}"))
        rows.append(("image: warm check (no rebuild)", f"{check:.2f} s", "target < 3 s"))
    out["overhead"] = figures


def check_all(rows: list[tuple[str, str, str]], out: dict[str, Any]) -> None:
    if docker_problem() is not None:
        rows.append(("grader check (docker)", "skipped: no Docker engine", ""))
        return
    from grader.runners.docker import DockerRunner

    runner = DockerRunner()
    labs = [load_lab(p) for p in list_labs()]
    suites: dict[str, float] = {}
    total, results = timed(lambda: [check_lab(lab, runner=runner) for lab in labs])
    for result in results:
        if result.solution is not None:
            suites[result.slug] = result.solution.duration_s
            rows.append(
                (
                    f"suite in container: {result.slug}",
                    f"{result.solution.duration_s:.1f} s",
                    "ok" if result.ok else "FAIL",
                )
            )
    rows.append(("grader check, every lab (docker)", f"{total:.1f} s", ""))
    out["check"] = {"wall_s": total, "suites_s": suites}


def mutant_kill_rates(rows: list[tuple[str, str, str]], out: dict[str, Any]) -> None:
    """Per lab, the share of its mutants (plausible wrong answers) that the suite rejects."""
    from grader.mutants import Verdict, check_mutants, find_mutants, kill_rates
    from grader.runners import select_runner

    if not (REPO / "mutants").is_dir():
        return
    wall, results = timed(
        lambda: check_mutants(find_mutants(), runner=select_runner("auto"), jobs=2)
    )
    rows.append(("grader check --mutants, every lab", f"{wall:.0f} s", ""))
    figures: dict[str, Any] = {"wall_s": round(wall, 1)}
    for slug, rate in kill_rates(results).items():
        survivors = [
            r.mutant.name
            for r in results
            if r.mutant.lab.slug == slug and r.verdict is Verdict.SURVIVED
        ]
        figures[slug] = {
            "killed": rate.killed,
            "total": rate.total,
            "kill_rate": rate.rate,
            "survivors": survivors,
        }
        rows.append((f"mutants killed: {slug}", f"{rate.killed}/{rate.total}", f"{rate.rate:.0%}"))
    out["mutants"] = figures


def mutant_speed(
    slug: str, task: str | None, rows: list[tuple[str, str, str]], out: dict[str, Any]
) -> None:
    """One lab's mutants, one container each and then in bulk, back to back (docker)."""
    import io

    from grader.mutants import Verdict, check_mutants, find_mutants, stale
    from grader.runners.docker import DockerRunner

    mutants = [m for m in find_mutants([slug]) if task in (None, m.task) and stale(m) is None]
    runs: dict[str, Any] = {}
    for mode, bulk, fork in (("one each", False, False), ("bulk", True, True)):
        seconds, results = timed(
            lambda bulk=bulk, fork=fork: check_mutants(
                mutants,
                runner=DockerRunner(fork_server=fork),
                jobs=2,
                console=Console(file=io.StringIO()),
                bulk=bulk,
            )
        )
        killed = sum(r.verdict is Verdict.KILLED for r in results)
        runs[mode] = {"wall_s": round(seconds, 1), "killed": killed, "total": len(results)}
        others = [r for r in results if r.verdict is not Verdict.KILLED]
        if others:  # why, so a run that went wrong explains itself
            runs[mode]["not_killed"] = [
                f"{r.mutant.name} ({r.verdict}): {r.detail[:300]}" for r in others[:5]
            ]
        print(f"{slug} mutants, {mode}: {killed}/{len(results)} killed in {seconds:.1f} s")
    ratio = runs["bulk"]["wall_s"] / runs["one each"]["wall_s"]
    label = f"mutants of {slug}" + (f" task {task}" if task else "")
    rows.append((f"{label}, one container each", f"{runs['one each']['wall_s']} s", ""))
    rows.append((f"{label}, in bulk", f"{runs['bulk']['wall_s']} s", f"{ratio:.2f}"))
    runs["ratio_bulk_to_one_each"] = round(ratio, 3)
    out.setdefault("mutant_speed", {})[label] = runs


def _folder_mb(path: Path) -> float:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20
    )


def first_run(slugs: list[str], rows: list[tuple[str, str, str]], out: dict[str, Any]) -> None:
    """A learner's first local grade of each lab, on a warm pip cache: a fresh venv made by
    the learner's own path (``make setup``, then the grader's per-lab install, which the
    local runner calls the first time a lab is graded). Seconds and the venv's size; the
    goal for networking is 30 s and 250 MB.
    """
    add_lab = (
        "import sys; from grader.install import ensure_packages; from grader.lab import find_lab; "
        "sys.exit(ensure_packages(find_lab(sys.argv[1]), announce=lambda line: None) or None)"
    )
    for slug in slugs:
        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp) / "venv"

            def install(venv: Path = venv, slug: str = slug) -> None:
                subprocess.run(
                    ["make", "--no-print-directory", "-C", str(REPO), "setup", f"VENV={venv}"],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                subprocess.run([str(venv / "bin" / "python"), "-c", add_lab, slug], check=True)

            seconds, _ = timed(install)
            size = _folder_mb(venv)
        out.setdefault("first_run", {})[slug] = {
            "seconds": round(seconds, 1),
            "venv_mb": round(size),
        }
        rows.append(
            (f"first run, {slug}", f"{seconds:.1f} s, {size:.0f} MB", "fresh venv, warm pip cache")
        )


def lab_benches(slugs: list[str], out: dict[str, Any]) -> None:
    for slug in slugs:
        script = REPO / "bench" / f"{slug}.py"
        if not script.is_file():
            continue
        print(f"\n== bench/{slug}.py", flush=True)
        proc = subprocess.run([sys.executable, str(script)], cwd=REPO, check=False)
        entry: dict[str, Any] = {"exit_code": proc.returncode}
        figures = REPO / "bench" / "out" / f"{slug}.json"  # what the lab's bench measured
        if figures.is_file():
            try:
                entry["figures"] = json.loads(figures.read_text())
            except ValueError:
                entry["figures_error"] = f"{figures.name} is not JSON"
        out.setdefault("labs", {})[slug] = entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab", nargs="?", help="run only this lab's benchmark")
    parser.add_argument("--overhead-lab", default="networking")
    parser.add_argument(
        "--mutant-speed", metavar="SLUG", help="only: this lab's mutants, one each vs bulk"
    )
    parser.add_argument("--task", help="with --mutant-speed: only this task's mutants")
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    rows: list[tuple[str, str, str]] = []
    if args.mutant_speed:
        mutant_speed(args.mutant_speed, args.task, rows, out)
    elif args.lab:
        lab_benches([args.lab], out)
    else:
        overhead(args.overhead_lab, rows, out)
        worker_round_trip(rows, out)
        check_all(rows, out)
        mutant_kill_rates(rows, out)
        first_run([p.name for p in list_labs()], rows, out)
        lab_benches([*(p.name for p in list_labs()), "batch"], out)
    if rows:
        table = Table(title="make bench", title_justify="left")
        for column in ("measure", "value", "ratio to bare / note"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    results = REPO / "bench" / "results.json"
    previous = json.loads(results.read_text()) if results.exists() else {}
    # One lab's mutant speed at a time: keep the other labs' figures.
    out["mutant_speed"] = {**previous.get("mutant_speed", {}), **out.get("mutant_speed", {})}
    previous.update(out)
    results.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"wrote {results.relative_to(REPO)}")
    shutil.rmtree(REPO / ".pytest_cache", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
