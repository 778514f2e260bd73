"""Task 2: keep the latest version of each event, then check the data before trusting it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

log = logging.getLogger(__name__)

EVENT_TYPES = ("view", "click", "purchase")
AMOUNT_RANGE = (0.0, 10_000.0)
CHECK_NAMES = (
    "event_id_not_null",
    "user_id_not_null",
    "event_ts_not_null",
    "event_id_unique",
    "event_type_valid",
    "amount_in_range",
)


@dataclass(frozen=True)
class CheckResult:
    """One data-quality check: how many of ``total`` rows failed it."""

    name: str
    failed: int
    total: int
    max_failure_rate: float

    @property
    def failure_rate(self) -> float:
        return self.failed / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        return self.failure_rate <= self.max_failure_rate


@dataclass(frozen=True)
class QualityReport:
    """The result of every check, in CHECK_NAMES order."""

    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed_checks(self) -> list[str]:
        return [check.name for check in self.checks if not check.passed]

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def __str__(self) -> str:
        lines = [f"{'check':<20} {'failed':>8} {'total':>8} {'rate':>8}  status"]
        for c in self.checks:
            status = "ok" if c.passed else f"FAIL (max {c.max_failure_rate:.2%})"
            lines.append(
                f"{c.name:<20} {c.failed:>8} {c.total:>8} {c.failure_rate:>8.2%}  {status}"
            )
        return "\n".join(lines)


class DataQualityError(Exception):
    """Raised when a check crosses its threshold; ``.report`` has every result."""

    def __init__(self, report: QualityReport) -> None:
        super().__init__(f"data quality checks failed: {report.failed_checks}\n{report}")
        self.report = report


def dedup_latest(events: DataFrame) -> DataFrame:
    """One row per event_id: the latest by ingest_ts, ties broken by source_offset."""
    # distinct() keeps corrections (their values differ), and dropDuplicates keeps
    # whichever row it meets first. Only an explicit order says which version wins.
    return events.dropDuplicates(["event_id"])


def check_quality(events: DataFrame, max_failure_rate: float = 0.01) -> QualityReport:
    """Run every check in one pass; raise DataQualityError if any rate is too high."""
    low, high = AMOUNT_RANGE

    def failures(condition: F.Column) -> F.Column:
        return F.sum(F.when(condition, 1).otherwise(0))

    row = events.agg(
        F.count(F.lit(1)).alias("total"),
        failures(F.col("event_id").isNull()).alias("event_id_not_null"),
        failures(F.col("user_id").isNull()).alias("user_id_not_null"),
        failures(F.col("event_ts").isNull()).alias("event_ts_not_null"),
        (F.count("event_id") - F.countDistinct("event_id")).alias("event_id_unique"),
        failures(F.col("event_type").isNull() | ~F.col("event_type").isin(*EVENT_TYPES)).alias(
            "event_type_valid"
        ),
        failures(F.col("amount").isNotNull() & ~F.col("amount").between(low, high)).alias(
            "amount_in_range"
        ),
    ).first()
    assert row is not None  # an aggregate without grouping always returns one row
    total = int(row["total"])
    report = QualityReport(
        tuple(
            CheckResult(name, int(row[name] or 0), total, max_failure_rate) for name in CHECK_NAMES
        )
    )
    log.info("data quality report\n%s", report)
    if not report.passed:
        # Logging alone lets bad data flow on to training; stop the job instead.
        raise DataQualityError(report)
    return report
