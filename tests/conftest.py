"""Shared fixtures for the grader's own tests.

Docker tests carry ``@pytest.mark.docker``. Without an engine they skip, unless
``REQUIRE_DOCKER=1`` (set by CI), which turns a missing engine into a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.runners.select import docker_problem

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_LABS = FIXTURES / "labs"
SUBMISSIONS = FIXTURES / "submissions"
FIXTURE_SOLUTIONS = FIXTURES / "solutions"
REPO = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("docker") for item in items):
        return
    problem = docker_problem()
    if problem is None:
        return
    if os.environ.get("REQUIRE_DOCKER") == "1":
        raise pytest.UsageError(f"REQUIRE_DOCKER=1 but Docker is not usable: {problem}")
    skip = pytest.mark.skip(reason=f"{problem} (set REQUIRE_DOCKER=1 to fail instead)")
    for item in items:
        if item.get_closest_marker("docker"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def docker_runner():  # type: ignore[no-untyped-def]
    from grader.runners.docker import DockerRunner

    return DockerRunner()


@pytest.fixture(scope="session")
def local_runner():  # type: ignore[no-untyped-def]
    from grader.runners.local import LocalRunner

    return LocalRunner()
