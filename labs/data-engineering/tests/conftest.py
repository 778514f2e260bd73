"""Shared fixtures: one SparkSession, the generated raw log, and the DuckDB oracle.

Every expected answer comes from DuckDB SQL over the raw file, written independently of
the Spark code under test. Slow things (Spark, the oracle, Feast) are session-scoped,
and everything is written under tmp_path_factory: the lab folder is read-only.
"""

from __future__ import annotations

import importlib
import os
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


def learner(module: str) -> Any:
    """Import etl_lab.<module>, turning an import error into a readable test failure."""
    try:
        return importlib.import_module(f"etl_lab.{module}")
    except Exception as exc:  # a syntax error in the learner's file lands here
        pytest.fail(
            f"Could not import etl_lab.{module}: {type(exc).__name__}: {exc}", pytrace=False
        )


def attempt(what: str, fn: Callable[[], Any]) -> Outcome:
    """Run ``fn`` now and keep its result or error for the tests that use it later.

    Fixtures use this so that a learner's exception fails the tests that need the result,
    with a message, instead of erroring the fixture.
    """
    try:
        return Outcome(what, value=fn())
    except (Exception, pytest.fail.Exception) as exc:
        return Outcome(what, error=exc)


def collect(df: Any) -> pd.DataFrame:
    """Collect a Spark DataFrame with timestamps as epoch microseconds, dates as text."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    cols = []
    for field in df.schema.fields:
        col = F.col(field.name)
        if isinstance(field.dataType, T.TimestampType):
            col = F.unix_micros(col)
        elif isinstance(field.dataType, T.DateType):
            col = F.date_format(col, "yyyy-MM-dd")
        cols.append(col.alias(field.name))
    rows = df.select(*cols).collect()
    return pd.DataFrame([r.asDict() for r in rows], columns=[f.name for f in df.schema.fields])


# -- Spark ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    scratch = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("etl-lab-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "1g")
        .config("spark.local.dir", str(scratch))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        # The test tables are tiny: compiling generated code costs more than it saves.
        .config("spark.sql.codegen.wholeStage", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# -- the raw log and the oracle ---------------------------------------------------------


@pytest.fixture(scope="session")
def raw_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from etl_lab import datagen

    path = tmp_path_factory.mktemp("raw") / "events.jsonl"
    datagen.generate(path, N_EVENTS, seed=SEED)
    return path


class Oracle:
    """DuckDB's answers for every stage, computed straight from the raw lines."""

    def __init__(self, raw_path: Path, workdir: Path) -> None:
        self.workdir = workdir
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        q = self.db.execute
        q(
            """
            CREATE TABLE lines AS
            SELECT line FROM (
                SELECT unnest(string_split(content, chr(10))) AS line FROM read_text(?)
            ) WHERE line <> ''
            """,
            [str(raw_path)],
        )
        q(
            """
            CREATE TABLE fields AS
            SELECT line, ok,
                   json_extract_string(j, '$.event_id') AS event_id,
                   json_extract_string(j, '$.user_id') AS user_id,
                   json_extract_string(j, '$.event_type') AS event_type,
                   json_extract_string(j, '$.amount') AS amount,
                   json_extract_string(j, '$.event_ts') AS event_ts,
                   json_extract_string(j, '$.ingest_ts') AS ingest_ts,
                   json_extract_string(j, '$.source_offset') AS source_offset
            FROM (SELECT line, json_valid(line) AS ok,
                         CASE WHEN json_valid(line) THEN line END AS j FROM lines)
            """
        )
        q(
            """
            CREATE TABLE typed AS
            SELECT *,
                   CASE
                     WHEN NOT ok THEN 'malformed'
                     WHEN event_id IS NULL OR event_id = '' THEN 'missing_event_id'
                     WHEN TRY_CAST(user_id AS BIGINT) IS NULL THEN 'bad_user_id'
                     WHEN TRY_CAST(event_ts AS TIMESTAMPTZ) IS NULL THEN 'bad_event_ts'
                     WHEN amount IS NOT NULL AND TRY_CAST(amount AS DOUBLE) IS NULL
                       THEN 'bad_amount'
                   END AS reason
            FROM fields
            """
        )
        q(
            """
            CREATE TABLE clean AS
            SELECT event_id,
                   CAST(user_id AS BIGINT) AS user_id,
                   event_type,
                   CAST(amount AS DOUBLE) AS amount,
                   CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
                   CAST(ingest_ts AS TIMESTAMPTZ) AS ingest_ts,
                   CAST(source_offset AS BIGINT) AS source_offset,
                   CAST(CAST(event_ts AS TIMESTAMPTZ) AS DATE) AS event_date
            FROM typed WHERE reason IS NULL
            """
        )
        # Latest version per event: max ingest_ts, then max source_offset among those.
        q(
            """
            CREATE TABLE dedup AS
            WITH last_ingest AS (
                SELECT event_id, max(ingest_ts) AS ts FROM clean GROUP BY event_id
            ), last_offset AS (
                SELECT c.event_id, max(c.source_offset) AS off
                FROM clean c JOIN last_ingest l
                  ON c.event_id = l.event_id AND c.ingest_ts = l.ts
                GROUP BY c.event_id
            )
            SELECT c.* FROM clean c
            JOIN last_offset o ON c.event_id = o.event_id AND c.source_offset = o.off
            """
        )
        # Features by definition: the user's events in [t - 7 days, t).
        q(
            f"""
            CREATE TABLE features AS
            SELECT e.*,
                   count(p.event_id) AS user_events_7d,
                   coalesce(sum(p.amount), 0.0) AS user_amount_7d
            FROM dedup e
            LEFT JOIN dedup p
              ON p.user_id = e.user_id
             AND p.event_ts >= e.event_ts - INTERVAL {WEEK_S} SECOND
             AND p.event_ts < e.event_ts
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
        """A table with timestamps as epoch microseconds and dates as text, like collect()."""
        cols = self.db.execute(f"DESCRIBE {table}").fetchall()
        exprs = []
        for name, dtype, *_ in cols:
            if dtype.startswith("TIMESTAMP"):
                exprs.append(f"epoch_us({name}) AS {name}")
            elif dtype == "DATE":
                exprs.append(f"strftime({name}, '%Y-%m-%d') AS {name}")
            else:
                exprs.append(name)
        return self.df(f"SELECT {', '.join(exprs)} FROM {table}")

    def to_parquet(self, sql: str, name: str) -> Path:
        path = self.workdir / f"{name}.parquet"
        self.db.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
        return path


class Lab:
    """Helpers the test modules reach through the ``lab`` fixture (no conftest imports)."""

    CLEAN_COLUMNS = CLEAN_COLUMNS
    WEEK_S = WEEK_S
    learner = staticmethod(learner)
    attempt = staticmethod(attempt)
    collect = staticmethod(collect)


@pytest.fixture(scope="session")
def lab() -> type[Lab]:
    return Lab


@pytest.fixture(scope="session")
def oracle(raw_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    return Oracle(raw_log, tmp_path_factory.mktemp("oracle"))


def _spark_table(spark: Any, oracle: Oracle, sql: str, name: str) -> Any:
    path = oracle.to_parquet(sql, name)
    return spark.read.parquet(str(path)).select(*CLEAN_COLUMNS).cache()


@pytest.fixture(scope="session")
def clean_events(spark: Any, oracle: Oracle) -> Any:
    """The oracle's clean table as a Spark DataFrame: the input for tasks 2-4."""
    return _spark_table(spark, oracle, "SELECT * FROM clean", "clean")


@pytest.fixture(scope="session")
def deduped_events(spark: Any, oracle: Oracle) -> Any:
    """The oracle's deduplicated table as a Spark DataFrame."""
    return _spark_table(spark, oracle, "SELECT * FROM dedup", "dedup")
