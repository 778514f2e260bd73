"""Plausible wrong solutions a lab's suite must reject: ``grader check --mutants``.

Layout, at the top level beside ``solutions/``::

    mutants/<slug>/<name>/mutant.toml   task = 3
                                        mistake = "Retries a 400, which can never succeed."
    mutants/<slug>/<name>/<files>       the submission files that differ from the solution,
                                        at the paths they have in labs/<slug>/

``<name>`` is the mistake in kebab-case (``retries-a-400``). A mutant is graded as the
reference solution with its files laid over it. It is *killed* when its task does not
pass, and it *survives* when it does: a survivor is a wrong answer the suite accepts, and
needs a test named after its mistake. The solution is graded in the same run, and a kill
counts only for a task the solution passes, so a broken suite cannot pass for a strict one.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from grader.api import grade_lab
from grader.errors import GraderError, LabNotFound, ManifestError
from grader.lab import Lab, find_lab, repo_root
from grader.results import GradeReport, Status
from grader.runners import Runner
from grader.workspace import submission_files

__all__ = [
    "MANIFEST",
    "MUTANTS_DIR",
    "KillRate",
    "Mutant",
    "MutantResult",
    "Verdict",
    "check_mutants",
    "exit_code",
    "find_mutants",
    "kill_rates",
    "load_mutant",
    "load_mutants",
    "overlay",
    "print_results",
]

MUTANTS_DIR = "mutants"
MANIFEST = "mutant.toml"
_FIELDS = ("task", "mistake")
_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_IGNORED = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_DOCS = "docs/authoring-labs.md, 'Mutants'"

log = logging.getLogger(__name__)


class Verdict(StrEnum):
    KILLED = "killed"
    SURVIVED = "survived"
    ERROR = "error"  # could not be graded, so it proves nothing either way


@dataclass(frozen=True)
class Mutant:
    lab: Lab
    name: str
    task: str
    mistake: str
    root: Path
    files: tuple[str, ...]  # lab-relative paths, the ones laid over the solution
    solution: Path

    @property
    def label(self) -> str:
        return f"{self.lab.slug}/{self.name}"


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    verdict: Verdict
    detail: str  # killed: the test that failed and why; survived: the mistake; error: why
    duration_s: float


@dataclass(frozen=True)
class KillRate:
    lab: str
    killed: int
    total: int

    @property
    def rate(self) -> float:
        return self.killed / self.total if self.total else 0.0


def _fail(path: Path, field: str, allowed: str) -> ManifestError:
    return ManifestError(f"{path}: field '{field}' is invalid: {allowed}.")


def load_mutant(lab: Lab, folder: Path, solution: Path) -> Mutant:
    """Load and validate one mutant folder of ``lab``; errors name the file and the field."""
    path = folder / MANIFEST
    if not _KEBAB.fullmatch(folder.name):
        raise ManifestError(
            f"{folder}: a mutant's folder is named after its mistake in kebab-case "
            f"(lower-case words and digits joined by '-', e.g. 'retries-a-400'); rename it."
        )
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(
            f"{path}: there is no manifest; every mutant needs a mutant.toml with "
            f"'task' and 'mistake' (see {_DOCS})."
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: the file is not valid TOML ({exc}).") from None

    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise _fail(path, unknown[0], "unknown field; allowed fields are " + ", ".join(_FIELDS))
    if "task" not in raw:
        raise _fail(path, "task", "it is required: the id of the task this mutant must fail")
    task = raw["task"]
    ids = ", ".join(t.id for t in lab.tasks)
    if isinstance(task, bool) or not isinstance(task, int | str):
        raise _fail(path, "task", f"must be a task id of labs/{lab.slug}/lab.toml: {ids}")
    task_id = str(task).strip()
    if lab.task(task_id) is None:
        raise _fail(path, "task", f"lab '{lab.slug}' has no task {task_id!r}; its tasks are {ids}")
    mistake = raw.get("mistake")
    if not isinstance(mistake, str) or not mistake.strip():
        raise _fail(path, "mistake", "must be one non-empty sentence saying what went wrong")

    declared = submission_files(lab, folder)
    files = []
    for file in sorted(folder.rglob("*")):
        rel = file.relative_to(folder)
        if file.is_dir() or rel.as_posix() == MANIFEST or _IGNORED.intersection(rel.parts):
            continue
        if rel.as_posix() not in declared:
            raise ManifestError(
                f"{file}: '{rel.as_posix()}' is not one of the lab's submission files "
                f"({', '.join(lab.submission)}); a mutant holds only submission files, at the "
                f"paths they have in labs/{lab.slug}/."
            )
        original = solution / rel
        if original.is_file() and original.read_bytes() == file.read_bytes():
            raise ManifestError(
                f"{file}: it is identical to {original}; a mutant holds only the files it "
                "changes, so delete it (or make the mistake in it)."
            )
        files.append(rel.as_posix())
    if not files:
        raise ManifestError(
            f"{folder}: the mutant holds no submission file; add the solution's file with "
            "the mistake made in it."
        )
    return Mutant(
        lab=lab,
        name=folder.name,
        task=task_id,
        mistake=" ".join(mistake.split()),
        root=folder,
        files=tuple(files),
        solution=solution,
    )


def load_mutants(
    lab: Lab, *, mutants_root: Path | None = None, solutions_root: Path | None = None
) -> list[Mutant]:
    """Every mutant of ``lab``, validated, sorted by task then name."""
    base = mutants_root or repo_root() / MUTANTS_DIR
    folder = base / lab.slug
    if not folder.is_dir():
        raise GraderError(
            f"Lab '{lab.slug}' has no mutants: there is no folder {folder}. "
            f"Write some (see {_DOCS})."
        )
    solution = (solutions_root or repo_root() / "solutions") / lab.slug
    if not solution.is_dir():
        raise GraderError(
            f"There is no solution folder {solution}; mutants are laid over the solution."
        )
    found = [
        load_mutant(lab, child, solution)
        for child in sorted(folder.iterdir())
        if child.is_dir() and child.name not in _IGNORED and not child.name.startswith(".")
    ]
    if not found:
        raise GraderError(f"{folder} holds no mutant folder; write some (see {_DOCS}).")
    return sorted(found, key=lambda m: (int(m.task), m.name))


def find_mutants(slugs: Sequence[str] = (), *, root: Path | None = None) -> list[Mutant]:
    """The mutants of ``slugs``, or of every lab with a mutants folder when none is given."""
    base = root or repo_root()
    mutants_root = base / MUTANTS_DIR
    discovered = not slugs
    if discovered:
        slugs = sorted(
            p.name
            for p in (mutants_root.iterdir() if mutants_root.is_dir() else ())
            if p.is_dir() and not p.name.startswith(".")
        )
        if not slugs:
            raise GraderError(f"There are no mutants under {mutants_root}; see {_DOCS}.")
    found: list[Mutant] = []
    for slug in dict.fromkeys(slugs):
        try:
            lab = find_lab(slug, base / "labs")
        except LabNotFound as exc:
            if discovered:  # the user typed no slug: say which folder named this one
                raise LabNotFound(f"{exc} {mutants_root / slug} names it.") from None
            raise
        found += load_mutants(lab, mutants_root=mutants_root, solutions_root=base / "solutions")
    return found


def overlay(mutant: Mutant, dest: Path) -> Path:
    """Lay out in ``dest`` the solution's submission files with the mutant's over them."""
    mistakes = {rel: mutant.root / rel for rel in mutant.files}
    for layer in (submission_files(mutant.lab, mutant.solution), mistakes):
        for rel, source in layer.items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return dest


def _grade_mutant(mutant: Mutant, runner: Runner) -> GradeReport:
    with tempfile.TemporaryDirectory(prefix=f"mlskills-mutant-{mutant.name}-") as tmp:
        submission = overlay(mutant, Path(tmp))

        # A mutant needs only its own task's tests, and only until one of them fails.
        def grade() -> GradeReport:
            return grade_lab(
                mutant.lab,
                submission=submission,
                runner=runner,
                tasks=(mutant.task,),
                fail_fast=True,
            )

        report = grade()
        if report.status is Status.ERROR:  # could not grade: once more before saying so
            log.info("grading %s again after: %s", mutant.label, report.message)
            report = grade()
        return report


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _gist(text: str, limit: int = 300) -> str:
    """The message on one line: a gRPC error's first line alone says nothing of its status."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _verdict(mutant: Mutant, report: GradeReport, solution: GradeReport) -> MutantResult:
    def result(verdict: Verdict, detail: str) -> MutantResult:
        return MutantResult(mutant, verdict, detail, report.duration_s)

    baseline = next(t for t in solution.tasks if t.id == mutant.task)
    if baseline.status is not Status.PASS:
        return result(
            Verdict.ERROR,
            f"the solution itself does not pass task {mutant.task} in this run "
            f"({_first_line(baseline.first_failure)}), so a kill would prove nothing; "
            f"fix the suite or solutions/{mutant.lab.slug} first",
        )
    if report.status is Status.ERROR:
        internal = next(
            (line for line in report.output.splitlines() if line.startswith("INTERNALERROR> E")),
            "",
        )
        why = _first_line(report.message) + (f" ({internal})" if internal else "")
        return result(Verdict.ERROR, f"could not be graded: {why}")
    task = next(t for t in report.tasks if t.id == mutant.task)
    if task.status is Status.PASS:
        return result(Verdict.SURVIVED, mutant.mistake)
    failed = next((t for t in task.tests if t.status is not Status.PASS), None)
    if failed is None:  # a timeout or a collection error: the task's own message says which
        return result(Verdict.KILLED, _first_line(task.first_failure))
    return result(Verdict.KILLED, f"{failed.name}: {_gist(failed.message)}")


def check_mutants(
    mutants: Sequence[Mutant], *, runner: Runner, jobs: int = 2, console: Console | None = None
) -> list[MutantResult]:
    """Grade every mutant, and each lab's solution as the baseline, ``jobs`` at a time."""
    if jobs < 1:
        raise GraderError(f"-j must be at least 1 (got {jobs}).")
    labs = {m.lab.slug: (m.lab, m.solution) for m in mutants}
    solutions: dict[str, GradeReport | GraderError] = {}
    reports: dict[str, GradeReport | GraderError] = {}
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=True,
    )
    with progress:
        bar = progress.add_task("grading mutants", total=len(labs) + len(mutants))
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mutant")
        try:
            pending: dict[Future[GradeReport], tuple[dict[str, GradeReport | GraderError], str]]
            pending = {}
            for slug, (lab, solution) in labs.items():
                job = pool.submit(grade_lab, lab, submission=solution, runner=runner)
                pending[job] = (solutions, slug)
            for mutant in mutants:
                pending[pool.submit(_grade_mutant, mutant, runner)] = (reports, mutant.label)
            for future in as_completed(pending):
                into, key = pending[future]
                try:
                    into[key] = future.result()
                except GraderError as exc:  # one ungradable mutant must not stop the others
                    into[key] = exc
                progress.advance(bar)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    results = []
    for mutant in mutants:
        report, baseline = reports[mutant.label], solutions[mutant.lab.slug]
        if isinstance(baseline, GraderError):
            why = f"the solution could not be graded: {baseline}"
            results.append(MutantResult(mutant, Verdict.ERROR, why, 0.0))
        elif isinstance(report, GraderError):
            results.append(MutantResult(mutant, Verdict.ERROR, str(report), 0.0))
        else:
            results.append(_verdict(mutant, report, baseline))
    return results


def kill_rates(results: Iterable[MutantResult]) -> dict[str, KillRate]:
    """Killed out of graded-or-not mutants, per lab: an ungradable mutant is no kill."""
    counts: dict[str, tuple[int, int]] = {}
    for r in results:
        killed, total = counts.get(r.mutant.lab.slug, (0, 0))
        counts[r.mutant.lab.slug] = (killed + (r.verdict is Verdict.KILLED), total + 1)
    return {slug: KillRate(slug, k, n) for slug, (k, n) in sorted(counts.items())}


def exit_code(results: Sequence[MutantResult]) -> int:
    """2 when some mutant could not be graded, 1 when some survived, otherwise 0."""
    if any(r.verdict is Verdict.ERROR for r in results):
        return 2
    return 1 if any(r.verdict is Verdict.SURVIVED for r in results) else 0


def print_results(results: Sequence[MutantResult], out: Console) -> None:
    table = Table(title="mutants", title_justify="left")
    for column in ("lab", "mutant", "task", "verdict", "killed by / mistake"):
        table.add_column(column)
    marks = {
        Verdict.KILLED: "[green]killed[/]",
        Verdict.SURVIVED: "[bold red]SURVIVED[/]",
        Verdict.ERROR: "[yellow]not graded[/]",
    }
    for r in results:
        m = r.mutant
        table.add_row(m.lab.slug, m.name, m.task, marks[r.verdict], Text(r.detail))
    out.print(table)
    for rate in kill_rates(results).values():
        out.print(f"{rate.lab}: {rate.killed}/{rate.total} mutants killed ({rate.rate:.0%})")
    survivors = [r for r in results if r.verdict is Verdict.SURVIVED]
    if survivors:
        out.print(
            f"[bold red]{len(survivors)} mutant(s) survived[/]: the suite accepts these wrong "
            "answers. Add a test that fails on each, named after its mistake:"
        )
        for r in survivors:
            out.print(
                f"  {r.mutant.label} (task {r.mutant.task}): {r.mutant.mistake}", markup=False
            )
    ungraded = [r for r in results if r.verdict is Verdict.ERROR]
    if ungraded:
        out.print(f"[yellow]{len(ungraded)} mutant(s) could not be graded[/]:")
        for r in ungraded:
            out.print(f"  {r.mutant.label}: {r.detail}", markup=False)
