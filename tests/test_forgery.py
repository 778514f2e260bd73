"""Hostile submissions against a sealed lab, graded in a real container.

Each submission starts from the untouched starter (which scores 0) and tries to write its
own grade: patching the results plugin, forging the results file through ``/proc``,
registering pytest hooks, reading or signalling the judge, breaking the worker protocol,
reading hidden tests, and taking credit for tests a timeout cut short. Every attack must
gain zero points, leave the judge standing, and leak no hidden-test text into any report.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from grader import api, report
from grader.lab import load_lab
from grader.results import GradeReport, Status
from tests.conftest import FIXTURE_LABS, REPO

pytestmark = pytest.mark.docker

# At import, each attack runs in the learner's worker; add() and mul() stay unsolved.
STARTER_TAIL = """

def add(a, b):
    raise NotImplementedError("TODO(student): return a + b")


def mul(a, b):
    raise NotImplementedError("TODO(student): return a * b")
"""

JUDGE_PIDS = """
import os, signal

def judge_pids():
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if b"pytest" in handle.read():
                    yield int(entry)
        except OSError:
            pass
"""

ATTACKS = {
    # The results file is held open by the judge: find it through /proc, write a pass for
    # every test and a clean end of session, then kill the judge before it writes more.
    "forge-results-through-proc": JUDGE_PIDS
    + """
import glob, json
TESTS = [("tests/test_task1_add.py::test_add_small_numbers", "1"),
         ("tests/test_task2_mul.py::test_mul_small_numbers", "2"),
         ("tests/test_task2_mul.py::test_mul_by_zero", "2")]
FORGED = "".join(
    json.dumps({"kind": "test", "nodeid": nodeid, "task": task, "status": "pass",
                "message": "", "duration_s": 0.0}) + "\\n"
    for nodeid, task in TESTS
) + json.dumps({"kind": "session", "exitstatus": 0, "collected": 3}) + "\\n"
targets = glob.glob("/proc/self/fd/*") + glob.glob("/grading/judge/results/*")
judges = list(judge_pids())
for pid in judges:
    targets += glob.glob(f"/proc/{pid}/fd/*")
    try:
        env = open(f"/proc/{pid}/environ", "rb").read().split(b"\\0")
        targets += [e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"MLSKILLS_RESULTS=")]
    except OSError:
        pass
for target in targets:
    try:
        if os.path.isfile(target) and target.endswith(".jsonl") or "/fd/" in target:
            with open(target, "a") as handle:
                handle.write(FORGED)
    except OSError:
        pass
for pid in judges:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
""",
    # The plugin that records outcomes: patch it wherever it can be imported.
    "patch-the-results-plugin": """
import sys
sys.path.insert(0, "/grading/workspace/grader")
try:
    import mlskills_grader_plugin as plugin
    plugin._write = lambda config, record: None
    plugin.pytest_runtest_logreport = lambda report: None
except Exception:
    pass
for path in ("/grading/workspace/grader/mlskills_grader_plugin.py",
             "/grading/judge/lab/tests/conftest.py", "/grading/judge/lab/conftest.py",
             "/grading/workspace/lab/conftest.py"):
    try:
        with open(path, "w") as handle:
            handle.write("import pytest\\n@pytest.hookimpl(wrapper=True)\\n"
                         "def pytest_runtest_makereport(item, call):\\n"
                         "    report = yield\\n    report.outcome = 'passed'\\n"
                         "    return report\\n")
    except OSError:
        pass
""",
    # A hook that turns failures into passes, registered from learner code.
    "register-a-pytest-hook": """
import gc
try:
    import _pytest.config
    for obj in gc.get_objects():
        if isinstance(obj, _pytest.config.Config):
            class Forger:
                def pytest_runtest_logreport(self, report):
                    report.outcome = "passed"
            obj.pluginmanager.register(Forger())
except Exception:
    pass
""",
    # Stop or kill the judge, so a half-written results file is all that is left.
    "signal-the-judge": JUDGE_PIDS
    + """
for pid in list(judge_pids()) + [1]:
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
""",
    # Read the judge's memory for the results path.
    "read-the-judge-through-proc": JUDGE_PIDS
    + """
STOLEN = []
for pid in judge_pids():
    for name in ("environ", "mem", "maps", "fd"):
        try:
            STOLEN.append(os.listdir(f"/proc/{pid}/{name}") if name == "fd"
                          else open(f"/proc/{pid}/{name}", "rb").read(64))
        except OSError:
            pass
if STOLEN:
    raise RuntimeError(f"read the judge: {STOLEN!r}")
""",
    # Answer every request of the judge with a forged 'pass'-shaped reply.
    "break-the-protocol": """
import os, struct
for fd in range(3, 64):
    try:
        frame = b'{"id": 1, "ok": 5}' * 1000
        os.write(fd, struct.pack(">I", 2**31) + frame)
    except OSError:
        pass
""",
}


def _submission(tmp_path: Path, name: str, body: str) -> Path:
    folder = tmp_path / name / "fx"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "calc.py").write_text(textwrap.dedent(body) + STARTER_TAIL)
    return folder.parent


def _every_output(graded: GradeReport) -> str:
    """What every report format shows, as one string."""
    return "\n".join(
        [
            json.dumps(graded.as_json()),
            graded.output,
            graded.message,
            report.to_junit(graded),
            report.to_markdown(graded),
            json.dumps(report.to_gradescope(graded)),
        ]
    )


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_from_the_starter_gains_nothing(
    attack: str, tmp_path: Path, docker_runner: Any
) -> None:
    submission = _submission(tmp_path, attack, ATTACKS[attack])
    graded = api.grade(
        slug="calc", submission=submission, runner=docker_runner, labs_root=FIXTURE_LABS
    )
    assert graded.score == 0, f"{attack} forged {graded.score} points: {graded.as_json()}"
    assert graded.status is Status.FAIL, (
        f"{attack}: the judge should survive and fail the tasks, got {graded.status} "
        f"({graded.message})"
    )
    assert "read the judge" not in json.dumps(graded.as_json())


SECRET = "SECRET-HIDDEN-MARKER-7f3a"
HIDDEN_TEST = f'''
import pytest

# {SECRET}: the instructor's test, which the learner must never see.


@pytest.mark.task(1)
def test_add_negative_numbers(learner):
    calc = learner.module("fx.calc")
    assert calc.add(-2, -3) == -5, "{SECRET} add(-2, -3)"
'''

STEAL_HIDDEN = """
import glob
TEXT = []
for path in glob.glob("/grading/**/*.py", recursive=True) + glob.glob("/*/*/hidden/*.py"):
    try:
        TEXT.append(open(path).read())
    except OSError:
        pass
STOLEN = "\\n".join(t for t in TEXT if "SECRET" in t)
"""


def _grade_with_hidden_tests(tmp_path: Path, name: str, body: str, add: str, runner: Any) -> Any:
    """Grade the calc starter plus ``body``, with ``add``'s body in place of its stub, and
    an instructor's hidden test for task 1."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_hidden_add.py").write_text(HIDDEN_TEST)
    submission = _submission(tmp_path, name, body)
    source = (submission / "fx" / "calc.py").read_text()
    stub = 'raise NotImplementedError("TODO(student): return a + b")'
    (submission / "fx" / "calc.py").write_text(source.replace(stub, add))
    return api.grade(
        slug="calc",
        submission=submission,
        runner=runner,
        hidden_tests=hidden,
        labs_root=FIXTURE_LABS,
    )


def test_hidden_tests_cannot_be_read_and_never_reach_a_report(
    tmp_path: Path, docker_runner: Any
) -> None:
    # add() raises the stolen text, so any leak would land in a failure message.
    body = STEAL_HIDDEN + "\n\ndef _leak():\n    raise RuntimeError(STOLEN or 'nothing to steal')\n"
    graded = _grade_with_hidden_tests(tmp_path, "steal-hidden", body, "_leak()", docker_runner)
    everything = _every_output(graded)
    assert "nothing to steal" in everything, "the learner's own message should be shown"
    assert SECRET not in everything, "hidden test text reached a report"
    hidden_entries = [t for t in graded.tasks if t.hidden]
    assert hidden_entries and all(t.score == 0 for t in hidden_entries)


def test_a_visible_entry_is_scored_on_visible_tests_only(
    tmp_path: Path, docker_runner: Any
) -> None:
    # add() passes the visible test (2 + 3) and fails the hidden one (-2 + -3).
    graded = _grade_with_hidden_tests(
        tmp_path, "half-right", "", "return abs(a) + abs(b)", docker_runner
    )
    visible, hidden_part = (t for t in graded.tasks if t.id == "1")
    assert (visible.status, visible.score, visible.max_score) == (Status.PASS, 5, 5)
    assert (hidden_part.status, hidden_part.score, hidden_part.max_score) == (Status.FAIL, 0, 5)
    assert hidden_part.hidden and not visible.hidden
    assert visible.first_failure == ""
    assert SECRET not in _every_output(graded)


def test_a_timeout_credits_nothing_unfinished(tmp_path: Path, docker_runner: Any) -> None:
    """Task 2 is partial: one of its two tests passes, the other hangs until the time limit."""
    labs = tmp_path / "labs"
    shutil.copytree(FIXTURE_LABS / "calc", labs / "calc")
    manifest = labs / "calc" / "lab.toml"
    manifest.write_text(manifest.read_text().replace("time_limit_s = 60", "time_limit_s = 10"))
    submission = _submission(tmp_path, "hangs", "import time\n")
    source = (submission / "fx" / "calc.py").read_text()
    source = source.replace(
        'raise NotImplementedError("TODO(student): return a * b")',
        "if a == 0:\n        time.sleep(3600)\n    return a * b",
    )
    (submission / "fx" / "calc.py").write_text(source)
    lab = load_lab(labs / "calc")
    graded = api.grade_lab(lab, submission=submission, runner=docker_runner)
    task2 = next(t for t in graded.tasks if t.id == "2")
    assert graded.status is Status.TIMEOUT
    assert task2.score == 10, f"task 2 scored {task2.score}/20 with one of two tests finished"
    unfinished = [t for t in task2.tests if t.status is not Status.PASS]
    assert [t.message for t in unfinished] == ["did not finish before the time limit"]


PROBE_MANIFEST = """\
format_version = 1
slug = "probe"
title = "Sealed probe"
blurb = "Its test asks the learner's worker what it could do."

[submission]
files = ["probe/*.py"]

[sandbox]
mode = "sealed"

[limits]
time_limit_s = 60
memory_mb = 256
cpus = 1

[[tasks]]
id = 1
title = "Probe"
points = 1
hint = "None: this lab probes the sandbox."
"""

FILL = '''
import errno, os


def fill(path, megabytes):
    """Write up to ``megabytes`` MB to ``path``; the MB written and the error that stopped it."""
    written, block = 0, b"x" * (1 << 20)
    try:
        with open(path, "wb") as handle:
            for _ in range(megabytes):
                handle.write(block)
                handle.flush()
                written += 1
    except OSError as exc:
        return written, errno.errorcode.get(exc.errno, str(exc.errno))
    finally:
        if os.path.exists(path):
            os.remove(path)
    return written, ""
'''

FILL_TEST = """
import pytest


@pytest.mark.task(1)
def test_writes_stop_at_the_caps(learner):
    probe = learner.module("probe.disk")
    # the learner's tmpfs holds half the memory limit; the lab files and the judge's
    # folder take nothing at all
    written, error = probe.fill("/tmp/big", 400)
    assert written < 200 and error in ("ENOSPC", "EFBIG"), (written, error)
    for path in ("/grading/workspace/lab/x", "/grading/judge/results/x", "/judge-tmp/x", "/x"):
        assert probe.fill(path, 1)[0] == 0, path
"""


def test_writes_past_the_caps_fail_inside_the_container(tmp_path: Path, docker_runner: Any) -> None:
    lab = tmp_path / "labs" / "probe"
    (lab / "tests").mkdir(parents=True)
    (lab / "probe").mkdir()
    (lab / "probe" / "__init__.py").write_text("")
    (lab / "probe" / "disk.py").write_text(FILL)
    (lab / "lab.toml").write_text(PROBE_MANIFEST)
    (lab / "tests" / "test_probe.py").write_text(FILL_TEST)
    graded = api.grade_lab(load_lab(lab), submission=None, runner=docker_runner)
    assert graded.status is Status.PASS, graded.tasks[0].first_failure


# A module of each real lab that its tests import early, and the attacks tried from it.
LAB_ENTRY_POINTS = {
    "networking": ("netlab/client.py", ["forge-results-through-proc", "signal-the-judge"]),
    "cloud-security": ("cloudsec/iam_policy.py", ["forge-results-through-proc"]),
    "data-engineering": ("etl_lab/ingest.py", ["forge-results-through-proc"]),
    "data-privacy": ("privacy_lab/scrub.py", ["forge-results-through-proc"]),
    "cicd": ("cicd_lab/gate.py", ["forge-results-through-proc"]),
    "monitoring": ("monitor_lab/metrics.py", ["forge-results-through-proc"]),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("slug", "attack"),
    [(slug, attack) for slug, (_, attacks) in LAB_ENTRY_POINTS.items() for attack in attacks],
)
def test_an_attack_from_a_real_labs_starter_gains_nothing(
    slug: str, attack: str, tmp_path: Path, docker_runner: Any
) -> None:
    """The untouched starter of a real lab (0 points), plus an attack that runs whenever
    the tests import one of the learner's modules."""
    submission = tmp_path / slug
    shutil.copytree(REPO / "labs" / slug, submission)
    module = submission / LAB_ENTRY_POINTS[slug][0]
    # At the end: a starter begins with a docstring and `from __future__ import`.
    module.write_text(module.read_text() + "\n" + textwrap.dedent(ATTACKS[attack]))
    # The lab as it is, with its time limit capped: an attack that stalls the worker's
    # clients ends at the cap, and a timeout credits nothing unfinished either way.
    lab = tmp_path / "labs" / slug
    shutil.copytree(REPO / "labs" / slug, lab)
    manifest = lab / "lab.toml"
    manifest.write_text(
        re.sub(r"(?m)^time_limit_s = \d+", "time_limit_s = 120", manifest.read_text())
    )
    # Task 1's tests import the module as the first ones do: enough to try the attack.
    graded = api.grade(
        slug=slug,
        submission=submission,
        runner=docker_runner,
        tasks=("1",),
        labs_root=tmp_path / "labs",
    )
    assert graded.score == 0, f"{attack} forged {graded.score} points in {slug}"
    # Writing junk into every open descriptor can also stall the worker's own clients
    # until the time limit: still a judge that stood and recorded nothing forged.
    assert graded.status in (Status.FAIL, Status.TIMEOUT), (
        f"{attack}: {graded.status} ({graded.message})"
    )


def test_every_real_lab_is_sealed_and_attacked() -> None:
    """A lab added later is tried too: it must be sealed and named above."""
    from grader.lab import list_labs

    for folder in list_labs():
        assert load_lab(folder).mode == "sealed", f"{folder.name} is not sealed"
        assert folder.name in LAB_ENTRY_POINTS, f"no forgery attack tries {folder.name}"
