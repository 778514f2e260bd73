"""The cohort report: self-contained, escaped, with the sections it promises, and checked
in headless Chromium (Playwright driving the system's /usr/bin/chromium).

The browser tests skip when /usr/bin/chromium is missing, unless ``REQUIRE_DOCKER=1``
(set by CI, which installs Chromium), which turns a missing browser into a failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from PIL import Image

from grader import cohort
from grader.batch import find_learners
from grader.cohort import (
    CHROMIUM_ARGS,
    HISTOGRAM_BINS,
    SLOWEST,
    LearnerResult,
    RunDetails,
    TaskCell,
    TestCell,
    render_html,
    render_png,
    report_link,
)
from grader.lab import Lab, find_lab, load_lab
from grader.results import GradeReport, Status, TaskResult, TestResult
from grader.similarity import Pair, Passage, SimilarityReport, compare_submissions
from tests.conftest import FIXTURE_LABS, FIXTURES

HOSTILE = '<script>alert("pwned")</script>'
HOSTILE_FOLDER = '<img src=x onerror="alert(1)">'
CHROMIUM = Path("/usr/bin/chromium")
SIMILARITY = FIXTURES / "similarity"
MADE_AT = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)
RUN = RunDetails(made_at=MADE_AT, grader_version="0123456789ab", runner="docker")
ADD = "tests/test_task1_add.py::test_add_small_numbers"
MUL = "tests/test_task2_mul.py::test_mul_small_numbers"
ZERO = "tests/test_task2_mul.py::test_mul_by_zero"


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
    fresh: bool = True,
    zero_message: str = "AssertionError: mul(0, 7) returned 7; expected 0",
) -> LearnerResult:
    """A learner of the calc lab: task 2 has two tests, the zero one failing first."""
    mul_score = mul_score if mul_score is not None else 20 * (mul is Status.PASS)
    if mul is Status.PASS:
        mul_tests = (TestCell(MUL, Status.PASS), TestCell(ZERO, Status.PASS))
    elif mul_score:
        mul_tests = (TestCell(MUL, Status.PASS), TestCell(ZERO, Status.FAIL, zero_message))
    else:
        mul_tests = (
            TestCell(MUL, mul, "NotImplementedError: TODO(student): return a * b"),
            TestCell(ZERO, mul, "NotImplementedError: TODO(student): return a * b"),
        )
    add_message = "" if add is Status.PASS else "assert 4 == 5"
    tasks = (
        TaskCell("1", 10 if add is Status.PASS else 0, 10, add, (TestCell(ADD, add, add_message),)),
        TaskCell("2", mul_score, 20, mul, mul_tests),
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
        fresh=fresh,
        runner="docker" if fresh else "local",
        graded_at=MADE_AT,
    )


def cohort_rows() -> list[LearnerResult]:
    return [
        row("alice", Status.PASS, Status.PASS, duration_s=2.5),
        row("bob", Status.PASS, Status.FAIL, mul_score=10, duration_s=3.0),
        row("carol", Status.FAIL, Status.FAIL, duration_s=1.2, fresh=False),
        row("dave", Status.ERROR, Status.ERROR, duration_s=0.1, message="symlink leaves it"),
        row("erin", Status.PASS, Status.TIMEOUT, duration_s=8.0),
        row(
            "frank",
            Status.PASS,
            Status.FAIL,
            mul_score=10,
            zero_message="AssertionError: mul(0, 7) returned 1; expected 0",
        ),
        row(HOSTILE, Status.FAIL, Status.FAIL, message='<img src=x onerror="alert(1)">'),
    ]


def section(html: str, title: str) -> str:
    """The HTML from the heading ``title`` to the next h2 heading."""
    start = re.search(rf"<h2[^>]*>{re.escape(title)}</h2>", html)
    assert start is not None, f"no section {title!r}"
    end = html.find("<h2", start.end())
    return html[start.start() : end if end != -1 else len(html)]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: dict[str, list[str]] = {"style": [], "script": []}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag if tag in self.data else None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.data[self._open].append(data)
            self._open = None


# --- the HTML itself ----------------------------------------------------------------------


def test_report_is_self_contained_with_one_script_its_policy_admits(calc: Lab) -> None:
    parser = Tags()
    html = render_html(calc, cohort_rows(), run=RUN, similarity=hostile_similarity())
    parser.feed(html)
    names = [tag for tag, _ in parser.tags]
    assert set(names).isdisjoint({"link", "img", "iframe", "object", "embed", "base", "form"})
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts == [{}], "one inline script, no src"
    (script,) = parser.data["script"]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = next(a["content"] for t, a in parser.tags if t == "meta" and "http-equiv" in a)
    assert policy is not None and "default-src 'none'" in policy
    assert f"script-src 'sha256-{digest}'" in policy  # only this script may run
    for tag, attrs in parser.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "src" not in attrs, (tag, attrs)
        if "href" in attrs:  # only the learners' own reports, beside report.html
            assert tag == "a" and re.fullmatch(r"reports/[^/:]+\.json", attrs["href"] or "")
    assert not any("url(" in css or "@import" in css for css in parser.data["style"])


def test_learner_controlled_text_is_escaped(calc: Lab) -> None:
    html = render_html(calc, cohort_rows(), similarity=hostile_similarity())
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert HOSTILE not in html


def test_a_learner_links_to_their_json_report_whatever_the_name(calc: Lab) -> None:
    assert report_link("alice") == "reports/alice.json"
    odd = 'a b#c?d%e"f'
    link = report_link(odd)
    assert unquote(link) == f"reports/{odd}.json"
    assert not set(link) & set(' #?"')
    html = render_html(calc, [row(odd, Status.PASS, Status.PASS)])
    assert 'href="reports/a%20b%23c%3Fd%25e%22f.json"' in html


def test_error_rows_are_left_out_of_the_statistics_and_listed_apart(calc: Lab) -> None:
    rows = cohort_rows()
    html = render_html(calc, rows)
    graded = [r for r in rows if r.status is not Status.ERROR]
    scores = sorted(r.score for r in graded)
    mean = sum(scores) / len(scores)
    assert f"mean score<b>{round(mean, 2)}/30</b>" in html  # dave's 0 is not in it
    assert scores == [0, 0, 10, 20, 20, 30]
    assert "median<b>15/30</b>" in html  # with dave's 0 it would be 10
    assert "could not grade<b>1</b>" in html
    apart = section(html, "Could not be graded")
    assert "dave" in apart and "symlink leaves it" in apart
    assert "dave" not in section(html, "Learners × tasks")
    rates = section(html, "Pass rate per task")
    assert f"(4/{len(graded)})" in rates  # task 1: alice, bob, erin, frank of six graded
    # in the gradebook dave's task and score cells are blank, not 0
    dave = re.search(r"<tr><td class=\"learner\"><a [^>]*>dave</a></td>(.*?)</tr>", html)
    assert dave is not None
    assert dave.group(1).startswith('<td class="num" data-sort=""></td>' * 3)


def test_no_graded_row_at_all_still_renders(calc: Lab) -> None:
    html = render_html(calc, [row("dave", Status.ERROR, Status.ERROR, message="broken")])
    assert "mean score<b>–</b>" in html and "could not grade<b>1</b>" in html


def test_pass_rate_per_task_counts_the_graded_learners_who_passed(calc: Lab) -> None:
    rows = [r for r in cohort_rows() if r.status is not Status.ERROR]
    chart = section(render_html(calc, rows), "Pass rate per task")
    for task in calc.tasks:
        passed = sum(r.task(task.id).status is Status.PASS for r in rows)  # type: ignore[union-attr]
        assert f"{passed / len(rows):.0%} ({passed}/{len(rows)})" in chart


def test_per_task_shows_most_failing_tests_with_typical_message_and_partial_credit_mean(
    calc: Lab,
) -> None:
    rows = cohort_rows()
    html = section(render_html(calc, rows), "Per task")
    mul = html[html.index('id="task-2"') :]
    # task 2 of the six graded: 20 + 10 + 0 + 0 + 10 + 0 = 40 points, mean 6.67 of 20
    assert 'mean score <b class="num">6.67/20</b>' in mul
    assert (
        'passed <b class="num">1 of 6</b>' in mul and 'partial credit <b class="num">2</b>' in mul
    )
    failing = re.findall(r"<code title=\"([^\"]+)\">", mul)
    assert failing == [ZERO, MUL]  # 5 of 6 failed the zero test, 3 of 6 the other
    zero_row = mul[mul.index(ZERO) : mul.index(MUL)]
    assert "5 of 6" in zero_row
    # three learners hit the stub and one each the two wrong zero answers: the stub wins
    assert "NotImplementedError: TODO(student): return a * b" in zero_row
    assert "(3 of 5)" in zero_row
    add = html[html.index('id="task-1"') : html.index('id="task-2"')]
    assert "assert 4 == 5" in add and "2 of 6" in add


def test_histogram_counts_each_graded_learner_once_in_tenths_of_the_maximum(
    calc: Lab,
) -> None:
    rows = cohort_rows()
    chart = section(render_html(calc, rows), "Score histogram")
    counts = [int(c) for c in re.findall(r'class="bin"[^>]*data-count="(\d+)"', chart)]
    assert len(counts) == HISTOGRAM_BINS
    assert sum(counts) == 6  # dave is not in it
    # scores 30, 20, 0, 10, 20, 0: bins [0,3) twice, [9,12) once, [18,21) twice, [27,30] once
    assert counts == [2, 0, 0, 1, 0, 0, 2, 0, 0, 1]


def test_heatmap_cells_carry_their_score_as_text_and_partial_credit_has_its_colour(
    calc: Lab,
) -> None:
    rows = [r for r in cohort_rows() if r.status is not Status.ERROR]
    heatmap = section(render_html(calc, rows), "Learners × tasks")
    assert heatmap.count("<rect") == len(rows) * (len(calc.tasks) + 1)
    labels = re.findall(r'class="cell-label[^"]*">([^<]+)</text>', heatmap)
    assert len(labels) == len(rows) * (len(calc.tasks) + 1)
    assert "10/20" in labels and "◷ 0/20" in labels  # bob's partial credit, erin's timeout
    assert "bob, task 2: 10/20 fail" in heatmap
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


def test_run_details_say_when_which_grader_which_runner_and_what_was_resumed(
    calc: Lab,
) -> None:
    html = render_html(calc, cohort_rows(), run=RUN)
    details = section(html, "Run details")
    assert "2026-12-02 01:30 UTC" in details
    assert "<code>0123456789ab</code>" in details and "docker" in details
    assert re.search(r"graded in this run</dt><dd><span class=\"num\">6</span>", details)
    assert re.search(r"resumed from earlier reports</dt><dd><span class=\"num\">1</span>", details)
    assert "local runner: 1" in details
    carol = re.search(r">carol</a></td>.*?</tr>", html)
    assert carol is not None and "resumed · 2026-12-02 01:30 UTC" in carol.group()


def test_learner_result_reads_a_grade_report_with_its_tests(calc: Lab) -> None:
    report = GradeReport(
        lab="calc",
        score=10,
        max_score=30,
        status=Status.FAIL,
        runner="local",
        duration_s=1.5,
        tasks=(
            TaskResult("1", "Add", 10, 10, Status.PASS, "h"),
            TaskResult(
                "2",
                "Multiply",
                0,
                20,
                Status.FAIL,
                "h",
                tests=(TestResult(ZERO, Status.FAIL, "assert 1 == 0\nmore lines", task="2"),),
            ),
        ),
    )
    result = LearnerResult.from_json("zoe", report.as_json(), fresh=True)
    assert (result.score, result.status, result.duration_s) == (10, Status.FAIL, 1.5)
    assert result.runner == "local"
    assert result.task("2") == TaskCell(
        "2", 0, 20, Status.FAIL, (TestCell(ZERO, Status.FAIL, "assert 1 == 0"),)
    )


def hostile_similarity() -> SimilarityReport:
    passage = Passage("quota/limits.py", 3, 4, f"x = '{HOSTILE}'\n")
    return SimilarityReport(
        lab="calc",
        threshold=0.5,
        min_shared=150,
        k=25,
        compared=("bob", HOSTILE),
        pairs=(Pair("bob", HOSTILE, 0.9, 0.8, 400, ((passage, passage),), flagged=True),),
        method="winnowing fingerprints (copydetect 0.5.0)",
    )


def test_similarity_section_shows_flagged_pairs_and_their_passages_escaped(calc: Lab) -> None:
    html = section(
        render_html(calc, cohort_rows(), similarity=hostile_similarity()), "Similar submissions"
    )
    assert '<td class="num">90%</td><td class="num">80%</td>' in html
    assert "quota/limits.py lines 3–4" in html
    assert "<pre>x = &#x27;&lt;script&gt;" in html
    unavailable = render_html(calc, cohort_rows(), similarity="Not computed: no copydetect.")
    assert "Not computed: no copydetect." in section(unavailable, "Similar submissions")


# --- in headless Chromium -----------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(
                f"REQUIRE_DOCKER=1 but there is no Chromium at {CHROMIUM}; apt-get install chromium"
            )
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install chromium; REQUIRE_DOCKER=1 fails instead)"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the module: a fresh profile, no network, Playwright's own API."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
            args=list(CHROMIUM_ARGS),
            headless=True,
            viewport={"width": 1200, "height": 900},
        )
        yield context
        context.close()


LONG_NAME = "maximilian-alexander-vandenberghe-montgomery-featherstonehaugh-the-third"


@pytest.fixture(scope="module")
def report_page(browser: Any, calc: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A cohort report beside its reports/ folder, opened in Chromium; it records every
    request, console message and dialog."""
    folder = tmp_path_factory.mktemp("report")
    # A folder name holds no slash: this one is the hostile learner of the browser tests.
    rows = [r for r in cohort_rows() if r.learner != HOSTILE]
    rows += [
        row(LONG_NAME, Status.PASS, Status.FAIL, mul_score=10),
        row(HOSTILE_FOLDER, Status.FAIL, Status.FAIL, message=HOSTILE),
    ]
    (folder / "reports").mkdir()
    for r in rows:
        (folder / "reports" / f"{r.learner}.json").write_text(json.dumps({"learner": r.learner}))
    lab = load_lab(SIMILARITY / "labs" / "quota")
    alike = compare_submissions(lab, find_learners(SIMILARITY / "submissions"))
    page_path = folder / "report.html"
    page_path.write_text(render_html(calc, rows, run=RUN, similarity=alike), encoding="utf-8")
    page = browser.new_page()
    seen: dict[str, list[str]] = {"requests": [], "console": [], "dialogs": []}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("console", lambda message: seen["console"].append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: seen["console"].append(f"pageerror: {error}"))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    yield {"page": page, "seen": seen, "path": page_path, "rows": rows}
    page.close()


def test_browser_loads_nothing_else_runs_no_learner_script_and_logs_no_error(
    report_page: dict[str, Any],
) -> None:
    seen = report_page["seen"]
    assert seen["requests"] == [report_page["path"].as_uri()]
    assert seen["dialogs"] == []
    assert seen["console"] == []  # a blocked script or style would be logged here
    page = report_page["page"]
    learner = page.locator("#gradebook td.learner a", has_text=HOSTILE_FOLDER)
    assert learner.inner_text() == HOSTILE_FOLDER  # shown as text, not as an image
    assert page.locator("img, script[src]").count() == 0


def gradebook_learners(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all(
            "#gradebook tbody tr", "rows => rows.map(r => r.cells[0].textContent)"
        )
    )


def test_browser_sorts_the_gradebook_by_any_column_and_blank_scores_stay_last(
    report_page: dict[str, Any],
) -> None:
    page = report_page["page"]
    rows = {r.learner: r for r in report_page["rows"]}
    page.click("#gradebook th:has-text('score') button")
    ascending = gradebook_learners(page)
    assert ascending[-1] == "dave"  # not graded: blank, last either way
    scores = [rows[n].score for n in ascending[:-1]]
    assert scores == sorted(scores)
    assert page.get_attribute("#gradebook th:has-text('score')", "aria-sort") == "ascending"
    page.click("#gradebook th:has-text('score') button")
    descending = gradebook_learners(page)
    assert descending[-1] == "dave"
    assert [rows[n].score for n in descending[:-1]] == sorted(scores, reverse=True)
    page.click("#gradebook th:has-text('learner') button")
    assert gradebook_learners(page) == sorted(rows, key=str.lower)


def test_browser_each_learner_links_to_their_json_report(report_page: dict[str, Any]) -> None:
    page = report_page["page"]
    hrefs = page.eval_on_selector_all(
        "#gradebook tbody td.learner a", "links => links.map(a => a.href)"
    )
    assert len(hrefs) == len(report_page["rows"])
    for href in hrefs:
        target = Path(unquote(urlparse(href).path))
        assert target.parent == report_page["path"].parent / "reports"
        assert target.is_file(), href


def test_browser_heatmap_labels_sit_inside_their_cells(report_page: dict[str, Any]) -> None:
    inside = report_page["page"].evaluate(
        """() => {
        const svg = document.querySelector('svg[aria-label="learners by tasks heatmap"]');
        const rects = Array.from(svg.querySelectorAll('rect'));
        return Array.from(svg.querySelectorAll('text.cell-label')).map(label => {
            const b = label.getBBox();
            const cx = b.x + b.width / 2, cy = b.y + b.height / 2;
            const cell = rects.find(r => {
                const c = r.getBBox();
                return cx > c.x && cx < c.x + c.width && cy > c.y && cy < c.y + c.height;
            });
            if (!cell) { return [label.textContent, false]; }
            const c = cell.getBBox();
            return [label.textContent, b.x >= c.x && b.x + b.width <= c.x + c.width];
        });
    }"""
    )
    graded = [r for r in report_page["rows"] if r.status is not Status.ERROR]
    assert len(inside) == len(graded) * 3
    assert all(fits for _, fits in inside), [text for text, fits in inside if not fits]


def test_browser_numbers_never_wrap_even_beside_a_long_name(report_page: dict[str, Any]) -> None:
    page = report_page["page"]
    page.set_viewport_size({"width": 520, "height": 900})
    try:
        wrapped = page.evaluate(
            """() => Array.from(document.querySelectorAll('td.num, .card b, .stats .num'))
                .filter(el => el.textContent.trim() !== '')
                .filter(el => {
                    const range = document.createRange();
                    range.selectNodeContents(el);
                    const lines = new Set(Array.from(range.getClientRects())
                        .filter(r => r.width > 0).map(r => Math.round(r.top)));
                    return lines.size > 1;
                })
                .map(el => el.textContent)"""
        )
        long_cell = page.evaluate(
            """name => { const a = Array.from(document.querySelectorAll('td.learner a'))
                .find(a => a.textContent === name);
                return a.getClientRects().length; }""",
            LONG_NAME,
        )
    finally:
        page.set_viewport_size({"width": 1200, "height": 900})
    assert long_cell > 1, "the long name should wrap, or this test proves nothing"
    assert wrapped == []


def test_browser_shows_the_new_sections(report_page: dict[str, Any]) -> None:
    page = report_page["page"]
    for heading in (
        "Run details",
        "Could not be graded",
        "Per task",
        "Score histogram",
        "Similar submissions",
        "Gradebook",
    ):
        assert page.locator(f"h2:text-is('{heading}')").is_visible(), heading
    assert page.locator("#task-2 code", has_text="test_mul_by_zero").is_visible()
    assert page.locator("#not-graded + p + ul li", has_text="symlink leaves it").is_visible()
    bars = page.locator("svg[aria-label='score histogram'] rect.bin")
    assert bars.count() == HISTOGRAM_BINS
    # the similarity fixture's renamed copy is flagged, and its passages open on a click
    pair = page.locator("details.pair", has_text="eve-copies-ana")
    assert pair.count() == 1
    pair.locator("summary").click()
    assert pair.locator("pre").first.is_visible()
    assert "parsedate_to_datetime" in pair.locator("pre").first.inner_text()


def test_browser_prints_with_labels_and_colours(
    report_page: dict[str, Any], tmp_path: Path
) -> None:
    page = report_page["page"]
    page.emulate_media(media="print")
    try:
        label = page.locator("svg[aria-label='learners by tasks heatmap'] text.cell-label").first
        assert label.is_visible()
        adjust = page.evaluate("() => getComputedStyle(document.body).printColorAdjust")
        pdf = page.pdf(path=str(tmp_path / "report.pdf"))
    finally:
        page.emulate_media(media="screen")
    assert adjust == "exact"
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_render_png_draws_the_report_through_chromium(
    chromium: Path, report_page: dict[str, Any], tmp_path: Path
) -> None:
    shot = tmp_path / "report.png"
    # Playwright's sync API runs one per thread, and the module's browser holds this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(
            render_png, report_page["path"], shot, chromium=str(chromium), width=1200
        ).result()
    with Image.open(shot) as image:
        assert image.size[0] == 1200 and image.size[1] > 900  # the whole page
        colours = image.convert("RGB").getcolors(maxcolors=1 << 22) or []
    area = {colour: count for count, colour in colours}
    # the SVG charts drew: the pass, fail, partial and histogram colours cover real areas
    for colour in ((0x2E, 0x7D, 0x32), (0xC6, 0x28, 0x28), (0xF9, 0xA8, 0x25), (0x15, 0x65, 0xC0)):
        assert area.get(colour, 0) > 500, f"colour {colour} barely appears in the screenshot"


def test_the_script_hash_in_the_policy_is_the_scripts() -> None:
    digest = base64.b64encode(hashlib.sha256(cohort._SCRIPT.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in cohort.CSP
