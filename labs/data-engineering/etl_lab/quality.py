"""Task 2: keep the latest version of each event, then check the data before trusting it.

The log holds several versions of some events: redeliveries, and corrections ingested
later. Keep, per event_id, the row with the latest ingest_ts; when two versions share an
ingest_ts, the one with the larger source_offset (its position in the source) wins.

Then check the result. The data types below (CheckResult, QualityReport,
DataQualityError) are provided; you compute the numbers, and you stop the job when a
check fails: a warning in a log nobody reads lets bad data flow into training.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame

EVENT_TYPES = ("view", "click", "purchase")
AMOUNT_RANGE = (0.0, 10_000.0)
# The checks, in report order. "failed" counts, over all rows:
#   event_id_not_null, user_id_not_null, event_ts_not_null   rows where the column is null
#   event_id_unique    non-null event_ids minus distinct event_ids (the surplus copies)
#   event_type_valid   rows whose event_type is null or not in EVENT_TYPES
#   amount_in_range    rows whose amount is not null and outside AMOUNT_RANGE (inclusive)
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
    """One row per event_id: the latest by ingest_ts, ties broken by source_offset.

    TODO(student):
      - Not distinct() (versions differ in some column), and not dropDuplicates() (it
        keeps whichever row it meets first).
      - F.row_number() over Window.partitionBy("event_id").orderBy(...) with the newest
        first, keep rank 1, and drop the helper column: same columns as the input.
    """
    raise NotImplementedError("TODO(student): keep the latest version of each event")


def check_quality(events: DataFrame, max_failure_rate: float = 0.01) -> QualityReport:
    """Run every check in CHECK_NAMES; raise DataQualityError if any rate is too high.

    Returns the QualityReport when every check passes.

    TODO(student):
      - Count the failures of each check, ideally in a single aggregation (one pass).
      - Build QualityReport(tuple(CheckResult(name, failed, total, max_failure_rate) ...)).
      - If the report did not pass, raise DataQualityError(report). Do not just log it.
    """
    raise NotImplementedError("TODO(student): compute the checks and raise when one fails")
