"""``python -m grader``: a thin command line over :mod:`grader.api`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader import (
    api,
    batch,
    classroom50,
    gradescope,
    install,
    mutants,
    report,
    roster,
    similarity,
)
from grader.errors import GraderError, ManifestError
from grader.hints import next_hints
from grader.lab import Lab, find_lab, labs_dir, list_labs, load_lab, repo_root
from grader.progress import (
    DONE,
    NOT_STARTED,
    NOT_YET,
    load_progress,
    progress_notes,
    record_grade,
    task_changes,
)
from grader.reset import apply_reset, explain_working_copy, plan_reset
from grader.results import Status, as_number
from grader.runners import select_runner
from grader.runners.select import RUNNER_NAMES, docker_problem
from grader.watch import watch_lab

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="Grade the ML Engineering Skills Lab labs. Exit codes: 0 every task "
        "passed, 1 some task failed, 2 could not grade.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    verbs.add_parser("list", help="the labs and their tasks")

    grade = verbs.add_parser("grade", help="grade a lab (your working copy by default)")
    grade.add_argument("slug", nargs="?", help="the lab, e.g. networking")
    grade.add_argument(
        "--submission",
        type=Path,
        metavar="DIR",
        help="a folder laid out like labs/<slug>/, or a clone containing it",
    )
    _runner_option(grade)
    grade.add_argument(
        "--task",
        action="append",
        default=[],
        metavar="N",
        help="run and report only this task's tests (repeat for more): a faster loop",
    )
    grade.add_argument(
        "--hidden-tests", type=Path, metavar="DIR", help="instructor-only tests added to the suite"
    )
    for fmt in ("json", "junit", "gradescope", "markdown"):
        grade.add_argument(f"--{fmt}", type=Path, metavar="PATH", help=f"write a {fmt} report")
    grade.add_argument(
        "--classroom50",
        type=Path,
        metavar="PATH",
        help="write Classroom 50's result.json (classroom50/result/v1)",
    )
    grade.add_argument("--show-output", action="store_true", help="print pytest's output")

    hint = verbs.add_parser("hint", help="a hint for a task; ask again for a bigger one")
    hint.add_argument("slug", nargs="?")
    hint.add_argument("task", nargs="?", help="the task number (default: every task)")

    image = verbs.add_parser("image", help="build the lab images now (they are cached)")
    image.add_argument("slugs", nargs="*", metavar="SLUG", help="labs (default all)")
    image.add_argument(
        "--compose",
        action="store_true",
        help="build one image with every lab's packages for docker-compose",
    )

    watch = verbs.add_parser("watch", help="re-grade each time you save a file of the lab")
    watch.add_argument("slug", nargs="?")
    _runner_option(watch, default="local")
    watch.add_argument(
        "--poll",
        action="store_true",
        help="poll for changes (for file systems without change events)",
    )

    verbs.add_parser("progress", help="how far you are: every lab and task")

    reset = verbs.add_parser("reset", help="put your files back to the starter (backs up)")
    reset.add_argument("slug")
    reset.add_argument("file", nargs="?", help="one file (default: all your files of the lab)")
    reset.add_argument("--ref", default="HEAD", help="git commit holding the starter")
    reset.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    check = verbs.add_parser("check", help="every task fails on its starter, passes solved")
    check.add_argument("slugs", nargs="*", metavar="SLUG", help="labs to check (default all)")
    _runner_option(check)
    check.add_argument(
        "--mutants",
        action="store_true",
        help="instead, grade each plausible wrong solution in mutants/<slug>/: every one "
        "must fail its task (default: every lab with a mutants folder)",
    )
    check.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=2,
        metavar="N",
        help="with --mutants: mutants graded at once (default 2)",
    )

    mutant = verbs.add_parser(
        "mutant", help="authors: lay out a mutant to edit, and save the edit as its patch"
    )
    steps = mutant.add_subparsers(dest="step", required=True, metavar="STEP")
    edit = steps.add_parser(
        "edit", help="copy the solution (with the mutant's patch, if it exists) into DIR"
    )
    edit.add_argument("name", metavar="SLUG/NAME", help="e.g. networking/retries-a-400")
    edit.add_argument("dir", type=Path, metavar="DIR", help="a new or empty folder")
    save = steps.add_parser(
        "save", help="write mutants/SLUG/NAME/mutant.diff from DIR (an edited copy)"
    )
    save.add_argument("name", metavar="SLUG/NAME")
    save.add_argument("dir", type=Path, metavar="DIR")
    save.add_argument("--task", help="the task it must fail (kept from mutant.toml if unset)")
    save.add_argument("--mistake", help="one sentence (kept from mutant.toml if unset)")

    cohort = verbs.add_parser(
        "batch",
        help="grade a cohort: one folder per learner; writes gradebook.csv, JSON reports "
        "and report.html",
    )
    cohort.add_argument("slug")
    cohort.add_argument(
        "submissions",
        type=Path,
        nargs="?",
        metavar="SUBMISSIONS-DIR",
        help="one folder per learner (or give --roster instead)",
    )
    cohort.add_argument(
        "--roster",
        type=Path,
        metavar="CSV",
        help="learners' git repositories: a CSV with the header learner,repo[,ref]",
    )
    cohort.add_argument(
        "--deadline",
        metavar="ISO-8601",
        help="with --roster: grade the last commit at or before it (e.g. 2026-01-10T00:00:00Z)",
    )
    cohort.add_argument(
        "--late",
        default="none",
        metavar="POLICY",
        help="with --deadline: none (default: later commits are not graded), per-day=P "
        "(grade the newest commit, P%% off per day late), cap=C (late work earns at most "
        "C%% of the points), or per-day=P,cap=C",
    )
    cohort.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=min(4, os.cpu_count() or 1),
        metavar="N",
        help="submissions graded at once (default: CPUs, at most 4)",
    )
    cohort.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: .grades/<slug>)"
    )
    cohort.add_argument(
        "--force", action="store_true", help="grade again learners who already have a report"
    )
    cohort.add_argument(
        "--hidden-tests", type=Path, metavar="DIR", help="instructor-only tests added to the suite"
    )
    cohort.add_argument(
        "--trust-submissions",
        action="store_true",
        help="allow the local runner, which has no sandbox between learners: only for "
        "submissions you trust (your own test folders)",
    )
    _runner_option(cohort)

    alike = verbs.add_parser(
        "similarity",
        help="flag pairs of submissions that are suspiciously alike (the starter is base "
        "code) and show what they share",
    )
    alike.add_argument("slug")
    alike.add_argument("submissions", type=Path, metavar="SUBMISSIONS-DIR")
    alike.add_argument(
        "--threshold",
        type=float,
        default=similarity.DEFAULT_THRESHOLD,
        metavar="F",
        help="flag a pair when this share of either one's own code is in the other "
        f"(default {similarity.DEFAULT_THRESHOLD})",
    )
    alike.add_argument(
        "--min-shared",
        type=int,
        default=similarity.DEFAULT_MIN_SHARED,
        metavar="N",
        help="and they share at least N normalised characters "
        f"(default {similarity.DEFAULT_MIN_SHARED})",
    )
    alike.add_argument("--json", type=Path, metavar="PATH", help="write the pairs as JSON")

    c50 = verbs.add_parser(
        "export-classroom50",
        help="write a Classroom 50 autograder that grades with the course's pinned tests",
    )
    c50.add_argument("slug")
    c50.add_argument("--course-repo", required=True, help="the course repository's address")
    c50.add_argument("--ref", required=True, help="the course commit whose tests grade (40 hex)")
    c50.add_argument(
        "--out", type=Path, metavar="DIR", help="the bundle folder (default: autograders/<slug>)"
    )

    export = verbs.add_parser("export-gradescope", help="write a Gradescope autograder zip")
    export.add_argument("slug")
    export.add_argument(
        "--out", type=Path, metavar="PATH", help="the zip (default: gradescope-<slug>.zip)"
    )
    export.add_argument(
        "--hidden-tests", type=Path, metavar="DIR", help="instructor-only tests to include"
    )
    return parser


def _runner_option(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    parser.add_argument(
        "--runner",
        choices=RUNNER_NAMES,
        default=os.environ.get("MLSKILLS_RUNNER", default),
        help=f"docker (sandboxed), local (no isolation), or auto (default: {default})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        handler = {
            "list": _list,
            "grade": _grade,
            "hint": _hint,
            "check": _check,
            "mutant": _mutant,
            "image": _image,
            "watch": _watch,
            "progress": _progress,
            "reset": _reset,
            "batch": _batch,
            "similarity": _similarity,
            "export-gradescope": _export_gradescope,
            "export-classroom50": _export_classroom50,
        }[args.verb]
        if args.verb in ("grade", "hint", "watch") and not args.slug:
            return _which_lab(args.verb, out)
        return handler(args, out)
    except GraderError as exc:
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


def _which_lab(verb: str, out: Console) -> int:
    """``make grade`` with no lab: the labs in course order, and how to pick one."""
    out.print(f"Which lab? {verb.capitalize()} needs one; the labs, in course order:")
    for folder in list_labs():
        try:
            lab = load_lab(folder)
        except ManifestError:
            out.print(f"  {folder.name}  (broken manifest)", markup=False)
            continue
        out.print(f"  [bold]{lab.slug:<18}[/] {lab.title}")
    first = list_labs()[0].name if list_labs() else "networking"
    out.print(f"Pick one:  make {verb} lab={first}   (or: ./mlskills {verb} {first})")
    return 2


def _list(args: argparse.Namespace, out: Console) -> int:
    folders = list_labs()
    if not folders:
        out.print(f"No labs found under {labs_dir()}.")
        return 0
    broken = 0
    for folder in folders:
        try:
            lab = load_lab(folder)
        except ManifestError as exc:
            broken += 1
            out.print(f"[red]{folder.name}[/]  (broken manifest: {exc})")
            continue
        out.print(f"[bold]{lab.slug}[/]  {lab.title} — {lab.max_score} points")
        out.print(f"  {lab.blurb}", style="dim")
        for task in lab.tasks:
            out.print(f"  {task.id}. {task.title} ({task.points})")
    return 2 if broken else 0


def _note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _grade(args: argparse.Namespace, out: Console) -> int:
    # A local grade runs in the lab's own environment when make or ./mlskills asks for it.
    install.regrade_there_if_local(args.slug, args.runner, sys.argv[1:], announce=_note)
    outputs = {
        "json_path": args.json,
        "junit_path": args.junit,
        "gradescope_path": args.gradescope,
        "markdown_path": args.markdown,
    }
    try:
        result = api.grade(
            slug=args.slug,
            submission=args.submission,
            runner=args.runner,
            hidden_tests=args.hidden_tests,
            tasks=tuple(args.task),
        )
    except GraderError as exc:
        # CI and Gradescope read the reports, not stderr: a refusal writes them too.
        lab: Lab | str
        try:
            lab = find_lab(args.slug)
        except GraderError:
            lab = args.slug
        named = [p for p in (args.submission, args.hidden_tests) if p is not None]
        refusal = report.ungraded_report(lab, str(exc), runner=args.runner, paths=named)
        report.write_reports(refusal, **outputs)
        if args.classroom50 is not None:
            classroom50.write_result(refusal, args.classroom50)
        # The message may name a learner's file: no markup, no escape sequences.
        Console(stderr=True, highlight=False).print(
            Text.assemble(("error:", "bold red"), " ", report.clean_text(str(exc))),
            soft_wrap=True,
        )
        return refusal.exit_code
    if args.submission is None:
        result = explain_working_copy(find_lab(args.slug), result)
    report.print_report(result, out, show_output=args.show_output)
    if args.submission is None and args.hidden_tests is None:
        record_grade(result, repo_root(), tasks=tuple(args.task))  # progress: whole grades
    report.write_reports(result, **outputs)
    if args.classroom50 is not None:
        classroom50.write_result(result, args.classroom50)
    return result.exit_code


def _hint(args: argparse.Namespace, out: Console) -> int:
    lab = find_lab(args.slug)
    if args.task is None:
        for task in lab.tasks:
            out.print(f"[bold]{task.id}. {task.title}[/]: {task.hint}")
        out.print(
            f"Ask for one task (e.g. 'hint {lab.slug} 1') to get more detail each time.",
            style="dim",
        )
        return 0
    chosen = lab.task(args.task)
    if chosen is None:
        ids = ", ".join(t.id for t in lab.tasks)
        raise GraderError(f"Lab '{lab.slug}' has no task '{args.task}'; its tasks are {ids}.")
    task = chosen
    levels = next_hints(lab, task, repo_root())
    out.print(f"[bold]{task.id}. {task.title}[/]")
    for number, text in enumerate(levels, start=1):
        out.print(f"  hint {number}/{len(task.hint_levels)}: {text}")
    if len(levels) < len(task.hint_levels):
        out.print("  Run the same command again for a more specific hint.", style="dim")
    return 0


def _image(args: argparse.Namespace, out: Console) -> int:
    labs = [find_lab(slug) for slug in args.slugs] or [load_lab(p) for p in list_labs()]
    if problem := docker_problem():
        raise GraderError(f"{problem} Start Docker to build lab images.")
    from grader.runners.docker import build_images

    for tag in build_images(labs, compose=args.compose):
        out.print(f"image ready: {tag}")
    return 0


def _watch(args: argparse.Namespace, out: Console) -> int:
    install.regrade_there_if_local(args.slug, args.runner, sys.argv[1:], announce=_note)
    lab = find_lab(args.slug)
    runner = select_runner(args.runner)
    last = explain_working_copy(lab, api.grade_lab(lab, submission=None, runner=runner))
    report.print_report(last, out)
    record_grade(last, repo_root())
    out.print(f"Watching {lab.root} — save a file to re-grade; Ctrl-C to stop.", style="dim")

    def regrade(files: list[str]) -> None:
        nonlocal last
        out.rule(", ".join(Path(f).name for f in files) + " changed")
        now = explain_working_copy(lab, api.grade_lab(lab, submission=None, runner=runner))
        record_grade(now, repo_root())
        changes = task_changes(last, now)
        for line in changes:
            out.print(line)
        if not changes:
            out.print("No task changed status.")
        failing = [t for t in now.tasks if t.status is not Status.PASS]
        if failing:
            out.print(f"next: task {failing[0].id}: {report.first_line(failing[0].first_failure)}")
        out.print(f"score {as_number(now.score)}/{now.max_score}", style="bold")
        last = now

    watch_lab(lab, regrade, poll=args.poll)
    out.print("Stopped watching.", style="dim")
    return last.exit_code


def _progress(args: argparse.Namespace, out: Console) -> int:
    labs: list[Lab] = []
    broken: list[str] = []
    for path in list_labs():
        try:
            labs.append(load_lab(path))
        except ManifestError as exc:  # one broken lab must not hide the others
            broken.append(str(exc))
    rows = load_progress(labs, repo_root())
    width = max((len(lab.tasks) for lab in labs), default=0)
    table = Table(title="Your progress", title_justify="left")
    table.add_column("lab")
    for number in range(1, width + 1):
        table.add_column(str(number), justify="center")
    table.add_column("points", justify="right")
    marks = {DONE: "[green]✔[/]", NOT_YET: "[red]✘[/]", NOT_STARTED: "[dim]·[/]"}
    for row in rows:
        cells = [marks[row.states[t.id]] for t in row.lab.tasks]
        cells += [""] * (width - len(cells))
        table.add_row(row.lab.slug, *cells, f"{as_number(row.score)}/{row.max_score}")
    out.print(table)
    total = sum(r.score for r in rows)
    out.print(
        f"✔ done  ✘ not yet  · not started — course total "
        f"{as_number(total)}/{sum(r.max_score for r in rows)} points"
    )
    for note in progress_notes(rows):
        out.print(Text(note, style="yellow"))
    for problem in broken:
        out.print(Text(f"not shown: {problem}", style="red"))
    return 2 if broken else 0


def _reset(args: argparse.Namespace, out: Console) -> int:
    lab = find_lab(args.slug)
    plan = plan_reset(lab, args.file, args.ref)
    if not plan.files:
        out.print(f"Nothing to reset: your files in {lab.slug} match the starter.")
        return 0
    out.print(f"These files of {lab.slug} will go back to the starter:")
    for rel in plan.files:
        out.print(f"  labs/{lab.slug}/{rel}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise GraderError("reset needs confirmation; run it in a terminal or pass --yes.")
        if input("Reset them? A backup is kept. [y/N] ").strip().lower() not in ("y", "yes"):
            out.print("Nothing changed.")
            return 0
    backup = apply_reset(plan)
    out.print(f"Reset {len(plan.files)} file(s); your versions are in {backup}.")
    return 0


def _mutant(args: argparse.Namespace, out: Console) -> int:
    slug, _, name = str(args.name).partition("/")
    if not name:
        raise GraderError(
            f"Name the mutant as SLUG/NAME, e.g. networking/retries-a-400 (got '{slug}')."
        )
    lab = find_lab(slug)
    folder = repo_root() / mutants.MUTANTS_DIR / lab.slug / name
    dest: Path = args.dir
    if args.step == "edit":
        if dest.exists() and any(dest.iterdir()):
            raise GraderError(f"{dest} is not empty; give a new or empty folder.")
        if (folder / mutants.PATCH).is_file():
            mutant = mutants.load_mutant(lab, folder, repo_root() / "solutions" / lab.slug)
            mutants.overlay(mutant, dest)
            out.print(f"{dest}: the solution with {lab.slug}/{name}'s mistake in it.")
        else:
            mutants.copy_solution(lab, dest)
            out.print(f"{dest}: a copy of solutions/{lab.slug}; make one mistake in it.")
        out.print(f"Then: python -m grader mutant save {lab.slug}/{name} {dest}")
        return 0
    task, mistake = args.task, args.mistake
    if task is None or mistake is None:
        if not (folder / mutants.MANIFEST).is_file():
            raise GraderError(
                f"{lab.slug}/{name} is new: say which task it must fail and its mistake "
                '(--task N --mistake "…").'
            )
        known = mutants.load_mutant(lab, folder, repo_root() / "solutions" / lab.slug)
        task, mistake = task or known.task, mistake or known.mistake
    written = mutants.write_mutant(lab, name, dest, task=str(task), mistake=mistake)
    out.print(f"Wrote {written / mutants.PATCH} and {written / mutants.MANIFEST}.")
    out.print(f"Check it: python -m grader check --mutants {lab.slug}")
    return 0


def _check(args: argparse.Namespace, out: Console) -> int:
    if args.mutants:
        found = mutants.find_mutants(args.slugs)
        results = mutants.check_mutants(
            found,
            runner=select_runner(args.runner),
            jobs=args.jobs,
            console=Console(stderr=True, highlight=False),
        )
        mutants.print_results(results, out)
        return mutants.exit_code(results)
    labs = [find_lab(slug) for slug in args.slugs] or [load_lab(p) for p in list_labs()]
    runner = select_runner(args.runner)
    failed = 0
    for lab in labs:
        result = api.check_lab(lab, runner=runner)
        solved = result.solution
        timing = f"starter {result.starter.duration_s:.1f} s"
        if solved is not None:
            timing += f", solution {solved.duration_s:.1f} s"
        if result.ok:
            out.print(
                f"[green]✔[/] {lab.slug}: {len(lab.tasks)} tasks fail on the starter "
                f"and pass on the solution ({runner.name} runner; {timing})"
            )
            continue
        failed += 1
        out.print(f"[red]✘[/] {lab.slug} ({runner.name} runner; {timing})")
        for problem in result.problems:
            out.print(f"    - {problem}", markup=False)
    return 1 if failed else 0


def _batch(args: argparse.Namespace, out: Console) -> int:
    lab = find_lab(args.slug)
    out_dir = args.out or Path(".grades") / lab.slug
    if (args.submissions is None) == (args.roster is None):
        raise GraderError(
            "Give either a submissions folder (one folder per learner) or --roster "
            "roster.csv (one git repository per learner), not both and not neither."
        )
    if args.roster is None and (args.deadline or args.late != "none"):
        raise GraderError(
            "--deadline and --late need --roster: commits have times, folders do not."
        )
    late = roster.LatePolicy.parse(args.late)
    deadline = roster.parse_deadline(args.deadline) if args.deadline else None
    if late.grades_late_work and deadline is None:
        raise GraderError(f"--late {args.late} needs a --deadline to be late for.")
    runner = select_runner(args.runner)
    if runner.name == "local" and not args.trust_submissions:
        raise GraderError(
            "A cohort is not graded with the local runner: it runs every learner's code on "
            "this machine with no sandbox between learners, so one learner's leftover "
            "process can change another's grade. Grade it with --runner docker (a container "
            "per learner; README, 'Running the Docker engine'), or on Gradescope or Classroom "
            "50, where each submission has a machine of its own. Only for submissions you "
            "trust (your own test folders), add --trust-submissions."
        )
    err = Console(stderr=True, highlight=False)
    checkouts = None
    policy = ""
    if args.roster is not None:
        entries = roster.load_roster(args.roster)
        policy = f"deadline={deadline.isoformat() if deadline else ''} late={late}"
        err.print(f"Fetching {len(entries)} repositories into {out_dir / 'repos'} …", markup=False)
        checkouts = roster.checkout_all(
            lab, entries, out_dir, deadline=deadline, late=late, jobs=args.jobs
        )
        for c in checkouts:
            if c.error:
                err.print(Text(f"  {c.learner}: {report.clean_text(c.error)}"), soft_wrap=True)
        if deadline is not None:
            err.print(f"Deadline {deadline.isoformat()}: {late.describe()}.", markup=False)
    rows = batch.grade_cohort(
        lab=lab,
        submissions_dir=args.submissions,
        out_dir=out_dir,
        runner=runner,
        jobs=args.jobs,
        force=args.force,
        hidden_tests=args.hidden_tests,
        console=err,
        checkouts=checkouts,
        late=late,
        policy=policy,
    )
    counts = ", ".join(f"{sum(r.status is s for r in rows)} {s}" for s in Status)
    fresh = sum(r.fresh for r in rows)
    out.print(
        f"{len(rows)} submissions ({fresh} graded now, {len(rows) - fresh} from earlier "
        f"reports): {counts}.",
        soft_wrap=True,
    )
    for row in rows:
        if row.status is Status.ERROR:
            line = f"  {report.clean_text(row.learner)}: {report.clean_text(row.message)}"
            out.print(Text(line), soft_wrap=True)
    out.print(
        f"gradebook {out_dir / batch.GRADEBOOK}, cohort report {out_dir / batch.REPORT_HTML}",
        markup=False,
        soft_wrap=True,
    )
    return 1 if any(r.status is Status.ERROR for r in rows) else 0


def _similarity(args: argparse.Namespace, out: Console) -> int:
    lab = find_lab(args.slug)
    err = Console(stderr=True, highlight=False)
    result = similarity.compare_submissions(
        lab,
        batch.find_learners(args.submissions),
        threshold=args.threshold,
        min_shared=args.min_shared,
        announce=lambda line: err.print(line, markup=False),
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.as_json(), indent=2, ensure_ascii=False) + "\n")
    clean = report.clean_text
    out.print(Text(f"{len(result.compared)} submissions compared; {result.method}."))
    for name, reason in result.skipped:
        out.print(Text(f"  not compared: {clean(name)}: {clean(reason)}", style="yellow"))
    flagged = result.flagged
    if not flagged:
        closest = result.pairs[0] if result.pairs else None
        tail = (
            f" The closest pair, {clean(closest.left)} and {clean(closest.right)}, shares "
            f"{closest.score:.0%}."
            if closest is not None
            else ""
        )
        out.print(Text(f"No pair reaches {result.threshold:.0%}.{tail}"), soft_wrap=True)
        return 0
    noun = "pair" if len(flagged) == 1 else "pairs"
    table = Table(title=f"{len(flagged)} {noun} flagged", title_justify="left")
    for column in ("learner", "learner", "of the first's code", "of the second's code"):
        table.add_column(column, justify="right" if "code" in column else "left")
    for pair in flagged:
        table.add_row(
            Text(clean(pair.left)),
            Text(clean(pair.right)),
            f"{pair.left_share:.0%}",
            f"{pair.right_share:.0%}",
        )
    out.print(table)
    for pair in flagged:
        out.rule(Text(f"{clean(pair.left)} and {clean(pair.right)}: shared passages"))
        for mine, theirs in pair.passages:
            where = f"{clean(pair.left)} {clean(mine.file)}:{mine.first}-{mine.last}"
            if theirs is not None:
                where += (
                    f"  ~  {clean(pair.right)} {clean(theirs.file)}:{theirs.first}-{theirs.last}"
                )
            out.print(Text(where, style="bold"))
            out.print(Text(clean(mine.text)), soft_wrap=True)
    return 1


def _export_classroom50(args: argparse.Namespace, out: Console) -> int:
    lab = find_lab(args.slug)
    dest = args.out or Path("autograders") / lab.slug
    script = classroom50.export_bundle(lab, dest, course_repo=args.course_repo, ref=args.ref)
    out.print(f"Wrote {script}.", markup=False)
    out.print(
        f"Put the folder in your classroom50 repository as CLASSROOM/autograders/{lab.slug}/ "
        "(the assignment's slug): each submission is then graded with this course's tests "
        f"at {args.ref[:12]}.",
        markup=False,
    )
    return 0


def _export_gradescope(args: argparse.Namespace, out: Console) -> int:
    lab = find_lab(args.slug)
    dest = args.out or Path(f"gradescope-{lab.slug}.zip")
    gradescope.write_autograder_zip(lab, dest, hidden_tests=args.hidden_tests)
    out.print(
        f"wrote {dest}: upload it as the autograder of a Gradescope programming assignment.",
        markup=False,
        soft_wrap=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
