"""A cohort's results, one row per learner, and its self-contained HTML report.

Rows are read back from the learners' JSON reports (:meth:`GradeReport.as_json`), so a
resumed batch and a fresh one describe the cohort the same way.

The report is one file with no external resource: its charts are inline SVG drawn here,
its one script (the gradebook's sorting) is inline, and a Content-Security-Policy lets
nothing else run or load. Every piece of text a learner controls (a folder name, a
message, a shared passage) is cleaned of control characters and escaped.

A submission that could not be graded (status ``error``) is not a learner's result: it
is left out of the mean, the median, the pass rates, the histogram and the heatmap, and
listed apart with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import os
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import quote

from grader.errors import GraderError
from grader.lab import Lab, Task
from grader.report import clean_text, first_line
from grader.results import Status, as_number
from grader.similarity import SimilarityReport

__all__ = [
    "CHROMIUM_ARGS",
    "HISTOGRAM_BINS",
    "MOST_FAILING",
    "SLOWEST",
    "LearnerResult",
    "RunDetails",
    "TaskCell",
    "TestCell",
    "graded_rows",
    "render_html",
    "render_png",
    "report_link",
]

SLOWEST = 10
MOST_FAILING = 5
HISTOGRAM_BINS = 10
_COLOURS = {
    Status.PASS: "#2e7d32",
    Status.FAIL: "#c62828",
    Status.ERROR: "#616161",
    Status.TIMEOUT: "#6a1b9a",
}
_PARTIAL = "#f9a825"  # a failed task that still earned partial credit
_MARK = {Status.PASS: "✔", Status.FAIL: "✘", Status.ERROR: "!", Status.TIMEOUT: "◷"}


@dataclass(frozen=True)
class TestCell:
    """One test of one learner: its name and the first line of its message."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    status: Status
    message: str = ""


@dataclass(frozen=True)
class TaskCell:
    id: str
    score: float
    max_score: float
    status: Status
    tests: tuple[TestCell, ...] = ()


def _cells(tasks: list[dict[str, Any]]) -> tuple[TaskCell, ...]:
    """One cell per task: a task's hidden entry is added to its visible one, since the
    gradebook is the instructor's and counts the whole task."""
    cells: dict[str, TaskCell] = {}
    for task in tasks:
        cell = TaskCell(
            id=str(task["id"]),
            score=float(task["score"]),
            max_score=float(task["max_score"]),
            status=Status(task["status"]),
            tests=tuple(
                TestCell(
                    name=clean_text(str(test["name"])),
                    status=Status(test["status"]),
                    message=first_line(clean_text(str(test.get("message", ""))), 300),
                )
                for test in task.get("tests", [])
            ),
        )
        earlier = cells.get(cell.id)
        if earlier is not None:
            status = earlier.status if earlier.status is not Status.PASS else cell.status
            cell = TaskCell(
                cell.id,
                round(earlier.score + cell.score, 2),
                round(earlier.max_score + cell.max_score, 2),
                status,
                earlier.tests + cell.tests,
            )
        cells[cell.id] = cell
    return tuple(cells.values())


@dataclass(frozen=True)
class LearnerResult:
    learner: str
    status: Status
    score: float
    max_score: int
    duration_s: float
    message: str
    tasks: tuple[TaskCell, ...]
    fresh: bool = False  # graded in this run, not resumed from an earlier report
    runner: str = ""
    graded_at: datetime | None = None  # when its report was written

    @classmethod
    def from_json(
        cls,
        learner: str,
        data: dict[str, Any],
        *,
        fresh: bool,
        graded_at: datetime | None = None,
    ) -> LearnerResult:
        return cls(
            learner=learner,
            status=Status(data["status"]),
            score=float(data["score"]),
            max_score=int(data["max_score"]),
            duration_s=float(data.get("duration_s", 0.0)),
            message=str(data.get("message", "")),
            tasks=_cells(data.get("tasks", [])),
            fresh=fresh,
            runner=str(data.get("runner", "")),
            graded_at=graded_at,
        )

    @property
    def graded(self) -> bool:
        """False when the grader could not grade the submission (its status is error)."""
        return self.status is not Status.ERROR

    def task(self, task_id: str) -> TaskCell | None:
        return next((t for t in self.tasks if t.id == task_id), None)


def graded_rows(rows: Sequence[LearnerResult]) -> list[LearnerResult]:
    """The rows that count in the statistics: every one but those that could not be graded."""
    return [r for r in rows if r.graded]


@dataclass(frozen=True)
class RunDetails:
    """Where the report came from: when, which grader, which runner."""

    made_at: datetime
    grader_version: str
    runner: str


def report_link(learner: str) -> str:
    """The learner's JSON report, relative to report.html (a folder name has no slash).

    The file name's own bytes are quoted, so an undecodable folder name still links.
    """
    try:
        raw = os.fsencode(learner + ".json")
    except UnicodeEncodeError:
        raw = (learner + ".json").encode("utf-8", errors="replace")
    return "reports/" + quote(raw, safe="")


def _learner_text(text: str, limit: int = 0) -> str:
    """Text a learner controls, ready for HTML; cut to ``limit`` characters if given."""
    text = clean_text(text)
    return escape(_short(text, limit) if limit else text)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fraction(part: float, whole: float) -> str:
    return f"{as_number(round(part, 2))}/{as_number(whole)}"


def _percent(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg role="img" aria-label="{escape(label)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        + "".join(body)
        + "</svg>"
    )


def _pass_rates(lab: Lab, rows: Sequence[LearnerResult]) -> str:
    label_w, bar_w, row_h = 240, 360, 30
    body: list[str] = []
    for index, task in enumerate(lab.tasks):
        passed = sum(
            (cell := row.task(task.id)) is not None and cell.status is Status.PASS for row in rows
        )
        rate = passed / len(rows) if rows else 0.0
        y = index * row_h
        body += [
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end">'
            f"{escape(_short(f'{task.id}. {task.title}', 32))}</text>",
            f'<rect x="{label_w}" y="{y + 5}" width="{bar_w}" height="20" fill="#eceff1"/>',
            f'<rect x="{label_w}" y="{y + 5}" width="{rate * bar_w:.1f}" height="20" '
            f'fill="{_COLOURS[Status.PASS]}"><title>{escape(task.title)}: {passed} of '
            f"{len(rows)} passed</title></rect>",
            f'<text x="{label_w + bar_w + 8}" y="{y + 19}">{rate:.0%} ({passed}/{len(rows)})'
            "</text>",
        ]
    return _svg(label_w + bar_w + 110, len(lab.tasks) * row_h, body, "pass rate per task")


def _failing_tests(task: Task, rows: Sequence[LearnerResult]) -> str:
    """The task's tests that fail most often, each with its most common first message."""
    failures: Counter[str] = Counter()
    messages: dict[str, Counter[str]] = {}
    for row in rows:
        cell = row.task(task.id)
        for test in cell.tests if cell is not None else ():
            if test.status is not Status.PASS:
                failures[test.name] += 1
                messages.setdefault(test.name, Counter())[test.message] += 1
    if not failures:
        return '<p class="quiet">No test of this task failed.</p>'
    lines = [
        '<table class="failing"><thead><tr><th>test</th><th class="num">failed</th>'
        "<th>typical first message</th></tr></thead><tbody>"
    ]
    ranked = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    for name, count in ranked[:MOST_FAILING]:
        message, times = min(messages[name].items(), key=lambda item: (-item[1], item[0]))
        short = name.rsplit("::", 1)[-1]
        shown = _learner_text(message) if message else '<span class="quiet">(no message)</span>'
        lines.append(
            f'<tr><td><code title="{_learner_text(name)}">{_learner_text(short)}</code></td>'
            f'<td class="num">{count} of {len(rows)}</td>'
            f'<td>{shown} <span class="quiet num">({times} of {count})</span></td></tr>'
        )
    lines.append("</tbody></table>")
    if len(ranked) > MOST_FAILING:
        lines.append(f'<p class="quiet">and {len(ranked) - MOST_FAILING} more failing tests</p>')
    return "".join(lines)


def _per_task(lab: Lab, rows: Sequence[LearnerResult]) -> str:
    parts: list[str] = []
    for task in lab.tasks:
        cells = [c for r in rows if (c := r.task(task.id)) is not None]
        passed = sum(c.status is Status.PASS for c in cells)
        mean = statistics.fmean(c.score for c in cells) if cells else 0.0
        partial = sum(c.status is not Status.PASS and c.score > 0 for c in cells)
        parts.append(
            f'<section class="task" id="task-{escape(task.id)}">'
            f"<h3>{escape(task.id)}. {escape(task.title)}</h3>"
            f'<p class="stats">mean score <b class="num">{_fraction(mean, task.points)}</b> '
            f'<span class="num">({_percent(mean, task.points)})</span> with partial credit · '
            f'passed <b class="num">{passed} of {len(cells)}</b> · '
            f'partial credit <b class="num">{partial}</b></p>'
            f"{_failing_tests(task, rows)}</section>"
        )
    return "".join(parts)


def _histogram(lab: Lab, rows: Sequence[LearnerResult]) -> str:
    """Learners per tenth of the maximum score; the last bin includes the maximum."""
    counts = [0] * HISTOGRAM_BINS
    for row in rows:
        fraction = row.score / lab.max_score if lab.max_score else 0.0
        counts[min(int(fraction * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)] += 1
    left, bar_w, gap, chart_h, top = 36, 52, 6, 160, 20
    tallest = max(counts, default=0) or 1
    body = [
        f'<line x1="{left}" y1="{top + chart_h}" x2="{left + HISTOGRAM_BINS * (bar_w + gap)}" '
        f'y2="{top + chart_h}" stroke="#9e9e9e"/>'
    ]
    for index, count in enumerate(counts):
        low = lab.max_score * index / HISTOGRAM_BINS
        high = lab.max_score * (index + 1) / HISTOGRAM_BINS
        closing = "]" if index == HISTOGRAM_BINS - 1 else ")"
        span = f"[{as_number(round(low, 2))}, {as_number(round(high, 2))}{closing}"
        height = count / tallest * chart_h
        x = left + index * (bar_w + gap)
        y = top + chart_h - height
        body += [
            f'<rect class="bin" x="{x}" y="{y:.1f}" width="{bar_w}" height="{height:.1f}" '
            f'fill="#1565c0" data-count="{count}"><title>{span}: {count} learners</title></rect>',
            f'<text x="{x + bar_w / 2}" y="{y - 5:.1f}" text-anchor="middle">{count}</text>',
            f'<text x="{x + bar_w / 2}" y="{top + chart_h + 16}" text-anchor="middle">'
            f"{as_number(round(low, 2))}</text>",
        ]
    body.append(
        f'<text x="{left + HISTOGRAM_BINS * (bar_w + gap)}" y="{top + chart_h + 16}" '
        f'text-anchor="middle">{lab.max_score}</text>'
    )
    width = left + HISTOGRAM_BINS * (bar_w + gap) + 30
    return _svg(width, top + chart_h + 26, body, "score histogram")


def _cell_colour(cell: TaskCell | None) -> str:
    if cell is None:
        return "#ffffff"
    if cell.status is Status.FAIL and cell.score > 0:
        return _PARTIAL
    return _COLOURS[cell.status]


def _cell_label(cell: TaskCell) -> str:
    """What a heatmap cell says, so that it reads in print and without colour."""
    score = _fraction(cell.score, cell.max_score)
    return score if cell.status in (Status.PASS, Status.FAIL) else f"{_MARK[cell.status]} {score}"


def _heatmap(lab: Lab, rows: Sequence[LearnerResult]) -> str:
    label_w, cell_w, cell_h, head_h = 200, 64, 24, 28
    columns = len(lab.tasks) + 1
    body: list[str] = []
    for col, task in enumerate(lab.tasks):
        x = label_w + col * cell_w + cell_w / 2
        body.append(
            f'<text x="{x}" y="{head_h - 10}" text-anchor="middle">{escape(task.id)}'
            f"<title>{escape(task.title)}</title></text>"
        )
    body.append(
        f'<text x="{label_w + len(lab.tasks) * cell_w + cell_w / 2}" y="{head_h - 10}" '
        'text-anchor="middle">total</text>'
    )
    for index, row in enumerate(rows):
        y = head_h + index * cell_h
        name = _learner_text(row.learner)
        body.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
            f"{_learner_text(row.learner, 26)}<title>{name}</title></text>"
        )
        for col, task in enumerate(lab.tasks):
            cell = row.task(task.id)
            x = label_w + col * cell_w
            tip = (
                f"{name}, task {escape(task.id)}: not graded"
                if cell is None
                else f"{name}, task {escape(task.id)}: "
                f"{as_number(cell.score)}/{as_number(cell.max_score)} {cell.status}"
            )
            body.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" '
                f'height="{cell_h - 2}" fill="{_cell_colour(cell)}"><title>{tip}</title></rect>'
            )
            if cell is not None:
                pale = " on-pale" if _cell_colour(cell) == _PARTIAL else ""
                body.append(
                    f'<text x="{x + cell_w / 2}" y="{y + 17}" text-anchor="middle" '
                    f'class="cell-label{pale}">{_cell_label(cell)}</text>'
                )
        fraction = row.score / row.max_score if row.max_score else 0.0
        x = label_w + len(lab.tasks) * cell_w
        on_colour = "cell-label" if fraction >= 0.5 else "cell-label on-pale"
        body += [
            f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" '
            f'fill="{_COLOURS[row.status]}" fill-opacity="{0.25 + 0.75 * fraction:.2f}">'
            f"<title>{name}: {as_number(row.score)}/{row.max_score} {row.status}</title></rect>",
            f'<text x="{x + cell_w / 2}" y="{y + 17}" text-anchor="middle" class="{on_colour}">'
            f"{fraction:.0%}</text>",
        ]
    width = label_w + columns * cell_w + 4
    return _svg(width, head_h + len(rows) * cell_h + 4, body, "learners by tasks heatmap")


def _slowest(rows: Sequence[LearnerResult]) -> str:
    chosen = sorted(rows, key=lambda r: (-r.duration_s, r.learner))[:SLOWEST]
    label_w, bar_w, row_h = 200, 360, 26
    longest = max((r.duration_s for r in chosen), default=0.0) or 1.0
    body: list[str] = []
    for index, row in enumerate(chosen):
        y = index * row_h
        body += [
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
            f"{_learner_text(row.learner, 26)}<title>{_learner_text(row.learner)}</title>"
            "</text>",
            f'<rect x="{label_w}" y="{y + 4}" width="{row.duration_s / longest * bar_w:.1f}" '
            f'height="18" fill="{_COLOURS[row.status]}"><title>{row.status}</title></rect>',
            f'<text x="{label_w + row.duration_s / longest * bar_w + 6:.1f}" y="{y + 17}">'
            f"{row.duration_s:.1f} s · {row.status}</text>",
        ]
    return _svg(label_w + bar_w + 130, max(len(chosen), 1) * row_h, body, "slowest submissions")


def _legend() -> str:
    items = [
        (_COLOURS[Status.PASS], "pass (full marks)"),
        (_PARTIAL, "fail, partial credit"),
        (_COLOURS[Status.FAIL], "fail"),
        (_COLOURS[Status.TIMEOUT], f"{_MARK[Status.TIMEOUT]} timeout"),
    ]
    return (
        "".join(
            f'<span class="key"><span class="swatch" style="background:{colour}"></span>'
            f"{text}</span>"
            for colour, text in items
        )
        + '<span class="key">each cell: points/maximum</span>'
    )


def _errors(rows: Sequence[LearnerResult]) -> str:
    broken = [r for r in rows if not r.graded]
    if not broken:
        return ""
    items = "".join(
        f'<li><a href="{escape(report_link(r.learner))}">{_learner_text(r.learner)}</a>: '
        f"{_learner_text(r.message) or 'no reason recorded'}</li>"
        for r in broken
    )
    return (
        '<h2 id="not-graded">Could not be graded</h2>'
        f'<p class="lede">{len(broken)} submissions could not be graded. They are left out of '
        "the mean, the median, the pass rates, the histogram and the heatmap, and their "
        "task cells in gradebook.csv are blank. Fix the cause and run the batch again: "
        f'they are graded again.</p><ul class="errors">{items}</ul>'
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip() if moment is not None else "–"


def _run_details(run: RunDetails | None, rows: Sequence[LearnerResult]) -> str:
    fresh = [r for r in rows if r.fresh]
    resumed = [r for r in rows if not r.fresh]
    runners = Counter(r.runner or "unknown" for r in resumed)
    items = []
    if run is not None:
        items += [
            ("report made", f'<span class="num">{escape(_when(run.made_at))}</span>'),
            ("grader version", f"<code>{escape(run.grader_version)}</code>"),
            ("runner of this run", escape(run.runner)),
        ]
    items.append(("graded in this run", f'<span class="num">{len(fresh)}</span>'))
    resumed_text = f'<span class="num">{len(resumed)}</span>'
    if resumed:
        by = ", ".join(f"{escape(name)} runner: {count}" for name, count in sorted(runners.items()))
        resumed_text += f" (earlier reports; {by})"
    items.append(("resumed from earlier reports", resumed_text))
    return (
        '<dl class="run">'
        + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in items)
        + "</dl>"
    )


def _table(lab: Lab, rows: Sequence[LearnerResult]) -> str:
    def head(label: str, title: str = "", numeric: bool = False) -> str:
        kind = ' data-type="number"' if numeric else ""
        tip = f' title="{escape(title)}"' if title else ""
        return f'<th{kind}{tip}><button type="button">{label}</button></th>'

    heads = [
        head("learner"),
        *(head(escape(t.id), f"{t.id}. {t.title}", numeric=True) for t in lab.tasks),
        head("score", numeric=True),
        head("status"),
        head("graded"),
        head("time", numeric=True),
        head("message"),
    ]
    lines = ['<table class="sortable" id="gradebook"><thead><tr>', *heads, "</tr></thead><tbody>"]
    for row in rows:
        if row.graded:
            cells = "".join(
                '<td class="num" data-sort="">–</td>'
                if (cell := row.task(t.id)) is None
                else f'<td class="num" data-sort="{cell.score}">'
                f"{_fraction(cell.score, cell.max_score)}</td>"
                for t in lab.tasks
            )
            total = _fraction(row.score, row.max_score)
            score = f'<td class="num" data-sort="{row.score}">{total}</td>'
        else:  # not a grade: blank, as in gradebook.csv
            cells = '<td class="num" data-sort=""></td>' * len(lab.tasks)
            score = '<td class="num" data-sort=""></td>'
        graded = "this run" if row.fresh else f"resumed · {_when(row.graded_at)}"
        lines.append(
            f'<tr><td class="learner"><a href="{escape(report_link(row.learner))}">'
            f"{_learner_text(row.learner)}</a></td>{cells}{score}"
            f'<td class="status-{row.status}">{_MARK[row.status]} {row.status}</td>'
            f'<td class="num">{escape(graded)}</td>'
            f'<td class="num" data-sort="{row.duration_s:.2f}">{row.duration_s:.1f} s</td>'
            f"<td>{_learner_text(row.message)}</td></tr>"
        )
    lines.append("</tbody></table>")
    return "".join(lines)


def _similarity(report: SimilarityReport | str | None) -> str:
    if report is None:
        return ""
    if isinstance(report, str):
        return f'<h2 id="similarity">Similar submissions</h2><p class="quiet">{escape(report)}</p>'
    flagged = report.flagged
    parts = [
        '<h2 id="similarity">Similar submissions</h2>',
        f'<p class="lede">{escape(report.method)}. Identifiers, literals, whitespace and '
        f"comments are normalised. A pair is flagged when at least "
        f"{report.threshold:.0%} of either submission's own code is also in the other "
        f"({len(report.compared)} submissions compared). A flag is a reason to look, not a "
        "verdict.</p>",
    ]
    if report.skipped:
        skipped = "".join(
            f"<li>{_learner_text(name)}: {_learner_text(reason)}</li>"
            for name, reason in report.skipped
        )
        parts.append(f'<p>Not compared:</p><ul class="errors">{skipped}</ul>')
    if not flagged:
        top = report.pairs[0] if report.pairs else None
        closest = (
            f" The closest pair, {_learner_text(top.left)} and {_learner_text(top.right)}, "
            f'shares <span class="num">{top.score:.0%}</span>.'
            if top is not None
            else ""
        )
        parts.append(f"<p>No pair is flagged.{closest}</p>")
        return "".join(parts)
    parts.append(
        '<table class="pairs"><thead><tr><th>learner</th><th>learner</th>'
        '<th class="num">of the first\'s code</th><th class="num">of the second\'s code</th>'
        "</tr></thead><tbody>"
    )
    for pair in flagged:
        parts.append(
            f"<tr><td>{_learner_text(pair.left)}</td><td>{_learner_text(pair.right)}</td>"
            f'<td class="num">{pair.left_share:.0%}</td>'
            f'<td class="num">{pair.right_share:.0%}</td></tr>'
        )
    parts.append("</tbody></table>")
    for pair in flagged:
        passages = []
        for mine, theirs in pair.passages:
            right = (
                f'<div><p class="where">{_learner_text(pair.right)} · '
                f"{_learner_text(theirs.file)} lines {theirs.first}–{theirs.last}</p>"
                f"<pre>{_learner_text(theirs.text)}</pre></div>"
                if theirs is not None
                else "<div></div>"
            )
            passages.append(
                '<div class="passage"><div><p class="where">'
                f"{_learner_text(pair.left)} · {_learner_text(mine.file)} lines "
                f"{mine.first}–{mine.last}</p><pre>{_learner_text(mine.text)}</pre></div>"
                f"{right}</div>"
            )
        parts.append(
            f'<details class="pair"><summary>{_learner_text(pair.left)} and '
            f"{_learner_text(pair.right)}: shared passages</summary>"
            + "".join(passages)
            + "</details>"
        )
    return "".join(parts)


# The gradebook's sorting, the report's one script; the policy admits it by its hash.
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, column) {
    th.querySelector("button").addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var numeric = th.dataset.type === "number";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[column];
        var value = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
        return numeric ? (value === "" ? null : parseFloat(value)) : value.trim().toLowerCase();
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === y) { return 0; }
        if (x === null) { return 1; }
        if (y === null) { return -1; }
        return (x < y ? -1 : 1) * (ascending ? 1 : -1);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
)

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px 32px; color: #212121; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
h3 { font-size: 15px; margin: 18px 0 2px; }
.lede, .quiet { color: #555; margin-top: 0; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 90px; }
.card b { display: block; font-size: 20px; white-space: nowrap; }
.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
svg text { font: 12px system-ui, sans-serif; fill: #212121; }
svg text.cell-label { fill: #ffffff; font-weight: 600; }
svg text.cell-label.on-pale { fill: #212121; }
.key { margin-right: 14px; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
          vertical-align: -1px; border-radius: 2px; }
table { border-collapse: collapse; margin-top: 8px; }
th, td { border-bottom: 1px solid #e0e0e0; padding: 3px 10px; text-align: left;
         vertical-align: top; }
th { white-space: nowrap; }
td { max-width: 520px; overflow-wrap: anywhere; }
td.learner { min-width: 8em; }
th button { font: inherit; font-weight: 600; border: 0; background: none; padding: 0;
            cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button::after { content: " ▲"; }
th[aria-sort="descending"] button::after { content: " ▼"; }
dl.run { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
dl.run dt { color: #555; } dl.run dd { margin: 0; }
.stats { margin: 0 0 4px; }
ul.errors li { margin-bottom: 2px; }
.passage { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin: 8px 0; }
.passage pre { background: #f5f5f5; padding: 6px 8px; margin: 0; overflow-x: auto;
               font-size: 12px; }
.where { margin: 0 0 2px; color: #555; }
.status-pass { color: #2e7d32; } .status-fail { color: #c62828; }
.status-error { color: #616161; } .status-timeout { color: #6a1b9a; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { margin: 0; }
  details.pair { display: block; }
  th button::after { content: none; }
}
"""


def render_html(
    lab: Lab,
    rows: Sequence[LearnerResult],
    *,
    run: RunDetails | None = None,
    similarity: SimilarityReport | str | None = None,
) -> str:
    """The cohort report: summary, run details, submissions that could not be graded,
    each task's most failing tests, pass rates, histogram, heatmap, slowest, similar
    pairs, and the sortable gradebook."""
    graded = graded_rows(rows)
    scores = [r.score for r in graded]
    counts = {status: sum(r.status is status for r in rows) for status in Status}
    cards = [
        ("learners", str(len(rows))),
        ("graded", str(len(graded))),
        ("mean score", f"{_fraction(statistics.fmean(scores), lab.max_score) if scores else '–'}"),
        ("median", f"{_fraction(statistics.median(scores), lab.max_score) if scores else '–'}"),
        *((str(status), str(counts[status])) for status in Status if status is not Status.ERROR),
        ("could not grade", str(counts[Status.ERROR])),
    ]
    card_html = "".join(f'<div class="card">{name}<b>{value}</b></div>' for name, value in cards)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{escape(lab.title)}: cohort report</title>
<style>{_CSS}</style></head>
<body>
<h1>{escape(lab.title)} — cohort report</h1>
<p class="lede">lab <code>{escape(lab.slug)}</code>, {len(rows)} submissions,
{lab.max_score} points in {len(lab.tasks)} tasks. The statistics count the
{len(graded)} submissions that were graded.</p>
<div class="cards">{card_html}</div>
<h2 id="run">Run details</h2>
{_run_details(run, rows)}
{_errors(rows)}
<h2 id="tasks">Per task</h2>
{_per_task(lab, graded)}
<h2>Pass rate per task</h2>
{_pass_rates(lab, graded)}
<h2>Score histogram</h2>
{_histogram(lab, graded)}
<h2>Learners × tasks</h2>
<p>{_legend()}</p>
{_heatmap(lab, graded)}
<h2>Slowest submissions</h2>
{_slowest(rows)}
{_similarity(similarity)}
<h2>Gradebook</h2>
<p class="quiet">Click a heading to sort. Each learner links to their JSON report.</p>
{_table(lab, rows)}
<script>{_SCRIPT}</script>
</body></html>
"""


# Chromium's flags for rendering a report: no network, no profile state, no sandbox
# (the report is our own file, and the sandbox needs privileges CI runners lack).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def render_png(
    html_path: Path,
    png_path: Path,
    *,
    chromium: str = "/usr/bin/chromium",
    width: int = 1280,
    full_page: bool = True,
) -> None:
    """Screenshot the report at ``html_path`` into ``png_path`` with headless Chromium,
    through Playwright (the ``dev`` extra); any request to the network is refused."""
    from playwright.sync_api import Route, sync_playwright

    if not Path(chromium).is_file():
        raise GraderError(f"No Chromium at {chromium}; install it (apt-get install chromium).")
    source = html_path.resolve()

    def refuse(route: Route) -> None:
        if route.request.url == source.as_uri() or route.request.url.startswith("data:"):
            route.continue_()
        else:
            route.abort()

    with TemporaryDirectory(prefix="mlskills-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            args=list(CHROMIUM_ARGS),
            headless=True,
            viewport={"width": width, "height": 900},
        )
        try:
            page = context.new_page()
            page.route("**/*", refuse)
            page.goto(source.as_uri())
            page.screenshot(path=str(png_path), full_page=full_page)
        finally:
            context.close()
