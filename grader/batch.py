"""Grade a whole cohort: ``python -m grader batch <slug> <submissions-dir>``.

Each child folder of the submissions folder is one learner, named after the folder; it
may be laid out like ``labs/<slug>/`` or be a whole clone. A learner folder that is a
symlink is refused, since it could be another learner's. Submissions are graded in
parallel (each grade is its own container or subprocess), and one that cannot be graded
becomes an ``error`` row instead of stopping the batch. The output folder holds::

    reports/<learner>.json   one report per learner (the schema of GradeReport.as_json)
    gradebook.csv            learner, one column per task, score, max_score, status, …
    report.html              the cohort report (grader.cohort)
    similarity.json          pairs of submissions that are suspiciously alike
                             (grader.similarity; needs the ``cohort`` extra)

A submission that could not be graded (status ``error``) has blank task and score cells
in the gradebook, not 0: imported into an LMS, a 0 is a real grade.

The gradebook and report are rebuilt from every JSON report, so a batch is resumable,
and grades follow a fix: each report records a fingerprint of what it graded (the
learner's submission files, and the lab's tests, data, manifest, hidden tests and the
grader's own code), and a learner is graded again exactly when one of those changed since
their report, or their report is an ``error`` (the grader could not grade it). ``force``
grades everyone again.

With a roster (:mod:`grader.roster`), each learner's submission is taken from their git
repository, and the report and gradebook record the commit graded, its time, the days
late and the late penalty.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from grader import __version__
from grader.api import grade_lab
from grader.cohort import LearnerResult, RunDetails, render_html
from grader.errors import GraderError, SubmissionError
from grader.lab import Lab, repo_root
from grader.report import clean_report, clean_text, ungraded_report
from grader.results import Status, as_number
from grader.roster import Checkout, LatePolicy
from grader.runners import Runner
from grader.similarity import SimilarityReport, compare_submissions
from grader.workspace import resolve_submission, submission_files

__all__ = [
    "GRADEBOOK",
    "REPORTS_DIR",
    "REPORT_HTML",
    "SIMILARITY_JSON",
    "find_learners",
    "grade_cohort",
    "gradebook_csv",
    "grader_version",
    "lab_fingerprint",
    "submission_fingerprint",
]

log = logging.getLogger(__name__)

GRADEBOOK = "gradebook.csv"
REPORT_HTML = "report.html"
REPORTS_DIR = "reports"
SIMILARITY_JSON = "similarity.json"
# A cell a spreadsheet would evaluate: a formula sign, even behind blanks or invisible
# characters (zero-width spaces and joiners, direction marks, word joiner, BOM).
_FORMULA = re.compile(r"[\s\u200b-\u200f\u2060\ufeff]*[=+\-@]")
_SYMLINKED_LEARNER = (
    "This learner's folder is a symlink, so it could be another learner's work; "
    "put the submission itself in the folder."
)


def find_learners(submissions_dir: Path, *, out_dir: Path | None = None) -> list[tuple[str, Path]]:
    """(learner, folder) for each child folder, sorted by name; dot-folders are skipped."""
    if not submissions_dir.exists():
        raise SubmissionError(f"The submissions folder {submissions_dir} does not exist.")
    if not submissions_dir.is_dir():
        raise SubmissionError(
            f"{submissions_dir} is a file; pass a folder with one folder per learner."
        )
    skip = out_dir.resolve() if out_dir is not None else None
    learners = [
        (child.name, child)
        for child in sorted(submissions_dir.iterdir(), key=lambda p: p.name)
        if child.is_dir() and not child.name.startswith(".") and child.resolve() != skip
    ]
    if not learners:
        raise SubmissionError(
            f"The submissions folder {submissions_dir} has no learner folders in it; "
            "put each learner's submission in a folder named after them."
        )
    return learners


def _prepare_out(out_dir: Path) -> Path:
    reports = out_dir / REPORTS_DIR
    try:
        reports.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise GraderError(
            f"Cannot write to the output folder {out_dir} ({exc.strerror or exc}); "
            "pass --out with a folder you can write to."
        ) from None
    return reports


def _write_atomically(path: Path, text: str) -> None:
    """A reader (or a resumed batch after Ctrl-C) never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _read_reports(reports: Path, lab: Lab) -> dict[str, dict[str, Any]]:
    """learner → report data, for every readable report; refuses another lab's folder."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(reports.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            Status(data["status"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring the unreadable report %s; it will be graded again", path)
            continue
        if data.get("lab") != lab.slug:
            raise GraderError(
                f"{path} is a report for lab '{data.get('lab')}', not '{lab.slug}'; "
                "pass --out with a folder for this lab."
            )
        found[path.stem] = data
    return found


def _hash_files(h: Any, root: Path, files: list[Path]) -> None:
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")


def lab_fingerprint(lab: Lab, hidden_tests: Path | None, policy: str = "") -> str:
    """What a grade depends on besides the submission: the lab's tests, data and manifest,
    the hidden tests, the grader's own code, and the deadline and late policy."""
    h = hashlib.sha256(policy.encode() + b"\0")
    skip = {"__pycache__", ".pytest_cache"}

    def tree(root: Path) -> list[Path]:
        if not root.is_dir():
            return []
        found = (p for p in root.rglob("*") if p.is_file() and not skip & set(p.parts))
        return sorted(found)

    _hash_files(h, lab.root, [lab.root / "lab.toml", *tree(lab.root / "tests")])
    _hash_files(h, lab.root, tree(lab.root / "data"))
    if hidden_tests is not None:
        _hash_files(h, hidden_tests, tree(hidden_tests))
    grader_root = Path(__file__).resolve().parent
    _hash_files(h, grader_root, [p for p in tree(grader_root) if p.suffix == ".py"])
    return h.hexdigest()


def submission_fingerprint(lab: Lab, folder: Path) -> str | None:
    """A hash of the learner's submission files, or None when they cannot be read."""
    try:
        tree = resolve_submission(lab, folder)
        files = submission_files(lab, tree)
        h = hashlib.sha256()
        _hash_files(h, tree, [files[rel] for rel in sorted(files)])
    except (GraderError, OSError):
        return None
    return h.hexdigest()


def _grade_one(
    lab: Lab,
    learner: str,
    folder: Path,
    runner: Runner,
    hidden_tests: Path | None,
    out: Path,
    fingerprint: dict[str, str | None],
    source: Checkout | None = None,
) -> dict[str, Any]:
    """Grade one learner and write their report; never raises for their submission."""
    started = time.monotonic()
    paths = [folder] if hidden_tests is None else [folder, hidden_tests]
    try:
        if folder.is_symlink():
            raise SubmissionError(_SYMLINKED_LEARNER)
        if source is not None and source.error:
            raise SubmissionError(source.error)
        report = grade_lab(lab, submission=folder, runner=runner, hidden_tests=hidden_tests)
    except GraderError as exc:
        report = ungraded_report(
            lab, str(exc), runner=runner.name, duration_s=time.monotonic() - started, paths=paths
        )
    except Exception as exc:  # a crash grading one learner must not stop the others
        log.debug("grading %s crashed", learner, exc_info=True)
        reason = f"The grader crashed on this submission: {exc!r}"
        report = ungraded_report(lab, reason, runner=runner.name, paths=paths)
    data = clean_report(report).as_json()
    data["fingerprint"] = fingerprint
    if source is not None and not source.error:
        data["submission"] = source.as_json()
    _write_atomically(out / f"{learner}.json", json.dumps(data, indent=2) + "\n")
    return data


def _cell(text: str) -> str:
    text = clean_text(text)
    return "'" + text if _FORMULA.match(text) else text


def gradebook_csv(
    lab: Lab,
    rows: list[LearnerResult],
    *,
    sources: dict[str, dict[str, Any]] | None = None,
    late: LatePolicy | None = None,
) -> str:
    """One row per learner. With ``sources`` (a roster's batch: learner → the commit
    graded), the commit, its time, the days late, the late penalty and the final score."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = [
        "learner",
        *(f"{t.id}. {t.title}" for t in lab.tasks),
        "score",
        "max_score",
        "status",
        "duration_s",
        "message",
    ]
    if sources is not None:
        header += ["commit", "committed_at", "days_late", "late_penalty", "final_score"]
    writer.writerow(header)
    for row in rows:
        # Not graded is not 0: blank cells, so that an LMS import records no grade.
        cells = [row.task(t.id) if row.graded else None for t in lab.tasks]
        line = [
            _cell(row.learner),
            *("" if c is None else as_number(c.score) for c in cells),
            as_number(row.score) if row.graded else "",
            row.max_score,
            str(row.status),
            f"{row.duration_s:.2f}",
            _cell(row.message),
        ]
        if sources is not None:
            source = sources.get(row.learner) or {}
            days = int(source.get("days_late") or 0)
            penalty = (late or LatePolicy()).penalty(row.score, row.max_score, days)
            line += [
                _cell(str(source.get("commit") or "")),
                _cell(str(source.get("committed_at") or "")),
                days if source else "",
                as_number(penalty) if row.graded and source else "",
                as_number(round(row.score - penalty, 2)) if row.graded else "",
            ]
        writer.writerow(line)
    return buffer.getvalue()


def grader_version() -> str:
    """The grader's git commit (with ``+changes`` when grader/ or labs/ has uncommitted
    edits), or its package version outside a git checkout."""
    root = repo_root()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        changed = git("status", "--porcelain", "--", "grader", "labs")
    except (OSError, subprocess.SubprocessError):
        return f"mlskills-grader {__version__} (not a git checkout)"
    return f"{commit}+changes" if changed else commit


def _similarity(lab: Lab, learners: list[tuple[str, Path]]) -> SimilarityReport | str:
    """The cohort's similar pairs, or why they could not be computed (never raises)."""
    try:
        return compare_submissions(lab, learners)
    except GraderError as exc:
        return f"Not computed: {exc}"
    except Exception as exc:  # the gradebook matters more than the similarity section
        log.debug("similarity failed", exc_info=True)
        return f"Not computed: the comparison failed ({exc!r})."


def _regrade_reason(
    old: dict[str, Any] | None, fingerprint: dict[str, str | None], symlinked: bool
) -> str | None:
    """Why a learner is graded in this run, or None when their report still holds."""
    if old is None:
        return "new"
    if old["status"] == Status.ERROR or symlinked:
        return "not graded before"
    before = old.get("fingerprint") or {}
    if fingerprint["submission"] is None or before.get("submission") != fingerprint["submission"]:
        return "submission changed"
    if before.get("lab") != fingerprint["lab"]:
        return "lab changed (tests, hidden tests, grader or late policy)"
    return None


def grade_cohort(
    *,
    lab: Lab,
    submissions_dir: Path | None,
    out_dir: Path,
    runner: Runner,
    jobs: int = 1,
    force: bool = False,
    hidden_tests: Path | None = None,
    console: Console | None = None,
    checkouts: list[Checkout] | None = None,
    late: LatePolicy | None = None,
    policy: str = "",
) -> list[LearnerResult]:
    """Grade every learner's folder in ``submissions_dir`` (or, with ``checkouts``, every
    roster learner's commit); rows sorted by learner.

    A learner whose report still matches what it graded is not graded again (see the
    module's docstring). Bad input (no such folder, no learners, an output folder that
    cannot be written, a missing hidden tests folder) raises :class:`GraderError` before
    anything is graded.
    """
    if jobs < 1:
        raise GraderError(f"-j must be at least 1 (got {jobs}).")
    if hidden_tests is not None and not hidden_tests.is_dir():
        raise SubmissionError(f"The hidden tests folder {hidden_tests} does not exist.")
    console = console or Console(stderr=True)
    sources = {c.learner: c for c in checkouts or []}
    if checkouts is not None:
        learners = [(c.learner, out_dir / "submissions" / c.learner) for c in checkouts]
    elif submissions_dir is not None:
        learners = find_learners(submissions_dir, out_dir=out_dir)
    else:
        raise GraderError("Give a submissions folder or a roster.")
    reports = _prepare_out(out_dir)
    existing = _read_reports(reports, lab)
    lab_print = lab_fingerprint(lab, hidden_tests, policy)
    todo: list[tuple[str, Path, dict[str, str | None]]] = []
    why: dict[str, int] = {}
    for name, folder in learners:
        submission = submission_fingerprint(lab, folder)
        source = sources.get(name)
        if source is not None and submission is not None:
            extra = f"{submission}:{source.commit}:{source.days_late}"
            submission = hashlib.sha256(extra.encode()).hexdigest()
        fingerprint = {"lab": lab_print, "submission": submission}
        # A symlinked folder is refused again even with a report: an older grader graded it.
        reason = "forced" if force else None
        reason = reason or _regrade_reason(existing.get(name), fingerprint, folder.is_symlink())
        if reason is not None:
            todo.append((name, folder, fingerprint))
            why[reason] = why.get(reason, 0) + 1
    unchanged = len(learners) - len(todo)
    if todo or unchanged:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(why.items(), key=lambda kv: -kv[1]))
        console.print(
            f"Grading {len(todo)} of {len(learners)}"
            + (f": {reasons}" if reasons else "")
            + (f"; {unchanged} unchanged since their report" if unchanged else "")
            + ".",
            markup=False,
            highlight=False,
        )
    fresh: dict[str, dict[str, Any]] = {}
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failures]} error/timeout[/]"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )
    failures = 0
    progress.disable = not todo  # nothing to grade: no empty bar
    with progress:
        bar = progress.add_task(f"grading {lab.slug}", total=len(todo), failures=0)
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade")
        try:
            pending: dict[Future[dict[str, Any]], str] = {
                pool.submit(
                    _grade_one,
                    lab,
                    name,
                    folder,
                    runner,
                    hidden_tests,
                    reports,
                    fingerprint,
                    sources.get(name),
                ): name
                for name, folder, fingerprint in todo
            }
            for future in as_completed(pending):
                data = future.result()
                fresh[pending[future]] = data
                failures += data["status"] in (Status.ERROR, Status.TIMEOUT)
                progress.update(bar, advance=1, failures=failures)
        finally:
            # On Ctrl-C, drop the queue; the reports written so far make the batch resumable.
            pool.shutdown(wait=True, cancel_futures=True)

    merged = {**existing, **fresh}
    if checkouts is not None:  # the roster is the cohort: a learner taken off it is gone
        merged = {name: data for name, data in merged.items() if name in sources}
    rows = [
        LearnerResult.from_json(
            name, merged[name], fresh=name in fresh, graded_at=_written_at(reports, name)
        )
        for name in sorted(merged)
    ]
    book_sources = None
    if checkouts is not None:
        book_sources = {name: dict(merged[name].get("submission") or {}) for name in merged}
    _write_atomically(
        out_dir / GRADEBOOK, gradebook_csv(lab, rows, sources=book_sources, late=late)
    )
    graded_folders = [(n, f) for n, f in learners if f.is_dir()]
    similarity = _similarity(lab, graded_folders)
    if isinstance(similarity, SimilarityReport):
        text = json.dumps(similarity.as_json(), indent=2, ensure_ascii=False) + "\n"
        _write_atomically(out_dir / SIMILARITY_JSON, text)
    run = RunDetails(made_at=datetime.now(UTC), grader_version=grader_version(), runner=runner.name)
    html = render_html(lab, rows, run=run, similarity=similarity)
    _write_atomically(out_dir / REPORT_HTML, html)
    return rows


def _written_at(reports: Path, learner: str) -> datetime | None:
    try:
        return datetime.fromtimestamp((reports / f"{learner}.json").stat().st_mtime, UTC)
    except OSError:
        return None
