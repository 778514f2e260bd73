"""The cohort report: self-contained, escaped, with the charts it promises, and rendered
in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from grader.cohort import SLOWEST, LearnerResult, TaskCell, render_html
from grader.lab import Lab, find_lab
from grader.results import GradeReport, Status, TaskResult
from tests.conftest import FIXTURE_LABS

HOSTILE = '<script>alert("pwned")</script>'


@pytest.fixture(scope="module")
def calc() -> Lab:
    return find_lab("calc", FIXTURE_LABS)


def row(
    learner: str,
    add: Status,
    mul: Status,
    *,
    mul_score: float | None = None,
    duration_s: float = 1.0,
    message: str = "",
) -> LearnerResult:
    tasks = (
        TaskCell("1", 10 if add is Status.PASS else 0, 10, add),
        TaskCell("2", mul_score if mul_score is not None else 20 * (mul is Status.PASS), 20, mul),
    )
    statuses = {add, mul}
    status = next(
        s for s in (Status.ERROR, Status.TIMEOUT, Status.FAIL, Status.PASS) if s in statuses
    )
    return LearnerResult(
        learner=learner,
        status=status,
        score=sum(t.score for t in tasks),
        max_score=30,
        duration_s=duration_s,
        message=message,
        tasks=tasks,
    )


def cohort_rows() -> list[LearnerResult]:
    return [
        row("alice", Status.PASS, Status.PASS, duration_s=2.5),
        row("bob", Status.PASS, Status.FAIL, mul_score=10, duration_s=3.0),
        row("carol", Status.FAIL, Status.FAIL, duration_s=1.2),
        row("dave", Status.ERROR, Status.ERROR, duration_s=0.1, message="symlink leaves it"),
        row("erin", Status.PASS, Status.TIMEOUT, duration_s=8.0),
        row(HOSTILE, Status.FAIL, Status.FAIL, message='<img src=x onerror="alert(1)">'),
    ]


def section(html: str, title: str) -> str:
    """The HTML from the heading ``title`` to the next heading."""
    start = html.index(f"<h2>{title}</h2>")
    end = html.find("<h2>", start + 1)
    return html[start : end if end != -1 else len(html)]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
            self._in_style = False


def test_report_is_self_contained_and_hostile_names_make_no_tags(calc: Lab) -> None:
    parser = Tags()
    parser.feed(render_html(calc, cohort_rows()))
    names = {tag for tag, _ in parser.tags}
    assert names.isdisjoint({"script", "link", "img", "iframe", "object", "embed"}), names
    for tag, attrs in parser.tags:
        assert not {"src", "href", "onerror", "onload"} & set(attrs), (tag, attrs)
    assert not any("url(" in css or "@import" in css for css in parser.styles)
    assert sum(tag == "svg" for tag, _ in parser.tags) == 3


def test_learner_controlled_text_is_escaped(calc: Lab) -> None:
    html = render_html(calc, cohort_rows())
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_pass_rate_per_task_counts_the_learners_who_passed(calc: Lab) -> None:
    rows = cohort_rows()
    chart = section(render_html(calc, rows), "Pass rate per task")
    for task in calc.tasks:
        passed = sum(r.task(task.id).status is Status.PASS for r in rows)  # type: ignore[union-attr]
        assert f"{passed / len(rows):.0%} ({passed}/{len(rows)})" in chart


def test_heatmap_has_a_cell_per_learner_and_task_coloured_by_outcome(calc: Lab) -> None:
    rows = cohort_rows()
    heatmap = section(render_html(calc, rows), "Learners × tasks")
    assert heatmap.count("<rect") == len(rows) * (len(calc.tasks) + 1)
    assert "bob, task 2: 10/20 fail" in heatmap
    # partial credit is told apart from a plain failure
    bob_mul = re.search(r'fill="(#[0-9a-f]{6})"><title>bob, task 2', heatmap)
    carol_mul = re.search(r'fill="(#[0-9a-f]{6})"><title>carol, task 2', heatmap)
    assert bob_mul and carol_mul and bob_mul.group(1) != carol_mul.group(1)


def test_slowest_lists_the_slowest_submissions_slowest_first(calc: Lab) -> None:
    rows = [
        row(f"learner{n:02d}", Status.PASS, Status.PASS, duration_s=float(n)) for n in range(15)
    ]
    slowest = section(render_html(calc, rows), "Slowest submissions")
    shown = re.findall(r">(learner\d\d)<title>", slowest)
    assert shown == [f"learner{n:02d}" for n in range(14, 14 - SLOWEST, -1)]


def test_learner_result_reads_a_grade_report(calc: Lab) -> None:
    report = GradeReport(
        lab="calc",
        score=10,
        max_score=30,
        status=Status.FAIL,
        runner="local",
        duration_s=1.5,
        tasks=(
            TaskResult("1", "Add", 10, 10, Status.PASS, "h"),
            TaskResult("2", "Multiply", 0, 20, Status.FAIL, "h", message="nope"),
        ),
    )
    result = LearnerResult.from_json("zoe", report.as_json(), fresh=True)
    assert (result.score, result.status, result.duration_s) == (10, Status.FAIL, 1.5)
    assert result.task("2") == TaskCell("2", 0, 20, Status.FAIL)


def test_report_renders_in_headless_chromium(calc: Lab, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail("chromium is not installed; .ci/run installs it with apt")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = tmp_path / "report.html"
    page.write_text(render_html(calc, cohort_rows()), encoding="utf-8")
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,900",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file(), proc.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1200, 900)
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 20) or []
    # The SVG charts drew: the pass, fail and partial colours cover real areas.
    area = {colour: count for count, colour in colours}
    for colour in ((0x2E, 0x7D, 0x32), (0xC6, 0x28, 0x28), (0xF9, 0xA8, 0x25)):
        assert area.get(colour, 0) > 500, f"colour {colour} barely appears in the screenshot"
