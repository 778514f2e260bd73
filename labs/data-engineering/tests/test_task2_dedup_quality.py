"""Task 2: keep the latest version of each event; quality checks that stop the job."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

pytestmark = pytest.mark.task(2)

CHECKS = (
    "event_id_not_null",
    "user_id_not_null",
    "event_ts_not_null",
    "event_id_unique",
    "event_type_valid",
    "amount_in_range",
)
# The same checks in SQL, over a table named t.
CHECK_SQL = {
    "event_id_not_null": "count(*) FILTER (WHERE event_id IS NULL)",
    "user_id_not_null": "count(*) FILTER (WHERE user_id IS NULL)",
    "event_ts_not_null": "count(*) FILTER (WHERE event_ts IS NULL)",
    "event_id_unique": "count(event_id) - count(DISTINCT event_id)",
    "event_type_valid": (
        "count(*) FILTER (WHERE event_type IS NULL "
        "OR event_type NOT IN ('view', 'click', 'purchase'))"
    ),
    "amount_in_range": "count(*) FILTER (WHERE amount < 0 OR amount > 10000)",
}


def expected_failures(oracle: Any, table_sql: str) -> dict[str, int]:
    exprs = ", ".join(f"{sql} AS {name}" for name, sql in CHECK_SQL.items())
    row = oracle.df(f"WITH t AS ({table_sql}) SELECT count(*) AS total, {exprs} FROM t")
    return {k: int(v) for k, v in row.iloc[0].items()}


@pytest.fixture(scope="module")
def deduped(clean_events: str, lab: Any, oracle: Any) -> Any:
    return dedup_of(lab, oracle, clean_events, "clean_events")


def dedup_of(lab: Any, oracle: Any, path: str, what: str) -> Any:
    """dedup_latest() on the Parquet table at ``path``, read back with DuckDB."""
    return lab.attempt(
        f"etl_lab.quality.dedup_latest({what})",
        lambda: oracle.read(lab.save(lab.module("quality").dedup_latest(lab.load(path)), "dedup")),
    )


def quality_of(lab: Any, path: str, what: str) -> Any:
    """check_quality(table, max_failure_rate=0.01): {raised, checks: {name: [failed, total]}}."""
    return lab.attempt(
        f"etl_lab.quality.check_quality({what}, max_failure_rate=0.01)",
        lambda: lab.bridge.quality(lab.load(path), 0.01),
    )


def _by_event(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index("event_id").sort_index()


def test_dedup_leaves_one_row_per_event_id(deduped: Any, oracle: Any) -> None:
    got = deduped.get()
    raw_rows = oracle.scalar("SELECT count(*) FROM clean")
    want = oracle.scalar("SELECT count(DISTINCT event_id) FROM clean")
    repeated = got["event_id"].value_counts()
    repeated = repeated[repeated > 1]
    assert len(got) == want and repeated.empty, (
        f"dedup_latest() on {raw_rows} rows returned {len(got)} rows for {want} distinct "
        f"event_ids; still repeated: {dict(repeated.head(3))}. distinct() only removes rows "
        "that are identical in every column, and a redelivery or a correction differs in "
        "ingest_ts, source_offset or value. Deduplicate on the key, event_id."
    )


def test_dedup_keeps_the_latest_version_not_an_arbitrary_one(deduped: Any, oracle: Any) -> None:
    got = _by_event(deduped.get())
    want = _by_event(oracle.rows("dedup"))
    # Events whose versions were ingested at different times.
    corrected = oracle.df(
        "SELECT event_id FROM clean GROUP BY event_id HAVING count(DISTINCT ingest_ts) > 1"
    )["event_id"]
    ids = [e for e in corrected if e in got.index]
    assert len(ids) == len(corrected), "dedup_latest() lost some event_ids entirely."
    wrong = [e for e in ids if got.at[e, "source_offset"] != want.at[e, "source_offset"]]
    assert not wrong, (
        f"For {len(wrong)} of {len(ids)} events ingested more than once, dedup_latest() kept "
        f"an older version, e.g. {wrong[0]}: kept source_offset "
        f"{got.at[wrong[0], 'source_offset']}, latest is {want.at[wrong[0], 'source_offset']}. "
        "dropDuplicates(['event_id']) keeps whichever row it meets first; rank the versions "
        "with row_number() over a window ordered by ingest_ts descending, and keep rank 1."
    )


def test_ingest_ts_ties_are_broken_by_source_offset(deduped: Any, oracle: Any) -> None:
    got = _by_event(deduped.get())
    want = _by_event(oracle.rows("dedup"))
    tied = oracle.df(
        """
        SELECT event_id FROM clean c
        WHERE ingest_ts = (SELECT max(ingest_ts) FROM clean d WHERE d.event_id = c.event_id)
        GROUP BY event_id HAVING count(*) > 1
        """
    )["event_id"]
    assert len(tied) > 0, "test data must contain ingest_ts ties"
    wrong = [e for e in tied if got.at[e, "source_offset"] != want.at[e, "source_offset"]]
    assert not wrong, (
        f"{len(wrong)} of {len(tied)} events have two versions with the same latest ingest_ts, "
        f"and dedup_latest() kept the earlier one, e.g. {wrong[0]}: source_offset "
        f"{got.at[wrong[0], 'source_offset']} instead of {want.at[wrong[0], 'source_offset']}. "
        "Timestamps tie; add a tiebreaker to the ordering (source_offset descending) so the "
        "result is the same on every run."
    )


# Hand-made versions of four events where the newest version is not the one with the
# latest event_ts, nor the one with the largest source_offset (two partitions of a topic
# number their offsets independently; a correction may move the event's own time back).
# (event_id, event_ts, ingest_ts, source_offset, amount); amount tells the versions apart.
VERSIONS = [
    ("v1", "2024-03-05 09:00:00", "2024-03-05 10:00:00", 500, 1.0),
    ("v1", "2024-03-05 08:30:00", "2024-03-05 11:00:00", 100, 2.0),  # newest
    ("v2", "2024-03-05 11:30:00", "2024-03-05 09:00:00", 700, 3.0),
    ("v2", "2024-03-05 11:00:00", "2024-03-05 12:00:00", 50, 4.0),  # newest
    ("v3", "2024-03-05 09:00:00", "2024-03-05 10:00:00", 901, 5.0),  # newest: tie, larger
    ("v3", "2024-03-05 09:00:00", "2024-03-05 10:00:00", 900, 6.0),
    ("v3", "2024-03-05 09:30:00", "2024-03-05 09:59:59", 999, 7.0),
    ("v4", "2024-03-06 23:59:00", "2024-03-07 00:30:00", 20, 8.0),
    ("v4", "2024-03-05 23:59:00", "2024-03-07 00:31:00", 10, 9.0),  # newest
]


def test_dedup_does_not_order_by_event_ts_or_offset_alone(lab: Any, oracle: Any) -> None:
    values = ", ".join(
        f"('{e}', 1, 'purchase', {a}, TIMESTAMPTZ '{ts}+00', TIMESTAMPTZ '{ing}+00', {off})"
        for e, ts, ing, off, a in VERSIONS
    )
    oracle.db.execute(
        "CREATE OR REPLACE TABLE versions AS SELECT *, CAST(event_ts AS DATE) AS event_date "
        f"FROM (VALUES {values}) AS t({', '.join(lab.CLEAN_COLUMNS[:-1])})"
    )
    oracle.dedup("versions", "versions_latest")
    want = dict(oracle.df("SELECT event_id, amount FROM versions_latest").values.tolist())
    assert want == {"v1": 2.0, "v2": 4.0, "v3": 5.0, "v4": 9.0}, "the oracle disagrees"
    path = oracle.to_parquet("SELECT * FROM versions", "versions")
    got_rows = dedup_of(lab, oracle, path, "four events' versions").get()
    got = dict(zip(got_rows["event_id"], got_rows["amount"], strict=True))
    assert got == want, (
        f"For four events whose versions differ in event_ts, ingest_ts and source_offset, "
        f"dedup_latest() kept the versions with amount {got}; expected {want}. The latest "
        "version is the one *ingested* last (ingest_ts descending), with source_offset only "
        "breaking ties: event_ts is when the event happened (a correction can move it back), "
        "and offsets from different partitions of a topic are not in ingest order."
    )


def test_dedup_keeps_every_column_unchanged(deduped: Any, oracle: Any, lab: Any) -> None:
    got = deduped.get()
    assert list(got.columns) == list(lab.CLEAN_COLUMNS), (
        f"dedup_latest() returned columns {list(got.columns)}; expected the input's columns "
        f"{list(lab.CLEAN_COLUMNS)} (drop helper columns such as the row number)."
    )
    want = oracle.rows("dedup")
    merged = want.merge(got, on="source_offset", how="left", suffixes=("", "_got"))
    for column in ("event_id", "user_id", "amount", "event_ts"):
        same = (merged[column] == merged[f"{column}_got"]) | (
            merged[column].isna() & merged[f"{column}_got"].isna()
        )
        assert same.all(), (
            f"dedup_latest() changed or lost {int((~same).sum())} values of {column!r}; "
            "keep the chosen row exactly as it came in."
        )


def test_quality_report_counts_match_the_oracle(deduped_events: str, oracle: Any, lab: Any) -> None:
    report = quality_of(lab, deduped_events, "deduped_events").get()
    want = expected_failures(oracle, "SELECT * FROM dedup")
    got = {name: tuple(report["checks"].get(name, ())) for name in CHECKS}
    expected = {name: (want[name], want["total"]) for name in CHECKS}
    assert got == expected, (
        f"check_quality() counted (failed, total) per check as {got}; expected {expected}."
    )
    assert want["amount_in_range"] > 0, "test data must contain out-of-range amounts"


def test_quality_checks_raise_not_only_log(deduped_events: str, oracle: Any, lab: Any) -> None:
    sql = (
        "SELECT * REPLACE (CASE WHEN source_offset % 20 = 0 THEN -1.0 ELSE amount END AS amount)"
        " FROM dedup"
    )
    want = expected_failures(oracle, sql)
    report = quality_of(lab, oracle.to_parquet(sql, "negative"), "df with 5% negative amounts")
    report = report.get()
    if not report["raised"]:
        pytest.fail(
            f"check_quality() returned normally although {want['amount_in_range']} of "
            f"{want['total']} amounts are negative (threshold 1%). A check that only logs lets "
            "bad data flow on into training; raise DataQualityError(report).",
            pytrace=False,
        )
    assert report["failed_checks"] == ["amount_in_range"], (
        f"The report says {report['failed_checks']} failed; expected only ['amount_in_range']."
    )
    got = report["checks"].get("amount_in_range", [None])[0]
    assert got == want["amount_in_range"], (
        f"amount_in_range counted {got} failures; expected {want['amount_in_range']}."
    )


def test_uniqueness_check_catches_duplicate_event_ids(
    clean_events: str, oracle: Any, lab: Any
) -> None:
    want = expected_failures(oracle, "SELECT * FROM clean")
    report = quality_of(lab, clean_events, "clean events before dedup").get()
    assert report["raised"], (
        f"check_quality() on the events *before* dedup should raise DataQualityError: "
        f"{want['event_id_unique']} of {want['total']} rows repeat an event_id. It returned "
        "normally."
    )
    failed = report["checks"].get("event_id_unique", [None])[0]
    assert failed == want["event_id_unique"] and "event_id_unique" in report["failed_checks"], (
        f"event_id_unique reported {failed} failures (failed checks: "
        f"{report['failed_checks']}); expected {want['event_id_unique']} (rows minus distinct "
        "event_ids), and a failure."
    )


# One table per check, each with a defect only that check can see, in 5% of the rows
# (threshold 1%). Values on the range's edges (0 and 10000, inclusive) and null amounts
# are planted alongside in every table: they are valid, and must not count.
DEFECTS = {
    "event_id_not_null": "CASE WHEN source_offset % 20 = 1 THEN NULL ELSE event_id END AS event_id",
    "user_id_not_null": "CASE WHEN source_offset % 20 = 3 THEN NULL ELSE user_id END AS user_id",
    "event_ts_not_null": "CASE WHEN source_offset % 20 = 5 THEN NULL ELSE event_ts END AS event_ts",
    "event_type_valid": (
        "CASE WHEN source_offset % 40 = 7 THEN NULL WHEN source_offset % 40 = 27 THEN 'refund' "
        "ELSE event_type END AS event_type"
    ),
    "amount_in_range": (
        "CASE WHEN source_offset % 20 = 9 THEN 10000.01 + source_offset "
        "WHEN source_offset % 20 = 11 THEN 10000.0 WHEN source_offset % 20 = 13 THEN 0.0 "
        "WHEN source_offset % 20 = 15 THEN NULL ELSE amount END AS amount"
    ),
}
EDGES = (
    "CASE WHEN source_offset % 20 = 11 THEN 10000.0 WHEN source_offset % 20 = 13 THEN 0.0 "
    "WHEN source_offset % 20 = 15 THEN NULL ELSE amount END AS amount"
)


@pytest.mark.parametrize("check", list(DEFECTS))
def test_no_check_is_blind_to_its_own_defect(
    check: str, deduped_events: str, oracle: Any, lab: Any
) -> None:
    replaced = [DEFECTS[check]] + ([] if check == "amount_in_range" else [EDGES])
    sql = f"SELECT * REPLACE ({', '.join(replaced)}) FROM dedup"
    want = expected_failures(oracle, sql)
    assert want[check] > 0.01 * want["total"], f"the {check} table must fail its check"
    report = quality_of(lab, oracle.to_parquet(sql, check), f"df with a {check} defect").get()
    got = {name: report["checks"].get(name, [None])[0] for name in CHECKS}
    expected = {name: want[name] for name in CHECKS}
    assert got == expected and report["raised"] and report["failed_checks"] == [check], (
        f"On a table where {want[check]} of {want['total']} rows break {check} (and nothing "
        f"else is wrong), check_quality() counted failures {got}, expected {expected}; it "
        f"{'raised' if report['raised'] else 'did not raise'} with failed checks "
        f"{report['failed_checks']}, expected [{check!r}]. Each check must see its own "
        "defect: null event_id, user_id or event_ts; a null or unknown event_type; an "
        "amount below 0 or above 10000 (0 and 10000 are valid, a null amount is fine)."
    )
