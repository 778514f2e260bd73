"""``python -m grader``: a thin command line over :mod:`grader.api`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from grader import api, report
from grader.errors import GraderError, ManifestError
from grader.hints import next_hints
from grader.lab import find_lab, labs_dir, list_labs, load_lab, repo_root
from grader.runners import select_runner
from grader.runners.base import RUNNER_NAMES, docker_problem

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
    grade.add_argument("slug", help="the lab, e.g. networking")
    grade.add_argument(
        "--submission",
        type=Path,
        metavar="DIR",
        help="a folder laid out like labs/<slug>/, or a clone containing it",
    )
    _runner_option(grade)
    grade.add_argument(
        "--hidden-tests", type=Path, metavar="DIR", help="instructor-only tests added to the suite"
    )
    for fmt in ("json", "junit", "gradescope", "markdown"):
        grade.add_argument(f"--{fmt}", type=Path, metavar="PATH", help=f"write a {fmt} report")
    grade.add_argument("--show-output", action="store_true", help="print pytest's output")

    hint = verbs.add_parser("hint", help="a hint for a task; ask again for a bigger one")
    hint.add_argument("slug")
    hint.add_argument("task", nargs="?", help="the task number (default: every task)")

    image = verbs.add_parser("image", help="build the lab images now (they are cached)")
    image.add_argument("slugs", nargs="*", metavar="SLUG", help="labs (default all)")
    image.add_argument(
        "--compose",
        action="store_true",
        help="build one image with every lab's packages for docker-compose",
    )

    check = verbs.add_parser("check", help="every task fails on its starter, passes solved")
    check.add_argument("slugs", nargs="*", metavar="SLUG", help="labs to check (default all)")
    _runner_option(check)
    return parser


def _runner_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runner",
        choices=RUNNER_NAMES,
        default=os.environ.get("MLSKILLS_RUNNER", "auto"),
        help="docker (sandboxed), local (no isolation), or auto (default)",
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
        handler = {"list": _list, "grade": _grade, "hint": _hint, "check": _check, "image": _image}[
            args.verb
        ]
        return handler(args, out)
    except GraderError as exc:
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


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


def _grade(args: argparse.Namespace, out: Console) -> int:
    result = api.grade(
        slug=args.slug,
        submission=args.submission,
        runner=args.runner,
        hidden_tests=args.hidden_tests,
    )
    report.print_report(result, out, show_output=args.show_output)
    report.write_reports(
        result,
        json_path=args.json,
        junit_path=args.junit,
        gradescope_path=args.gradescope,
        markdown_path=args.markdown,
    )
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


def _check(args: argparse.Namespace, out: Console) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
