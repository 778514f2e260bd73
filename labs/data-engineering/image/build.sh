#!/bin/sh
# Run by the grader as root at the end of this lab's image build (no network; the lab's
# image/ folder is at /lab-image/). It records a class-data-sharing archive of the JVM
# classes a Spark session loads (AppCDS): a JVM started with it maps those classes from
# the archive instead of loading and verifying them from the jars again. The worker's
# session uses it when the file exists (etl_bridge.CDS_ARCHIVE).
set -eu
archive=/opt/etl-lab/spark.jsa
mkdir -p /opt/etl-lab
cd /tmp
# With no network the build container's own name does not resolve, and the JVM asks for it
# at start: name it in this step's /etc/hosts (the change does not reach the image).
grep -q "$(hostname)" /etc/hosts 2>/dev/null || echo "127.0.0.1 $(hostname)" >> /etc/hosts || true
HOME=/tmp SPARK_LOCAL_HOSTNAME=localhost /opt/venv/bin/python /lab-image/warm_spark.py "$archive"
test -s "$archive"
chmod 0755 /opt/etl-lab
chmod 0444 "$archive"
rm -rf /tmp/etl-lab-warm-*
