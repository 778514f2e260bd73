"""Runner plumbing that needs no engine: output capping, local timeouts, selection."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from grader import api
from grader.errors import RunnerUnavailable
from grader.lab import find_lab
from grader.runners.base import OutputCapture
from grader.runners.local import LocalRunner, reachable_by_others
from grader.runners.select import select_runner
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, SUBMISSIONS


def test_output_capture_keeps_head_and_tail_and_says_what_it_cut() -> None:
    capture = OutputCapture(head_bytes=10, tail_bytes=10)
    capture.feed(b"HEAD-12345")
    for _ in range(1000):
        capture.feed(b"middle")
    capture.feed(b"TAIL-12345")
    text = capture.text()
    assert text.startswith("HEAD-12345") and text.endswith("TAIL-12345")
    assert "6,000 bytes of output cut" in text


class RotatedLogContainer:
    """Docker 20.10 under a flood: the follow stream ends with an error once the log
    rotates, while the rotated log still holds the output's last lines."""

    def logs(self, stream: bool = False, follow: bool = False, tail: int | None = None) -> Any:
        if stream:
            return iter([b"FIRST\n", b"x" * 100_000, b"Error grabbing logs: no such file\n"])
        assert tail is not None, "the tail must be bounded"
        return b"x" * 10 + b"LAST\n"


def test_a_log_stream_broken_by_rotation_keeps_the_real_tail_not_the_error() -> None:
    pytest.importorskip("docker")
    from grader.runners.docker import _pump_logs, _settle_tail

    capture = OutputCapture(head_bytes=10, tail_bytes=10)
    container = RotatedLogContainer()
    _pump_logs(container, capture)
    _settle_tail(container, capture)
    text = capture.text()
    assert text.startswith("FIRST") and text.endswith("xxxxxLAST\n")
    assert "Error grabbing" not in text and "output cut" in text


def test_a_tail_that_matches_the_log_keeps_its_exact_count() -> None:
    capture = OutputCapture(head_bytes=10, tail_bytes=10)
    capture.feed(b"HEAD-12345" + b"m" * 100 + b"TAIL-12345")
    capture.settle_tail(b"mmmmTAIL-12345")
    assert "100 bytes of output cut" in capture.text()


def test_output_capture_keeps_short_output_whole() -> None:
    capture = OutputCapture(head_bytes=10, tail_bytes=10)
    capture.feed(b"hello world!")
    assert capture.text() == "hello world!"


def test_output_capture_echoes_the_graders_progress_lines_as_they_arrive() -> None:
    """Only whole lines that start with the grader's prefix; the learner's output is kept
    for the report, not echoed, and a line split across chunks is echoed once whole."""
    said: list[str] = []
    capture = OutputCapture(echo=said.append)
    capture.feed(b"learner prints [mlskills] in the middle\n[mlskills] waiting for f(1)")
    assert said == []
    capture.feed(b": 5 s without a return\nmore learner output\n")
    capture.feed(b"[mlskills] waiting for f(1): 10 s without a return\n[mlskills] no newline")
    assert said == [
        "[mlskills] waiting for f(1): 5 s without a return",
        "[mlskills] waiting for f(1): 10 s without a return",
    ]
    assert "learner prints" in capture.text() and "[mlskills] no newline" in capture.text()
    capture.feed(b"x" * 100_000)  # a line without end is bounded, not kept whole
    assert len(capture._line) <= 4096


def test_a_grade_says_live_which_call_it_is_still_waiting_for(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "sleepy"
    shutil.copytree(FIXTURE_LABS / "sleepy", lab)
    (lab / "fx" / "work.py").write_text("def quick():\n    while True:\n        pass\n")
    (lab / "tests" / "test_task1_hang.py").write_text(
        "import pytest\n\n\n@pytest.mark.task(1)\ndef test_quick(learner):\n"
        "    assert learner.module('fx.work', timeout=6).quick() == 'quick'\n"
    )
    from tests.test_cli import run_cli

    proc = run_cli("grade", "sleepy", "--task", "1", "--runner", "local", root=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[mlskills] waiting for fx.work.quick(): 5 s without a return" in proc.stderr


def test_unknown_runner_name_is_a_clear_error() -> None:
    with pytest.raises(RunnerUnavailable, match="auto, docker, local"):
        select_runner("kubernetes")


def test_docker_runner_without_engine_is_refused(monkeypatch: Any) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    with pytest.raises(RunnerUnavailable, match="--runner local"):
        select_runner("docker")


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for init to reap it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.1)
    return True


def test_local_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "orphan-pid"
    submission = tmp_path / "sub"
    (submission / "fx").mkdir(parents=True)
    # slow() leaves a grandchild behind, then hangs; the timeout must kill both
    (submission / "fx" / "work.py").write_text(
        "import subprocess, sys, time\n\n\ndef quick():\n    return 'quick'\n\n\n"
        "def slow():\n"
        "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"    open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "    time.sleep(600)\n"
    )
    started = time.monotonic()
    report = api.grade(
        slug="sleepy", submission=submission, runner=LocalRunner(), labs_root=FIXTURE_LABS
    )
    assert report.status.value == "timeout"
    assert time.monotonic() - started < 60
    pid = int(marker.read_text())
    assert not alive(pid), f"the suite's grandchild {pid} outlived the timeout"


def test_local_runner_says_it_gives_no_isolation() -> None:
    report = api.grade(
        slug="calc",
        submission=SUBMISSIONS / "calc-partial",
        runner=LocalRunner(),
        labs_root=FIXTURE_LABS,
    )
    assert any("no isolation" in n for n in report.notices)


def test_grading_some_tasks_runs_and_reports_only_theirs() -> None:
    lab = find_lab("calc", FIXTURE_LABS)
    report = api.grade_lab(
        lab, submission=SUBMISSIONS / "calc-partial", runner=LocalRunner(), tasks=("2",)
    )
    assert [t.id for t in report.tasks] == ["2"] and report.max_score == 20
    assert [t.name.split("::")[0] for t in report.tasks[0].tests] == ["tests/test_task2_mul.py"] * 2


@pytest.fixture(scope="session")
def shared_python() -> Any:
    """A Python other users can run, with pytest: a venv from the system's interpreter."""
    system = shutil.which("python3.11", path="/usr/bin:/usr/local/bin")
    if os.geteuid() != 0 or system is None or not reachable_by_others(Path(system)):
        pytest.skip("needs root and a python3.11 that other users can run")
    folder = Path(tempfile.mkdtemp(prefix="mlskills-shared-python-", dir="/tmp"))
    os.chmod(folder, 0o755)
    try:
        subprocess.run([system, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(folder / "bin" / "pip"), "install", "--quiet", "pytest"], check=True)
        yield str(folder / "bin" / "python")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_split_users_keeps_the_judge_out_of_the_learners_reach(
    shared_python: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLSKILLS_SPLIT_USERS=1, as in Gradescope's container: two users without Docker."""
    monkeypatch.setenv("MLSKILLS_SPLIT_USERS", "1")
    runner = LocalRunner(python=shared_python)
    solved = api.grade(
        slug="calc", submission=FIXTURE_SOLUTIONS / "calc", runner=runner, labs_root=FIXTURE_LABS
    )
    assert solved.score == 30 and "two other users" in " ".join(solved.notices)
    probe = tmp_path / "probe"
    (probe / "fx").mkdir(parents=True)
    (probe / "fx" / "calc.py").write_text(
        "import os\n\n\ndef add(a, b):\n"
        "    return [os.getuid(), os.access(os.environ.get('MLSKILLS_LEARNER_ROOT', '/'), 0)]\n\n\n"
        "def mul(a, b):\n    return -1\n"
    )
    graded = api.grade(slug="calc", submission=probe, runner=runner, labs_root=FIXTURE_LABS)
    message = graded.tasks[0].first_failure
    assert "[1000," in message, message  # add() ran as the learner's user, not as root
    assert graded.score == 0


def test_no_java_is_the_machines_problem_not_the_learners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java here
    monkeypatch.delenv("JAVA_HOME", raising=False)
    report = api.grade(slug="data-engineering", runner=LocalRunner())
    assert report.status.value == "error" and report.exit_code == 2
    assert (
        "needs Java 17 or newer" in report.message and "openjdk-17-jre-headless" in report.message
    )
