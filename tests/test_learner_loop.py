"""The learner loop: progress, reset, and watch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.errors import ManifestError
from grader.lab import COURSE_ORDER, list_labs, load_lab
from grader.watch import relevant_changes, watch_lab
from tests.conftest import FIXTURE_LABS, REPO
from tests.test_cli import run_cli


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A git checkout holding the calc and sleepy fixture labs."""
    root = tmp_path / "course"
    for slug in ("calc", "sleepy"):
        shutil.copytree(FIXTURE_LABS / slug, root / "labs" / slug)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "s"],
        cwd=root,
        check=True,
    )
    return root


SOLVED_ADD = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    raise NotImplementedError\n"


def test_progress_shows_done_not_yet_and_not_started(course: Path) -> None:
    (course / "labs/calc/fx/calc.py").write_text(SOLVED_ADD)
    assert run_cli("grade", "calc", "--runner", "local", root=course).returncode == 1
    proc = run_cli("progress", root=course)
    assert proc.returncode == 0, proc.stderr
    calc_row = next(line for line in proc.stdout.splitlines() if "calc" in line)
    sleepy_row = next(line for line in proc.stdout.splitlines() if "sleepy" in line)
    assert "✔" in calc_row and "✘" in calc_row and "10/30" in calc_row
    assert "·" in sleepy_row and "0/10" in sleepy_row
    assert "course total 10/40 points" in proc.stdout


def test_progress_shows_the_other_labs_when_one_manifest_is_broken(course: Path) -> None:
    manifest = course / "labs/sleepy/lab.toml"
    manifest.write_text(manifest.read_text().replace("points = 5", "points = 'five'", 1))
    proc = run_cli("progress", root=course)
    assert proc.returncode == 2
    assert any("calc" in line and "0/30" in line for line in proc.stdout.splitlines())
    assert "not shown:" in proc.stdout and "tasks[1].points" in proc.stdout


def test_reset_restores_the_starter_and_keeps_a_backup(course: Path) -> None:
    edited = course / "labs/calc/fx/calc.py"
    starter = edited.read_text()
    edited.write_text(SOLVED_ADD)
    refused = run_cli("reset", "calc", root=course)  # no terminal, no --yes: nothing changes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert edited.read_text() == SOLVED_ADD
    proc = run_cli("reset", "calc", "fx/calc.py", "--yes", root=course)
    assert proc.returncode == 0, proc.stderr
    assert edited.read_text() == starter
    backups = list((course / ".mlskills/backups/calc").glob("*/fx/calc.py"))
    assert len(backups) == 1 and backups[0].read_text() == SOLVED_ADD
    again = run_cli("reset", "calc", "--yes", root=course)
    assert "Nothing to reset" in again.stdout


def test_reset_refuses_a_file_that_is_not_the_learners(course: Path) -> None:
    proc = run_cli("reset", "calc", "tests/test_task1_add.py", "--yes", root=course)
    assert proc.returncode == 2 and "not one of the files you edit" in proc.stderr


def test_relevant_changes_keeps_only_submission_files() -> None:
    lab = load_lab(FIXTURE_LABS / "calc")
    changed = [
        str(lab.root / "fx/calc.py"),
        str(lab.root / "tests/test_task1_add.py"),
        str(lab.root / "README.md"),
    ]
    assert relevant_changes(lab, changed) == [str(lab.root / "fx/calc.py")]


@pytest.mark.parametrize("poll", [False, True])
def test_watch_calls_back_once_per_debounced_burst_of_edits(course: Path, poll: bool) -> None:
    lab = load_lab(course / "labs" / "calc")
    target = lab.root / "fx" / "calc.py"
    seen: list[list[str]] = []
    thread = threading.Thread(
        target=watch_lab,
        args=(lab, seen.append),
        kwargs={"poll": poll, "debounce_ms": 300, "stop_after": 1},
        daemon=True,
    )
    thread.start()
    time.sleep(1.0)  # let the watcher take its first look before the edits
    for n in range(3):
        target.write_text(f"# edit {n}\n" + SOLVED_ADD)
        (lab.root / "tests" / "scratch.txt").write_text(str(n))  # not a submission file
    thread.join(timeout=20)
    assert not thread.is_alive(), "the watcher never reported the edit"
    assert seen == [[str(target)]]


def _interrupted_grade(course: Path, tmp: Path, verb: str) -> subprocess.CompletedProcess[str]:
    """Start ``grader <verb> sleepy`` and press Ctrl-C while learner code runs."""
    env = {**os.environ, "MLSKILLS_ROOT": str(course), "TMPDIR": str(tmp), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", verb, "sleepy", "--runner", "local"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while not any(tmp.glob("**/mlskills-learner-*")) and time.monotonic() < deadline:
        time.sleep(0.1)  # until a worker runs the learner's code
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_ctrl_c_during_a_grade_leaves_no_temp_folder(course: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (course / "labs/sleepy/fx/work.py").write_text(
        "import time\n\n\ndef quick():\n    return 'quick'\n\n\n"
        "def slow():\n    time.sleep(60)\n    return 'slow'\n"
    )
    proc = _interrupted_grade(course, tmp, "grade")
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp.iterdir()) == []


def test_ctrl_c_in_watch_stops_without_a_log_line(course: Path, tmp_path: Path) -> None:
    (course / "labs/sleepy/fx/work.py").write_text(
        "def quick():\n    return 'quick'\n\n\ndef slow():\n    return 'slow'\n"
    )
    env = {**os.environ, "MLSKILLS_ROOT": str(course), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "watch", "sleepy", "--runner", "local"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # the first grade is done once it says it is watching
        if "Watching" in line:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Stopped watching." in out
    assert "KeyboardInterrupt" not in err and "WARNING" not in err, err


def _present_in_course_order() -> list[str]:
    """COURSE_ORDER names labs before they land: the ones in labs/, in its order."""
    present = []
    for slug in COURSE_ORDER:
        try:
            load_lab(REPO / "labs" / slug)
        except ManifestError:  # not there yet, or being written
            continue
        present.append(slug)
    assert len(present) >= 5
    return present


def test_grade_without_a_lab_lists_them_in_course_order_and_says_how_to_pick() -> None:
    proc = run_cli("grade", root=REPO)
    assert proc.returncode == 2
    names = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")]
    assert [n for n in names if n in _present_in_course_order()] == _present_in_course_order()
    assert "make grade lab=networking" in proc.stdout


def test_labs_are_listed_in_course_order() -> None:
    assert [p.name for p in list_labs() if p.name in _present_in_course_order()] == (
        _present_in_course_order()
    )
    proc = run_cli("list", root=REPO)
    firsts = [line.split()[0] for line in proc.stdout.splitlines() if line.endswith(" points")]
    assert firsts == _present_in_course_order()


def _make(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLSKILLS_ROOT": str(root), "COLUMNS": "200"}
    # `make test ARGS=…` puts its variables in the environment of what it runs.
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "ARGS", "lab", "task"):
        env.pop(name, None)
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_make_grade_ends_quietly_on_a_partial_score_and_mlskills_keeps_the_code(
    course: Path,
) -> None:
    (course / "labs/calc/fx/calc.py").write_text(SOLVED_ADD)
    made = _make("grade", "lab=calc", "ARGS=--runner local", root=course)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "score 10/30" in made.stdout
    assert "make: ***" not in made.stderr and "Error" not in made.stderr

    env = {**os.environ, "MLSKILLS_ROOT": str(course), "COLUMNS": "200"}
    script = subprocess.run(
        [str(REPO / "mlskills"), "grade", "calc", "--runner", "local"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert script.returncode == 1, script.stdout + script.stderr
    assert "make" not in script.stderr

    # Could not grade: the grader's sentence, and not make's "*** [grade] Error 2" under it.
    broken = _make("grade", "lab=no-such-lab", root=course)
    assert "There is no lab called 'no-such-lab'" in broken.stderr
    assert "make" not in broken.stderr and "Error" not in broken.stderr, broken.stderr
    for target in (("hint", "lab=no-such-lab"), ("reset", "lab=calc", "file=nope.py")):
        made = _make(*target, root=course)
        assert made.stderr.startswith("error: ") and "make" not in made.stderr, made.stderr


def test_the_hint_shown_is_the_one_of_the_test_that_caught_the_mistake(course: Path) -> None:
    (course / "labs/calc/fx/calc.py").write_text(
        "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b if a else 1\n"
    )
    out = course / "report.json"
    run_cli("grade", "calc", "--runner", "local", "--json", str(out), root=course)
    task2 = next(t for t in json.loads(out.read_text())["tasks"] if t["id"] == "2")
    assert task2["hint"] == "Anything times zero is zero: check the zero case before any shortcut."


def test_make_grade_with_a_task_runs_and_reports_only_that_task(course: Path) -> None:
    (course / "labs/calc/fx/calc.py").write_text(SOLVED_ADD)
    made = _make("grade", "lab=calc", "task=1", "ARGS=--runner local", root=course)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Add" in made.stdout and "Multiply" not in made.stdout
    assert not (course / ".mlskills/grades/calc.json").exists()  # progress wants whole grades
    progress = run_cli("progress", root=course)
    assert "the calc row has no whole-lab grade yet, only your grade of task 1 alone" in (
        progress.stdout
    )
    unknown = run_cli("grade", "calc", "--task", "7", "--runner", "local", root=course)
    assert unknown.returncode == 2 and "its tasks are 1, 2" in unknown.stderr


def _commit(root: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A", "."], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message],
        cwd=root,
        check=True,
    )


@pytest.fixture
def named_course(course: Path) -> Path:
    """The course, with calc's file declared by name (as the real labs declare theirs)."""
    manifest = course / "labs/calc/lab.toml"
    manifest.write_text(manifest.read_text().replace('"fx/*.py"', '"fx/calc.py"'))
    _commit(course, "declare fx/calc.py by name")
    return course


def test_a_deleted_file_fails_its_tasks_with_the_command_that_restores_it(
    named_course: Path,
) -> None:
    edited = named_course / "labs/calc/fx/calc.py"
    starter = edited.read_text()
    edited.unlink()
    graded = run_cli("grade", "calc", "--runner", "local", root=named_course)
    assert graded.returncode == 1, graded.stdout + graded.stderr
    assert "is not a file of the lab's starter" not in graded.stdout + graded.stderr
    assert "file missing: restore it with make reset lab=calc file=fx/calc.py" in graded.stdout
    # Hints, progress and list still know the lab, and the course total keeps its points.
    assert run_cli("hint", "calc", "1", root=named_course).returncode == 0
    progress = run_cli("progress", root=named_course)
    assert progress.returncode == 0 and "course total 0/40 points" in progress.stdout
    assert run_cli("list", root=named_course).returncode == 0
    reset = run_cli("reset", "calc", "fx/calc.py", "--yes", root=named_course)
    assert reset.returncode == 0, reset.stderr
    assert edited.read_text() == starter


def test_a_committed_deletion_is_reset_to_the_starter_before_it(named_course: Path) -> None:
    edited = named_course / "labs/calc/fx/calc.py"
    starter = edited.read_text()
    edited.unlink()
    _commit(named_course, "the learner commits the deletion")
    proc = run_cli("reset", "calc", "--yes", root=named_course)
    assert proc.returncode == 0, proc.stderr
    assert edited.read_text() == starter


def test_an_emptied_file_is_named_and_an_empty_starter_init_is_not(course: Path) -> None:
    untouched = run_cli("grade", "calc", "--runner", "local", root=course)
    assert "file empty" not in untouched.stdout and "is empty" not in untouched.stdout
    (course / "labs/calc/fx/calc.py").write_text("")
    graded = run_cli("grade", "calc", "--runner", "local", root=course)
    assert "file empty: restore it with make reset lab=calc file=fx/calc.py" in graded.stdout
    assert "fx/__init__.py is empty" not in graded.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_file_is_graded_as_missing_not_refused(course: Path) -> None:
    edited = course / "labs/calc/fx/calc.py"
    edited.chmod(0)
    try:
        graded = run_cli("grade", "calc", "--runner", "local", root=course)
        assert graded.returncode == 1, graded.stdout + graded.stderr
        assert "file unreadable: restore it with make reset" in graded.stdout
        assert run_cli("reset", "calc", "--yes", root=course).returncode == 0
        assert edited.read_text().startswith("def add")
    finally:
        edited.chmod(0o644)


def _make_in(folder: Path, *args: str, root: Path) -> subprocess.CompletedProcess[str]:
    """make in ``folder``, whose Makefile is mk/forward.mk (as every lab folder's is)."""
    env = {**os.environ, "MLSKILLS_ROOT": str(root), "COLUMNS": "200"}
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "ARGS", "lab", "task"):
        env.pop(name, None)
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(REPO / "mk/forward.mk"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=300,
        check=False,
    )


def test_make_works_from_a_folder_inside_a_lab(course: Path) -> None:
    (course / "labs/calc/fx/calc.py").write_text(SOLVED_ADD)
    inside = REPO / "labs" / "networking" / "netlab"
    made = _make_in(inside, "grade", "lab=calc", "task=1", "ARGS=--runner local", root=course)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Add" in made.stdout and "10/10" in made.stdout
    # Inside labs/<slug>/, lab= is that lab unless given.
    dry = _make_in(inside, "-n", "hint", "task=2", root=course)
    assert "grader hint networking 2" in dry.stdout, dry.stdout + dry.stderr


def test_every_lab_folder_and_package_forwards_make_to_the_repository() -> None:
    """`make grade` from labs/<slug>/ or its package folder, not 'No rule to make target'."""
    from grader.lab import list_labs

    for lab in list_labs():
        packages = [p.parent for p in lab.glob("*/__init__.py")]
        assert packages, f"{lab.name} has no package folder"
        for folder in (lab, *packages):
            made = subprocess.run(
                ["make", "-n", "--no-print-directory", "hint", "task=1"],
                cwd=folder,
                env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert f"grader hint {lab.name} 1" in made.stdout, (folder, made.stdout + made.stderr)


HANGS = (
    "import numpy\n\n\ndef quick():\n    while True:\n        pass\n\n\n"
    "def slow():\n    return {'value': 'slow'}\n\n\ndef array():\n    return numpy.zeros(2)\n"
)


def test_a_hung_function_is_waited_for_once_per_task_and_named(course: Path) -> None:
    (course / "labs/sleepy/fx/work.py").write_text(HANGS)
    (course / "labs/sleepy/tests/test_task1_more.py").write_text(
        "import pytest\n\n\n"
        + "".join(
            f"@pytest.mark.task(1)\ndef test_quick_{n}(learner):\n"
            f"    work = learner.module('fx.work', timeout=2)\n\n"
            f"    assert work.quick() == 'quick'\n\n\n"
            for n in range(3)
        )
    )
    out = course / "report.json"
    graded = run_cli(
        "grade", "sleepy", "--task", "1", "--runner", "local", "--json", str(out), root=course
    )
    assert graded.returncode == 1, graded.stdout + graded.stderr
    tests = next(t for t in json.loads(out.read_text())["tasks"] if t["id"] == "1")["tests"]
    hung = [t for t in tests if "did not return within 2 s" in t["message"]]
    skipped = [t for t in tests if "was not called: fx.work.quick hung earlier" in t["message"]]
    assert len(tests) == 4 and len(hung) == 1 and len(skipped) == 3, tests
    assert hung[0]["message"].startswith("fx.work.quick() did not return within 2 s")
    assert skipped[0]["message"].startswith("fx.work.quick() did not return, so")
    assert "fx.work.quick() did not return" in graded.stdout  # the table names the call


def test_a_wrong_type_is_said_first(course: Path) -> None:
    (course / "labs/sleepy/fx/work.py").write_text(HANGS)
    (course / "labs/sleepy/tests/test_task2_slow.py").write_text(
        "import pytest\n\n\n@pytest.mark.task(2)\ndef test_slow(learner):\n"
        "    work = learner.module('fx.work')\n\n"
        "    got = work.slow()\n"
        "    assert got == ['slow'], f'slow() returned {got}; think about the algorithm'\n\n\n"
        "@pytest.mark.task(2)\ndef test_array(learner):\n"
        "    work = learner.module('fx.work')\n\n"
        "    got = work.array()\n"
        "    assert got == pytest.approx(0.0), f'array() = {got}'\n"
    )
    out = course / "report.json"
    run_cli("grade", "sleepy", "--task", "2", "--runner", "local", "--json", str(out), root=course)
    tests = next(t for t in json.loads(out.read_text())["tasks"] if t["id"] == "2")["tests"]
    by_name = {t["name"].rsplit("::", 1)[-1]: t["message"] for t in tests}
    assert by_name["test_slow"].startswith(
        "wrong type: a dict came back where a list was expected. slow() returned"
    ), by_name
    assert by_name["test_array"].startswith(
        "wrong type: a numpy.ndarray came back where a float was expected "
        "(fx.work.array() returned it, and only plain data crosses"
    ), by_name


def test_progress_says_when_a_task_only_grade_is_newer_than_the_row(course: Path) -> None:
    assert run_cli("grade", "calc", "--runner", "local", root=course).returncode == 1
    fresh = run_cli("progress", root=course)
    assert "older than" not in fresh.stdout and "alone" not in fresh.stdout
    (course / "labs/calc/fx/calc.py").write_text(SOLVED_ADD)
    run_cli("grade", "calc", "--task", "1", "--runner", "local", root=course)
    stale = run_cli("progress", root=course)
    calc_row = next(line for line in stale.stdout.splitlines() if line.startswith("│ calc"))
    assert "0/30" in calc_row  # the row is still the whole-lab grade
    assert "the calc row is your last whole-lab grade" in stale.stdout
    assert "older than your grade of task 1 alone" in stale.stdout
    assert "make grade lab=calc brings it up to date" in stale.stdout
    run_cli("grade", "calc", "--runner", "local", root=course)
    updated = run_cli("progress", root=course)
    assert "older than" not in updated.stdout and "10/30" in updated.stdout


def test_show_output_is_the_learners_output_and_the_assertion(course: Path) -> None:
    (course / "labs/calc/fx/calc.py").write_text(
        "def add(a, b):\n    print('adding', a, b)\n    return a - b\n\n\n"
        "def mul(a, b):\n    raise NotImplementedError('TODO(student): mul')\n"
    )
    proc = run_cli("grade", "calc", "--runner", "local", "--show-output", root=course)
    assert "adding 2 3" in proc.stdout  # the learner's own print
    assert "returned -1; expected 5" in proc.stdout  # the test's assertion
    assert "raised at fx/calc.py:7 in mul" in proc.stdout
    assert "mlskills_boundary" not in proc.stdout and "fixture.py" not in proc.stdout
    assert "_request" not in proc.stdout


def test_make_lint_passes_a_starter_whose_task_is_solved(tmp_path: Path) -> None:
    """A solved task leaves the starter's "# noqa: F401" unused: that is no lint error."""
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "lint"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    command = next(line for line in printed.splitlines() if " check " in line and "ruff" in line)
    solved = tmp_path / "labs/networking/netlab/rest_service.py"
    solved.parent.mkdir(parents=True)
    solved.write_text("import os  # noqa: F401 (you will need it)\n\nprint(os.sep)\n")
    shutil.copyfile(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    run = lambda cmd: subprocess.run(  # noqa: E731
        cmd, shell=True, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run(command.replace(".venv/bin/", f"{REPO}/.venv/bin/")).returncode == 0
    solved.write_text("import os\nimport sys\n\nprint(os.sep)\n")
    assert run(command.replace(".venv/bin/", f"{REPO}/.venv/bin/")).returncode == 1  # still lints


def test_an_import_the_labs_image_lacks_names_the_module_and_the_line(course: Path) -> None:
    (course / "labs/calc/fx/calc.py").write_text("import mlskills_absent_pkg\n\n" + SOLVED_ADD)
    out = course / "report.json"
    run_cli("grade", "calc", "--task", "1", "--runner", "local", "--json", str(out), root=course)
    task = json.loads(out.read_text())["tasks"][0]
    assert task["message"].startswith(
        "No module named 'mlskills_absent_pkg' (imported at fx/calc.py:1): "
        "this lab's image does not have it"
    ), task["message"]
