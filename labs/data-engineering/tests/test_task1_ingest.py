"""Task 1: ingest with an explicit schema, quarantine bad rows, timestamps in UTC."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytestmark = pytest.mark.task(1)

EXPECTED_TYPES = {
    "event_id": "string",
    "user_id": "bigint",
    "event_type": "string",
    "amount": "double",
    "event_ts": "timestamp",
    "ingest_ts": "timestamp",
    "source_offset": "bigint",
    "event_date": "date",
}


@pytest.fixture(scope="module")
def ingested(spark: Any, raw_log: Path, lab: Any) -> Any:
    """ingest() on the generated log, collected once: (clean schema, clean rows, quarantine)."""

    def run() -> tuple[Any, pd.DataFrame, pd.DataFrame]:
        clean, quarantine = lab.learner("ingest").ingest(spark, str(raw_log))
        return clean.schema, lab.collect(clean), lab.collect(quarantine)

    return lab.attempt(f"etl_lab.ingest.ingest(spark, {raw_log.name!r})", run)


def test_ingest_does_not_infer_the_schema(spark: Any, raw_log: Path, lab: Any) -> None:
    ingest = lab.learner("ingest")
    sc = spark.sparkContext
    group = "etl-lab-ingest-is-lazy"
    sc.setJobGroup(group, "ingest must not run jobs")
    try:
        lab.attempt(
            "etl_lab.ingest.ingest(spark, path)", lambda: ingest.ingest(spark, str(raw_log))
        ).get()
        jobs = list(sc.statusTracker().getJobIdsForGroup(group))
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert not jobs, (
        f"ingest() ran {len(jobs)} Spark job(s) before anyone asked for a result. "
        "Reading JSON without .schema(...) scans the whole file to guess the types (and "
        "guesses differently when the data changes); an eager count() or collect() does the "
        "same. Pass an explicit schema to spark.read and return lazy DataFrames."
    )


def test_clean_rows_have_the_contract_schema(ingested: Any) -> None:
    schema, _, _ = ingested.get()
    got = {f.name: f.dataType.simpleString() for f in schema.fields}
    assert list(got) == list(EXPECTED_TYPES) and got == EXPECTED_TYPES, (
        f"The clean DataFrame has columns {got}; expected exactly {EXPECTED_TYPES} in that "
        "order. Downstream jobs rely on this contract: user_id as a number, timestamps as "
        "real timestamps, event_date as a date."
    )


def test_bad_rows_are_quarantined_not_silently_dropped(ingested: Any, oracle: Any) -> None:
    _, clean, quarantine = ingested.get()
    total = oracle.scalar("SELECT count(*) FROM lines")
    bad = oracle.scalar("SELECT count(*) FROM typed WHERE reason IS NOT NULL")
    assert len(clean) + len(quarantine) == total and len(quarantine) == bad, (
        f"The raw log has {total} lines, {bad} of them bad. ingest() returned {len(clean)} "
        f"clean rows and {len(quarantine)} quarantined ones, so "
        f"{total - len(clean) - len(quarantine)} lines vanished (or appeared). Every line must "
        "land in exactly one of the two: a row dropped without a trace is data loss nobody "
        "can audit or replay."
    )


def test_each_bad_row_gets_the_right_reason(ingested: Any, oracle: Any) -> None:
    _, _, quarantine = ingested.get()
    assert {"event_id", "reason", "raw"} <= set(quarantine.columns), (
        f"The quarantine has columns {list(quarantine.columns)}; it needs event_id, reason and raw."
    )
    expected = oracle.df("SELECT event_id, reason FROM typed WHERE reason IS NOT NULL")
    want = Counter(expected["reason"])
    got = Counter(quarantine["reason"])
    assert got == want, (
        f"Quarantine reasons per kind: got {dict(got)}, expected {dict(want)}. Check each rule "
        "and their priority: malformed, missing_event_id, bad_user_id, bad_event_ts, "
        "bad_amount (a missing amount is fine; an unparseable one is not)."
    )

    def pairs(df: pd.DataFrame) -> Counter[tuple[str, str]]:
        return Counter(zip(df["event_id"].fillna("").astype(str), df["reason"], strict=True))

    wrong = pairs(expected) - pairs(quarantine)
    assert not wrong, (
        "These (event_id, reason) pairs were expected in the quarantine but are missing: "
        f"{sorted(wrong)[:5]}"
    )


def test_malformed_lines_keep_their_raw_text(ingested: Any, oracle: Any) -> None:
    _, _, quarantine = ingested.get()
    want = sorted(oracle.df("SELECT line FROM typed WHERE NOT ok")["line"])
    got = sorted(quarantine.loc[quarantine["reason"] == "malformed", "raw"].fillna(""))
    assert got == want, (
        f"The quarantine's raw column for malformed rows holds {got[:2]}..., expected the "
        f"original lines, such as {want[:2]}. Keep the text Spark puts in _corrupt_record: "
        "after the parser is fixed, the quarantine is what you replay."
    )


def test_clean_rows_keep_every_good_row_with_typed_values(ingested: Any, oracle: Any) -> None:
    _, clean, _ = ingested.get()
    want = oracle.rows("clean").sort_values("source_offset").reset_index(drop=True)
    got = clean.sort_values("source_offset").reset_index(drop=True)
    assert len(got) == len(want), f"ingest() kept {len(got)} clean rows; expected {len(want)}."
    for column in ("event_id", "user_id", "event_type", "amount", "ingest_ts", "source_offset"):
        diff = ~((got[column] == want[column]) | (got[column].isna() & want[column].isna()))
        assert not diff.any(), (
            f"Column {column!r} differs from the raw data in {int(diff.sum())} rows, e.g. "
            f"source_offset {int(want.loc[diff, 'source_offset'].iloc[0])}: got "
            f"{got.loc[diff, column].iloc[0]!r}, expected {want.loc[diff, column].iloc[0]!r}."
        )


def test_timestamps_are_utc_instants_not_local_wall_clock(ingested: Any, oracle: Any) -> None:
    _, clean, _ = ingested.get()
    want = oracle.df(
        "SELECT c.source_offset, f.event_ts AS raw_ts, epoch_us(c.event_ts) AS event_ts "
        "FROM clean c JOIN fields f ON f.source_offset::BIGINT = c.source_offset"
    )
    merged = want.merge(
        clean[["source_offset", "event_ts"]], on="source_offset", suffixes=("", "_got")
    )
    wrong = merged[merged["event_ts"] != merged["event_ts_got"]]
    if not wrong.empty:
        row = wrong.iloc[0]
        got_ts = pd.to_datetime(row["event_ts_got"], unit="us", utc=True)
        want_ts = pd.to_datetime(row["event_ts"], unit="us", utc=True)
        pytest.fail(
            f"{len(wrong)} event_ts values are off. Raw {row['raw_ts']!r} became {got_ts}, "
            f"but that instant is {want_ts}. Parse the offset (+05:30, -08:00, Z) instead of "
            "dropping it: the wall-clock time without its offset is a different moment, and "
            "every window and join downstream inherits the error.",
            pytrace=False,
        )


def test_event_date_is_the_utc_calendar_date(ingested: Any, oracle: Any) -> None:
    _, clean, _ = ingested.get()
    want = oracle.rows("clean")[["source_offset", "event_date"]]
    merged = want.merge(
        clean[["source_offset", "event_date"]], on="source_offset", suffixes=("", "_got")
    )
    wrong = merged[merged["event_date"] != merged["event_date_got"]]
    assert wrong.empty, (
        f"{len(wrong)} rows have the wrong event_date, e.g. source_offset "
        f"{wrong['source_offset'].iloc[0] if len(wrong) else ''}: got "
        f"{wrong['event_date_got'].iloc[0] if len(wrong) else ''}, expected "
        f"{wrong['event_date'].iloc[0] if len(wrong) else ''}. event_date is the calendar date "
        "of event_ts in UTC; 23:30 at -05:00 is already tomorrow."
    )
