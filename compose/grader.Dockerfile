# The image behind docker-compose.yml's `grader` service, for machines that reach a
# registry and PyPI. Where neither answers, `python -m grader image --compose` builds the
# same image offline (debootstrap base + a wheelhouse) under the same name.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 1000 --create-home learner
COPY pyproject.toml constraints.txt README.md /src/
COPY grader /src/grader
RUN pip install --no-cache-dir -c /src/constraints.txt "/src[labs]"
ENV HOME=/tmp MPLBACKEND=Agg SPARK_LOCAL_IP=127.0.0.1
