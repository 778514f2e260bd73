"""Runners execute a workspace's pytest suite and hand back what happened.

    Runner.run(RunRequest) -> RunOutcome
    BulkRunner.run_bulk(BulkRequest) -> [RunOutcome, ...]   (docker: mutants, one judge)

``local`` runs a subprocess on the host (fast, no isolation); ``docker`` runs a sandboxed
container through the Docker SDK; ``auto`` picks docker when an engine answers.
"""

from __future__ import annotations

from grader.runners.base import (
    BulkRequest,
    BulkRunner,
    OutputCapture,
    Runner,
    RunOutcome,
    RunRequest,
)
from grader.runners.select import RUNNER_NAMES, docker_problem, select_runner

__all__ = [
    "RUNNER_NAMES",
    "BulkRequest",
    "BulkRunner",
    "OutputCapture",
    "RunOutcome",
    "RunRequest",
    "Runner",
    "docker_problem",
    "select_runner",
]
