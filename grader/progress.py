"""The learner's progress: the last grade of each lab, kept under ``.mlskills/grades``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.hints import state_dir
from grader.lab import Lab
from grader.results import GradeReport

__all__ = ["LabProgress", "load_progress", "record_grade", "task_changes"]

DONE, NOT_YET, NOT_STARTED = "done", "not yet", "not started"


def _path(root: Path, slug: str) -> Path:
    return state_dir(root) / "grades" / f"{slug}.json"


def record_grade(report: GradeReport, root: Path) -> None:
    """Keep the latest grade of the learner's working copy; a read-only checkout skips it."""
    path = _path(root, report.lab)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.as_json(), indent=1), encoding="utf-8")
    except OSError:
        pass


def _last(root: Path, slug: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(_path(root, slug).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


@dataclass(frozen=True)
class LabProgress:
    lab: Lab
    states: dict[str, str]  # task id -> done / not yet / not started
    score: float

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
        result.append(LabProgress(lab=lab, states=states, score=score))
    return result


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
