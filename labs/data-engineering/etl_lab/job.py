"""The whole pipeline as one Spark job. Provided: it wires together the functions you write.

    raw JSON lines -> ingest (clean + quarantine) -> dedup -> quality gate
                   -> rolling features -> Parquet partitioned by event_date

The job takes its SparkSession from the outside, so the same code runs on your laptop and
on a cluster; only the master URL changes:

    python -m etl_lab.job --master 'local[2]' --input events.jsonl --output out/
    python -m etl_lab.job --master spark://spark-master:7077 --input /data/events.jsonl \\
        --output /data/out

    spark-submit --master spark://spark-master:7077 --py-files etl_lab.zip \\
        etl_lab/job.py --input /data/events.jsonl --output /data/out

On a cluster, --input and --output must be paths every executor can reach (a shared
volume, HDFS, S3), because the executors read and write the files, not the driver.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl_lab.features import add_rolling_features
from etl_lab.ingest import ingest
from etl_lab.output import write_partitioned
from etl_lab.quality import QualityReport, check_quality, dedup_latest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    events: int
    quality: QualityReport
    seconds: float


def build_session(
    master: str | None = None,
    shuffle_partitions: int | None = None,
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """A session with the settings the job's correctness depends on.

    Leave ``master`` as None under spark-submit, which sets it.
    """
    builder = (
        SparkSession.builder.appName("etl_lab")
        # event_date and every displayed timestamp use the session time zone.
        .config("spark.sql.session.timeZone", "UTC")
        # Standard Parquet timestamps (not legacy INT96) so DuckDB, pandas and Feast read
        # the instants back unchanged.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    if master:
        builder = builder.master(master)
        if master.startswith("local"):
            # A sealed container has no resolvable hostname; stay on the loopback.
            builder = (
                builder.config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false")
            )
    if shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def run(
    spark: SparkSession,
    input_path: str,
    output_path: str,
    *,
    batch_id: str | None = None,
    max_failure_rate: float = 0.01,
) -> JobResult:
    """Process one batch of raw events into ``output_path``/events and /quarantine.

    Reruns are idempotent: the event partitions and the batch's quarantine partition are
    replaced, never appended to. A failed quality check raises before anything is written.
    """
    started = time.perf_counter()
    batch_id = batch_id or Path(input_path).stem
    clean, quarantine = ingest(spark, input_path)
    # Cached: the quality checks and the feature step both read the deduplicated events.
    events = dedup_latest(clean).cache()
    try:
        report = check_quality(events, max_failure_rate=max_failure_rate)
        write_partitioned(add_rolling_features(events), f"{output_path}/events")
    finally:
        events.unpersist()
    (
        quarantine.withColumn("batch_id", F.lit(batch_id))
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy("batch_id")
        .parquet(f"{output_path}/quarantine")
    )
    total = report.checks[0].total
    return JobResult(events=total, quality=report, seconds=time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the etl_lab pipeline on one batch.")
    parser.add_argument(
        "--master",
        default=os.environ.get("SPARK_MASTER"),
        help="Spark master URL, e.g. local[2] or spark://host:7077 (omit under spark-submit)",
    )
    parser.add_argument("--input", required=True, help="raw JSON-lines file or folder")
    parser.add_argument("--output", required=True, help="output folder (events/, quarantine/)")
    parser.add_argument("--batch-id", default=None)
    parser.add_argument("--shuffle-partitions", type=int, default=None)
    parser.add_argument("--max-failure-rate", type=float, default=0.01)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    spark = build_session(args.master, args.shuffle_partitions)
    try:
        result = run(
            spark,
            args.input,
            args.output,
            batch_id=args.batch_id,
            max_failure_rate=args.max_failure_rate,
        )
    finally:
        spark.stop()
    # The quality report itself is logged by check_quality.
    print(f"{result.events} events written to {args.output}/events in {result.seconds:.1f} s")


if __name__ == "__main__":
    main()
