"""Grading a cohort: rows, reports, resumability, bad input, hidden tests and integrity.

One real cohort of the ``calc`` fixture lab is graded once per module with the local
runner; the logic of resuming and crashing uses a fake runner, which is instant.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from grader import batch
from grader.errors import GraderError
from grader.lab import Lab, find_lab, load_lab
from grader.results import Status
from grader.runners.base import RunOutcome, RunRequest
from grader.runners.local import LocalRunner
from grader.workspace import submission_files
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, REPO, SUBMISSIONS
from tests.test_cli import assert_clean_error, run_cli
from tests.test_golden import GOLDEN, normalised

SECRET_CODE = "SECRET_CODE_7f3a"
SECRET_MESSAGE = "SECRET_MESSAGE_9b2c"


def golden(case: str) -> dict[str, Any]:
    return dict(json.loads((GOLDEN / f"{case}.json").read_text()))


def make_cohort(root: Path, learners: dict[str, Path | str]) -> Path:
    """A submissions folder: each learner gets a copy of a fixture submission.

    A value ``"escaping"`` makes a submission whose file is a symlink out of it, and
    ``"clone:<path>"`` puts the submission in a whole clone (``labs/calc/…``).
    """
    subs = root / "submissions"
    subs.mkdir(parents=True)
    for name, source in learners.items():
        if source == "escaping":
            outside = root / "outside.py"
            outside.write_text("def add(a, b):\n    return a + b\n")
            (subs / name / "fx").mkdir(parents=True)
            os.symlink(outside, subs / name / "fx" / "calc.py")
        elif isinstance(source, str) and source.startswith("clone:"):
            shutil.copytree(source.removeprefix("clone:"), subs / name / "labs" / "calc")
        else:
            shutil.copytree(source, subs / name)
    return subs


def read_gradebook(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / batch.GRADEBOOK).read_text())))


def quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


@pytest.fixture(scope="module")
def calc() -> Lab:
    return find_lab("calc", FIXTURE_LABS)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, calc: Lab) -> dict[str, Any]:
    """The calc cohort, graded once with the local runner at -j 2."""
    root = tmp_path_factory.mktemp("cohort")
    subs = make_cohort(
        root,
        {
            "alice": FIXTURE_SOLUTIONS / "calc",
            "bob": SUBMISSIONS / "calc-partial",
            "carol": SUBMISSIONS / "calc-syntax-error",
            "dave": "escaping",
            "erin": f"clone:{FIXTURE_SOLUTIONS / 'calc'}",
        },
    )
    console = Console(file=io.StringIO(), width=120)
    rows = batch.grade_cohort(
        lab=calc,
        submissions_dir=subs,
        out_dir=root / "out",
        runner=LocalRunner(),
        jobs=2,
        console=console,
    )
    assert isinstance(console.file, io.StringIO)
    return {"root": root, "subs": subs, "out": root / "out", "rows": rows, "console": console}


def test_every_learner_gets_a_row_sorted_by_name_and_a_json_report(cohort: dict[str, Any]) -> None:
    names = sorted(p.name for p in cohort["subs"].iterdir())
    assert [row.learner for row in cohort["rows"]] == names
    assert sorted(p.stem for p in (cohort["out"] / "reports").glob("*.json")) == names


@pytest.mark.parametrize(
    ("learner", "case"),
    [("alice", "all-pass"), ("bob", "partial"), ("carol", "syntax-error"), ("erin", "all-pass")],
)
def test_batch_reports_equal_the_single_grade_golden_reports(
    cohort: dict[str, Any], learner: str, case: str
) -> None:
    data = json.loads((cohort["out"] / "reports" / f"{learner}.json").read_text())
    assert data["runner"] == "local"
    # What the report graded, so that a later batch knows when to grade it again.
    fingerprint = data.pop("fingerprint")
    assert sorted(fingerprint) == ["lab", "submission"]
    assert all(len(v) == 64 for v in fingerprint.values())
    assert normalised(data) == golden(case)


def test_escaping_symlink_is_an_error_row_with_its_sentence_and_the_batch_goes_on(
    cohort: dict[str, Any],
) -> None:
    rows = {row.learner: row for row in cohort["rows"]}
    assert rows["dave"].status is Status.ERROR
    assert "is a symlink" in rows["dave"].message
    assert all(cell.status is Status.ERROR for cell in rows["dave"].tasks)
    assert [rows[n].status for n in ("alice", "bob", "carol", "erin")] == [
        Status.PASS,
        Status.FAIL,
        Status.FAIL,
        Status.PASS,
    ]


def test_gradebook_has_a_column_per_task_and_the_reports_scores(
    cohort: dict[str, Any], calc: Lab
) -> None:
    out = cohort["out"]
    book = read_gradebook(out)
    task_columns = [f"{t.id}. {t.title}" for t in calc.tasks]
    assert list(book[0]) == [
        "learner",
        *task_columns,
        "score",
        "max_score",
        "status",
        "duration_s",
        "message",
    ]
    for line in book:
        report = json.loads((out / "reports" / f"{line['learner']}.json").read_text())
        assert int(line["max_score"]) == report["max_score"]
        assert line["status"] == report["status"]
        assert float(line["duration_s"]) == pytest.approx(report["duration_s"], abs=0.01)
        if report["status"] == "error":
            continue  # blank cells: see the next test
        assert float(line["score"]) == report["score"]
        for column, task in zip(task_columns, report["tasks"], strict=True):
            assert float(line[column]) == task["score"]


def test_gradebook_leaves_the_cells_of_a_submission_that_could_not_be_graded_blank(
    cohort: dict[str, Any], calc: Lab
) -> None:
    """An LMS imports a 0 as a real grade; a blank is no grade."""
    dave = next(line for line in read_gradebook(cohort["out"]) if line["learner"] == "dave")
    assert dave["status"] == "error"
    assert [dave[f"{t.id}. {t.title}"] for t in calc.tasks] == ["", ""]
    assert dave["score"] == ""
    assert dave["max_score"] == "30" and "is a symlink" in dave["message"]
    carol = next(line for line in read_gradebook(cohort["out"]) if line["learner"] == "carol")
    assert (carol["1. Add"], carol["score"]) == ("0", "0")  # a graded 0 stays a 0


def test_progress_bar_shows_the_count_and_the_failures(cohort: dict[str, Any]) -> None:
    text = cohort["console"].file.getvalue()
    assert "5/5" in text
    assert "1 error/timeout" in text  # dave
    assert "ETA" in text


def test_report_html_is_written_for_the_cohort(cohort: dict[str, Any]) -> None:
    html = (cohort["out"] / batch.REPORT_HTML).read_text()
    for row in cohort["rows"]:
        assert f'<a href="reports/{row.learner}.json">{row.learner}</a>' in html
        assert (cohort["out"] / "reports" / f"{row.learner}.json").is_file()
    assert "mean score<b>20/30</b>" in html  # alice 30, bob 20, carol 0, erin 30; not dave
    assert "could not grade<b>1</b>" in html
    details = html[html.index('<h2 id="run">') : html.index("</dl>")]
    assert f"<code>{batch.grader_version()}</code>" in details
    assert "runner of this run</dt><dd>local" in details
    assert 'graded in this run</dt><dd><span class="num">5</span>' in details


def test_grader_version_is_the_git_commit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert batch.grader_version().removesuffix("+changes") == head
    monkeypatch.setenv("MLSKILLS_ROOT", str(tmp_path))  # not a git checkout
    assert batch.grader_version().startswith("mlskills-grader ")


def test_similarity_of_the_cohort_is_written_beside_the_report(cohort: dict[str, Any]) -> None:
    data = json.loads((cohort["out"] / batch.SIMILARITY_JSON).read_text())
    assert data["lab"] == "calc"
    # alice and erin hand in the same solution; dave's folder holds a symlink
    assert sorted(data["compared"]) == ["alice", "bob", "carol", "erin"]
    assert [s["learner"] for s in data["skipped"]] == ["dave"]
    html = (cohort["out"] / batch.REPORT_HTML).read_text()
    assert '<h2 id="similarity">Similar submissions</h2>' in html


def test_two_runs_give_the_same_gradebook_and_reports(
    cohort: dict[str, Any], calc: Lab, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    batch.grade_cohort(
        lab=calc,
        submissions_dir=cohort["subs"],
        out_dir=again,
        runner=LocalRunner(),
        jobs=2,
        console=quiet(),
    )

    def without_durations(out: Path) -> list[dict[str, str]]:
        return [
            {k: v for k, v in line.items() if k != "duration_s"} for line in read_gradebook(out)
        ]

    assert without_durations(again) == without_durations(cohort["out"])
    for path in sorted((cohort["out"] / "reports").glob("*.json")):
        first = normalised(json.loads(path.read_text()))
        second = normalised(json.loads((again / "reports" / path.name).read_text()))
        assert first == second, path.name


# --- resuming, forcing and crashing, with a fake runner --------------------------------


class FakeRunner:
    """Passes every test of the calc lab at once, and records whom it graded."""

    name = "fake"

    def __init__(self) -> None:
        self.graded: list[str] = []
        self._lock = threading.Lock()

    def run(self, request: RunRequest) -> RunOutcome:
        source = (request.workspace.learner_dir / "fx" / "calc.py").read_text()
        with self._lock:
            self.graded.append(source)
        if "CRASH" in source:
            raise RuntimeError("the fake engine fell over")
        lines = [
            {"kind": "test", "nodeid": f"tests/test_t{t}.py::test_{t}", "status": "pass", "task": t}
            for t in ("1", "2")
        ]
        lines.append({"kind": "session", "exitstatus": 0, "collected": 2})
        return RunOutcome(
            runner=self.name,
            exit_code=0,
            results="\n".join(json.dumps(line) for line in lines),
            output="",
            duration_s=0.01,
        )


def fake_cohort(root: Path, names: list[str]) -> Path:
    subs = root / "submissions"
    for name in names:
        (subs / name / "fx").mkdir(parents=True)
        (subs / name / "fx" / "calc.py").write_text(f"# {name}\n")
    return subs


def test_resume_skips_learners_with_a_report_and_force_grades_them_again(
    calc: Lab, tmp_path: Path
) -> None:
    subs = fake_cohort(tmp_path, ["ann", "ben"])
    out = tmp_path / "out"
    first = FakeRunner()
    batch.grade_cohort(lab=calc, submissions_dir=subs, out_dir=out, runner=first, console=quiet())
    assert sorted(first.graded) == ["# ann\n", "# ben\n"]
    book = (out / batch.GRADEBOOK).read_text()

    resumed = FakeRunner()
    rows = batch.grade_cohort(
        lab=calc, submissions_dir=subs, out_dir=out, runner=resumed, console=quiet()
    )
    assert resumed.graded == []
    assert [(r.learner, r.fresh) for r in rows] == [("ann", False), ("ben", False)]
    assert all(r.graded_at is not None for r in rows)
    assert (out / batch.GRADEBOOK).read_text() == book
    html = (out / batch.REPORT_HTML).read_text()
    assert 'graded in this run</dt><dd><span class="num">0</span>' in html
    assert 'resumed from earlier reports</dt><dd><span class="num">2</span>' in html
    assert "fake runner: 2" in html and html.count("resumed · ") == 2

    (subs / "cat" / "fx").mkdir(parents=True)
    (subs / "cat" / "fx" / "calc.py").write_text("# cat\n")
    newcomer = FakeRunner()
    rows = batch.grade_cohort(
        lab=calc, submissions_dir=subs, out_dir=out, runner=newcomer, console=quiet()
    )
    assert newcomer.graded == ["# cat\n"]
    assert [r.learner for r in rows] == ["ann", "ben", "cat"]
    assert len(read_gradebook(out)) == 3

    forced = FakeRunner()
    batch.grade_cohort(
        lab=calc, submissions_dir=subs, out_dir=out, runner=forced, force=True, console=quiet()
    )
    assert sorted(forced.graded) == ["# ann\n", "# ben\n", "# cat\n"]


def test_resume_grades_again_a_learner_whose_report_is_an_error(calc: Lab, tmp_path: Path) -> None:
    subs = fake_cohort(tmp_path, ["ann", "ben"])
    (subs / "ben" / "fx" / "calc.py").write_text("# CRASH\n")
    out = tmp_path / "out"
    rows = batch.grade_cohort(
        lab=calc, submissions_dir=subs, out_dir=out, runner=FakeRunner(), console=quiet()
    )
    assert [r.status for r in rows] == [Status.PASS, Status.ERROR]

    (subs / "ben" / "fx" / "calc.py").write_text("# fixed\n")
    runner = FakeRunner()
    rows = batch.grade_cohort(
        lab=calc, submissions_dir=subs, out_dir=out, runner=runner, console=quiet()
    )
    assert runner.graded == ["# fixed\n"]
    assert [r.status for r in rows] == [Status.PASS, Status.PASS]


def test_a_runner_crash_is_an_error_row_and_the_others_are_graded(
    calc: Lab, tmp_path: Path
) -> None:
    subs = fake_cohort(tmp_path, ["ann", "ben", "cat"])
    (subs / "ben" / "fx" / "calc.py").write_text("# CRASH\n")
    rows = batch.grade_cohort(
        lab=calc,
        submissions_dir=subs,
        out_dir=tmp_path / "out",
        runner=FakeRunner(),
        jobs=3,
        console=quiet(),
    )
    assert [(r.learner, r.status) for r in rows] == [
        ("ann", Status.PASS),
        ("ben", Status.ERROR),
        ("cat", Status.PASS),
    ]
    assert "the fake engine fell over" in rows[1].message


def test_a_crash_outside_the_runner_is_an_error_row_too(
    calc: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch.grade_lab

    def flaky(lab: Lab, *, submission: Path, **kwargs: Any) -> Any:
        if submission.name == "ben":
            raise PermissionError("cannot read ben's files")
        return real(lab, submission=submission, **kwargs)

    monkeypatch.setattr(batch, "grade_lab", flaky)
    subs = fake_cohort(tmp_path, ["ann", "ben"])
    rows = batch.grade_cohort(
        lab=calc,
        submissions_dir=subs,
        out_dir=tmp_path / "out",
        runner=FakeRunner(),
        console=quiet(),
    )
    assert [r.status for r in rows] == [Status.PASS, Status.ERROR]
    assert "The grader crashed on this submission" in rows[1].message
    assert json.loads((tmp_path / "out" / "reports" / "ben.json").read_text())["status"] == "error"


def test_a_half_written_report_is_graded_again(calc: Lab, tmp_path: Path) -> None:
    subs = fake_cohort(tmp_path, ["ann"])
    (tmp_path / "out" / "reports").mkdir(parents=True)
    (tmp_path / "out" / "reports" / "ann.json").write_text('{"lab": "calc", "sco')
    runner = FakeRunner()
    rows = batch.grade_cohort(
        lab=calc, submissions_dir=subs, out_dir=tmp_path / "out", runner=runner, console=quiet()
    )
    assert runner.graded == ["# ann\n"]
    assert rows[0].status is Status.PASS


def test_an_output_folder_of_another_lab_is_refused(calc: Lab, tmp_path: Path) -> None:
    subs = fake_cohort(tmp_path, ["ann"])
    (tmp_path / "out" / "reports").mkdir(parents=True)
    (tmp_path / "out" / "reports" / "ann.json").write_text('{"lab": "sleepy", "status": "pass"}')
    with pytest.raises(GraderError, match="report for lab 'sleepy', not 'calc'"):
        batch.grade_cohort(
            lab=calc, submissions_dir=subs, out_dir=tmp_path / "out", runner=FakeRunner()
        )


def test_an_output_folder_inside_the_submissions_is_not_a_learner(
    calc: Lab, tmp_path: Path
) -> None:
    subs = fake_cohort(tmp_path, ["ann"])
    batch.grade_cohort(
        lab=calc,
        submissions_dir=subs,
        out_dir=subs / "grades",
        runner=FakeRunner(),
        console=quiet(),
    )
    rows = batch.grade_cohort(
        lab=calc,
        submissions_dir=subs,
        out_dir=subs / "grades",
        runner=FakeRunner(),
        console=quiet(),
    )
    assert [r.learner for r in rows] == ["ann"]


def test_spreadsheet_formulas_in_learner_names_are_defused(calc: Lab, tmp_path: Path) -> None:
    subs = fake_cohort(tmp_path, ["=HYPERLINK(1)"])
    batch.grade_cohort(
        lab=calc,
        submissions_dir=subs,
        out_dir=tmp_path / "out",
        runner=FakeRunner(),
        console=quiet(),
    )
    assert read_gradebook(tmp_path / "out")[0]["learner"] == "'=HYPERLINK(1)"


# --- a timeout, with the real local runner ---------------------------------------------


def test_a_timeout_is_a_row_with_its_status_and_does_not_stop_the_batch(tmp_path: Path) -> None:
    sleepy = find_lab("sleepy", FIXTURE_LABS)
    subs = make_cohort(
        tmp_path,
        {"fast": FIXTURE_SOLUTIONS / "sleepy", "forever": SUBMISSIONS / "sleepy-forever"},
    )
    rows = batch.grade_cohort(
        lab=sleepy,
        submissions_dir=subs,
        out_dir=tmp_path / "out",
        runner=LocalRunner(),
        jobs=2,
        console=quiet(),
    )
    by_name = {r.learner: r for r in rows}
    assert by_name["fast"].status is Status.PASS
    assert by_name["forever"].status is Status.TIMEOUT
    report = json.loads((tmp_path / "out" / "reports" / "forever.json").read_text())
    assert report.pop("fingerprint")["submission"] is not None
    assert normalised(report) == golden("timeout")
    assert read_gradebook(tmp_path / "out")[1]["status"] == "timeout"


# --- the command line ----------------------------------------------------------------


def test_batch_cli_grades_a_cohort_and_exits_1_when_a_submission_could_not_be_graded(
    tmp_path: Path,
) -> None:
    subs = make_cohort(tmp_path, {"alice": FIXTURE_SOLUTIONS / "calc", "dave": "escaping"})
    out = tmp_path / "out"
    proc = run_cli(
        "batch",
        "calc",
        str(subs),
        "--runner",
        "local",
        "--trust-submissions",
        "-j",
        "2",
        "--out",
        str(out),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 pass, 0 fail, 1 error, 0 timeout" in proc.stdout
    assert "dave: fx/calc.py is a symlink" in proc.stdout
    assert "2/2" in proc.stderr
    assert (out / "gradebook.csv").is_file() and (out / "report.html").is_file()

    shutil.rmtree(subs / "dave")
    (out / "reports" / "dave.json").unlink()
    proc = run_cli(
        "batch", "calc", str(subs), "--runner", "local", "--trust-submissions", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 graded now, 1 from earlier reports" in proc.stdout


@pytest.mark.parametrize(
    ("case", "phrase"),
    [
        ("empty", "has no learner folders in it"),
        ("missing", "does not exist"),
        ("file", "is a file; pass a folder"),
        ("lab", "There is no lab called 'nosuch'"),
        ("out", "Cannot write to the output folder"),
        ("hidden", "hidden tests folder"),
        ("jobs", "-j must be at least 1"),
    ],
)
def test_bad_batch_input_is_one_sentence_and_exit_2(tmp_path: Path, case: str, phrase: str) -> None:
    subs = make_cohort(tmp_path, {"alice": FIXTURE_SOLUTIONS / "calc"})
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "out"
    args = {
        "empty": ["calc", str(tmp_path / "empty-dir"), "--out", str(out)],
        "missing": ["calc", str(tmp_path / "nope"), "--out", str(out)],
        "file": ["calc", str(tmp_path / "a-file"), "--out", str(out)],
        "lab": ["nosuch", str(subs), "--out", str(out)],
        # a folder under a regular file cannot be created, even by root
        "out": ["calc", str(subs), "--out", str(tmp_path / "a-file" / "out")],
        "hidden": ["calc", str(subs), "--out", str(out), "--hidden-tests", str(tmp_path / "no")],
        "jobs": ["calc", str(subs), "--out", str(out), "-j", "0"],
    }[case]
    assert_clean_error(run_cli("batch", *args, "--runner", "local", "--trust-submissions"), phrase)
    assert not (out / "reports").exists(), "nothing is graded or written on bad input"


# --- hidden tests --------------------------------------------------------------------


@pytest.fixture
def hidden_tests(tmp_path: Path) -> Path:
    folder = tmp_path / "hidden"
    folder.mkdir()
    (folder / "test_extra.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.task(2)\n"
        f"def test_{SECRET_CODE.lower()}_passes(learner):\n"
        "    mul = learner.module('fx.calc').mul\n\n"
        f"    assert mul(3, 3) == 9, '{SECRET_MESSAGE}'\n\n\n"
        "@pytest.mark.task(2)\n"
        f"def test_{SECRET_CODE.lower()}_fails(learner):\n"
        "    mul = learner.module('fx.calc').mul\n\n"
        f"    {SECRET_CODE} = mul(0, 3)\n"
        f"    assert {SECRET_CODE} == 0, '{SECRET_MESSAGE}: mul(0, 3) was ' + repr({SECRET_CODE})\n"
    )
    return folder


def assert_no_secret(text: str, where: str) -> None:
    for secret in (SECRET_CODE, SECRET_CODE.lower(), SECRET_MESSAGE):
        assert secret not in text, f"{secret} leaked into {where}"


def test_hidden_tests_count_in_reports_without_leaking_code_or_messages(
    tmp_path: Path, hidden_tests: Path
) -> None:
    subs = make_cohort(tmp_path, {"bob": SUBMISSIONS / "calc-partial"})
    out = tmp_path / "out"
    proc = run_cli(
        "batch", "calc", str(subs), "--runner", "local", "--trust-submissions", "--out", str(out),
        "--hidden-tests", str(hidden_tests),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "reports" / "bob.json").read_text())
    assert report["hidden_tests"] == {"count": 2, "passed": 1}
    # bob's mul is wrong only for 0: his visible entry keeps its own message, and the
    # hidden part of task 2 is an entry of its own
    visible, hidden_part = report["tasks"][1], report["tasks"][2]
    assert "mul(0, 7) returned 1" in visible["message"]
    assert hidden_part["hidden"] and hidden_part["message"] == "1 of 2 hidden tests did not pass."
    for path in (out / "reports" / "bob.json", out / batch.GRADEBOOK, out / batch.REPORT_HTML):
        assert_no_secret(path.read_text(), path.name)
    assert_no_secret(proc.stdout + proc.stderr, "the batch's terminal output")

    paths = {fmt: tmp_path / f"bob.{fmt}" for fmt in ("json", "markdown", "gradescope", "junit")}
    proc = run_cli(
        "grade", "calc", "--runner", "local", "--submission", str(subs / "bob"),
        "--hidden-tests", str(hidden_tests),
        *(arg for fmt, path in paths.items() for arg in (f"--{fmt}", str(path))),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "hidden test" in paths["markdown"].read_text()
    for fmt, path in paths.items():
        assert_no_secret(path.read_text(), f"the {fmt} report")
    assert_no_secret(proc.stdout + proc.stderr, "grade's terminal output")
    gradescope = json.loads(paths["gradescope"].read_text())
    hidden_entries = [t for t in gradescope["tests"] if "hidden tests" in t["name"]]
    assert [t["visibility"] for t in hidden_entries] == ["after_published"]
    assert hidden_entries[0]["output"] == "1/2 hidden tests passed"


def test_show_output_withholds_pytest_output_when_hidden_tests_ran(
    tmp_path: Path, hidden_tests: Path
) -> None:
    proc = run_cli(
        "grade", "calc", "--runner", "local", "--submission", str(SUBMISSIONS / "calc-partial"),
        "--hidden-tests", str(hidden_tests), "--show-output",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "withheld" in proc.stdout
    assert_no_secret(proc.stdout + proc.stderr, "grade --show-output")


def test_a_broken_hidden_test_file_does_not_reveal_its_path_or_source(tmp_path: Path) -> None:
    folder = tmp_path / "hidden"
    folder.mkdir()
    (folder / f"test_{SECRET_CODE.lower()}.py").write_text(
        f"import pytest\n\n{SECRET_CODE} = '{SECRET_MESSAGE}'\nthis is not python\n"
    )
    report_path = tmp_path / "report.json"
    proc = run_cli(
        "grade", "calc", "--runner", "local", "--submission", str(FIXTURE_SOLUTIONS / "calc"),
        "--hidden-tests", str(folder), "--json", str(report_path), "--show-output",
    )  # fmt: skip
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert_no_secret(report_path.read_text(), "the JSON report")
    assert_no_secret(proc.stdout + proc.stderr, "grade's terminal output")


# --- integrity -----------------------------------------------------------------------

SITECUSTOMIZE = """\
import fx.calc

fx.calc.mul = lambda a, b: a * b  # 'fixes' the learner's mul before any test runs
"""


def test_tampering_files_change_nothing_even_where_the_glob_would_take_them(
    tmp_path: Path,
) -> None:
    # A lab whose submission glob takes every .py at its root: the worst case, where a
    # learner's sitecustomize.py or conftest.py would land on sys.path or pytest's path.
    lab_dir = tmp_path / "labs" / "calcroot"
    shutil.copytree(FIXTURE_LABS / "calc", lab_dir)
    manifest = (lab_dir / "lab.toml").read_text()
    (lab_dir / "lab.toml").write_text(
        manifest.replace('slug = "calc"', 'slug = "calcroot"').replace(
            'files = ["fx/*.py"]', 'files = ["*.py", "fx/*.py"]'
        )
    )
    lab = load_lab(lab_dir)
    honest = SUBMISSIONS / "calc-partial"
    subs = make_cohort(tmp_path, {"honest": honest, "tamperer": SUBMISSIONS / "calc-tampered"})
    shutil.copyfile(honest / "fx" / "calc.py", subs / "tamperer" / "fx" / "calc.py")
    (subs / "tamperer" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (subs / "tamperer" / "usercustomize.py").write_text(SITECUSTOMIZE)
    (subs / "tamperer" / "fx" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (subs / "tamperer" / "evil.pth").write_text("import fx.calc\n")

    # The attack is real: with the submission on sys.path, sitecustomize fixes mul(0, 7).
    attack = subprocess.run(
        [sys.executable, "-c", "from fx.calc import mul; print(mul(0, 7))"],
        env={**os.environ, "PYTHONPATH": str(subs / "tamperer")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert attack.stdout.strip() == "0"
    assert {"sitecustomize.py", "conftest.py"} <= set(submission_files(lab, subs / "tamperer"))

    rows = batch.grade_cohort(
        lab=lab,
        submissions_dir=subs,
        out_dir=tmp_path / "out",
        runner=LocalRunner(),
        jobs=2,
        console=quiet(),
    )
    honest_row, tampered_row = rows
    assert honest_row.status is Status.FAIL
    assert tampered_row.score == honest_row.score
    assert tampered_row.tasks == honest_row.tasks


def test_only_the_docker_runner_imports_docker() -> None:
    importers = []
    for path in sorted((REPO / "grader").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "docker" or n.startswith("docker.") for n in names):
                importers.append(path.relative_to(REPO).as_posix())
    assert sorted(set(importers)) == ["grader/runners/docker.py"]


# --- the docker runner ---------------------------------------------------------------


@pytest.mark.docker
def test_docker_batch_in_parallel_mounts_no_host_path_and_leaves_no_container(
    tmp_path: Path, calc: Lab, docker_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker
    from docker.models.containers import ContainerCollection

    created: list[dict[str, Any]] = []
    real_create = ContainerCollection.create

    def spy(self: Any, image: str, command: Any = None, **kwargs: Any) -> Any:
        created.append(kwargs)
        return real_create(self, image, command, **kwargs)

    monkeypatch.setattr(ContainerCollection, "create", spy)
    subs = make_cohort(
        tmp_path,
        {
            "alice": FIXTURE_SOLUTIONS / "calc",
            "bob": SUBMISSIONS / "calc-partial",
            "carol": SUBMISSIONS / "calc-syntax-error",
        },
    )
    rows = batch.grade_cohort(
        lab=calc,
        submissions_dir=subs,
        out_dir=tmp_path / "out",
        runner=docker_runner,
        jobs=2,
        console=quiet(),
    )
    for row, case in zip(rows, ("all-pass", "partial", "syntax-error"), strict=True):
        report = json.loads((tmp_path / "out" / "reports" / f"{row.learner}.json").read_text())
        assert report["runner"] == "docker"
        assert report.pop("fingerprint")["submission"] is not None
        assert normalised(report) == golden(case), row.learner

    assert len(created) == 3
    for kwargs in created:
        assert not kwargs.get("volumes") and not kwargs.get("binds")
        assert all(m["Type"] == "volume" and not m.get("Source") for m in kwargs["mounts"])
        assert "docker.sock" not in repr(kwargs)
    client = docker.from_env()
    try:
        jobs = {kwargs["labels"]["mlskills.job"] for kwargs in created}
        left = [
            c
            for c in client.containers.list(all=True, filters={"label": "mlskills.job"})
            if c.labels.get("mlskills.job") in jobs
        ]
    finally:
        client.close()
    assert left == []
