"""A cohort's results, one row per learner, and its self-contained HTML report.

Rows are read back from the learners' JSON reports (:meth:`GradeReport.as_json`), so a
resumed batch and a fresh one describe the cohort the same way. The HTML has no external
resource at all: its charts are inline SVG drawn here, and every piece of text a learner
controls (a folder name, a message) is cleaned of control characters and escaped.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from grader.lab import Lab
from grader.report import clean_text
from grader.results import Status, as_number

__all__ = ["LearnerResult", "TaskCell", "render_html"]

SLOWEST = 10
_COLOURS = {
    Status.PASS: "#2e7d32",
    Status.FAIL: "#c62828",
    Status.ERROR: "#616161",
    Status.TIMEOUT: "#6a1b9a",
}
_PARTIAL = "#f9a825"  # a failed task that still earned partial credit


@dataclass(frozen=True)
class TaskCell:
    id: str
    score: float
    max_score: float
    status: Status


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
        )
        earlier = cells.get(cell.id)
        if earlier is not None:
            status = earlier.status if earlier.status is not Status.PASS else cell.status
            cell = TaskCell(
                cell.id,
                round(earlier.score + cell.score, 2),
                round(earlier.max_score + cell.max_score, 2),
                status,
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

    @classmethod
    def from_json(cls, learner: str, data: dict[str, Any], *, fresh: bool) -> LearnerResult:
        return cls(
            learner=learner,
            status=Status(data["status"]),
            score=float(data["score"]),
            max_score=int(data["max_score"]),
            duration_s=float(data.get("duration_s", 0.0)),
            message=str(data.get("message", "")),
            tasks=_cells(data.get("tasks", [])),
            fresh=fresh,
        )

    def task(self, task_id: str) -> TaskCell | None:
        return next((t for t in self.tasks if t.id == task_id), None)


def _learner_text(text: str, limit: int = 0) -> str:
    """Text a learner controls, ready for HTML; cut to ``limit`` characters if given."""
    text = clean_text(text)
    return escape(_short(text, limit) if limit else text)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _cell_colour(cell: TaskCell | None) -> str:
    if cell is None:
        return "#ffffff"
    if cell.status is Status.FAIL and cell.score > 0:
        return _PARTIAL
    return _COLOURS[cell.status]


def _heatmap(lab: Lab, rows: Sequence[LearnerResult]) -> str:
    label_w, cell_w, cell_h, head_h = 200, 56, 24, 28
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
            tip = (
                f"{name}, task {escape(task.id)}: not graded"
                if cell is None
                else f"{name}, task {escape(task.id)}: "
                f"{as_number(cell.score)}/{as_number(cell.max_score)} {cell.status}"
            )
            body.append(
                f'<rect x="{label_w + col * cell_w + 1}" y="{y + 1}" width="{cell_w - 2}" '
                f'height="{cell_h - 2}" fill="{_cell_colour(cell)}"><title>{tip}</title></rect>'
            )
        fraction = row.score / row.max_score if row.max_score else 0.0
        x = label_w + len(lab.tasks) * cell_w
        on_colour = ' class="on-colour"' if fraction >= 0.5 else ""  # dark text on pale cells
        body += [
            f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" '
            f'fill="{_COLOURS[row.status]}" fill-opacity="{0.25 + 0.75 * fraction:.2f}">'
            f"<title>{name}: {as_number(row.score)}/{row.max_score} {row.status}</title></rect>",
            f'<text x="{x + cell_w / 2}" y="{y + 17}" text-anchor="middle"{on_colour}>'
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
        (_COLOURS[Status.PASS], "pass"),
        (_PARTIAL, "fail, partial credit"),
        (_COLOURS[Status.FAIL], "fail"),
        (_COLOURS[Status.TIMEOUT], "timeout"),
        (_COLOURS[Status.ERROR], "error (could not grade)"),
    ]
    return "".join(
        f'<span class="key"><span class="swatch" style="background:{colour}"></span>{text}</span>'
        for colour, text in items
    )


def _table(lab: Lab, rows: Sequence[LearnerResult]) -> str:
    head = "".join(f"<th title='{escape(t.title)}'>{escape(t.id)}</th>" for t in lab.tasks)
    lines = [
        "<table><thead><tr><th>learner</th>"
        + head
        + "<th>score</th><th>status</th><th>time</th><th>message</th></tr></thead><tbody>"
    ]
    for row in rows:
        cells = "".join(
            "<td>–</td>"
            if (cell := row.task(t.id)) is None
            else f"<td>{as_number(cell.score)}/{as_number(cell.max_score)}</td>"
            for t in lab.tasks
        )
        lines.append(
            f"<tr><td>{_learner_text(row.learner)}</td>{cells}"
            f"<td>{as_number(row.score)}/{row.max_score}</td>"
            f'<td class="status-{row.status}">{row.status}</td>'
            f"<td>{row.duration_s:.1f} s</td><td>{_learner_text(row.message)}</td></tr>"
        )
    lines.append("</tbody></table>")
    return "".join(lines)


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px 32px; color: #212121; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.lede { color: #555; margin-top: 0; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 90px; }
.card b { display: block; font-size: 20px; }
svg text { font: 12px system-ui, sans-serif; fill: #212121; }
svg text.on-colour { fill: #ffffff; font-weight: 600; }
.key { margin-right: 14px; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
          vertical-align: -1px; border-radius: 2px; }
table { border-collapse: collapse; margin-top: 8px; }
th, td { border-bottom: 1px solid #e0e0e0; padding: 3px 10px; text-align: left; }
td { max-width: 520px; overflow-wrap: anywhere; }
.status-pass { color: #2e7d32; } .status-fail { color: #c62828; }
.status-error { color: #616161; } .status-timeout { color: #6a1b9a; }
"""


def render_html(lab: Lab, rows: Sequence[LearnerResult]) -> str:
    """The cohort report: summary, pass rate per task, heatmap, slowest, gradebook."""
    scores = [r.score for r in rows]
    counts = {status: sum(r.status is status for r in rows) for status in Status}
    cards = [
        ("learners", str(len(rows))),
        ("mean score", f"{as_number(statistics.fmean(scores)) if scores else 0}/{lab.max_score}"),
        ("median", f"{as_number(statistics.median(scores)) if scores else 0}/{lab.max_score}"),
        *((str(status), str(counts[status])) for status in Status),
    ]
    card_html = "".join(f'<div class="card">{name}<b>{value}</b></div>' for name, value in cards)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(lab.title)}: cohort report</title>
<style>{_CSS}</style></head>
<body>
<h1>{escape(lab.title)} — cohort report</h1>
<p class="lede">lab <code>{escape(lab.slug)}</code>, {len(rows)} submissions,
{lab.max_score} points in {len(lab.tasks)} tasks</p>
<div class="cards">{card_html}</div>
<h2>Pass rate per task</h2>
{_pass_rates(lab, rows)}
<h2>Learners × tasks</h2>
<p>{_legend()}</p>
{_heatmap(lab, rows)}
<h2>Slowest submissions</h2>
{_slowest(rows)}
<h2>Gradebook</h2>
{_table(lab, rows)}
</body></html>
"""
