"""Render a :class:`GradeReport`: terminal table, JSON, JUnit XML, Gradescope, Markdown.

Learner code writes the messages, test output and even file names that end up in a
report, so every writer here (and in :mod:`grader.batch` and :mod:`grader.cohort`) reads
the report through :func:`clean_report` or :func:`clean_text` first, then escapes for its
format: no escape sequence reaches a terminal, no byte breaks the XML, and no HTML, link
or image renders in Markdown.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.lab import Lab
from grader.results import GradeReport, Status, TaskResult, TestResult, as_number

__all__ = [
    "clean_report",
    "clean_text",
    "explain_missing_modules",
    "explain_unusable_files",
    "first_line",
    "learner_output",
    "print_report",
    "to_gradescope",
    "to_junit",
    "to_markdown",
    "ungraded_report",
    "without_host_paths",
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


# Whole ANSI sequences go, so coloured learner output reads as its text: CSI (colours,
# cursor moves), string sequences such as OSC (titles, hyperlinks) and two-byte escapes.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -~]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lone surrogates cannot be encoded as UTF-8, and U+FFFE/U+FFFF are not allowed in XML.
_UNENCODABLE = re.compile(r"[\ud800-\udfff\ufffe\uffff]")
# A path starts a word (not the slashes of a URL, "1/2" or "a/b") and runs to a blank
# or a bracket, quote or separator.
_PATH_START = r"(?<![\w.~:/<>-])"
_PATH_TAIL = r"[^\s'\"()\[\]{}<>,;]"
_HOST_PATH = "<path>"


def clean_text(text: str) -> str:
    """``text`` without escape sequences or C0/C1 control characters (newline and tab stay)."""
    text = _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))
    return _UNENCODABLE.sub("\ufffd", text)


def _clean_test(test: TestResult) -> TestResult:
    return replace(
        test,
        name=clean_text(test.name),
        message=clean_text(test.message),
        task=None if test.task is None else clean_text(test.task),
    )


def _clean_task(task: TaskResult) -> TaskResult:
    return replace(
        task,
        id=clean_text(task.id),
        title=clean_text(task.title),
        hint=clean_text(task.hint),
        message=clean_text(task.message),
        tests=tuple(_clean_test(t) for t in task.tests),
    )


def clean_report(report: GradeReport) -> GradeReport:
    """``report`` with :func:`clean_text` applied to every string in it."""
    return replace(
        report,
        lab=clean_text(report.lab),
        runner=clean_text(report.runner),
        message=clean_text(report.message),
        notices=tuple(clean_text(n) for n in report.notices),
        output=clean_text(report.output),
        tasks=tuple(_clean_task(t) for t in report.tasks),
        unscored=tuple(_clean_test(t) for t in report.unscored),
    )


def without_host_paths(text: str, known: Iterable[Path] = ()) -> str:
    """``text`` with every absolute path replaced by ``<path>``.

    A path ends at a blank, unless it is under one of the ``known`` folders (a
    submission, say) or their parents, which are matched whole, spaces and all.
    """
    folders = {form for path in known for form in (path.absolute(), path.resolve())}
    names = {str(p) for folder in folders for p in (folder, *folder.parents) if p != p.parent}
    alternatives = [
        re.escape(name) + rf"(?![\w-])(?:/{_PATH_TAIL}*)?"
        for name in sorted(names, key=len, reverse=True)
    ]
    pattern = re.compile(_PATH_START + "(?:" + "|".join([*alternatives, f"/{_PATH_TAIL}+"]) + ")")

    def redact(match: re.Match[str]) -> str:
        path = match.group()
        trailing = path[len(path.rstrip(".:")) :]  # the full stop that ends a sentence
        return _HOST_PATH + trailing

    return pattern.sub(redact, text)


def ungraded_report(
    lab: Lab | str,
    reason: str,
    *,
    runner: str,
    duration_s: float = 0.0,
    paths: Iterable[Path] = (),
) -> GradeReport:
    """The report of a submission the grader refused or could not grade: status ``error``.

    ``reason`` is the sentence that says why, with host paths taken out (``paths`` are
    the folders it may name): the report goes to the learner, the host is not theirs to
    see. An unknown lab (``lab`` given as its slug) has no tasks; otherwise every task is
    an error that repeats the reason.
    """
    message = without_host_paths(reason, paths)
    if isinstance(lab, str):
        return GradeReport(
            lab=lab,
            score=0,
            max_score=0,
            status=Status.ERROR,
            runner=runner,
            duration_s=duration_s,
            message=message,
        )
    return GradeReport(
        lab=lab.slug,
        score=0,
        max_score=lab.max_score,
        status=Status.ERROR,
        runner=runner,
        duration_s=duration_s,
        tasks=tuple(
            TaskResult(
                id=task.id,
                title=task.title,
                score=0,
                max_score=task.points,
                status=Status.ERROR,
                hint=task.hint,
                message="Not graded: " + message,
            )
            for task in lab.tasks
        ),
        message=message,
    )


def _module_name(rel: str) -> str:
    """'netlab/bench.py' -> 'netlab.bench'; 'pkg/__init__.py' -> 'pkg'."""
    stem = rel.removesuffix(".py").removesuffix("/__init__")
    return stem.replace("/", ".")


def explain_unusable_files(
    report: GradeReport, unusable: dict[str, str], restore: Callable[[str], str]
) -> GradeReport:
    """``report`` with each failing task that a missing, empty or unreadable file explains
    saying so first, with the command that restores the file (``restore(rel)``).

    A task is explained by a file when its first failure names the file or its module
    (``No module named 'netlab.bench'``, ``module 'netlab.bench' has no attribute …``).
    Every such file also gets a notice, whichever task it breaks.
    """
    if not unusable:
        return report
    notices = [
        f"labs/{report.lab}/{rel} is {state}: restore it with {restore(rel)}"
        for rel, state in unusable.items()
    ]
    tasks = []
    for task in report.tasks:
        failure = task.first_failure
        if task.status is not Status.PASS and not task.hidden:
            for rel, state in unusable.items():
                names = [Path(rel).name]
                if rel.endswith(".py"):
                    names.append(f"'{_module_name(rel)}'")
                if any(name in failure for name in names):
                    message = f"file {state}: restore it with {restore(rel)}. {failure}"
                    task = replace(task, message=message)
                    break
        tasks.append(task)
    return replace(report, tasks=tuple(tasks), notices=(*notices, *report.notices))


_NO_MODULE = re.compile(r"No module named '([\w.]+)'(?:\s+raised at (\S+:\d+))?")


def explain_missing_modules(report: GradeReport, lab: Lab) -> GradeReport:
    """``report`` with each failure to import a package the lab does not ship saying so
    on its first line: the module, the line that imported it, and that this lab's image
    (where it is graded in Docker, CI and Gradescope) does not have it."""
    own = {p.name.removesuffix(".py") for p in lab.root.iterdir()} if lab.root.is_dir() else set()
    tasks = []
    for task in report.tasks:
        failure = task.first_failure
        match = _NO_MODULE.search(failure) if task.status is not Status.PASS else None
        if match and not task.hidden and match.group(1).split(".")[0] not in own:
            module, where = match.group(1), match.group(2)
            at = f" (imported at {where})" if where else ""
            packages = ", ".join(lab.image.python) or "none beyond Python's own"
            message = (
                f"No module named '{module}'{at}: this lab's image does not have it "
                f"(its packages: {packages}). {failure}"
            )
            task = replace(task, message=message)
        tasks.append(task)
    return replace(report, tasks=tuple(tasks))


def first_line(text: str, limit: int = 240) -> str:
    """The message's first line, shortened only where a sentence, clause or word ends.

    Tests put the key phrase first, so a long line loses its tail, never the middle of a
    phrase: it ends at the last sentence or clause that fits, else at a word.
    """
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if len(line) <= limit:
        return line
    head = line[: limit - 1]
    for marks, keep in ((". ", True), ("; ", False), (": ", False), (", ", False)):
        cut = max(head.rfind(mark) for mark in marks.split("|"))
        if cut >= limit // 2:
            return head[: cut + (1 if keep else 0)] + " …"
    cut = head.rfind(" ")
    return (head[:cut] if cut >= limit // 2 else head) + " …"


# A test's fixture arguments, as pytest's long tracebacks list them: the grader's handle.
_GRADER_LOCAL = re.compile(r"^\w+ = <mlskills_(?:boundary|grader_plugin)\b[^\n]*>\n\n?", re.M)


def learner_output(output: str) -> str:
    """The run's output as a learner reads it: their code's prints and each test's
    assertion, without the grader's own objects (its frames are hidden from tracebacks)."""
    return _GRADER_LOCAL.sub("", output)


def print_report(
    report: GradeReport, console: Console, *, title: str = "", show_output: bool = False
) -> None:
    report = clean_report(report)
    # Only Text reaches the console: a plain string would be read as rich markup, and a
    # learner's "[link=…]" would become a live link in the terminal.
    table = Table(title=Text(title or report.lab), title_justify="left", expand=False)
    table.add_column("#", justify="right")
    table.add_column("task")
    table.add_column("points", justify="right")
    table.add_column("status")
    table.add_column("why not yet / hint", overflow="fold")
    for task in report.tasks:
        detail = Text()
        if task.status is not Status.PASS:
            detail.append(first_line(task.first_failure), style="red")
            if task.hint:  # a hidden entry has none: its tests are not the learner's to see
                detail.append("\nhint: " + task.hint, style="dim")
        table.add_row(
            Text(task.id),
            Text(task.title),
            f"{as_number(task.score)}/{as_number(task.max_score)}",
            Text(_MARK[task.status], style=_STYLE[task.status]),
            detail,
        )
    console.print(table)
    for notice in report.notices:
        console.print(Text(f"note: {notice}", style="dim"))
    if report.message:
        console.print(Text(report.message, style=_STYLE[report.status]))
    if show_output or (report.status is Status.ERROR and report.output):
        console.print(Text(learner_output(report.output)[-4000:], style="dim"))
    console.print(
        Text.assemble(
            ("score ", "bold"),
            f"{as_number(report.score)}/{report.max_score}  ",
            (_MARK[report.status], _STYLE[report.status]),
            f"  ({report.runner} runner, {report.duration_s:.1f} s)",
        )
    )


# The plugin records a skipped test as "skip" with this prefix; scoring makes it a failure.
_SKIPPED = "skipped: "
_JUNIT_COUNTS = {"failure": "failures", "error": "errors", "skipped": "skipped"}


def _junit_outcome(test: TestResult) -> str | None:
    """The JUnit element for a test's result, or None for a pass."""
    if test.status is Status.PASS:
        return None
    if test.status is Status.FAIL:
        return "skipped" if test.message.startswith(_SKIPPED) else "failure"
    return "error"


def to_junit(report: GradeReport) -> str:
    """One ``testsuite``, whose counts match its cases: JUnit readers check them."""
    report = clean_report(report)
    suite = ET.Element("testsuite", name=report.lab, time=f"{report.duration_s:.2f}")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(classname: str, name: str, duration_s: float, outcome: str | None, text: str) -> None:
        counts["tests"] += 1
        element = ET.SubElement(
            suite, "testcase", classname=classname, name=name, time=f"{duration_s:.3f}"
        )
        if outcome is not None:
            counts[_JUNIT_COUNTS[outcome]] += 1
            ET.SubElement(element, outcome, message=first_line(text)).text = text

    for task in report.tasks:
        classname = f"{report.lab}.task{task.id}"
        for test in task.tests:
            case(classname, test.name, test.duration_s, _junit_outcome(test), test.message)
        if not task.tests and task.status is not Status.PASS:  # its tests never ran
            case(classname, task.title, 0.0, "error", task.message)
    if not report.tasks and report.status is not Status.PASS:  # refused before any task
        case(report.lab, "grade", report.duration_s, "error", report.message)
    for key, value in counts.items():
        suite.set(key, str(value))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def to_gradescope(report: GradeReport) -> dict[str, Any]:
    """Gradescope's autograder ``results.json``: one entry per task, hidden tests marked."""
    report = clean_report(report)
    tests: list[dict[str, Any]] = []
    for task in report.tasks:
        if task.hidden:  # scored on its own, and shown only once the grades are published
            passed = sum(t.status is Status.PASS for t in task.tests)
            output = f"{passed}/{len(task.tests)} hidden tests passed"
        elif task.status is Status.PASS:
            output = ""
        else:
            output = f"{task.first_failure}\n\nHint: {task.hint}"
        tests.append(
            {
                "name": f"{task.id}. {task.title}",
                "number": f"{task.id}.h" if task.hidden else task.id,
                "score": as_number(task.score),
                "max_score": as_number(task.max_score),
                "status": "passed" if task.status is Status.PASS else "failed",
                "output": output,
                "visibility": "after_published" if task.hidden else "visible",
            }
        )
    if report.status is Status.ERROR:
        output = f"The autograder could not grade this submission: {report.message}"
    else:
        output = report.message or f"{report.lab}: {report.status}"
    result: dict[str, Any] = {
        "score": as_number(report.score),
        "execution_time": round(report.duration_s, 2),
        "output": output,
        # Plain text, not Gradescope's default "simple_format", which lets links through.
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return result


# Every ASCII punctuation mark but "-" (common in slugs): escaped, none of them can open
# a tag, a link, an image, emphasis or an autolink.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-,./:-@\[-`{-~])")


def _markdown_text(text: str) -> str:
    """``text`` as literal Markdown prose."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def _markdown_code(text: str) -> str:
    """``text`` as a code span, which Markdown shows verbatim: no HTML, link or image.

    It is one line, since a line break could end the span's paragraph, and its fence is
    longer than any run of backticks inside it.
    """
    text = " ".join(text.split())
    if not text:
        return ""
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def to_markdown(report: GradeReport) -> str:
    report = clean_report(report)
    icon = {Status.PASS: "✅", Status.FAIL: "❌", Status.ERROR: "⚠️", Status.TIMEOUT: "⏱️"}
    lines = [
        f"### {_markdown_text(report.lab)}: {as_number(report.score)}/{report.max_score} "
        f"{icon[report.status]} {report.status}",
    ]
    if report.tasks:
        lines += ["", "| # | task | points | status | why not yet |", "|---|---|---|---|---|"]
    for task in report.tasks:
        # A table cell ends at a pipe, even inside a code span, unless it is escaped.
        why = _markdown_code(first_line(task.first_failure)).replace("|", "\\|")
        lines.append(
            f"| {task.id} | {task.title} | {as_number(task.score)}/{as_number(task.max_score)} "
            f"| {icon[task.status]} {task.status} | {why} |"
        )
    if report.message:
        lines += ["", _markdown_code(report.message)]
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
        (json_path, lambda: json.dumps(clean_report(report).as_json(), indent=2) + "\n"),
        (junit_path, lambda: to_junit(report) + "\n"),
        (gradescope_path, lambda: json.dumps(to_gradescope(report), indent=2) + "\n"),
        (markdown_path, lambda: to_markdown(report)),
    ]
    for path, render in outputs:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(), encoding="utf-8")
