"""What the CLI does, as keyword-only functions that scripts and tests can call."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import GraderError
from grader.lab import Lab, find_lab, repo_root
from grader.results import GradeReport, Status
from grader.runners import Runner, RunOutcome, RunRequest, select_runner
from grader.scoring import score
from grader.workspace import build_workspace, resolve_submission

__all__ = ["CheckResult", "check_lab", "grade", "grade_lab"]

log = logging.getLogger(__name__)


def grade(
    *,
    slug: str,
    submission: Path | None = None,
    runner: str | Runner = "auto",
    hidden_tests: Path | None = None,
    labs_root: Path | None = None,
    tasks: tuple[str, ...] = (),
) -> GradeReport:
    """Grade one submission of the lab ``slug``; bad input raises :class:`GraderError`.

    With ``tasks``, only those tasks' tests run, and only they are reported.
    """
    lab = find_lab(slug, labs_root)
    unknown = [t for t in tasks if lab.task(t) is None]
    if unknown:
        ids = ", ".join(t.id for t in lab.tasks)
        raise GraderError(f"Lab '{lab.slug}' has no task '{unknown[0]}'; its tasks are {ids}.")
    chosen = select_runner(runner) if isinstance(runner, str) else runner
    # Someone is waiting at a terminal: show which call a hung test is still waiting for.
    # Not with hidden tests, whose calls (and their inputs) must not be printed.
    return grade_lab(
        lab,
        submission=submission,
        runner=chosen,
        hidden_tests=hidden_tests,
        tasks=tasks,
        live=hidden_tests is None,
    )


def grade_lab(
    lab: Lab,
    *,
    submission: Path | None,
    runner: Runner,
    hidden_tests: Path | None = None,
    tasks: tuple[str, ...] = (),
    fail_fast: bool = False,
    live: bool = False,
) -> GradeReport:
    """Grade ``submission``; with ``tasks``, run and report only those tasks' tests.

    ``fail_fast`` stops at the first failing test (the rest count as failed): enough to
    know that a task fails, as for a mutant, and much quicker. ``live`` prints the judge's
    progress lines (a call still awaited) to stderr as they arrive.
    """
    tree = resolve_submission(lab, submission)
    with tempfile.TemporaryDirectory(prefix=f"mlskills-{lab.slug}-") as tmp:
        workspace = build_workspace(lab, tree, Path(tmp) / "workspace", hidden_tests=hidden_tests)
        started = time.monotonic()
        try:
            outcome = runner.run(
                RunRequest(
                    lab=lab, workspace=workspace, tasks=tasks, fail_fast=fail_fast, live=live
                )
            )
        except GraderError:
            raise
        except Exception as exc:  # a crash in grading becomes a result, never a traceback
            log.debug("runner crashed", exc_info=True)
            outcome = RunOutcome(
                runner=runner.name,
                exit_code=None,
                results=None,
                output="",
                duration_s=time.monotonic() - started,
                error=f"The {runner.name} runner failed: {exc}",
            )
    return score(lab, outcome, hidden_tests=hidden_tests is not None, tasks=tasks)


@dataclass(frozen=True)
class CheckResult:
    slug: str
    starter: GradeReport
    solution: GradeReport | None
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def check_lab(lab: Lab, *, runner: Runner, solutions_root: Path | None = None) -> CheckResult:
    """Every task must fail on the untouched starter and pass on the solution."""
    problems: list[str] = []
    starter = grade_lab(lab, submission=lab.root, runner=runner)
    if starter.status in (Status.ERROR, Status.TIMEOUT):
        problems.append(f"starter could not be graded ({starter.status}): {starter.message}")
    for task in starter.tasks:
        if task.status is Status.PASS or task.score > 0:
            problems.append(f"task {task.id} ({task.title}) passes on the untouched starter")
        elif task.status is not Status.FAIL:
            problems.append(f"task {task.id} is '{task.status}' on the starter: {task.message}")

    solution_dir = (solutions_root or repo_root() / "solutions") / lab.slug
    solution = None
    if not solution_dir.is_dir():
        problems.append(f"there is no solution folder {solution_dir}")
    else:
        solution = grade_lab(lab, submission=solution_dir, runner=runner)
        if solution.status in (Status.ERROR, Status.TIMEOUT):
            problems.append(f"solution could not be graded ({solution.status}): {solution.message}")
        for task in solution.tasks:
            if task.status is not Status.PASS:
                problems.append(
                    f"task {task.id} ({task.title}) fails on the solution: {task.first_failure}"
                )
        for test in solution.unscored:
            problems.append(f"{test.name} has no @pytest.mark.task(N) naming a task of lab.toml")
    return CheckResult(slug=lab.slug, starter=starter, solution=solution, problems=tuple(problems))
