"""The docker runner's sandbox, proven against a real engine.

Each test writes a one-task lab whose test is the probe, grades it in a container, and
reads the verdict from the report. Every test also checks no container is left behind.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from grader import api
from grader.results import GradeReport, Status

pytestmark = pytest.mark.docker

MANIFEST = """\
format_version = 1
slug = "{slug}"
title = "Sandbox probe"
blurb = "Probes the container it runs in."

[submission]
files = ["probe/*.py"]

[limits]
time_limit_s = {time_limit}
memory_mb = {memory}
cpus = 1
pids = 64

[[tasks]]
id = 1
title = "Probe"
points = 1
hint = "None: this lab probes the sandbox."
"""


def grade_probe(
    tmp_path: Path,
    runner: Any,
    test_body: str,
    *,
    time_limit: int = 60,
    memory: int = 256,
    slug: str = "probe",
) -> GradeReport:
    lab = tmp_path / "labs" / slug
    (lab / "tests").mkdir(parents=True)
    (lab / "probe").mkdir()
    (lab / "probe" / "__init__.py").write_text("")
    (lab / "lab.toml").write_text(MANIFEST.format(slug=slug, time_limit=time_limit, memory=memory))
    (lab / "tests" / "test_probe.py").write_text(
        "import pytest\n\n\n@pytest.mark.task(1)\ndef test_probe():\n"
        + textwrap.indent(textwrap.dedent(test_body), "    ")
    )
    report = api.grade(slug=slug, runner=runner, labs_root=tmp_path / "labs")
    assert_no_container_left(slug)
    return report


def assert_no_container_left(slug: str) -> None:
    import docker

    client = docker.from_env()
    try:
        left = client.containers.list(all=True, filters={"label": f"mlskills.lab={slug}"})
        assert not left, f"containers left behind: {[c.name for c in left]}"
    finally:
        client.close()


def passed(report: GradeReport) -> bool:
    return report.status is Status.PASS


def test_runs_as_non_root_with_hostname_localhost(tmp_path: Path, docker_runner: Any) -> None:
    report = grade_probe(
        tmp_path,
        docker_runner,
        """
        import os, socket
        assert os.getuid() != 0, "running as root"
        assert socket.gethostname() == "localhost", socket.gethostname()
    """,
    )
    assert passed(report), report.tasks[0].first_failure


def test_network_is_loopback_only(tmp_path: Path, docker_runner: Any) -> None:
    report = grade_probe(
        tmp_path,
        docker_runner,
        """
        import os, socket
        assert sorted(os.listdir("/sys/class/net")) == ["lo"], os.listdir("/sys/class/net")
        for host, port in [("1.1.1.1", 53), ("172.17.0.1", 2375), ("10.0.0.1", 80)]:
            with pytest.raises(OSError):
                socket.create_connection((host, port), timeout=2)
        server = socket.create_server(("127.0.0.1", 0))
        socket.create_connection(server.getsockname(), timeout=2).close()
        server.close()
    """,
    )
    assert passed(report), report.tasks[0].first_failure


def test_root_and_lab_are_read_only_and_tmp_is_writable(tmp_path: Path, docker_runner: Any) -> None:
    report = grade_probe(
        tmp_path,
        docker_runner,
        """
        import os, pathlib
        assert os.path.isfile("/grading/judge/lab/tests/test_probe.py")
        assert os.path.isfile("/grading/workspace/grader/mlskills_grader_plugin.py")
        for target in ["/etc/evil", "/usr/evil", "/grading/judge/lab/tests/test_probe.py",
                       "/grading/workspace/grader/mlskills_grader_plugin.py"]:
            with pytest.raises(OSError):
                open(target, "w").write("x")
        for folder in ["/grading/judge/lab", "/grading/workspace/grader",
                       "/grading/judge/lab/tests"]:
            with pytest.raises(OSError):
                os.rename(folder, folder + "-moved")
        pathlib.Path("/tmp/ok").write_text("fine")
        with pytest.raises(OSError):
            os.listdir("/grading/judge/results")  # the results file's name cannot be listed
        assert "MLSKILLS_RESULTS" not in os.environ
        assert not os.path.exists("/var/run/docker.sock")
    """,
    )
    assert passed(report), report.tasks[0].first_failure


def test_memory_bomb_ends_as_error_with_a_plain_sentence(
    tmp_path: Path, docker_runner: Any
) -> None:
    report = grade_probe(
        tmp_path,
        docker_runner,
        """
        hog = []
        while True:
            hog.append(bytearray(16 * 1024 * 1024))
    """,
        memory=128,
    )
    assert report.status is Status.ERROR
    assert "ran out of memory" in report.message and "128 MB" in report.message
    assert report.exit_code == 2


def test_endless_loop_is_killed_at_the_time_limit(tmp_path: Path, docker_runner: Any) -> None:
    report = grade_probe(
        tmp_path,
        docker_runner,
        """
        while True:
            pass
    """,
        time_limit=5,
    )
    assert report.status is Status.TIMEOUT
    assert report.duration_s < 30


def test_fork_bomb_is_contained_by_the_pids_limit(tmp_path: Path, docker_runner: Any) -> None:
    report = grade_probe(
        tmp_path,
        docker_runner,
        """
        import os, time
        children = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                children += 1
        except OSError:
            pass
        assert children < 64, children
        raise AssertionError(f"forked {children} children before the pids limit stopped it")
    """,
        time_limit=20,
    )
    assert report.status in (Status.FAIL, Status.TIMEOUT)
    assert "pids limit" in report.tasks[0].first_failure or report.status is Status.TIMEOUT


def test_flood_of_output_is_capped_with_head_and_tail(tmp_path: Path, docker_runner: Any) -> None:
    report = grade_probe(
        tmp_path,
        docker_runner,
        """
        line = "x" * 1023
        print("FIRST-LINE")
        for _ in range(110 * 1024):  # 110 MB
            print(line)
        print("LAST-LINE")
    """,
        time_limit=120,
    )
    assert passed(report), report.message
    assert len(report.output) < 200_000
    assert "FIRST-LINE" in report.output
    assert "output cut; showing the first and last parts" in report.output
    assert "LAST-LINE" in report.output


def test_an_oversized_results_file_is_refused_before_it_is_read(
    tmp_path: Path, docker_runner: Any
) -> None:
    """An in-process test grows the results file it holds open (sparse: no disk used)."""
    report = grade_probe(
        tmp_path,
        docker_runner,
        """
        import os
        for fd in os.listdir("/proc/self/fd"):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("/grading/judge/results/"):
                os.truncate(target, 100 * 1024 * 1024)
    """,
    )
    assert report.status is Status.ERROR
    assert "over the 16,777,216-byte limit" in report.message, report.message


LINGERS = """\
import os, subprocess, sys, time

STAY = "import time; open('/tmp/left-behind', 'w').write('x'); time.sleep(600)"
subprocess.Popen([sys.executable, "-c", STAY], start_new_session=True)
for _ in range(200):  # until the file is there: the next submission must not see it
    if os.path.exists("/tmp/left-behind"):
        break
    time.sleep(0.05)


def add(a, b):
    return a + b


def mul(a, b):
    return a * b
"""

NOTICES_LEFTOVERS = """\
import os


def _leftovers():
    me = (os.getpid(), os.getppid())
    lingering = []
    for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in me]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"left-behind" in handle.read():
                    lingering.append(pid)
        except OSError:
            pass
    return os.path.exists("/tmp/left-behind") or bool(lingering)


def add(a, b):
    return a + b


def mul(a, b):
    return -1 if _leftovers() else a * b
"""

HANGS = """\
import time


def add(a, b):
    return a + b


def mul(a, b):
    time.sleep(3600)
"""


def test_bulk_grades_each_submission_alone_and_a_hang_ends_only_its_own(
    tmp_path: Path, docker_runner: Any
) -> None:
    """One judge, four submissions: what one leaves behind (a process, a file in /tmp)
    is gone before the next starts, and one that hangs past the time limit times out
    alone; the rest are graded in a new container."""
    import shutil

    from grader.lab import load_lab
    from grader.runners import BulkRequest
    from grader.scoring import score
    from grader.workspace import build_workspace, resolve_submission
    from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS

    lab_dir = tmp_path / "labs" / "calc-bulk"
    shutil.copytree(FIXTURE_LABS / "calc", lab_dir)
    manifest = (lab_dir / "lab.toml").read_text()
    manifest = manifest.replace('slug = "calc"', 'slug = "calc-bulk"')
    (lab_dir / "lab.toml").write_text(manifest.replace("time_limit_s = 60", "time_limit_s = 12"))
    lab = load_lab(lab_dir)
    sources = {
        "lingers": LINGERS,
        "notices-leftovers": NOTICES_LEFTOVERS,
        "hangs": HANGS,
        "solution": (FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py").read_text(),
    }
    workspaces = []
    for name, source in sources.items():
        tree = tmp_path / "submissions" / name
        shutil.copytree(FIXTURE_SOLUTIONS / "calc", tree)
        (tree / "fx" / "calc.py").write_text(source)
        workspaces.append(
            build_workspace(lab, resolve_submission(lab, tree), tmp_path / "ws" / name)
        )
    outcomes = docker_runner.run_bulk(
        BulkRequest(lab=lab, workspaces=tuple(workspaces), tasks=("2",), fail_fast=True)
    )
    reports = dict(zip(sources, (score(lab, o, tasks=("2",)) for o in outcomes), strict=True))
    assert_no_container_left("calc-bulk")

    assert passed(reports["lingers"]), reports["lingers"].tasks
    assert passed(reports["notices-leftovers"]), reports["notices-leftovers"].tasks
    hung = reports["hangs"]
    assert hung.status is Status.TIMEOUT, (hung.status, hung.message)
    assert outcomes[2].timed_out
    assert passed(reports["solution"]), (reports["solution"].message, outcomes[3].output)
    # Each session reported its own tests only, once.
    for report in reports.values():
        assert len(report.tasks[0].tests) == 2


REPORTS_ITSELF = """\
import os


def add(a, b):
    return a + b


def mul(a, b):
    return f"parent={os.getppid()} folder={os.getcwd()} user={os.getuid()}"
"""


@pytest.mark.parametrize("fork_server", [True, False])
def test_bulk_workers_start_in_their_own_folder_forked_or_not(
    tmp_path: Path, fork_server: bool
) -> None:
    """With the fork server, workers are the children of one that imported the lab's
    libraries (not of the supervisor, PID 1); either way each starts in its own folder,
    as the learner's user."""
    import re
    import shutil

    from grader.lab import load_lab
    from grader.runners import BulkRequest
    from grader.runners.docker import DockerRunner
    from grader.scoring import score
    from grader.workspace import build_workspace, resolve_submission
    from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS

    lab = load_lab(FIXTURE_LABS / "calc")
    workspaces = []
    for n in range(2):
        tree = tmp_path / "submissions" / str(n)
        shutil.copytree(FIXTURE_SOLUTIONS / "calc", tree)
        (tree / "fx" / "calc.py").write_text(REPORTS_ITSELF)
        workspaces.append(
            build_workspace(lab, resolve_submission(lab, tree), tmp_path / "ws" / str(n))
        )
    runner = DockerRunner(fork_server=fork_server)
    outcomes = runner.run_bulk(BulkRequest(lab, tuple(workspaces), ("2",), fail_fast=True))
    seen = []
    for outcome in outcomes:
        message = score(lab, outcome, tasks=("2",)).tasks[0].tests[0].message
        found = re.search(r"parent=(\d+) folder=(\S+) user=(\d+)", message)
        assert found, message
        seen.append(found.groups())
    assert [folder for _, folder, _ in seen] == [
        "/grading/workspace/lab-0",
        "/grading/workspace/lab-1",
    ]
    assert all(user == "1000" for _, _, user in seen)
    assert all((parent != "1") is fork_server for parent, _, _ in seen), seen
