"""Report renderers: JUnit parses, Gradescope follows its results.json spec, Markdown reads."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from rich.console import Console

from grader.report import (
    explain_unusable_files,
    learner_output,
    print_report,
    to_gradescope,
    to_junit,
    to_markdown,
)
from grader.results import GradeReport, Status, TaskResult, TestResult


def sample() -> GradeReport:
    tasks = (
        TaskResult(
            id="1",
            title="Add",
            score=10,
            max_score=10,
            status=Status.PASS,
            hint="h1",
            tests=(TestResult("t1", Status.PASS, task="1"),),
        ),
        TaskResult(
            id="2",
            title="Mul | pipes",
            score=0,
            max_score=10,
            status=Status.FAIL,
            hint="Return a * b.",
            tests=(TestResult("t2", Status.FAIL, "assert 5 == 6\nmore", task="2"),),
        ),
        TaskResult(
            id="2",
            title="Mul | pipes (hidden tests)",
            score=0,
            max_score=10,
            status=Status.FAIL,
            hint="",
            tests=(TestResult("hidden test 1", Status.FAIL, "", task="2", hidden=True),),
            message="1 of 1 hidden tests did not pass.",
            hidden=True,
        ),
    )
    return GradeReport(
        lab="calc",
        score=10,
        max_score=30,
        status=Status.FAIL,
        runner="docker",
        duration_s=1.5,
        tasks=tasks,
    )


def test_junit_is_valid_xml_with_one_failure_per_failed_test() -> None:
    root = ET.fromstring(to_junit(sample()).split("?>", 1)[1])
    assert root.get("tests") == "3" and root.get("failures") == "2"
    failure = root.find("testcase[@name='t2']/failure")
    assert failure is not None and failure.get("message") == "assert 5 == 6"


def test_gradescope_has_the_fields_of_its_spec_and_marks_hidden_tests() -> None:
    data = to_gradescope(sample())
    assert data["score"] == 10 and isinstance(data["execution_time"], float)
    names = [t["name"] for t in data["tests"]]
    assert names == ["1. Add", "2. Mul | pipes", "2. Mul | pipes (hidden tests)"]
    for test in data["tests"]:
        assert {"name", "status", "output", "visibility"} <= set(test)
        assert test["status"] in ("passed", "failed")
    assert data["tests"][2]["visibility"] == "after_published"
    assert data["tests"][2]["output"] == "0/1 hidden tests passed"
    assert [t["visibility"] for t in data["tests"][:2]] == ["visible", "visible"]
    assert "Hint: Return a * b." in data["tests"][1]["output"]


def test_markdown_escapes_pipes_and_shows_the_score() -> None:
    text = to_markdown(sample())
    assert text.startswith("### calc: 10/30")
    assert "Mul | pipes" in text and "\\|" not in text.split("\n")[5].split("|")[2]


def test_terminal_table_shows_points_first_failure_and_hint() -> None:
    buffer = io.StringIO()
    print_report(sample(), Console(file=buffer, width=160, color_system=None))
    text = buffer.getvalue()
    assert "10/30" in text and "0/10" in text
    assert "assert 5 == 6" in text and "hint: Return a * b." in text
    assert "more" not in text  # only the first line of a failure


def test_a_long_first_line_is_cut_where_a_sentence_ends_never_mid_phrase() -> None:
    from grader.report import first_line

    key = "expected 503 from /readyz while the model loads, got 200. "
    text = "AssertionError: " + key * 6 + "\nsecond line"
    shown = first_line(text)
    assert shown.endswith("got 200. …") and len(shown) <= 242
    assert first_line("short message\nmore") == "short message"
    words = "word " * 80
    assert first_line(words).endswith("word …")


def test_learner_output_leaves_out_the_graders_own_objects() -> None:
    output = (
        "adding 2 3\n"
        "learner = <mlskills_boundary.fixture.Learner object at 0x7f9e23056850>\n\n"
        "    def test_add(learner):\n"
        "E       AssertionError: add(2, 3) returned -1; expected 5\n"
    )
    shown = learner_output(output)
    assert "mlskills_boundary" not in shown
    assert shown.startswith("adding 2 3\n    def test_add(learner):")
    assert "returned -1; expected 5" in shown


def test_a_missing_file_explains_only_the_tasks_it_breaks() -> None:
    report = sample()
    explained = explain_unusable_files(
        report, {"fx/mul.py": "missing"}, lambda rel: f"make reset lab=calc file={rel}"
    )
    assert explained.notices[0] == (
        "labs/calc/fx/mul.py is missing: restore it with make reset lab=calc file=fx/mul.py"
    )
    assert [t.message for t in explained.tasks] == [t.message for t in report.tasks]
