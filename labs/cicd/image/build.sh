#!/bin/sh
# Run by the grader as root at the end of this lab's image build (no network; the lab's
# image/ folder is at /lab-image/). It builds an empty MLflow store once per image: a new
# SQLite store costs seconds of schema migrations, and every grading session (every
# mutant's too) needs one. The worker copies it when the file exists
# (cicd_bridge.TEMPLATE); without it (a local grade) it builds its own.
set -eu
template=/opt/cicd-lab/mlflow-template.db
mkdir -p /opt/cicd-lab
cd /tmp
HOME=/tmp /opt/venv/bin/python /lab-image/make_store.py "$template"
test -s "$template"
chmod 0755 /opt/cicd-lab
chmod 0444 "$template"
rm -rf /tmp/mlruns
