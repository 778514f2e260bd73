"""Provided, not yours to edit: how the tests reach ``etl_lab`` across the process boundary.

The grader never imports your code into the process that judges it. Your code runs in a
worker process of its own (in the sandbox, as another user), and the tests call it through
handles that read like imports. Only plain data crosses between the two processes: None,
bool, int, float, str, bytes, and lists, tuples and dicts of them. A SparkSession, a
DataFrame or a Feast store stays in the worker, and the tests get a handle on it.

This module is the worker's half of that arrangement. It is not a submission file: the
grader always uses this copy, and nothing in it decides a grade. It only moves data:

- ``session``: the one SparkSession of the worker, made on first use and kept for the
  whole suite (a JVM takes seconds to start; a session is reused).
- ``load`` and ``save``: Parquet the tests wrote becomes a DataFrame here, and the
  DataFrames your code returns are written as Parquet, which the tests read back with
  their own DuckDB. No Spark object, UDF or pickle ever reaches the tests.
- ``jobs_during``: how many Spark jobs a call started (reading without a schema does).
- ``quality``: your ``check_quality`` run on a table, its report as plain numbers.
- ``frame``, ``ipc``, ``arrow``: pandas and Arrow tables as Arrow IPC bytes or Parquet.
- ``shared_folder`` and ``share``: a folder both users can reach, and the files your code
  wrote there opened up for the tests to read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "arrow",
    "frame",
    "ipc",
    "jobs_during",
    "load",
    "quality",
    "remove",
    "save",
    "session",
    "share",
    "shared_folder",
    "when",
]

# A class-data-sharing archive of the classes a Spark session loads, made when the lab's
# image is built (image/build.sh). Where it exists, the JVM maps those classes instead of
# loading and verifying them from the jars: the session and its first jobs start faster.
CDS_ARCHIVE = "/opt/etl-lab/spark.jsa"

_SESSION: Any = None
_SESSION_LOCK = threading.Lock()
_FOLDERS: set[str] = set()


def session() -> Any:
    """The worker's SparkSession: ``local[2]``, UTC, small shuffles, no UI.

    Made once and reused by every test. The tables in the tests are tiny, so two shuffle
    partitions, no whole-stage code generation and adaptive execution that coalesces
    partitions keep each query to a few tasks. The JVM compiles with its quick compiler
    only (``TieredStopAtLevel=1``): a suite this short never repays the optimising
    compiler's CPU, and on two cores that took about a fifth of the suite's time. In the
    lab's image it also maps the classes Spark loads from a shared archive (``CDS_ARCHIVE``).
    """
    global _SESSION
    with _SESSION_LOCK:  # the tests may start it early, from another thread
        if _SESSION is None:
            _SESSION = _build_session()
        return _SESSION


def _build_session() -> Any:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    scratch = tempfile.mkdtemp(prefix="spark-")
    java_options = "-XX:TieredStopAtLevel=1"
    if os.path.isfile(CDS_ARCHIVE):
        # -Xshare:auto: a JVM that cannot use the archive starts without it, quietly.
        java_options += f" -XX:SharedArchiveFile={CDS_ARCHIVE} -Xshare:auto -Xlog:cds=off"
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("etl-lab-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "1g")
        .config("spark.local.dir", scratch)
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.extraJavaOptions", java_options)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# --------------------------------------------------------------------------- DataFrames


def load(path: str) -> Any:
    """A DataFrame over the Parquet file or folder at ``path`` (written by the tests)."""
    return session().read.parquet(path)


def save(df: Any, path: str) -> None:
    """Write the DataFrame ``df`` (yours) as one Parquet file in the folder ``path``.

    The tests read it back with DuckDB. Timestamps are written as standard microsecond
    instants, dates as dates.
    """
    from pyspark.sql import DataFrame

    if not isinstance(df, DataFrame):
        raise TypeError(f"expected a Spark DataFrame, got {type(df).__name__}: {df!r:.80}")
    df.coalesce(1).write.mode("overwrite").parquet(path)
    share(path)


def jobs_during(fn: Callable[..., Any], *args: Any) -> int:
    """Call ``fn(*args)``; return how many Spark jobs ran before it returned."""
    context = session().sparkContext
    group = f"etl-lab-jobs-during-{id(fn)}"
    context.setJobGroup(group, "counting the jobs a call runs")
    try:
        fn(*args)
        return len(context.statusTracker().getJobIdsForGroup(group))
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)


def quality(events: Any, max_failure_rate: float) -> dict[str, Any]:
    """Your ``check_quality(events, max_failure_rate)``, its outcome as plain data.

    ``raised`` is True when it raised your ``DataQualityError``; ``checks`` maps each
    check's name to ``[failed, total]`` from the report it returned or raised. Any other
    exception propagates, as it would from your job.
    """
    from etl_lab import quality as module

    try:
        report = module.check_quality(events, max_failure_rate=max_failure_rate)
        raised = False
    except module.DataQualityError as exc:
        report = exc.report
        raised = True
    checks = {str(check.name): [int(check.failed), int(check.total)] for check in report.checks}
    return {"raised": raised, "checks": checks, "failed_checks": list(report.failed_checks)}


# --------------------------------------------------------------------------- tables


def frame(data: bytes) -> Any:
    """A pandas DataFrame from Arrow IPC stream bytes."""
    import pyarrow as pa

    return pa.ipc.open_stream(data).read_all().to_pandas()


def ipc(table: Any) -> bytes:
    """A pandas DataFrame or an Arrow table as Arrow IPC stream bytes (index dropped)."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if not isinstance(table, pa.Table):
        raise TypeError(f"expected a pandas DataFrame or a pyarrow Table, got {type(table)}")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def arrow(path: str) -> Any:
    """The Parquet file at ``path`` as a pyarrow Table."""
    import pyarrow.parquet as pq

    return pq.read_table(path)


def when(iso: str) -> datetime:
    """A timezone-aware datetime from its ISO 8601 text."""
    return datetime.fromisoformat(iso)


# --------------------------------------------------------------------------- folders


def shared_folder(prefix: str = "etl-lab-") -> str:
    """A new folder that both the tests' user and yours can read and write.

    This process's TMPDIR is private to your user (mode 0700), so the tests could not reach
    a folder inside it. The nearest folder above it that everyone may write in (sticky and
    world-writable, ``/tmp`` in the sandbox) is open to both users.
    """
    here = Path(tempfile.gettempdir()).resolve()
    parent = next(
        (str(up) for up in here.parents if up.stat().st_mode & 0o1777 == 0o1777),
        str(here.parent),
    )
    folder = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(folder, 0o777)
    _FOLDERS.add(folder)
    return folder


def share(folder: str) -> None:
    """Let the tests' user read (and replace) what your code wrote under ``folder``."""
    root = Path(folder)
    if not root.exists():
        return
    for path in [root, *root.rglob("*")]:
        with contextlib.suppress(OSError):
            info = path.lstat()
            if info.st_uid != os.getuid() or stat.S_ISLNK(info.st_mode):
                continue
            wanted = 0o777 if stat.S_ISDIR(info.st_mode) else 0o666
            os.chmod(path, stat.S_IMODE(info.st_mode) | wanted)


def remove(folder: str) -> None:
    """Delete a folder ``shared_folder`` made (and nothing else)."""
    if folder in _FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)
        _FOLDERS.discard(folder)
