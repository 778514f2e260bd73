"""Progressive hints: each call for the same task reveals one more level."""

from __future__ import annotations

import json
from pathlib import Path

from grader.lab import Lab, Task

__all__ = ["next_hints", "state_dir"]


def state_dir(root: Path) -> Path:
    """Where the learner's own grader state lives (git-ignored)."""
    return root / ".mlskills"


def next_hints(lab: Lab, task: Task, state_root: Path) -> tuple[str, ...]:
    """The hint levels to show now: one more than last time, up to all of them."""
    path = state_dir(state_root) / "hints.json"
    try:
        seen: dict[str, int] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        seen = {}
    key = f"{lab.slug}/{task.id}"
    level = min(seen.get(key, 0) + 1, len(task.hint_levels))
    seen[key] = level
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(seen, indent=1, sort_keys=True), encoding="utf-8")
    except OSError:
        pass  # a read-only checkout still gets its hint, just not the next level
    return task.hint_levels[:level]
