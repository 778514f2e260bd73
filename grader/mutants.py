"""Plausible wrong solutions a lab's suite must reject: ``grader check --mutants``.

Layout, at the top level beside ``solutions/``::

    mutants/<slug>/<name>/mutant.toml   task = 3
                                        mistake = "Retries a 400, which can never succeed."
    mutants/<slug>/<name>/mutant.diff   the mistake, as a unified diff against
                                        solutions/<slug>/ (headers a/<path>, b/<path>)

``<name>`` is the mistake in kebab-case (``retries-a-400``). A mutant is graded as the
reference solution with its patch applied without fuzz; a patch that no longer applies
is *stale* and is reported by name, never graded as some other mistake. A mutant is
*killed* when its task does not pass, and it *survives* when it does: a survivor is a
wrong answer the suite accepts, and needs a test named after its mistake. The solution is
graded in the same run, and a kill counts only for a task the solution passes, so a
broken suite cannot pass for a strict one.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
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
from grader.patches import StalePatch, apply_patch, make_patch, patched_paths
from grader.results import GradeReport, Status
from grader.runners import Runner
from grader.runners.base import BulkRequest, RunOutcome
from grader.scoring import score
from grader.workspace import build_workspace, resolve_submission, submission_files

__all__ = [
    "MANIFEST",
    "MUTANTS_DIR",
    "PATCH",
    "KillRate",
    "Mutant",
    "MutantResult",
    "Verdict",
    "check_mutants",
    "copy_solution",
    "exit_code",
    "find_mutants",
    "kill_rates",
    "load_mutant",
    "load_mutants",
    "overlay",
    "print_results",
    "stale",
    "write_mutant",
]

MUTANTS_DIR = "mutants"
MANIFEST = "mutant.toml"
PATCH = "mutant.diff"
_FIELDS = ("task", "mistake")
_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_IGNORED = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_DOCS = "docs/authoring-labs.md, 'Mutants'"
# The most mutants one judge grades in a row (bulk): enough to pay its start once for a
# task's mutants, few enough that two jobs at a time stay evenly loaded.
BULK_SIZE = 8

log = logging.getLogger(__name__)


class Verdict(StrEnum):
    KILLED = "killed"
    SURVIVED = "survived"
    ERROR = "error"  # could not be graded, so it proves nothing either way
    STALE = "stale"  # its patch no longer applies to the solution: rewrite it


@dataclass(frozen=True)
class Mutant:
    lab: Lab
    name: str
    task: str
    mistake: str
    root: Path
    files: tuple[str, ...]  # lab-relative paths the patch changes
    solution: Path

    @property
    def label(self) -> str:
        return f"{self.lab.slug}/{self.name}"

    @property
    def patch(self) -> Path:
        return self.root / PATCH


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

    patch = folder / PATCH
    strays = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and p.name not in (MANIFEST, PATCH)
        and not _IGNORED.intersection(p.relative_to(folder).parts)
    )
    if strays:
        raise ManifestError(
            f"{folder / strays[0]}: a mutant holds only {MANIFEST} and {PATCH} (its mistake "
            f"as a patch against solutions/{lab.slug}/); write the patch from an edited copy "
            f"with 'python -m grader mutant save {lab.slug}/{folder.name} DIR' and delete "
            "the file."
        )
    try:
        text = patch.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            f"{patch}: there is no patch; a mutant's mistake is a unified diff against "
            f"solutions/{lab.slug}/ (see {_DOCS})."
        ) from None
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{patch}: the file is not UTF-8 text ({exc}).") from None
    files = patched_paths(text)
    if not files:
        raise ManifestError(
            f"{patch}: the patch changes no file; it needs '--- a/<path>' and '+++ b/<path>' "
            "headers with lab-relative paths, as 'python -m grader mutant save' writes them."
        )
    allowed = set(submission_files(lab, solution))
    for rel in files:
        if rel not in allowed:
            raise ManifestError(
                f"{patch}: '{rel}' is not one of the lab's submission files "
                f"({', '.join(lab.submission)}) in solutions/{lab.slug}/; a mutant changes "
                f"only submission files, at the paths they have in labs/{lab.slug}/."
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


def copy_solution(lab: Lab, dest: Path, solution: Path | None = None) -> Path:
    """Copy the solution's submission files of ``lab`` into ``dest``."""
    source_root = solution or repo_root() / "solutions" / lab.slug
    for rel, source in submission_files(lab, source_root).items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return dest


def overlay(mutant: Mutant, dest: Path) -> Path:
    """Lay out in ``dest`` the solution's submission files with the mutant's patch applied.

    Raises :class:`StalePatch` when the patch no longer applies to the solution.
    """
    copy_solution(mutant.lab, dest, mutant.solution)
    apply_patch(mutant.patch, dest)
    return dest


def stale(mutant: Mutant) -> str | None:
    """Why the mutant's patch does not apply to the solution, or ``None`` when it does."""
    with tempfile.TemporaryDirectory(prefix=f"mlskills-patch-{mutant.name}-") as tmp:
        try:
            overlay(mutant, Path(tmp))
        except StalePatch as exc:
            return str(exc)
    return None


def write_mutant(
    lab: Lab, name: str, edited: Path, *, task: str, mistake: str, mutants_root: Path | None = None
) -> Path:
    """Write ``mutants/<slug>/<name>/`` from ``edited``, a copy of the solution with one
    mistake made in it: the patch of what differs, and the manifest."""
    if not _KEBAB.fullmatch(name):
        raise GraderError(
            f"'{name}': a mutant is named after its mistake in kebab-case, e.g. 'retries-a-400'."
        )
    if lab.task(task) is None:
        ids = ", ".join(t.id for t in lab.tasks)
        raise GraderError(f"Lab '{lab.slug}' has no task '{task}'; its tasks are {ids}.")
    if not mistake.strip():
        raise GraderError("Say the mistake in one sentence (--mistake).")
    solution = repo_root() / "solutions" / lab.slug
    files = set(submission_files(lab, solution)) | set(submission_files(lab, edited))
    text = make_patch(solution, edited, files)
    if not text:
        raise GraderError(
            f"{edited} does not differ from {solution} in any submission file: make the "
            "mistake in the copy first."
        )
    folder = (mutants_root or repo_root() / MUTANTS_DIR) / lab.slug / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PATCH).write_text(text, encoding="utf-8")
    number = task if task.isdigit() else _toml_str(task)
    manifest = f"task = {number}\nmistake = {_toml_str(mistake)}\n"
    (folder / MANIFEST).write_text(manifest, encoding="utf-8")
    return folder


def _toml_str(text: str) -> str:
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


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


def _grade_bulk(mutants: Sequence[Mutant], runner: Runner) -> list[GradeReport | GraderError]:
    """Grade ``mutants`` (one lab, one task) with one judge, where the runner can.

    The runner gives each its own pytest session and its own fresh worker (see
    ``grader/boundary/bulk.py``), so only the judge's start is shared. The solution goes
    last in the same run, as a control: if it does not pass the task there, the run
    itself is suspect (something of an earlier session leaked into a later one), so no
    kill of that run counts and every mutant is graded again on its own. A mutant that
    could not be graded in bulk is graded again on its own too.
    """
    run_bulk = getattr(runner, "run_bulk", None)
    if run_bulk is None or len(mutants) < 2:
        return [_grade_alone(m, runner) for m in mutants]
    lab, task = mutants[0].lab, (mutants[0].task,)
    with tempfile.TemporaryDirectory(prefix=f"mlskills-mutants-{lab.slug}-{task[0]}-") as tmp:
        trees = [overlay(m, Path(tmp) / f"submission-{n}") for n, m in enumerate(mutants)]
        trees.append(copy_solution(lab, Path(tmp) / "control", mutants[0].solution))
        workspaces = tuple(
            build_workspace(lab, resolve_submission(lab, tree), Path(tmp) / f"workspace-{n}")
            for n, tree in enumerate(trees)
        )
        started = time.monotonic()
        try:
            outcomes: list[RunOutcome] = run_bulk(
                BulkRequest(lab=lab, workspaces=workspaces, tasks=task, fail_fast=True)
            )
        except GraderError:
            raise
        except Exception as exc:  # a crash in grading becomes a result, never a traceback
            log.debug("bulk run crashed", exc_info=True)
            failed = RunOutcome(
                runner.name, None, None, "", time.monotonic() - started, error=str(exc)
            )
            outcomes = [failed] * len(workspaces)
    control = score(lab, outcomes[-1], tasks=task)
    if control.status is not Status.PASS:
        log.warning(
            "%s task %s: the solution did not pass in the bulk run (%s); grading its "
            "mutants one at a time",
            lab.slug,
            task[0],
            _first_line(control.message or control.tasks[0].first_failure),
        )
        return [_grade_alone(m, runner) for m in mutants]
    reports: list[GradeReport | GraderError] = []
    for mutant, outcome in zip(mutants, outcomes[:-1], strict=True):
        report = score(lab, outcome, tasks=task)
        if report.status is Status.ERROR:  # could not grade: once more, alone
            log.info("grading %s alone after: %s", mutant.label, report.message)
            reports.append(_grade_alone(mutant, runner, retry=False))
        else:
            reports.append(report)
    return reports


def _grade_alone(
    mutant: Mutant, runner: Runner, *, retry: bool = True
) -> GradeReport | GraderError:
    try:
        return _grade_mutant(mutant, runner) if retry else _grade_once(mutant, runner)
    except GraderError as exc:  # one ungradable mutant must not stop the others
        return exc


def _grade_once(mutant: Mutant, runner: Runner) -> GradeReport:
    with tempfile.TemporaryDirectory(prefix=f"mlskills-mutant-{mutant.name}-") as tmp:
        submission = overlay(mutant, Path(tmp))
        return grade_lab(
            mutant.lab, submission=submission, runner=runner, tasks=(mutant.task,), fail_fast=True
        )


def _batches(mutants: Sequence[Mutant], size: int) -> list[list[Mutant]]:
    """The mutants by lab and task, in runs of at most ``size``, biggest first."""
    groups: dict[tuple[str, str], list[Mutant]] = {}
    for mutant in mutants:
        groups.setdefault((mutant.lab.slug, mutant.task), []).append(mutant)
    batches = []
    for group in groups.values():
        count = -(-len(group) // size)  # as even as they can be
        batches += [group[n::count] for n in range(count)]
    return sorted(batches, key=len, reverse=True)


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
    mutants: Sequence[Mutant],
    *,
    runner: Runner,
    jobs: int = 2,
    console: Console | None = None,
    bulk: bool = True,
    baselines: dict[str, GradeReport] | None = None,
) -> list[MutantResult]:
    """Grade every mutant, and each lab's solution as the baseline, ``jobs`` at a time.

    With ``bulk`` (and a runner that can), the mutants of one task are graded by one judge
    in runs of up to :data:`BULK_SIZE`, each still in its own pytest session with its own
    worker; the solution is always graded on its own, as a learner's submission is.
    ``baselines`` are solution grades this run already made (lab slug -> report, e.g.
    ``grader check``'s), used instead of grading the solution again.
    """
    if jobs < 1:
        raise GraderError(f"-j must be at least 1 (got {jobs}).")
    stale_why = {m.label: why for m in mutants if (why := stale(m)) is not None}
    graded = [m for m in mutants if m.label not in stale_why]
    labs = {m.lab.slug: (m.lab, m.solution) for m in graded}
    solutions: dict[str, GradeReport | GraderError] = {
        slug: report for slug, report in (baselines or {}).items() if slug in labs
    }
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
        bar = progress.add_task("grading mutants", total=len(labs) + len(graded))
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mutant")
        try:
            pending: dict[Future[list[GradeReport | GraderError]], list[str]] = {}
            for slug, (lab, solution) in labs.items():
                if slug in solutions:
                    progress.advance(bar)
                    continue
                job = pool.submit(_grade_solution, lab, solution, runner)
                pending[job] = [slug]
            size = BULK_SIZE if bulk and hasattr(runner, "run_bulk") else 1
            for batch in _batches(graded, size):
                job = pool.submit(_grade_bulk, batch, runner)
                pending[job] = [m.label for m in batch]
            for future in as_completed(pending):
                keys = pending[future]
                into = solutions if keys[0] in labs else reports
                try:
                    answers = future.result()
                except GraderError as exc:  # one ungradable batch must not stop the others
                    answers = [exc] * len(keys)
                for key, answer in zip(keys, answers, strict=True):
                    into[key] = answer
                progress.advance(bar, len(keys))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    results = []
    for mutant in mutants:
        if mutant.label in stale_why:
            results.append(MutantResult(mutant, Verdict.STALE, stale_why[mutant.label], 0.0))
            continue
        report, baseline = reports[mutant.label], solutions[mutant.lab.slug]
        if isinstance(baseline, GraderError):
            why = f"the solution could not be graded: {baseline}"
            results.append(MutantResult(mutant, Verdict.ERROR, why, 0.0))
        elif isinstance(report, GraderError):
            results.append(MutantResult(mutant, Verdict.ERROR, str(report), 0.0))
        else:
            results.append(_verdict(mutant, report, baseline))
    return results


def _grade_solution(lab: Lab, solution: Path, runner: Runner) -> list[GradeReport | GraderError]:
    """The baseline: the solution's own full grade, in a run of its own."""
    return [grade_lab(lab, submission=solution, runner=runner)]


def kill_rates(results: Iterable[MutantResult]) -> dict[str, KillRate]:
    """Killed out of graded-or-not mutants, per lab: an ungradable mutant is no kill."""
    counts: dict[str, tuple[int, int]] = {}
    for r in results:
        killed, total = counts.get(r.mutant.lab.slug, (0, 0))
        counts[r.mutant.lab.slug] = (killed + (r.verdict is Verdict.KILLED), total + 1)
    return {slug: KillRate(slug, k, n) for slug, (k, n) in sorted(counts.items())}


def exit_code(results: Sequence[MutantResult]) -> int:
    """2 when some mutant could not be graded, 1 when some survived or is stale, else 0."""
    if any(r.verdict is Verdict.ERROR for r in results):
        return 2
    return 1 if any(r.verdict in (Verdict.SURVIVED, Verdict.STALE) for r in results) else 0


def print_results(results: Sequence[MutantResult], out: Console) -> None:
    table = Table(title="mutants", title_justify="left")
    for column in ("lab", "mutant", "task", "verdict", "killed by / mistake"):
        table.add_column(column)
    marks = {
        Verdict.KILLED: "[green]killed[/]",
        Verdict.SURVIVED: "[bold red]SURVIVED[/]",
        Verdict.ERROR: "[yellow]not graded[/]",
        Verdict.STALE: "[bold red]STALE[/]",
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
    stale_ones = [r for r in results if r.verdict is Verdict.STALE]
    if stale_ones:
        out.print(
            f"[bold red]{len(stale_ones)} mutant(s) are stale[/]: their patch no longer "
            "applies to the solution. Lay each out with 'python -m grader mutant edit', "
            "make its mistake again, and save it:"
        )
        for r in stale_ones:
            out.print(f"  {r.mutant.label}: {r.detail}", markup=False)
    ungraded = [r for r in results if r.verdict is Verdict.ERROR]
    if ungraded:
        out.print(f"[yellow]{len(ungraded)} mutant(s) could not be graded[/]:")
        for r in ungraded:
            out.print(f"  {r.mutant.label}: {r.detail}", markup=False)
