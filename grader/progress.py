"""The learner's progress: the last grade of each lab, kept under ``.mlskills/grades``.

Only a whole-lab grade counts (a task graded on its own says nothing of the others), but a
task-only grade is noted too, so that progress can say when it is newer than the row it
shows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.hints import state_dir
from grader.lab import Lab
from grader.results import GradeReport

__all__ = ["LabProgress", "load_progress", "progress_notes", "record_grade", "task_changes"]

DONE, NOT_YET, NOT_STARTED = "done", "not yet", "not started"


def _path(root: Path, slug: str, *, tasks_only: bool = False) -> Path:
    return state_dir(root) / "grades" / (f"{slug}.tasks.json" if tasks_only else f"{slug}.json")


def record_grade(report: GradeReport, root: Path, *, tasks: tuple[str, ...] = ()) -> None:
    """Keep the latest grade of the learner's working copy; a read-only checkout skips it.

    With ``tasks`` (a grade of those tasks only), it is kept apart: progress shows only
    whole-lab grades, and says when a task-only one is newer.
    """
    path = _path(root, report.lab, tasks_only=bool(tasks))
    record = {**report.as_json(), "graded_at": time.time(), "only_tasks": list(tasks)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    except OSError:
        pass


def _last(root: Path, slug: str, *, tasks_only: bool = False) -> dict[str, Any] | None:
    try:
        path = _path(root, slug, tasks_only=tasks_only)
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _when(record: dict[str, Any] | None) -> float:
    value = record.get("graded_at") if record else None
    return float(value) if isinstance(value, int | float) else 0.0


@dataclass(frozen=True)
class LabProgress:
    lab: Lab
    states: dict[str, str]  # task id -> done / not yet / not started
    score: float
    whole_at: float = 0.0  # when the lab was last graded whole (0: never; time.time())
    newer_tasks: tuple[str, ...] = ()  # tasks graded on their own since then
    tasks_at: float = 0.0  # when

    @property
    def max_score(self) -> int:
        return self.lab.max_score


def load_progress(labs: list[Lab], root: Path) -> list[LabProgress]:
    result = []
    for lab in labs:
        last = _last(root, lab.slug)
        tasks = last["tasks"] if last else []
        graded = {t["id"]: t for t in tasks if not t.get("hidden")}
        states = {}
        for task in lab.tasks:
            entry = graded.get(task.id)
            if entry is None:
                states[task.id] = NOT_STARTED
            else:
                states[task.id] = DONE if entry["status"] == "pass" else NOT_YET
        score = sum(float(t["score"]) for t in graded.values() if lab.task(t["id"]))
        only = _last(root, lab.slug, tasks_only=True)
        newer: tuple[str, ...] = ()
        if only is not None and _when(only) > _when(last):
            newer = tuple(str(t) for t in only.get("only_tasks", []) if lab.task(str(t)))
        result.append(
            LabProgress(
                lab=lab,
                states=states,
                score=score,
                whole_at=_when(last) if last else 0.0,
                newer_tasks=newer,
                tasks_at=_when(only),
            )
        )
    return result


def progress_notes(rows: list[LabProgress]) -> list[str]:
    """A sentence for each lab whose row is older than a grade of some of its tasks."""
    notes = []
    for row in rows:
        if not row.newer_tasks:
            continue
        slug = row.lab.slug
        noun = "task" if len(row.newer_tasks) == 1 else "tasks"
        which = f"{noun} {', '.join(row.newer_tasks)}"
        at = time.strftime("%H:%M", time.localtime(row.tasks_at))
        if row.whole_at:
            since = time.strftime("%H:%M", time.localtime(row.whole_at))
            shown = f"the {slug} row is your last whole-lab grade ({since}), older than"
        else:
            shown = f"the {slug} row has no whole-lab grade yet, only"
        notes.append(
            f"{shown} your grade of {which} alone ({at}); "
            f"make grade lab={slug} brings it up to date."
        )
    return notes


def task_changes(before: GradeReport | None, after: GradeReport) -> list[str]:
    """Sentences for the tasks whose status changed between two grades."""
    if before is None:
        return []
    old = {t.id: t for t in before.tasks}
    lines = []
    for task in after.tasks:
        prev = old.get(task.id)
        if prev is None or prev.status is task.status:
            continue
        lines.append(f"task {task.id} ({task.title}): {prev.status} → {task.status}")
    return lines
