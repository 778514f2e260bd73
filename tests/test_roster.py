"""Grading a course from git: a roster of real repositories (bare repos on disk, commits
with set dates), a deadline, a late policy, the course's pristine tests, and regrades
that follow exactly what changed. The calc fixture lab, graded with the local runner."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.roster import LatePolicy, load_roster, parse_deadline, public_repo
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, FIXTURES
from tests.test_cli import run_cli

DEADLINE = "2026-01-10T00:00:00Z"
RIGHT = (FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py").read_text()
WRONG_MUL = RIGHT.replace("a * b", "a + b")  # task 2 fails, task 1 passes


class Repo:
    """A learner's repository: a work tree that pushes to a bare repository on disk."""

    def __init__(self, root: Path, name: str, *, whole_clone: bool = True) -> None:
        self.bare = root / "remote" / f"{name}.git"
        self.work = root / "work" / name
        self.prefix = Path("labs/calc") if whole_clone else Path()
        self._git("init", "--quiet", "--bare", str(self.bare), cwd=root)
        self.work.mkdir(parents=True)
        self._git("init", "--quiet", "-b", "main")
        self._git("remote", "add", "origin", str(self.bare))
        shutil.copytree(FIXTURE_LABS / "calc", self.work / self.prefix, dirs_exist_ok=True)

    def _git(self, *args: str, cwd: Path | None = None, when: str = "") -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "learner",
            "GIT_AUTHOR_EMAIL": "learner@example.com",
            "GIT_COMMITTER_NAME": "learner",
            "GIT_COMMITTER_EMAIL": "learner@example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.work.parent),
        }
        if when:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
        proc = subprocess.run(
            ["git", *args], cwd=cwd or self.work, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def commit(self, when: str, files: dict[str, str]) -> str:
        for rel, text in files.items():
            target = self.work / self.prefix / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self._git("add", "-A")
        self._git("commit", "--quiet", "-m", f"work at {when}", when=when)
        self._git("push", "--quiet", "origin", "main")
        return self._git("rev-parse", "HEAD")


def write_roster(path: Path, rows: list[tuple[str, ...]], header: str = "learner,repo") -> Path:
    path.write_text(header + "\n" + "".join(",".join(row) + "\n" for row in rows))
    return path


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open() as handle:
        return {row["learner"]: row for row in csv.DictReader(handle)}


def batch(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "batch", "calc", *args, "--runner", "local", "--trust-submissions", "-j", "2", root=FIXTURES
    )


@pytest.fixture
def course(tmp_path: Path) -> tuple[Path, dict[str, Repo], dict[str, str]]:
    """ann: right before the deadline, broken after it; ben: only after it; cat: a flat
    repository (no labs/calc/) with a wrong mul and a test edited to pass it."""
    ann, ben = Repo(tmp_path, "ann"), Repo(tmp_path, "ben")
    cat = Repo(tmp_path, "cat", whole_clone=False)
    commits = {
        "ann-on-time": ann.commit("2026-01-09T12:00:00Z", {"fx/calc.py": RIGHT}),
        "ann-late": ann.commit("2026-01-11T06:00:00Z", {"fx/calc.py": WRONG_MUL}),
        "ben-late": ben.commit("2026-01-11T01:00:00Z", {"fx/calc.py": RIGHT}),
    }
    edited_test = "import pytest\n\n\n@pytest.mark.task(2)\ndef test_mul(learner):\n    pass\n"
    commits["cat"] = cat.commit(
        "2026-01-08T09:00:00Z",
        {"fx/calc.py": WRONG_MUL, "tests/test_task2_mul.py": edited_test},
    )
    roster = write_roster(
        tmp_path / "roster.csv",
        [(name, str(repo.bare)) for name, repo in (("ann", ann), ("ben", ben), ("cat", cat))],
    )
    return roster, {"ann": ann, "ben": ben, "cat": cat}, commits


def test_a_deadline_grades_the_last_commit_before_it_with_the_courses_own_tests(
    course: tuple[Path, dict[str, Repo], dict[str, str]], tmp_path: Path
) -> None:
    roster, _, commits = course
    out = tmp_path / "out"
    proc = batch("--roster", str(roster), "--deadline", DEADLINE, "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # ben has no commit in time
    assert "Traceback" not in proc.stdout + proc.stderr
    book = gradebook(out)
    # ann: her on-time commit, not the broken one pushed after the deadline.
    assert book["ann"]["score"] == "30"
    assert book["ann"]["commit"] == commits["ann-on-time"]
    assert book["ann"]["committed_at"] == "2026-01-09T12:00:00+00:00"
    assert (book["ann"]["days_late"], book["ann"]["final_score"]) == ("0", "30")
    # ben: nothing before the deadline is no submission, said as such, and no grade.
    assert book["ben"]["status"] == "error" and book["ben"]["score"] == ""
    assert "no commit before the deadline" in book["ben"]["message"]
    # cat: the edited test in the repository changes nothing: the course's tests grade.
    assert book["cat"]["2. Multiply"] == "0" and book["cat"]["1. Add"] == "10"
    report = json.loads((out / "reports" / "ann.json").read_text())
    assert report["submission"]["commit"] == commits["ann-on-time"]
    assert report["submission"]["repo"] == str(course[1]["ann"].bare)
    # Only the lab's declared submission files were taken from the repository.
    taken = sorted(
        p.relative_to(out / "submissions" / "cat").as_posix()
        for p in (out / "submissions" / "cat").rglob("*")
        if p.is_file()
    )
    assert taken == ["fx/__init__.py", "fx/calc.py"]


def test_a_per_day_late_policy_grades_the_newest_commit_and_takes_points_off(
    course: tuple[Path, dict[str, Repo], dict[str, str]], tmp_path: Path
) -> None:
    roster, _, commits = course
    out = tmp_path / "out"
    proc = batch(
        "--roster", str(roster), "--deadline", DEADLINE, "--late", "per-day=10", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    book = gradebook(out)
    # ann's newest commit is 1 day 6 hours late: two started days, 20 % off her 10 points.
    assert book["ann"]["commit"] == commits["ann-late"]
    assert (book["ann"]["score"], book["ann"]["days_late"]) == ("10", "2")
    assert (book["ann"]["late_penalty"], book["ann"]["final_score"]) == ("2", "8")
    # ben: 2 days late (one day and one hour), 30 points less 20 %.
    assert (book["ben"]["days_late"], book["ben"]["final_score"]) == ("2", "24")
    assert (book["cat"]["days_late"], book["cat"]["late_penalty"]) == ("0", "0")
    assert "-10% per day late" in proc.stderr


def test_a_regrade_follows_exactly_what_changed_and_says_why(
    course: tuple[Path, dict[str, Repo], dict[str, str]], tmp_path: Path
) -> None:
    roster, repos, _ = course
    out = tmp_path / "out"
    args = ("--roster", str(roster), "--deadline", DEADLINE, "--out", str(out))
    assert batch(*args).returncode == 1
    again = batch(*args)
    assert "Grading 1 of 3: 1 not graded before; 2 unchanged since their report." in again.stderr

    repos["cat"].commit("2026-01-09T23:00:00Z", {"fx/calc.py": RIGHT})  # a fix in time
    fixed = batch(*args)
    assert "Grading 2 of 3: 1 not graded before, 1 submission changed" in fixed.stderr, fixed.stderr
    assert gradebook(out)["cat"]["score"] == "30"

    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_hidden_add.py").write_text(
        "import pytest\n\n\n@pytest.mark.task(1)\ndef test_add_negatives(learner):\n"
        "    assert learner.module('fx.calc').add(-2, -3) == -5\n"
    )
    with_hidden = batch(*args, "--hidden-tests", str(hidden))
    assert "lab changed (tests, hidden tests, grader or late policy)" in with_hidden.stderr
    assert "Grading 3 of 3" in with_hidden.stderr


def test_a_repository_that_cannot_be_fetched_is_an_error_row_without_its_credentials(
    tmp_path: Path,
) -> None:
    roster = write_roster(
        tmp_path / "roster.csv",
        [("dan", "https://dan:s3cret-token@127.0.0.1:9/dan.git"), ("eve", str(tmp_path / "no"))],
    )
    out = tmp_path / "out"
    proc = batch("--roster", str(roster), "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr + (out / "gradebook.csv").read_text()
    book = gradebook(out)
    assert "https://127.0.0.1:9/dan.git" in book["dan"]["message"]
    assert book["eve"]["status"] == "error"


def test_a_committed_symlink_is_not_taken_as_a_submission_file(tmp_path: Path) -> None:
    repo = Repo(tmp_path, "fay")
    (repo.work / "labs/calc/fx/calc.py").unlink()
    (repo.work / "labs/calc/fx/calc.py").symlink_to("/etc/passwd")
    repo.commit("2026-01-01T00:00:00Z", {})
    roster = write_roster(
        tmp_path / "roster.csv", [("fay", str(repo.bare), "main")], header="learner,repo,ref"
    )
    out = tmp_path / "out"
    batch("--roster", str(roster), "--out", str(out))
    assert not (out / "submissions" / "fay" / "fx" / "calc.py").exists()
    assert gradebook(out)["fay"]["score"] in ("0", "")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("name,url\nann,/x\n", "the header must be 'learner,repo'"),
        ("learner,repo\nann,/x\nann,/y\n", "line 3: 'ann' is already on line 2"),
        ("learner,repo\n../ann,/x\n", "line 2: the learner '../ann'"),
        ("learner,repo\nann,\n", "'ann' has no repo"),
        ("learner,repo\nann,--upload-pack=touch /tmp/x\n", "is not a repository address"),
        ("learner,repo\n", "lists no learner"),
    ],
)
def test_a_bad_roster_is_refused_naming_the_line(tmp_path: Path, text: str, phrase: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(GraderError) as caught:
        load_roster(path)
    assert phrase in str(caught.value)
    proc = batch("--roster", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and phrase in proc.stderr
    assert "Traceback" not in proc.stderr


def test_deadlines_and_late_policies_are_checked_before_anything_runs(tmp_path: Path) -> None:
    assert parse_deadline("2026-01-10T01:00:00+01:00").isoformat() == "2026-01-10T00:00:00+00:00"
    for bad in ("tomorrow", "2026-01-10T00:00:00"):
        with pytest.raises(GraderError, match=r"ISO 8601|time zone"):
            parse_deadline(bad)
    assert LatePolicy.parse("per-day=10,cap=70") == LatePolicy(per_day=10, cap=70)
    assert LatePolicy.parse("cap=50").penalty(30, 30, days_late=1) == 15
    assert LatePolicy.parse("per-day=10").penalty(30, 30, days_late=0) == 0
    assert LatePolicy.parse("per-day=60").penalty(30, 30, days_late=2) == 30  # never below 0
    for bad in ("per-day=ten", "weekly=5", "cap=150", "per-day=5,per-day=6"):
        with pytest.raises(GraderError, match="late policy"):
            LatePolicy.parse(bad)
    assert public_repo("https://u:t@github.com/o/r.git") == "https://github.com/o/r.git"
    roster = write_roster(tmp_path / "r.csv", [("ann", "/x")])
    proc = batch("--roster", str(roster), "--late", "per-day=5")
    assert proc.returncode == 2 and "needs a --deadline" in proc.stderr
    proc = batch(str(tmp_path), "--deadline", DEADLINE)
    assert proc.returncode == 2 and "need --roster" in proc.stderr
    proc = batch()
    assert proc.returncode == 2 and "not both and not neither" in proc.stderr


def test_a_cohort_is_not_graded_without_a_sandbox_between_learners(tmp_path: Path) -> None:
    """Every learner's code would run as the grader's user: one learner's daemon could
    end another's workers or write their results."""
    subs = tmp_path / "subs"
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", subs / "ann")
    proc = run_cli("batch", "calc", str(subs), "--runner", "local", root=FIXTURES)
    assert proc.returncode == 2
    for phrase in ("not graded with the local runner", "--runner docker", "--trust-submissions"):
        assert phrase in proc.stderr
    assert not (tmp_path / ".grades").exists()
