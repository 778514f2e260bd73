"""Which runner grades: docker when an engine answers, otherwise local (with a notice)."""

from __future__ import annotations

from grader.errors import RunnerUnavailable
from grader.runners.base import Runner
from grader.runners.local import LocalRunner

__all__ = ["RUNNER_NAMES", "docker_problem", "select_runner"]

RUNNER_NAMES = ("auto", "docker", "local")


def docker_problem() -> str | None:
    """``None`` when Docker can be used, otherwise a sentence saying why not."""
    try:
        from grader.runners.docker import engine_problem
    except ImportError:  # the Docker SDK is not installed (as inside the compose image)
        return "The Docker SDK for Python is not installed."
    return engine_problem()


def select_runner(name: str) -> Runner:
    """The runner called ``name``; ``auto`` falls back to local with a notice."""
    if name not in RUNNER_NAMES:
        raise RunnerUnavailable(f"Unknown runner '{name}'; use one of {', '.join(RUNNER_NAMES)}.")
    if name == "local":
        return LocalRunner()
    problem = docker_problem()
    if problem is None:
        from grader.runners.docker import DockerRunner

        return DockerRunner()
    if name == "docker":
        raise RunnerUnavailable(
            f"{problem} Start Docker (see README: 'Running the Docker engine'), "
            "or pass --runner local."
        )
    return LocalRunner(
        notice="No Docker engine answered, so this ran locally without a "
        "sandbox; start Docker to grade in a container."
    )
