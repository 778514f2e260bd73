"""Task 1: ingest with an explicit schema, quarantine bad rows, timestamps in UTC."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytestmark = pytest.mark.task(1)

# Spark's types, and the DuckDB type each one reads back as from Parquet.
EXPECTED_TYPES = {
    "event_id": ("string", "VARCHAR"),
    "user_id": ("bigint", "BIGINT"),
    "event_type": ("string", "VARCHAR"),
    "amount": ("double", "DOUBLE"),
    "event_ts": ("timestamp", "TIMESTAMP WITH TIME ZONE"),
    "ingest_ts": ("timestamp", "TIMESTAMP WITH TIME ZONE"),
    "source_offset": ("bigint", "BIGINT"),
    "event_date": ("date", "DATE"),
}


def run_ingest(lab: Any, oracle: Any, path: str, what: str) -> Any:
    """ingest() on the log at ``path``, written back as Parquet and read with DuckDB.

    Returns an Outcome of (clean column types, clean rows, quarantine rows).
    """

    def run() -> tuple[dict[str, str], pd.DataFrame, pd.DataFrame]:
        clean, quarantine = lab.module("ingest").ingest(lab.spark(), path)
        clean_path = lab.save(clean, "clean")
        quarantine_path = lab.save(quarantine, "quarantine")
        return oracle.types(clean_path), oracle.read(clean_path), oracle.read(quarantine_path)

    return lab.attempt(f"etl_lab.ingest.ingest(spark, {what!r})", run)


@pytest.fixture(scope="module")
def ingested(raw_log: str, lab: Any, oracle: Any) -> Any:
    """ingest() on the generated log, once: (clean types, clean rows, quarantine rows)."""
    return run_ingest(lab, oracle, raw_log, Path(raw_log).name)


def test_ingest_does_not_infer_the_schema(raw_log: str, lab: Any) -> None:
    jobs = lab.attempt(
        "etl_lab.ingest.ingest(spark, path)",
        lambda: lab.bridge.jobs_during(lab.module("ingest").ingest, lab.spark(), raw_log),
    ).get()
    assert jobs == 0, (
        f"ingest() ran {jobs} Spark job(s) before anyone asked for a result. "
        "Reading JSON without .schema(...) scans the whole file to guess the types (and "
        "guesses differently when the data changes); an eager count() or collect() does the "
        "same. Pass an explicit schema to spark.read and return lazy DataFrames."
    )


def test_clean_rows_have_the_contract_schema(ingested: Any) -> None:
    types, _, _ = ingested.get()
    spark_names = {duck: spark for spark, duck in EXPECTED_TYPES.values()}
    spark_names.update({"TIMESTAMP": "timestamp_ntz", "INTEGER": "int", "FLOAT": "float"})
    got = {name: spark_names.get(dtype, dtype) for name, dtype in types.items()}
    want = {name: spark for name, (spark, _) in EXPECTED_TYPES.items()}
    assert list(got) == list(want) and got == want, (
        f"The clean DataFrame has columns {got}; expected exactly {want} in that "
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


# Hand-made lines with several defects each, and the reason each must get: the first one
# in REASONS order that applies. The generated log plants one defect per line, so only
# these lines say whether the rules are checked in the right order.
SEVERAL_DEFECTS = [
    # (line, reason)
    (
        '{"event_id":"","user_id":"n/a","event_type":"view","amount":null,'
        '"event_ts":"not a timestamp"',
        "malformed",
    ),
    (
        '{"event_id":"","user_id":"n/a","event_type":"view","amount":null,'
        '"event_ts":"not a timestamp"}',
        "missing_event_id",
    ),
    ('{"user_id":null,"event_type":"purchase","amount":"12,50"}', "missing_event_id"),
    (
        '{"event_id":null,"user_id":10,"event_type":"purchase","amount":"$1",'
        '"event_ts":"2024-03-05T10:00:00Z"}',
        "missing_event_id",
    ),
    (
        '{"event_id":"m3","user_id":"u_3","event_type":"purchase","amount":"N/A",'
        '"event_ts":"2024-02-30T10:00:00Z"}',
        "bad_user_id",
    ),
    (
        '{"event_id":"m5","user_id":"n/a","event_type":"purchase","amount":"12,50",'
        '"event_ts":"2024-03-05T10:00:00Z"}',
        "bad_user_id",
    ),
    (
        '{"event_id":"m4","user_id":4,"event_type":"purchase","amount":"$4.99",'
        '"event_ts":"03/05/2024 14:22:01"}',
        "bad_event_ts",
    ),
    (
        '{"event_id":"m6","user_id":"6","event_type":"purchase","amount":"x","event_ts":null}',
        "bad_event_ts",
    ),
    (
        '{"event_id":"m9","user_id":9,"event_type":"view","amount":null,'
        '"event_ts":"2024-03-05T25:10:00Z"}',
        "bad_event_ts",
    ),
    (
        '{"event_id":"m8","user_id":"8","event_type":"purchase","amount":"12.50",'
        '"event_ts":"2024-03-05T10:00:00+05:30"}',
        None,
    ),
    # A purchase without an amount is odd, but the amount is not malformed: clean.
    (
        '{"event_id":"m10","user_id":10,"event_type":"purchase","amount":null,'
        '"event_ts":"2024-03-05T10:00:00Z"}',
        None,
    ),
]


def test_reason_priority_is_not_reordered_on_rows_with_several_defects(
    lab: Any, oracle: Any, inputs: Path
) -> None:
    path = inputs / "several-defects.jsonl"
    lines = []
    for number, (line, _) in enumerate(SEVERAL_DEFECTS):
        tail = f',"ingest_ts":"2024-03-05T12:00:00Z","source_offset":{9000 + number}}}'
        lines.append(line[:-1] + tail if line.endswith("}") else line)
    path.write_text("\n".join(lines) + "\n")
    oracle.build(path, prefix="several_")
    want = oracle.df("SELECT event_id, reason FROM several_typed ORDER BY ALL")
    assert Counter(want["reason"].dropna()) == Counter(r for _, r in SEVERAL_DEFECTS if r), (
        "the oracle and this test's list of reasons disagree"
    )
    _, clean, quarantine = run_ingest(lab, oracle, str(path), path.name).get()
    got_reasons = Counter(quarantine["reason"]) if "reason" in quarantine else Counter()
    want_reasons = Counter(want["reason"].dropna())
    ids, reasons = quarantine.get("event_id", []), quarantine.get("reason", [])
    by_id = {e: r for e, r in zip(ids, reasons, strict=True) if isinstance(e, str) and e}
    wrong = {
        eid: (by_id.get(eid), reason)
        for eid, reason in zip(want["event_id"], want["reason"], strict=True)
        if isinstance(eid, str) and eid and reason is not None and by_id.get(eid) != reason
    }
    clean_ids = sorted(clean["event_id"]) if "event_id" in clean else []
    want_clean = sorted(oracle.df("SELECT event_id FROM several_clean")["event_id"])
    assert got_reasons == want_reasons and not wrong and clean_ids == want_clean, (
        f"On {len(SEVERAL_DEFECTS)} lines with several defects each, the quarantine reasons "
        f"were {dict(got_reasons)}, expected {dict(want_reasons)}; per event_id "
        f"(got, expected): {wrong}; clean rows {clean_ids} (expected {want_clean}). A row "
        "with several "
        "defects gets the *first* reason that applies, in the order of REASONS: malformed, "
        "missing_event_id, bad_user_id, bad_event_ts, bad_amount. Build one F.when(...) "
        "chain in that order; separate filters, or a chain in another order, label the "
        "same row differently and make the quarantine's counts meaningless."
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
