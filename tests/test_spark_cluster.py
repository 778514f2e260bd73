"""The data-engineering job on a real Spark standalone cluster (docker-compose profile
``spark``: a master and two workers from the lab image, on their own network) writes
the same output as the ``local[2]`` run. Not part of any learner's grade.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]

LAB = REPO / "labs" / "data-engineering"
SOLUTION = REPO / "solutions" / "data-engineering"
EVENTS = 4_000


def compose(env: dict[str, str], *args: str, timeout: int = 600) -> str:
    proc = subprocess.run(
        [
            "docker-compose",
            "-p",
            "mlskills-spark-test",
            "-f",
            str(REPO / "docker-compose.yml"),
            "--profile",
            "spark",
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"docker-compose {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return proc.stdout


def wait_for_workers(env: dict[str, str], count: int, timeout: float = 180) -> None:
    """Fail fast, with the workers' logs, unless ``count`` workers join the master.

    A job submitted to a master with no worker waits for resources for ever.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if compose(env, "logs", "spark-master").count("Registering worker") >= count:
            return
        time.sleep(2)
    logs = compose(env, "logs", "--tail", "30", "spark-worker-1", "spark-worker-2")
    pytest.fail(f"{count} workers did not join the master in {timeout:.0f} s:\n{logs}")


def read_events(folder: Path) -> list[tuple[object, ...]]:
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT * FROM read_parquet('{folder}/events/**/*.parquet', hive_partitioning=true)"
        ).fetchall()
        columns = [d[0] for d in con.description]
    finally:
        con.close()
    assert rows, f"no events under {folder}"
    return sorted((tuple(zip(columns, row, strict=True)) for row in rows), key=repr)


def test_cluster_run_writes_the_same_events_as_local(tmp_path: Path) -> None:
    from grader.lab import find_lab
    from grader.runners.docker import build_images

    build_images([find_lab("data-engineering")])
    job = tmp_path / "job"
    shutil.copytree(LAB, job, ignore=shutil.ignore_patterns("__pycache__", "tests", "data"))
    shutil.copytree(SOLUTION, job, dirs_exist_ok=True)
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)  # the containers write as the unprivileged learner user
    env = {**os.environ, "PYTHONPATH": str(job)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "etl_lab.datagen",
            "--events",
            str(EVENTS),
            "--out",
            str(data / "events.jsonl"),
        ],
        env=env,
        check=True,
        cwd=job,
        timeout=120,
    )
    local = subprocess.run(
        [
            sys.executable,
            "-m",
            "etl_lab.job",
            "--master",
            "local[2]",
            "--input",
            str(data / "events.jsonl"),
            "--output",
            str(tmp_path / "out-local"),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=job,
        timeout=600,
        check=False,
    )
    assert local.returncode == 0, local.stderr[-3000:]

    compose_env = {"SPARK_JOB_DIR": str(job), "SPARK_DATA_DIR": str(data)}
    try:
        compose(compose_env, "up", "-d", "spark-master", "spark-worker-1", "spark-worker-2")
        wait_for_workers(compose_env, 2)
        out = compose(compose_env, "run", "--rm", "-T", "spark-submit", timeout=900)
        assert "events written to /data/out-cluster/events" in out, out
        master = compose(compose_env, "logs", "spark-master")
        assert "Launching executor" in master, "the job ran without the cluster's executors"
    finally:
        compose(compose_env, "down", "-v", "--remove-orphans")
    assert read_events(data / "out-cluster") == read_events(tmp_path / "out-local")
