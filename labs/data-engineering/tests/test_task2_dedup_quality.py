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
def deduped(clean_events: Any, lab: Any) -> Any:
    return lab.attempt(
        "etl_lab.quality.dedup_latest(clean_events)",
        lambda: lab.collect(lab.learner("quality").dedup_latest(clean_events)),
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


def test_quality_report_counts_match_the_oracle(deduped_events: Any, oracle: Any, lab: Any) -> None:
    quality = lab.learner("quality")
    report = lab.attempt(
        "etl_lab.quality.check_quality(deduped_events)",
        lambda: quality.check_quality(deduped_events, max_failure_rate=0.01),
    ).get()
    want = expected_failures(oracle, "SELECT * FROM dedup")
    got = {name: (report[name].failed, report[name].total) for name in CHECKS}
    expected = {name: (want[name], want["total"]) for name in CHECKS}
    assert got == expected, (
        f"check_quality() counted (failed, total) per check as {got}; expected {expected}."
    )
    assert want["amount_in_range"] > 0, "test data must contain out-of-range amounts"


def test_quality_checks_raise_not_only_log(deduped_events: Any, oracle: Any, lab: Any) -> None:
    from pyspark.sql import functions as F

    quality = lab.learner("quality")
    broken = deduped_events.withColumn(
        "amount", F.when(F.col("source_offset") % 20 == 0, F.lit(-1.0)).otherwise(F.col("amount"))
    )
    want = expected_failures(
        oracle,
        "SELECT * REPLACE (CASE WHEN source_offset % 20 = 0 THEN -1.0 ELSE amount END AS amount)"
        " FROM dedup",
    )
    outcome = lab.attempt(
        "check_quality(df with 5% negative amounts)",
        lambda: quality.check_quality(broken, max_failure_rate=0.01),
    )
    if outcome.error is None:
        pytest.fail(
            f"check_quality() returned normally although {want['amount_in_range']} of "
            f"{want['total']} amounts are negative (threshold 1%). A check that only logs lets "
            "bad data flow on into training; raise DataQualityError(report).",
            pytrace=False,
        )
    if not isinstance(outcome.error, quality.DataQualityError):
        outcome.get()
    report = outcome.error.report
    assert report.failed_checks == ["amount_in_range"], (
        f"The report says {report.failed_checks} failed; expected only ['amount_in_range']."
    )
    assert report["amount_in_range"].failed == want["amount_in_range"], (
        f"amount_in_range counted {report['amount_in_range'].failed} failures; expected "
        f"{want['amount_in_range']}."
    )


def test_uniqueness_check_catches_duplicate_event_ids(
    clean_events: Any, oracle: Any, lab: Any
) -> None:
    quality = lab.learner("quality")
    want = expected_failures(oracle, "SELECT * FROM clean")
    outcome = lab.attempt(
        "check_quality(clean events before dedup)",
        lambda: quality.check_quality(clean_events, max_failure_rate=0.01),
    )
    assert isinstance(outcome.error, quality.DataQualityError), (
        f"check_quality() on the events *before* dedup should raise DataQualityError: "
        f"{want['event_id_unique']} of {want['total']} rows repeat an event_id. It "
        f"{'returned normally' if outcome.error is None else f'raised {outcome.error!r}'}."
    )
    check = outcome.error.report["event_id_unique"]
    assert (check.failed, check.passed) == (want["event_id_unique"], False), (
        f"event_id_unique reported {check.failed} failures (passed={check.passed}); expected "
        f"{want['event_id_unique']} (rows minus distinct event_ids), and a failure."
    )


def test_null_checks_count_nulls(deduped_events: Any, oracle: Any, lab: Any) -> None:
    from pyspark.sql import functions as F

    quality = lab.learner("quality")
    holes = deduped_events.withColumn(
        "user_id", F.when(F.col("source_offset") % 10 == 3, None).otherwise(F.col("user_id"))
    )
    want = expected_failures(
        oracle,
        "SELECT * REPLACE (CASE WHEN source_offset % 10 = 3 THEN NULL ELSE user_id END AS user_id)"
        " FROM dedup",
    )
    outcome = lab.attempt(
        "check_quality(df with 10% null user_id)",
        lambda: quality.check_quality(holes, max_failure_rate=0.01),
    )
    assert isinstance(outcome.error, quality.DataQualityError), (
        f"check_quality() should raise DataQualityError when {want['user_id_not_null']} of "
        f"{want['total']} user_ids are null; it "
        f"{'returned normally' if outcome.error is None else f'raised {outcome.error!r}'}."
    )
    got = outcome.error.report["user_id_not_null"].failed
    assert got == want["user_id_not_null"], (
        f"user_id_not_null counted {got} nulls; expected {want['user_id_not_null']}."
    )
