"""Every refusal still writes the reports asked for, with status ``error``, a sentence and
no host path; and ``batch`` never grades a learner folder that is a symlink."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, JUnitXml
from rich.console import Console

from grader import batch
from grader.gradescope import AUTOGRADER_ROOT_ENV, write_autograder_zip
from grader.lab import Lab, find_lab
from grader.report import without_host_paths
from grader.results import Status
from grader.runners.base import RunOutcome, RunRequest
from grader.runners.local import LocalRunner
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS
from tests.test_cli import run_cli
from tests.test_gradescope_export import unpack

FORMATS = ("json", "junit", "markdown", "gradescope")


def grade_with_every_report(
    tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    reports = {fmt: tmp_path / "reports" / f"report.{fmt}" for fmt in FORMATS}
    options = [item for fmt in FORMATS for item in (f"--{fmt}", str(reports[fmt]))]
    proc = run_cli("grade", *args, "--runner", "local", *options)
    texts = {fmt: path.read_text(encoding="utf-8") for fmt, path in reports.items()}
    return proc, texts


def refused_submission(tmp_path: Path, case: str) -> list[str]:
    """The arguments of ``grade`` for a submission the grader refuses."""
    submission = tmp_path / "host folder" / "submission"
    if case == "unknown lab":
        return ["nosuch"]
    if case == "missing folder":
        return ["calc", "--submission", str(submission)]
    if case == "missing hidden tests":
        shutil.copytree(FIXTURE_SOLUTIONS / "calc", submission)
        return ["calc", "--submission", str(submission), "--hidden-tests", str(tmp_path / "no")]
    outside = tmp_path / "host folder" / "outside.py"
    outside.parent.mkdir(parents=True)
    outside.write_text("def add(a, b):\n    return a + b\n")
    (submission / "fx").mkdir(parents=True)
    os.symlink(outside, submission / "fx" / "calc.py")
    return ["calc", "--submission", str(submission)]


@pytest.mark.parametrize(
    "case", ["unknown lab", "missing folder", "missing hidden tests", "escaping symlink"]
)
def test_a_refused_submission_writes_every_report_with_status_error_and_no_host_path(
    tmp_path: Path, case: str
) -> None:
    proc, texts = grade_with_every_report(tmp_path, *refused_submission(tmp_path, case))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ")  # the terminal still gets the sentence

    data = json.loads(texts["json"])
    assert data["status"] == "error" and data["score"] == 0
    assert data["message"].endswith(".") and "\n" not in data["message"]
    assert all(task["status"] == "error" for task in data["tasks"])

    suite = next(iter(JUnitXml.fromfile(str(tmp_path / "reports" / "report.junit"))))
    assert suite.errors == suite.tests >= 1 and suite.failures == 0
    assert all(isinstance(test_case.result[0], Error) for test_case in suite)

    assert "⚠️ error" in texts["markdown"].splitlines()[0]
    gradescope = json.loads(texts["gradescope"])
    assert gradescope["score"] == 0
    assert gradescope["output"].startswith("The autograder could not grade this submission: ")

    for fmt, text in texts.items():
        assert str(tmp_path) not in text, (fmt, text)
        assert os.path.realpath(tmp_path) not in text, (fmt, text)
        assert "host folder" not in text, (fmt, text)


def test_a_refusal_names_what_to_fix_in_the_reports(tmp_path: Path) -> None:
    proc, texts = grade_with_every_report(tmp_path, *refused_submission(tmp_path, "missing folder"))
    assert str(tmp_path) in proc.stderr  # the user's own terminal may see the path
    message = json.loads(texts["json"])["message"]
    assert message == "The submission folder <path> does not exist."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The folder /srv/grades/ann does not exist.", "The folder <path> does not exist."),
        ("points outside (/etc/hostname); fix it", "points outside (<path>); fix it"),
        ("'/tmp/x/y.py' is too big", "'<path>' is too big"),
        ("--out=/var/lib/out failed", "--out=<path> failed"),
        ("fx/calc.py and 1/2 and ./a/b", "fx/calc.py and 1/2 and ./a/b"),
        ("No engine at unix:///var/run/docker.sock", "No engine at unix:///var/run/docker.sock"),
        ("see https://example.org/docs", "see https://example.org/docs"),
    ],
)
def test_without_host_paths(text: str, expected: str) -> None:
    assert without_host_paths(text) == expected


def test_without_host_paths_takes_out_known_folders_and_their_parents_spaces_and_all(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "My Submissions" / "ann"
    beside = tmp_path / "My Submissions" / "outside.py"
    text = f"The folder {folder} is empty; fx/a.py points outside ({beside})."
    assert without_host_paths(text, [folder]) == (
        "The folder <path> is empty; fx/a.py points outside (<path>)."
    )


def test_gradescope_gives_the_learner_a_sentence_not_the_traceback_of_a_crash(
    tmp_path: Path,
) -> None:
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(find_lab("calc", FIXTURE_LABS), tmp_path / "calc.zip"), autograder)
    (autograder / "submission").mkdir()
    crashing = tmp_path / "crashing-python"
    crashing.write_text(
        "#!/bin/sh\n"
        "echo 'Traceback (most recent call last):' >&2\n"
        "echo '  File \"/autograder/source/grader/cli.py\", line 1' >&2\n"
        "exit 1\n"
    )
    crashing.chmod(0o755)
    proc = subprocess.run(
        [str(autograder / "source" / "run_autograder")],
        env={**os.environ, AUTOGRADER_ROOT_ENV: str(autograder), "MLSKILLS_PYTHON": str(crashing)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" in proc.stderr  # the instructor's log keeps it
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["output_format"] == "text"
    assert results["output"].startswith("The autograder could not grade this submission")
    assert "not in your work" in results["output"]
    assert "Traceback" not in results["output"] and "/autograder" not in results["output"]


# --- batch: a learner folder that is a symlink ------------------------------------------


class CountingRunner:
    """The local runner, counting the submissions it was asked to grade."""

    name = "local"

    def __init__(self) -> None:
        self.graded = 0
        self._local = LocalRunner()
        self._lock = threading.Lock()

    def run(self, request: RunRequest) -> RunOutcome:
        with self._lock:
            self.graded += 1
        return self._local.run(request)


@pytest.fixture(scope="module")
def calc() -> Lab:
    return find_lab("calc", FIXTURE_LABS)


def symlinked_cohort(root: Path) -> Path:
    """ann submitted the solution; bob's folder is a symlink to hers."""
    subs = root / "submissions"
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", subs / "ann")
    (subs / "bob").symlink_to(subs / "ann", target_is_directory=True)
    return subs


def report_of(out: Path, learner: str) -> dict[str, Any]:
    return dict(json.loads((out / batch.REPORTS_DIR / f"{learner}.json").read_text()))


def test_a_symlinked_learner_folder_is_an_error_row_and_never_graded(
    calc: Lab, tmp_path: Path
) -> None:
    subs = symlinked_cohort(tmp_path)
    out = tmp_path / "out"
    runner = CountingRunner()
    rows = batch.grade_cohort(
        lab=calc,
        submissions_dir=subs,
        out_dir=out,
        runner=runner,
        console=Console(file=io.StringIO()),
    )
    assert runner.graded == 1  # ann only
    by_name = {row.learner: row for row in rows}
    assert by_name["ann"].status is Status.PASS
    bob = by_name["bob"]
    assert bob.status is Status.ERROR and bob.score == 0
    assert "folder is a symlink" in bob.message
    assert all(cell.status is Status.ERROR for cell in bob.tasks)
    assert str(tmp_path) not in json.dumps(report_of(out, "bob"))


def test_a_symlinked_learner_with_an_earlier_passing_report_is_refused_again(
    calc: Lab, tmp_path: Path
) -> None:
    subs = symlinked_cohort(tmp_path)
    out = tmp_path / "out"
    quiet = Console(file=io.StringIO())
    batch.grade_cohort(
        lab=calc, submissions_dir=subs, out_dir=out, runner=CountingRunner(), console=quiet
    )
    forged = report_of(out, "ann")  # what a grader that followed the symlink wrote
    (out / batch.REPORTS_DIR / "bob.json").write_text(json.dumps(forged))

    resumed = CountingRunner()
    rows = batch.grade_cohort(
        lab=calc, submissions_dir=subs, out_dir=out, runner=resumed, console=quiet
    )
    assert resumed.graded == 0  # ann is resumed, bob refused without grading
    assert [(r.learner, r.status) for r in rows] == [("ann", Status.PASS), ("bob", Status.ERROR)]
    assert report_of(out, "bob")["status"] == "error"


def test_batch_cli_names_the_symlinked_learner_and_why(tmp_path: Path) -> None:
    subs = symlinked_cohort(tmp_path)
    out = tmp_path / "out"
    proc = run_cli(
        "batch", "calc", str(subs), "--runner", "local", "--trust-submissions", "--out", str(out)
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 pass, 0 fail, 1 error, 0 timeout" in proc.stdout
    assert "bob: This learner's folder is a symlink" in proc.stdout
    book = (out / batch.GRADEBOOK).read_text()
    assert "\nbob," in book and ",error," in book
