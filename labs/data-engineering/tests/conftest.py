"""Shared fixtures: handles on your code, the generated raw log, and the DuckDB oracle.

This lab is sealed: the tests never import ``etl_lab``'s submission files, and they never
start Spark. Your code runs in a separate process (the worker) that keeps one
SparkSession for the whole suite; the tests reach it through the ``learner`` fixture,
which reads like an import. ``etl_bridge`` (provided) loads the Parquet the tests wrote as
DataFrames there, and writes the DataFrames your code returns as Parquet, which the tests
read back with their own DuckDB. Tables for Feast and Delta cross as Arrow IPC bytes.

Every expected answer comes from DuckDB SQL over the raw file, written independently of
the Spark code under test. The tests' inputs for the worker live in a folder the tests
made (the worker can read it, not change it); the worker writes its outputs in a folder it
made. The tests read those outputs as plain data only (Parquet and Delta with DuckDB and
deltalake, the online store with sqlite3) and only after ``plain_tree`` found nothing but
folders and regular files in them: never a symlink the worker planted. Nothing is written
into the lab folder.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import itertools
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

N_EVENTS = 4000
SEED = 7
WEEK_S = 7 * 24 * 3600
# The first call starts the JVM (about 10 s, more on a busy machine); Feast's import
# takes about 6 s in each process. One call must not time out on either.
SPARK_TIMEOUT_S = 240.0
CLEAN_COLUMNS = (
    "event_id",
    "user_id",
    "event_type",
    "amount",
    "event_ts",
    "ingest_ts",
    "source_offset",
    "event_date",
)


def pytest_configure(config: pytest.Config) -> None:
    # The grader's plugin registers this marker too; this keeps a bare pytest run quiet.
    config.addinivalue_line("markers", "task(n): the lab task a test belongs to")


# -- calling learner code -------------------------------------------------------------


@dataclass
class Outcome:
    """The result of calling learner code, or the exception it raised."""

    what: str
    value: Any = None
    error: BaseException | None = None

    def get(self) -> Any:
        if isinstance(self.error, pytest.fail.Exception):
            pytest.fail(str(self.error), pytrace=False)
        if self.error is not None:
            pytest.fail(
                f"{self.what} raised {type(self.error).__name__}: {self.error}",
                pytrace=False,
            )
        return self.value


def attempt(what: str, fn: Callable[[], Any]) -> Outcome:
    """Run ``fn`` now and keep its result or error for the tests that use it later.

    Fixtures use this so that a learner's exception (or a worker that timed out) fails the
    tests that need the result, with a message, instead of erroring the fixture.
    """
    try:
        return Outcome(what, value=fn())
    except (Exception, pytest.fail.Exception) as exc:
        return Outcome(what, error=exc)


def plain_tree(path: str | Path) -> Path:
    """``path``, once nothing at or under it is a symlink or anything but a folder or file.

    The worker writes its outputs in a folder it owns; a link there could point the tests
    at one of their own files. (The worker could still swap a file after this check: it
    narrows the window, and what the tests then read is parsed as plain data only.)
    """
    root = Path(path)
    assert os.path.realpath(root) == os.path.abspath(root), (
        f"{root} (or a folder above it) is a symbolic link; the tests read only folders and "
        "regular files your code wrote."
    )
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            mode = os.lstat(os.path.join(folder, name)).st_mode
            assert stat.S_ISDIR(mode) or stat.S_ISREG(mode), (
                f"{os.path.join(folder, name)} is a symbolic link or a special file; the "
                "tests read only folders and regular files your code wrote."
            )
    return root


# -- the oracle -----------------------------------------------------------------------


class Oracle:
    """DuckDB's answers for every stage, computed straight from the raw lines."""

    def __init__(self, raw_path: Path, workdir: Path, db: Any = None) -> None:
        self.workdir = workdir
        self.db = db or duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        self._names = itertools.count()
        self.build(raw_path)

    def build(self, raw_path: Path, prefix: str = "") -> None:
        """The tables ``lines``, ``fields``, ``typed``, ``clean``, ``dedup``, ``features``."""
        q = self.db.execute
        q(
            f"""
            CREATE OR REPLACE TABLE {prefix}lines AS
            SELECT line FROM (
                SELECT unnest(string_split(content, chr(10))) AS line FROM read_text(?)
            ) WHERE line <> ''
            """,
            [str(raw_path)],
        )
        q(
            f"""
            CREATE OR REPLACE TABLE {prefix}fields AS
            SELECT line, ok,
                   json_extract_string(j, '$.event_id') AS event_id,
                   json_extract_string(j, '$.user_id') AS user_id,
                   json_extract_string(j, '$.event_type') AS event_type,
                   json_extract_string(j, '$.amount') AS amount,
                   json_extract_string(j, '$.event_ts') AS event_ts,
                   json_extract_string(j, '$.ingest_ts') AS ingest_ts,
                   json_extract_string(j, '$.source_offset') AS source_offset
            FROM (SELECT line, json_valid(line) AS ok,
                         CASE WHEN json_valid(line) THEN line END AS j FROM {prefix}lines)
            """
        )
        q(
            f"""
            CREATE OR REPLACE TABLE {prefix}typed AS
            SELECT *,
                   CASE
                     WHEN NOT ok THEN 'malformed'
                     WHEN event_id IS NULL OR event_id = '' THEN 'missing_event_id'
                     WHEN TRY_CAST(user_id AS BIGINT) IS NULL THEN 'bad_user_id'
                     WHEN TRY_CAST(event_ts AS TIMESTAMPTZ) IS NULL THEN 'bad_event_ts'
                     WHEN amount IS NOT NULL AND TRY_CAST(amount AS DOUBLE) IS NULL
                       THEN 'bad_amount'
                   END AS reason
            FROM {prefix}fields
            """
        )
        q(
            f"""
            CREATE OR REPLACE TABLE {prefix}clean AS
            SELECT event_id,
                   CAST(user_id AS BIGINT) AS user_id,
                   event_type,
                   CAST(amount AS DOUBLE) AS amount,
                   CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
                   CAST(ingest_ts AS TIMESTAMPTZ) AS ingest_ts,
                   CAST(source_offset AS BIGINT) AS source_offset,
                   CAST(CAST(event_ts AS TIMESTAMPTZ) AS DATE) AS event_date
            FROM {prefix}typed WHERE reason IS NULL
            """
        )
        self.dedup(f"{prefix}clean", f"{prefix}dedup")
        self.features(f"{prefix}dedup", f"{prefix}features")

    def dedup(self, source: str, target: str) -> None:
        """Latest version per event: max ingest_ts, then max source_offset among those."""
        self.db.execute(
            f"""
            CREATE OR REPLACE TABLE {target} AS
            WITH last_ingest AS (
                SELECT event_id, max(ingest_ts) AS ts FROM {source} GROUP BY event_id
            ), last_offset AS (
                SELECT c.event_id, max(c.source_offset) AS off
                FROM {source} c JOIN last_ingest l
                  ON c.event_id = l.event_id AND c.ingest_ts = l.ts
                GROUP BY c.event_id
            )
            SELECT c.* FROM {source} c
            JOIN last_offset o ON c.event_id = o.event_id AND c.source_offset = o.off
            """
        )

    def features(self, source: str, target: str) -> None:
        """Features by definition: the user's events in [t - 7 days, t) ingested before t."""
        self.db.execute(
            f"""
            CREATE OR REPLACE TABLE {target} AS
            SELECT e.*,
                   count(p.event_id) AS user_events_7d,
                   coalesce(sum(p.amount), 0.0) AS user_amount_7d
            FROM {source} e
            LEFT JOIN {source} p
              ON p.user_id = e.user_id
             AND p.event_ts >= e.event_ts - INTERVAL {WEEK_S} SECOND
             AND p.event_ts < e.event_ts
             AND p.ingest_ts < e.event_ts
            GROUP BY ALL
            """
        )

    def df(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        return self.db.execute(sql, params or []).df()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        row = self.db.execute(sql, params or []).fetchone()
        assert row is not None
        return row[0]

    def rows(self, table: str) -> pd.DataFrame:
        """A table with timestamps as epoch microseconds and dates as text."""
        return self.df(f"SELECT {self._plain(table)} FROM {table}")

    def _plain(self, relation: str) -> str:
        cols = self.db.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        exprs = []
        for name, dtype, *_ in cols:
            if dtype.startswith("TIMESTAMP"):
                exprs.append(f'epoch_us("{name}") AS "{name}"')
            elif dtype == "DATE":
                exprs.append(f'strftime("{name}", \'%Y-%m-%d\') AS "{name}"')
            else:
                exprs.append(f'"{name}"')
        return ", ".join(exprs)

    def to_parquet(self, sql: str, name: str) -> str:
        """``sql``'s rows as a Parquet file the worker can read; returns its path."""
        path = self.workdir / f"{name}-{next(self._names)}.parquet"
        self.db.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
        return str(path)

    # -- what the learner wrote, read with DuckDB ---------------------------------------

    plain = staticmethod(plain_tree)

    def written(self, path: str) -> str:
        """A DuckDB relation over the Parquet files Spark wrote in the folder ``path``."""
        return f"read_parquet('{plain_tree(path)}/*.parquet')"

    def read(self, path: str) -> pd.DataFrame:
        """What the learner's DataFrame held: timestamps as epoch µs, dates as text."""
        relation = self.written(path)
        return self.df(f"SELECT {self._plain(relation)} FROM {relation}")

    def types(self, path: str) -> dict[str, str]:
        """Column name -> DuckDB type of the Parquet files in ``path``."""
        rows = self.db.execute(f"DESCRIBE SELECT * FROM {self.written(path)}").fetchall()
        return {name: dtype for name, dtype, *_ in rows}


# -- fixtures -------------------------------------------------------------------------


class Lab:
    """Helpers the test modules reach through the ``lab`` fixture (no conftest imports)."""

    CLEAN_COLUMNS = CLEAN_COLUMNS
    WEEK_S = WEEK_S
    SPARK_TIMEOUT_S = SPARK_TIMEOUT_S
    attempt = staticmethod(attempt)
    plain = staticmethod(plain_tree)

    def __init__(self, learner: Any, shared: Path) -> None:
        self._learner = learner
        self.shared = shared
        self._outputs = itertools.count()

    def module(self, name: str) -> Any:
        """``etl_lab.<name>`` (or another module), imported in the worker."""
        full = name if "." in name or name == "etl_bridge" else f"etl_lab.{name}"
        return self._learner.module(full, timeout=SPARK_TIMEOUT_S)

    @property
    def bridge(self) -> Any:
        return self.module("etl_bridge")

    def spark(self) -> Any:
        """A handle on the worker's one SparkSession."""
        return self.bridge.session()

    def out(self, name: str) -> str:
        """A new path in the shared folder for the worker to write to."""
        return str(self.shared / "out" / f"{name}-{next(self._outputs)}")

    def load(self, path: str) -> Any:
        """A handle on a DataFrame over the Parquet at ``path``, in the worker."""
        return self.bridge.load(path)

    def save(self, df: Any, name: str) -> str:
        """Write the learner's DataFrame (a handle) as Parquet; return where."""
        path = self.out(name)
        self.bridge.save(df, path)
        return path


@pytest.fixture(scope="session")
def shared(learner: Any) -> Iterator[Path]:
    """The worker's output folder: made by the worker, which writes under ``out/``."""
    bridge = learner.module("etl_bridge", timeout=SPARK_TIMEOUT_S)
    folder = str(bridge.shared_folder())
    root = Path(folder)
    (root / "out").mkdir()
    (root / "out").chmod(0o777)  # the worker's user writes its outputs under out/
    yield root
    with contextlib.suppress(AssertionError):
        learner.module("etl_bridge").remove(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def inputs(shared: Path) -> Iterator[Path]:
    """The tests' inputs for the worker: a folder the tests own, beside the shared one.

    The worker can read it but not write, rename or replace anything in it (the parent,
    ``/tmp`` in the sandbox, is sticky), so the files the tests write there never follow
    a link the worker planted.
    """
    folder = Path(tempfile.mkdtemp(prefix="etl-lab-in-", dir=shared.parent))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# The libraries that take seconds to import, by the task whose tests use them in the
# worker. The tests themselves need only deltalake: they never open anything with Feast.
_SLOW_IMPORTS = {5: "feast", 6: "deltalake"}
_JUDGE_IMPORTS = {"deltalake"}


@pytest.fixture(scope="session")
def lab(learner: Any, shared: Path, request: pytest.FixtureRequest) -> Lab:
    # Start the worker's JVM now, while this process generates the log and builds the
    # oracle: the first test that needs Spark then waits less. Errors are left to that
    # test, whose own call reports them.
    # Feast and deltalake start importing now too (deltalake here as well), but only when
    # a selected test needs them: a run of task 1 alone (make grade task=1, a mutant)
    # does not spend two cores' seconds on them.
    bridge = learner.module("etl_bridge", timeout=SPARK_TIMEOUT_S)
    threading.Thread(target=_quietly, args=(bridge.session,), daemon=True).start()
    names = _slow_imports_for(request.session.items)
    in_worker = functools.partial(learner.module, timeout=SPARK_TIMEOUT_S)
    here = [name for name in names if name in _JUDGE_IMPORTS]
    for import_one, some in ((in_worker, names), (importlib.import_module, here)):
        if some:
            threading.Thread(target=_import_all, args=(import_one, some), daemon=True).start()
    return Lab(learner, shared)


def _slow_imports_for(items: list[pytest.Item]) -> list[str]:
    tasks = {m.args[0] for item in items for m in item.iter_markers("task") if m.args}
    return [name for task, name in sorted(_SLOW_IMPORTS.items()) if task in tasks]


def _import_all(import_one: Callable[[str], Any], names: list[str]) -> None:
    # Only a head start: an import that fails here fails again, with its own error, in
    # the test that needs it.
    for name in names:
        with contextlib.suppress(Exception):
            import_one(name)


def _quietly(fn: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):
        fn()


@pytest.fixture(scope="session")
def raw_private(tmp_path_factory: pytest.TempPathFactory, lab: Lab) -> Path:
    """The raw log, generated in the tests' own folder: the oracle reads this copy.

    (It asks for ``lab`` only so that the worker's JVM starts before the log is made.)
    """
    from etl_lab import datagen  # provided, pristine in the tests' tree

    path = tmp_path_factory.mktemp("raw") / "events.jsonl"
    datagen.generate(path, N_EVENTS, seed=SEED)
    return path


@pytest.fixture(scope="session")
def raw_log(raw_private: Path, inputs: Path) -> str:
    """The same raw log, copied where the worker can read it."""
    target = inputs / "events.jsonl"
    shutil.copyfile(raw_private, target)
    return str(target)


@pytest.fixture(scope="session")
def oracle(raw_private: Path, inputs: Path) -> Oracle:
    return Oracle(raw_private, inputs)


@pytest.fixture(scope="session")
def clean_events(oracle: Oracle) -> str:
    """The oracle's clean table as Parquet (the input for tasks 2-4): its path."""
    return oracle.to_parquet("SELECT * FROM clean", "clean")


@pytest.fixture(scope="session")
def deduped_events(oracle: Oracle) -> str:
    """The oracle's deduplicated table as Parquet: its path."""
    return oracle.to_parquet("SELECT * FROM dedup", "dedup")
