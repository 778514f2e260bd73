"""Learner text cannot hijack a report: no escape sequence reaches a terminal, no control
byte breaks the XML, no HTML, link or image renders in Markdown, no cell of the gradebook
is a formula, and JUnit readers count what the file holds."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from markdown_it import MarkdownIt
from rich.console import Console

from grader import batch
from grader.cohort import LearnerResult, TaskCell, TestCell, render_html
from grader.lab import Lab, find_lab
from grader.report import (
    clean_text,
    print_report,
    to_gradescope,
    to_junit,
    to_markdown,
    write_reports,
)
from grader.results import GradeReport, Status, TaskResult, TestResult
from grader.similarity import Pair, Passage, SimilarityReport
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS
from tests.test_cli import run_cli

# Clear the screen, retitle the window, a hidden hyperlink, a bell, NUL, DEL, a C1 CSI,
# a lone surrogate (not UTF-8) and U+FFFF (not XML), around a readable message.
HOSTILE = (
    "\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\"
    " assert \x1b[31mred\x1b[0m\x00\x7f\x9b5n\ud800\uffff == 6"
)
MARKUP = "[link=http://evil.example]markup[/link] [bold]b[/bold]"
HTML = '<img src=x onerror="alert(1)">'
LINK = "[click](http://evil.example)"
IMAGE = "![x](http://evil.example/pixel.png)"
# What must never appear in any report: the escape, bell and other C0/C1 bytes.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def hostile_report(message: str = HOSTILE) -> GradeReport:
    return GradeReport(
        lab="calc",
        score=10,
        max_score=30,
        status=Status.FAIL,
        runner="local",
        duration_s=1.0,
        tasks=(
            TaskResult(
                id="1",
                title="Add",
                score=10,
                max_score=10,
                status=Status.PASS,
                hint="Return a + b.",
                tests=(TestResult("test_add", Status.PASS, task="1"),),
            ),
            TaskResult(
                id="2",
                title="Multiply",
                score=0,
                max_score=20,
                status=Status.FAIL,
                hint="Return a * b.",
                tests=(TestResult(f"test_mul[{message}]", Status.FAIL, message, task="2"),),
            ),
        ),
        message=message,
        notices=(message,),
        output=message,
    )


def test_clean_text_keeps_newlines_tabs_and_text_and_drops_whole_escape_sequences() -> None:
    assert clean_text("a\n\tb") == "a\n\tb"
    assert clean_text("\x1b[1;31mred\x1b[0m") == "red"
    assert clean_text("\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\") == "click"
    assert clean_text("\x1b]0;title\x07after") == "after"
    assert clean_text("x\x00\x07\x08\x0b\x0c\r\x7f\x85\x9by") == "xy"
    assert clean_text("\ud800\uffff") == "\ufffd\ufffd"
    assert clean_text("ünïcødé ✔ 🙂") == "ünïcødé ✔ 🙂"


def test_terminal_shows_no_learner_escape_sequence_or_markup() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=True, color_system="truecolor")
    print_report(hostile_report(HOSTILE + " " + MARKUP), console, show_output=True)
    text = buffer.getvalue()
    # rich styles its own text with SGR colours; anything else came from the learner.
    assert "\x1b[2J" not in text and "\x1b]" not in text and "\x07" not in text
    assert "pwned" not in text
    assert MARKUP in text  # shown as typed, not turned into a live link
    assert "assert red" in text


def test_json_report_has_no_control_characters(tmp_path: Path) -> None:
    write_reports(hostile_report(), json_path=tmp_path / "report.json")
    raw = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert "\\u001b" not in raw and "\\u0000" not in raw and "\\ud800" not in raw
    data = json.loads(raw)
    assert data["message"] == data["tasks"][1]["message"] == "click assert red5n\ufffd\ufffd == 6"
    assert not CONTROL.search(json.dumps(data, ensure_ascii=False))


def test_junit_with_control_bytes_parses_and_keeps_the_message(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_reports(hostile_report(), junit_path=path)
    root = ET.parse(path).getroot()
    failure = root.find("testcase/failure")
    assert failure is not None and failure.text is not None
    assert "assert red" in failure.text
    assert not CONTROL.search(path.read_text(encoding="utf-8"))


def test_gradescope_output_is_plain_text_without_control_characters() -> None:
    data = to_gradescope(hostile_report())
    assert data["output_format"] == data["test_output_format"] == "text"
    assert not CONTROL.search(json.dumps(data, ensure_ascii=False))
    assert "assert red" in data["tests"][1]["output"]


# --- Markdown ---------------------------------------------------------------------------


def rendered(markdown: str) -> str:
    """The HTML a CommonMark renderer with GitHub's tables makes of ``markdown``."""
    return str(MarkdownIt("commonmark").enable("table").render(markdown))


@pytest.mark.parametrize("attack", [HTML, LINK, IMAGE, "<script>alert(1)</script>"])
def test_markdown_shows_html_links_and_images_as_inert_text(attack: str) -> None:
    text = to_markdown(hostile_report(f"1 != 2 {attack} | and a pipe"))
    html = rendered(text)
    for tag in ("<img", "<a ", "<script"):
        assert tag not in html, html
    row = next(line for line in html.splitlines() if "1 != 2" in line)
    assert row.startswith("<td><code>") and "| and a pipe" in row  # one cell, not split
    assert html.count("<code>") == 2  # the table cell and the message below it


def test_markdown_message_cannot_break_out_of_its_code_span() -> None:
    escape = f"x `` ` {HTML}\n\n{LINK}\n# heading\n```\n{IMAGE}"
    html = rendered(to_markdown(hostile_report(escape)))
    assert "<img" not in html and "<a " not in html and "<h1>" not in html
    assert "<pre>" not in html


def test_markdown_escapes_a_hostile_lab_name() -> None:
    report = GradeReport(
        lab=f"{HTML}{LINK}",
        score=0,
        max_score=0,
        status=Status.ERROR,
        runner="local",
        duration_s=0.0,
        message="There is no such lab.",
    )
    html = rendered(to_markdown(report))
    assert "<img" not in html and "<a " not in html
    assert "<h3>&lt;img src=x" in html


# --- JUnit ------------------------------------------------------------------------------


def mixed_report() -> GradeReport:
    def task(task_id: str, status: Status, tests: tuple[TestResult, ...]) -> TaskResult:
        return TaskResult(task_id, f"task {task_id}", 0, 10, status, "hint", tests, "")

    return GradeReport(
        lab="calc",
        score=10,
        max_score=40,
        status=Status.FAIL,
        runner="local",
        duration_s=2.0,
        tasks=(
            task("1", Status.PASS, (TestResult("t_pass", Status.PASS, task="1"),)),
            task(
                "2",
                Status.FAIL,
                (
                    TestResult("t_fail", Status.FAIL, "assert 5 == 6", task="2"),
                    TestResult("t_skip", Status.FAIL, "skipped: needs a GPU", task="2"),
                ),
            ),
            TaskResult("3", "task 3", 0, 10, Status.ERROR, "hint", (), "No test ran."),
            TaskResult("4", "task 4", 0, 10, Status.TIMEOUT, "hint", (), "Out of time."),
        ),
    )


def test_junit_counts_failures_errors_and_skips_apart_and_junitparser_agrees(
    tmp_path: Path,
) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(to_junit(mixed_report()), encoding="utf-8")
    suite = next(iter(JUnitXml.fromfile(str(path))))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 1, 2, 1)
    kinds = {case.name: [type(r) for r in case.result] for case in suite}
    assert kinds == {
        "t_pass": [],
        "t_fail": [Failure],
        "t_skip": [Skipped],  # a skip is not a failure
        "task 3": [Error],
        "task 4": [Error],
    }
    suite.update_statistics()  # recounted from the cases: the same numbers
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 1, 2, 1)


def test_junit_of_a_report_without_tasks_is_one_error() -> None:
    report = GradeReport("nosuch", 0, 0, Status.ERROR, "local", 0.0, message="No such lab.")
    root = ET.fromstring(to_junit(report).split("?>", 1)[1])
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "1")
    error = root.find("testcase/error")
    assert error is not None and error.get("message") == "No such lab."


# --- the gradebook and the cohort report ------------------------------------------------


@pytest.fixture(scope="module")
def calc() -> Lab:
    return find_lab("calc", FIXTURE_LABS)


def learner_row(learner: str, message: str = "") -> LearnerResult:
    return LearnerResult(
        learner=learner,
        status=Status.ERROR,
        score=0,
        max_score=30,
        duration_s=1.0,
        message=message,
        tasks=(TaskCell("1", 0, 10, Status.ERROR), TaskCell("2", 0, 20, Status.ERROR)),
    )


@pytest.mark.parametrize(
    "value",
    [
        "=HYPERLINK(1)",
        " =HYPERLINK(1)",
        "\t=1+1",
        "\u200b=1+1",
        "\u200c\u200d+1",
        "\u200e\u200f-1",
        "\u2060@SUM(1)",
        "\ufeff=1+1",
        " \u200b \t=cmd|' /C calc'!A0",
        "\x1b[2J=1+1",  # the escape goes first, and what is left is still a formula
    ],
)
def test_gradebook_defuses_formulas_behind_blanks_and_invisible_characters(
    calc: Lab, value: str
) -> None:
    text = batch.gradebook_csv(calc, [learner_row(value, message=value)])
    row = next(csv.DictReader(io.StringIO(text)))
    for cell in (row["learner"], row["message"]):
        assert cell.startswith("'"), cell
        assert not CONTROL.search(cell)


def test_gradebook_leaves_ordinary_text_alone(calc: Lab) -> None:
    text = batch.gradebook_csv(calc, [learner_row("ann", "fx/calc.py is 2 MB; at most 1 MB.")])
    row = next(csv.DictReader(io.StringIO(text)))
    assert (row["learner"], row["message"]) == ("ann", "fx/calc.py is 2 MB; at most 1 MB.")


def test_cohort_html_has_no_control_characters(calc: Lab) -> None:
    html = render_html(calc, [learner_row("eve" + HOSTILE, message=HOSTILE)])
    assert not CONTROL.search(html)
    assert "eveclick assert red" in html


def test_cohort_html_shows_failing_tests_and_shared_passages_as_inert_text(calc: Lab) -> None:
    """The per-task section quotes learners' test messages and the similarity section
    their code: neither may carry markup or control characters into the page."""
    failing = TaskCell(
        "2", 0, 20, Status.FAIL, (TestCell(f"test_mul[{HTML}]", Status.FAIL, HOSTILE + HTML),)
    )
    graded = LearnerResult(
        learner=HTML,
        status=Status.FAIL,
        score=0,
        max_score=30,
        duration_s=1.0,
        message=HTML,
        tasks=(TaskCell("1", 0, 10, Status.FAIL), failing),
    )
    passage = Passage("fx/calc.py", 1, 2, f"{HOSTILE}\n</pre><script>alert(1)</script>{HTML}")
    alike = SimilarityReport(
        lab="calc",
        threshold=0.5,
        min_shared=150,
        k=25,
        compared=(HTML, "ann"),
        pairs=(Pair(HTML, "ann", 1.0, 1.0, 500, ((passage, passage),), flagged=True),),
    )
    html = render_html(calc, [graded], similarity=alike)
    assert not CONTROL.search(html)
    assert "<img" not in html and html.count("<script") == 1  # the report's own, only
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "click assert red" in html


def test_batch_terminal_gradebook_and_reports_of_a_hostile_learner_folder(
    tmp_path: Path,
) -> None:
    hostile = "\x1b]0;pwned\x07eve\x1b[2J\x9b5n"  # a folder name holds no slash
    subs = tmp_path / "submissions"
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", subs / "ann")
    (subs / hostile / "fx").mkdir(parents=True)
    outside = tmp_path / "outside.py"
    outside.write_text("def add(a, b):\n    return a + b\n")
    os.symlink(outside, subs / hostile / "fx" / "calc.py")  # refused: an error row
    out = tmp_path / "out"
    proc = run_cli(
        "batch", "calc", str(subs), "--runner", "local", "--trust-submissions", "--out", str(out)
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "  eve5n: " in proc.stdout
    for text in (
        proc.stdout,
        (out / batch.GRADEBOOK).read_text(encoding="utf-8"),
        (out / batch.REPORT_HTML).read_text(encoding="utf-8"),
        (out / "reports" / f"{hostile}.json").read_text(encoding="utf-8"),
    ):
        assert not CONTROL.search(text), text
