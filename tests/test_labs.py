"""Every lab checks out: each task fails on its starter and passes on its solution, and
every mutant (a plausible wrong solution) fails its task.

Runs ``grader check`` per lab under the docker runner (the real sandbox), so it also
builds each lab's image. Without an engine (and without REQUIRE_DOCKER) it skips; the
labs can still be checked locally with ``python -m grader check --runner local``.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from grader.api import check_lab
from grader.lab import list_labs, load_lab, repo_root
from grader.mutants import Verdict, check_mutants, find_mutants
from grader.results import GradeReport

LABS = [p.name for p in list_labs()]
# The solution grades the sandbox check made, so the mutant runs that follow in the same
# session use them as their baseline instead of grading each solution once more.
SOLUTION_GRADES: dict[str, GradeReport] = {}


@pytest.mark.parametrize("slug", LABS)
def test_manifest_loads_and_has_a_lesson(slug: str) -> None:
    lab = load_lab(list_labs()[LABS.index(slug)])
    lesson = (lab.root / "README.md").read_text()
    for task in lab.tasks:
        assert f"## {task.id}." in lesson, f"{slug}: the lesson has no '## {task.id}.' heading"


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("slug", LABS)
def test_lab_fails_on_starter_and_passes_on_solution_in_the_sandbox(
    slug: str, docker_runner: object
) -> None:
    lab = load_lab(list_labs()[LABS.index(slug)])
    result = check_lab(lab, runner=docker_runner)  # type: ignore[arg-type]
    if result.solution is not None:
        SOLUTION_GRADES[slug] = result.solution
    assert result.ok, f"{slug}:\n" + "\n".join(result.problems)


MUTANT_LABS = [slug for slug in LABS if (repo_root() / "mutants" / slug).is_dir()]


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("slug", MUTANT_LABS)
def test_every_mutant_fails_its_task_in_the_sandbox(slug: str, docker_runner: object) -> None:
    """``grader check --mutants``: each plausible wrong solution must lose its task."""
    results = check_mutants(
        find_mutants([slug]),
        runner=docker_runner,  # type: ignore[arg-type]
        jobs=2,
        console=Console(file=io.StringIO()),
        baselines=SOLUTION_GRADES,
    )
    escaped = [r for r in results if r.verdict is not Verdict.KILLED]
    assert not escaped, f"{slug}: these wrong solutions were not rejected:\n" + "\n".join(
        f"  {r.mutant.name} (task {r.mutant.task}, {r.verdict}): {r.detail}" for r in escaped
    )
