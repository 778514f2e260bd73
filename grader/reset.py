"""Put a learner's files back to the starter, keeping a backup of what they replace.

The learner's working copy is ``labs/<slug>/`` itself, so the pristine starter comes from
git: the version at ``--ref`` (HEAD by default), or, for a file whose deletion the learner
committed, the version just before that commit. A deleted, emptied or unreadable file is
restored like an edited one.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.hints import state_dir
from grader.lab import Lab, repo_root
from grader.report import explain_missing_modules, explain_unusable_files
from grader.results import GradeReport
from grader.workspace import declared_files, git_starter, unusable_files

__all__ = ["ResetPlan", "apply_reset", "explain_working_copy", "plan_reset", "reset_command"]


@dataclass(frozen=True)
class ResetPlan:
    lab: Lab
    ref: str
    files: tuple[str, ...]  # lab-relative paths whose content differs from the starter


def reset_command(lab: Lab, rel: str) -> str:
    """The command a learner runs to put one file back to the starter."""
    return f"make reset lab={lab.slug} file={rel}"


def explain_working_copy(lab: Lab, report: GradeReport) -> GradeReport:
    """A grade of the working copy, whose missing, empty or unreadable files are named,
    each with the command that restores it, and whose imports of packages the lab's image
    lacks say so."""
    unusable = unusable_files(lab, lab.root)
    report = explain_missing_modules(report, lab)
    return explain_unusable_files(report, unusable, lambda rel: reset_command(lab, rel))


def _starter(lab: Lab, rel: str, ref: str) -> bytes:
    data = git_starter(lab, rel, ref)
    if data is None:
        raise GraderError(
            f"The starter of labs/{lab.slug}/{rel} is not in git at '{ref}'; "
            "reset needs the repository's history (pass --ref to pick a commit)."
        )
    return data


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:  # deleted or unreadable: not the starter
        return None


def plan_reset(lab: Lab, only: str | None, ref: str) -> ResetPlan:
    """The files to restore: every submission file, or just ``only``."""
    names = declared_files(lab)
    if only is not None:
        rel = Path(only).as_posix().removeprefix(f"labs/{lab.slug}/")
        if rel not in names:
            raise GraderError(
                f"'{only}' is not one of the files you edit in {lab.slug}: " + ", ".join(names)
            )
        names = [rel]
    changed = [n for n in names if _current(lab.root / n) != _starter(lab, n, ref)]
    return ResetPlan(lab=lab, ref=ref, files=tuple(changed))


def apply_reset(plan: ResetPlan) -> Path:
    """Restore the files and return the backup folder holding the replaced versions."""
    backup = state_dir(repo_root()) / "backups" / plan.lab.slug / time.strftime("%Y%m%d-%H%M%S")
    for rel in plan.files:
        source = plan.lab.root / rel
        data = _starter(plan.lab, rel, plan.ref)
        if _current(source) is not None:
            target = backup / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif source.exists():  # unreadable: make it the learner's to write again
            os.chmod(source, 0o644)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(data)
    return backup
