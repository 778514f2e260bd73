"""Start Spark as the lab's worker does, run the kinds of jobs the suite runs, and exit.

The JVM writes the classes it loaded into the archive named on the command line when it
exits (-XX:ArchiveClassesAtExit). Used only by build.sh, at image build time.
"""

from __future__ import annotations

import os
import sys
import tempfile

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

# The same settings as etl_bridge._build_session: the archive only helps a JVM whose
# class path matches, and the jobs below should load the classes the suite's jobs load.
archive = sys.argv[1]
scratch = tempfile.mkdtemp(prefix="etl-lab-warm-")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
spark = (
    SparkSession.builder.master("local[2]")
    .appName("etl-lab-warm")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.default.parallelism", "2")
    .config("spark.sql.adaptive.enabled", "true")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .config("spark.local.dir", scratch)
    .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
    .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    .config("spark.sql.codegen.wholeStage", "false")
    .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    .config(
        "spark.driver.extraJavaOptions",
        f"-XX:TieredStopAtLevel=1 -XX:ArchiveClassesAtExit={archive} -Xlog:cds=off",
    )
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")

raw = os.path.join(scratch, "raw.jsonl")
with open(raw, "w") as f:
    f.write(
        '{"event_id":"e1","user_id":"7","amount":"1.5","event_ts":"2024-03-01T10:00:00+02:00"}\n'
    )
    f.write('{"event_id":"e2","user_id":"x","amount":null,"event_ts":"2024-03-02T10:00:00Z"}\n')
    f.write("not json\n")
schema = T.StructType(
    [T.StructField(n, T.StringType()) for n in ("event_id", "user_id", "amount", "event_ts")]
    + [T.StructField("_corrupt_record", T.StringType())]
)
events = (
    spark.read.schema(schema)
    .option("mode", "PERMISSIVE")
    .option("columnNameOfCorruptRecord", "_corrupt_record")
    .json(raw)
    .withColumn("user_id", F.col("user_id").try_cast("bigint"))
    .withColumn("amount", F.col("amount").try_cast("double"))
    .withColumn("event_ts", F.try_to_timestamp("event_ts", F.lit("yyyy-MM-dd'T'HH:mm:ssXXX")))
    .withColumn("ingest_ts", F.col("event_ts"))
    .withColumn("event_date", F.to_date("event_ts"))
    .withColumn(
        "reason",
        F.when(F.col("_corrupt_record").isNotNull(), "malformed").when(
            F.col("user_id").isNull(), "bad_user_id"
        ),
    )
)
latest = Window.partitionBy("event_id").orderBy(F.col("ingest_ts").desc())
week = Window.partitionBy("user_id").orderBy(F.unix_micros("event_ts")).rangeBetween(-10, -1)
known = F.filter(
    F.collect_list(F.struct("ingest_ts", "amount")).over(week),
    lambda p: p["ingest_ts"] < F.col("event_ts"),
)
out = (
    events.withColumn("n", F.row_number().over(latest))
    .filter("n = 1")
    .withColumn("c", F.size(known))
    .withColumn(
        "s", F.aggregate(known, F.lit(0.0), lambda a, p: a + F.coalesce(p["amount"], F.lit(0.0)))
    )
)
out.agg(F.count("*"), F.countDistinct("event_id"), F.sum(F.when(F.col("amount") < 0, 1))).collect()
target = os.path.join(scratch, "out")
(
    out.drop("_corrupt_record")
    .write.mode("overwrite")
    .option("partitionOverwriteMode", "dynamic")
    .partitionBy("event_date")
    .parquet(target)
)
back = spark.read.parquet(target)
back.coalesce(1).write.mode("overwrite").parquet(os.path.join(scratch, "one"))
spark.createDataFrame(back.toPandas()).count()

# The JVM writes the archive as it exits, after this process would have: end it here
# (it exits when its stdin closes) and wait for it.
jvm = spark.sparkContext._gateway.proc  # type: ignore[attr-defined]
spark.stop()
jvm.stdin.close()
jvm.wait(timeout=600)
