"""Render a :class:`GradeReport`: terminal table, JSON, JUnit XML, Gradescope, Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.results import GradeReport, Status, as_number

__all__ = [
    "first_line",
    "print_report",
    "to_gradescope",
    "to_junit",
    "to_markdown",
    "write_reports",
]

_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.ERROR: "magenta",
    Status.TIMEOUT: "yellow",
}
_MARK = {
    Status.PASS: "✔ pass",
    Status.FAIL: "✘ fail",
    Status.ERROR: "! error",
    Status.TIMEOUT: "⏱ timeout",
}


def first_line(text: str, limit: int = 160) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def print_report(
    report: GradeReport, console: Console, *, title: str = "", show_output: bool = False
) -> None:
    table = Table(title=title or f"{report.lab}", title_justify="left", expand=False)
    table.add_column("#", justify="right")
    table.add_column("task")
    table.add_column("points", justify="right")
    table.add_column("status")
    table.add_column("why not yet / hint", overflow="fold")
    for task in report.tasks:
        detail = Text()
        if task.status is not Status.PASS:
            detail.append(first_line(task.first_failure) + "\n", style="red")
            detail.append("hint: " + task.hint, style="dim")
        table.add_row(
            task.id,
            task.title,
            f"{as_number(task.score)}/{task.max_score}",
            Text(_MARK[task.status], style=_STYLE[task.status]),
            detail,
        )
    console.print(table)
    for notice in report.notices:
        console.print(f"note: {notice}", style="dim")
    if report.message:
        console.print(report.message, style=_STYLE[report.status])
    if show_output or (report.status is Status.ERROR and report.output):
        console.print(report.output[-4000:], markup=False, highlight=False, style="dim")
    console.print(
        Text.assemble(
            ("score ", "bold"),
            f"{as_number(report.score)}/{report.max_score}  ",
            (_MARK[report.status], _STYLE[report.status]),
            f"  ({report.runner} runner, {report.duration_s:.1f} s)",
        )
    )


def to_junit(report: GradeReport) -> str:
    suite = ET.Element("testsuite", name=report.lab, time=f"{report.duration_s:.2f}")
    count = failures = 0
    for task in report.tasks:
        for test in task.tests:
            count += 1
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{report.lab}.task{task.id}",
                name=test.name,
                time=f"{test.duration_s:.3f}",
            )
            if test.status is not Status.PASS:
                failures += 1
                ET.SubElement(case, "failure", message=first_line(test.message)).text = test.message
        if not task.tests and task.status is not Status.PASS:
            count += 1
            failures += 1
            case = ET.SubElement(
                suite, "testcase", classname=f"{report.lab}.task{task.id}", name=task.title
            )
            ET.SubElement(case, "error", message=first_line(task.message)).text = task.message
    suite.set("tests", str(count))
    suite.set("failures", str(failures))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def to_gradescope(report: GradeReport) -> dict[str, Any]:
    """Gradescope's autograder ``results.json``: one entry per task, hidden tests marked."""
    tests: list[dict[str, Any]] = []
    for task in report.tasks:
        tests.append(
            {
                "name": f"{task.id}. {task.title}",
                "number": task.id,
                "score": as_number(task.score),
                "max_score": task.max_score,
                "status": "passed" if task.status is Status.PASS else "failed",
                "output": ""
                if task.status is Status.PASS
                else f"{task.first_failure}\n\nHint: {task.hint}",
                "visibility": "visible",
            }
        )
        hidden = [t for t in task.tests if t.hidden]
        if hidden:
            tests.append(
                {
                    "name": f"{task.id}. {task.title} (hidden tests)",
                    "status": "passed"
                    if all(t.status is Status.PASS for t in hidden)
                    else "failed",
                    "output": f"{sum(t.status is Status.PASS for t in hidden)}/{len(hidden)} "
                    "hidden tests passed",
                    "visibility": "after_published",
                }
            )
    result: dict[str, Any] = {
        "score": as_number(report.score),
        "execution_time": round(report.duration_s, 2),
        "output": report.message or f"{report.lab}: {report.status}",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return result


def to_markdown(report: GradeReport) -> str:
    icon = {Status.PASS: "✅", Status.FAIL: "❌", Status.ERROR: "⚠️", Status.TIMEOUT: "⏱️"}
    lines = [
        f"### {report.lab}: {as_number(report.score)}/{report.max_score} "
        f"{icon[report.status]} {report.status}",
        "",
        "| # | task | points | status | why not yet |",
        "|---|---|---|---|---|",
    ]
    for task in report.tasks:
        why = first_line(task.first_failure).replace("|", "\\|")
        lines.append(
            f"| {task.id} | {task.title} | {as_number(task.score)}/{task.max_score} "
            f"| {icon[task.status]} {task.status} | {why} |"
        )
    if report.message:
        lines += ["", report.message]
    lines += ["", f"_{report.runner} runner, {report.duration_s:.1f} s_", ""]
    return "\n".join(lines)


def write_reports(
    report: GradeReport,
    *,
    json_path: Path | None = None,
    junit_path: Path | None = None,
    gradescope_path: Path | None = None,
    markdown_path: Path | None = None,
) -> None:
    outputs: list[tuple[Path | None, Callable[[], str]]] = [
        (json_path, lambda: json.dumps(report.as_json(), indent=2) + "\n"),
        (junit_path, lambda: to_junit(report) + "\n"),
        (gradescope_path, lambda: json.dumps(to_gradescope(report), indent=2) + "\n"),
        (markdown_path, lambda: to_markdown(report)),
    ]
    for path, render in outputs:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(), encoding="utf-8")
