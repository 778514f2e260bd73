"""Put a learner's files back to the starter, keeping a backup of what they replace."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.hints import state_dir
from grader.lab import Lab, repo_root
from grader.workspace import submission_files

__all__ = ["ResetPlan", "apply_reset", "plan_reset"]


@dataclass(frozen=True)
class ResetPlan:
    lab: Lab
    ref: str
    files: tuple[str, ...]  # lab-relative paths whose content differs from the starter


def _starter(lab: Lab, rel: str, ref: str) -> bytes:
    git_path = (lab.root / rel).relative_to(repo_root()).as_posix()
    proc = subprocess.run(
        ["git", "show", f"{ref}:{git_path}"], cwd=repo_root(), capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise GraderError(
            f"The starter of {git_path} is not in git at '{ref}'; "
            "reset needs the repository's history (pass --ref to pick a commit)."
        )
    return proc.stdout


def plan_reset(lab: Lab, only: str | None, ref: str) -> ResetPlan:
    """The files to restore: every submission file, or just ``only``."""
    names = sorted(submission_files(lab, lab.root))
    if only is not None:
        rel = Path(only).as_posix().removeprefix(f"labs/{lab.slug}/")
        if rel not in names:
            raise GraderError(
                f"'{only}' is not one of the files you edit in {lab.slug}: " + ", ".join(names)
            )
        names = [rel]
    changed = [n for n in names if (lab.root / n).read_bytes() != _starter(lab, n, ref)]
    return ResetPlan(lab=lab, ref=ref, files=tuple(changed))


def apply_reset(plan: ResetPlan) -> Path:
    """Restore the files and return the backup folder holding the replaced versions."""
    backup = state_dir(repo_root()) / "backups" / plan.lab.slug / time.strftime("%Y%m%d-%H%M%S")
    for rel in plan.files:
        source = plan.lab.root / rel
        target = backup / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        source.write_bytes(_starter(plan.lab, rel, plan.ref))
    return backup
