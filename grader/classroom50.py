"""Classroom 50: a course's grade, computed with the course's own tests at a pinned commit.

Classroom 50 grades each submission in the learner's GitHub Actions: its runner downloads
the course's autograder bundle (``CLASSROOM/autograders/ASSIGNMENT/``), runs its
``autograder.py`` in a checkout of the submitted commit, and publishes the
``result.json`` it writes (schema ``classroom50/result/v1``) as a GitHub Release.

``grader export-classroom50 SLUG --course-repo URL --ref COMMIT`` writes that bundle. Its
``autograder.py`` clones the course repository at the pinned commit, installs the grader
from it, and grades the learner's checkout with ``--submission``: only the lab's declared
submission files are taken from the learner; tests, data, ``lab.toml`` and the grader are
the course's. ``grader grade … --classroom50 result.json`` writes the result, one test
row per task (a task's points are the row's ``max-score``).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.lab import Lab
from grader.report import clean_text
from grader.results import GradeReport, Status

__all__ = ["SCHEMA", "export_bundle", "result_v1", "write_result"]

SCHEMA = "classroom50/result/v1"
# Filled in by Classroom 50's runner; run by hand, they are blank.
_CONTEXT = ("CLASSROOM", "ASSIGNMENT", "SUBMISSION_TAG", "COMMIT_URL", "RELEASE_URL")


def result_v1(report: GradeReport, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``report`` as Classroom 50's result.json: one row per task, whole points."""
    env = os.environ if env is None else env
    tests = []
    for task in report.tasks:
        row: dict[str, Any] = {
            "test-name": clean_text(f"{task.id}. {task.title}"),
            "passed": task.status is Status.PASS,
            "score": round(task.score),
            "max-score": task.max_score,
        }
        if task.status is not Status.PASS:
            row["message"] = clean_text(task.first_failure or task.message)[:500]
        tests.append(row)
    if report.status is Status.ERROR:  # not graded: no points, and the reason on the row
        tests = [
            {
                "test-name": "could not be graded",
                "passed": False,
                "score": 0,
                "max-score": report.max_score,
                "message": clean_text(report.message)[:500],
            }
        ]
    commit = env.get("COMMIT_URL", "")
    return {
        "schema": SCHEMA,
        "classroom": env.get("CLASSROOM", ""),
        "assignment": env.get("ASSIGNMENT", "") or report.lab,
        "submission": env.get("SUBMISSION_TAG", ""),
        "commit": commit,
        "release": env.get("RELEASE_URL", ""),
        "review": env.get("REVIEW_URL") or commit,
        "datetime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "score": sum(t["score"] for t in tests),
        "max-score": sum(t["max-score"] for t in tests),
        "tests": tests,
    }


def write_result(report: GradeReport, path: Path, env: Mapping[str, str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result_v1(report, env), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


_AUTOGRADER = '''\
#!/usr/bin/env python3
"""Classroom 50 autograder for the {slug} lab of the ML Engineering Skills Lab.

Written by `python -m grader export-classroom50`. Classroom 50's runner starts it in a
checkout of the learner's submitted commit. It grades that checkout with the course's
tests and grader, cloned from {repo} at the pinned commit {ref}: nothing the learner
committed outside the lab's submission files is used. It writes result.json
(classroom50/result/v1), release-body.md, and status/summary to $GITHUB_OUTPUT.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SLUG = {slug!r}
COURSE_REPO = os.environ.get("MLSKILLS_COURSE_REPO", {repo!r})
COURSE_REF = {ref!r}
SUBMISSION = Path.cwd()


def run(*args, **kwargs):
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], check=False, **kwargs)


def main():
    work = Path(tempfile.mkdtemp(prefix="mlskills-course-"))
    course = work / "course"
    clone = run("git", "clone", "--quiet", "--no-checkout", COURSE_REPO, course)
    if clone.returncode == 0:
        clone = run("git", "-C", course, "checkout", "--quiet", "--detach", COURSE_REF)
    if clone.returncode != 0:
        return infrastructure(f"could not check out the course at {{COURSE_REF}}")
    python = os.environ.get("MLSKILLS_PYTHON")
    if not python:
        venv = work / "venv"
        run(sys.executable, "-m", "venv", venv)
        python = venv / "bin" / "python"
        install = run(python, "-m", "pip", "install", "--quiet", "-c",
                      course / "constraints.txt", "-e", course)
        if install.returncode != 0:
            return infrastructure("could not install the course's grader")
    result = SUBMISSION / "result.json"
    body = SUBMISSION / "release-body.md"
    env = {{**os.environ, "MLSKILLS_ROOT": str(course)}}
    runner = os.environ.get("MLSKILLS_RUNNER", "auto")
    graded = run(python, "-m", "grader", "grade", SLUG, "--submission", SUBMISSION,
                 "--runner", runner, "--classroom50", result, "--markdown", body,
                 cwd=course, env=env)
    if not result.is_file():
        return infrastructure(f"the grader wrote no result (exit code {{graded.returncode}})")
    data = json.loads(result.read_text())
    summary = f"{{SLUG}}: {{data['score']}}/{{data['max-score']}}"
    output(status="success" if graded.returncode in (0, 1) else "failure", summary=summary)
    print(summary)
    return 0  # a failing grade is not a runner failure


def output(**values):
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            for key, value in values.items():
                handle.write(f"{{key}}={{value}}\\n")


def infrastructure(why):
    print(f"::error::{{why}}", file=sys.stderr)
    output(status="failure", summary=why)
    return 2


if __name__ == "__main__":
    sys.exit(main())
'''


def export_bundle(lab: Lab, dest: Path, *, course_repo: str, ref: str) -> Path:
    """Write Classroom 50's per-assignment bundle for ``lab`` into ``dest``."""
    if not course_repo.strip():
        raise GraderError("Give the course repository's address (--course-repo).")
    if len(ref) != 40 or any(c not in "0123456789abcdef" for c in ref):
        raise GraderError(
            f"--ref must be a full commit id (40 hex digits), not '{ref}': a branch moves, "
            "and the grade must come from the tests the course pinned."
        )
    dest.mkdir(parents=True, exist_ok=True)
    script = dest / "autograder.py"
    script.write_text(
        _AUTOGRADER.format(slug=lab.slug, repo=course_repo, ref=ref), encoding="utf-8"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script
