"""Grading outside this machine: the Gradescope autograder zip, and the GitHub Actions
workflow that grades the labs a push touched."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader import gradescope
from grader.gradescope import AUTOGRADER_ROOT_ENV, write_autograder_zip
from grader.images import cache_dir
from grader.lab import Lab, find_lab
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, REPO, SUBMISSIONS
from tests.test_cli import assert_clean_error, run_cli
from tests.test_golden import GOLDEN

WORKFLOW = REPO / ".github" / "workflows" / "grade.yml"


@pytest.fixture(scope="module")
def calc() -> Lab:
    return find_lab("calc", FIXTURE_LABS)


def unpack(archive: Path, autograder: Path) -> Path:
    """Lay the zip out as Gradescope does: its contents in /autograder/source."""
    source = autograder / "source"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(source)
        for info in zipped.infolist():
            mode = info.external_attr >> 16
            if mode:
                (source / info.filename).chmod(stat.S_IMODE(mode))
    return source


def run_autograder(autograder: Path, python: str | None = sys.executable) -> dict[str, Any]:
    """Run the unpacked ``run_autograder``; ``python=None`` leaves it the venv's Python."""
    env = {**os.environ, AUTOGRADER_ROOT_ENV: str(autograder)}
    env.pop("MLSKILLS_PYTHON", None)
    if python is not None:
        env["MLSKILLS_PYTHON"] = python
    proc = subprocess.run(
        [str(autograder / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(json.loads((autograder / "results" / "results.json").read_text()))


def grade_upload(
    lab: Lab, tmp_path: Path, files: dict[str, str], *, hidden: Path | None = None
) -> dict[str, Any]:
    """Grade an upload holding ``files`` (upload-relative path → text) as Gradescope would."""
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(lab, tmp_path / "lab.zip", hidden_tests=hidden), autograder)
    upload = autograder / "submission"
    upload.mkdir()
    for rel, text in files.items():
        (upload / rel).parent.mkdir(parents=True, exist_ok=True)
        (upload / rel).write_text(text)
    return run_autograder(autograder)


SOLUTION = (FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py").read_text()
PARTIAL = (SUBMISSIONS / "calc-partial" / "fx" / "calc.py").read_text()


def test_zip_holds_the_scripts_the_grader_and_the_pristine_lab(calc: Lab, tmp_path: Path) -> None:
    archive = write_autograder_zip(calc, tmp_path / "calc.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in zipped.infolist()}
    expected = {
        "setup.sh",
        "run_autograder",
        "constraints.txt",
        "grader/__main__.py",
        "grader/cli.py",
        "grader/pytest_plugin.py",
        "grader/runners/local.py",
        *(f"labs/calc/{p.relative_to(calc.root).as_posix()}" for p in calc.root.rglob("*.py")),
        "labs/calc/lab.toml",
    }
    assert expected <= names, expected - names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & 0o111, f"{script} is not executable"
        syntax = subprocess.run(["bash", "-n", "/dev/stdin"], input=zipped_text(archive, script))
        assert syntax.returncode == 0, f"{script} is not valid bash"


def zipped_text(archive: Path, name: str) -> bytes:
    with zipfile.ZipFile(archive) as zipped:
        return zipped.read(name)


def test_the_same_lab_gives_the_same_zip(calc: Lab, tmp_path: Path) -> None:
    first = write_autograder_zip(calc, tmp_path / "a.zip").read_bytes()
    assert write_autograder_zip(calc, tmp_path / "b.zip").read_bytes() == first


def test_setup_installs_the_packages_the_lab_image_needs(tmp_path: Path) -> None:
    lab = find_lab("networking")
    setup = zipped_text(write_autograder_zip(lab, tmp_path / "n.zip"), "setup.sh").decode()
    commands = setup.replace("\\\n", " ").splitlines()
    install = next(line for line in commands if "pip install" in line)
    assert '-c "$source_dir/constraints.txt"' in install
    for package in ("pytest", *lab.image.python):
        assert f" {package}" in install


def test_run_autograder_writes_results_json_with_the_grade(calc: Lab, tmp_path: Path) -> None:
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(calc, tmp_path / "calc.zip"), autograder)
    shutil.copytree(SUBMISSIONS / "calc-partial", autograder / "submission")
    results = run_autograder(autograder)
    expected = json.loads((GOLDEN / "partial.json").read_text())
    assert results["score"] == expected["score"]
    assert [t["score"] for t in results["tests"]] == [t["score"] for t in expected["tasks"]]
    assert all(t["visibility"] == "visible" for t in results["tests"])


def test_run_autograder_grades_a_whole_repository_submission_with_hidden_tests(
    calc: Lab, tmp_path: Path
) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_more.py").write_text(
        "import pytest\n\n\n@pytest.mark.task(1)\ndef test_more(learner):\n"
        "    add = learner.module('fx.calc').add\n\n    assert add(-1, 1) == 0\n"
    )
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(calc, tmp_path / "calc.zip", hidden_tests=hidden), autograder)
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", autograder / "submission" / "labs" / "calc")
    results = run_autograder(autograder)
    assert results["score"] == calc.max_score
    hidden_entries = [t for t in results["tests"] if t.get("visibility") == "after_published"]
    assert [t["output"] for t in hidden_entries] == ["1/1 hidden tests passed"]


def test_run_autograder_gives_the_learner_the_reason_it_could_not_grade(
    calc: Lab, tmp_path: Path
) -> None:
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(calc, tmp_path / "calc.zip"), autograder)
    (autograder / "submission" / "fx").mkdir(parents=True)
    (autograder / "submission" / "fx" / "calc.py").symlink_to("/etc/hostname")
    results = run_autograder(autograder)
    assert results["score"] == 0
    assert "could not grade" in results["output"]
    assert "could not grade this submission: fx/calc.py is a symlink" in results["output"]


# --- the upload's layout ----------------------------------------------------------------


def test_a_drag_and_drop_upload_with_the_files_at_the_top_is_graded(
    calc: Lab, tmp_path: Path
) -> None:
    results = grade_upload(calc, tmp_path, {"calc.py": SOLUTION})
    assert results["score"] == calc.max_score, results["output"]
    assert "Graded from your upload: fx/calc.py." in results["output"]
    # The file the upload lacks is named, not silently taken from the starter.
    assert "starter's version was graded: fx/__init__.py." in results["output"]


def test_the_files_inside_one_wrapping_folder_are_graded(calc: Lab, tmp_path: Path) -> None:
    results = grade_upload(calc, tmp_path, {"my work/fx/calc.py": SOLUTION})
    assert results["score"] == calc.max_score, results["output"]
    assert "Graded from your upload (found in my work/): fx/calc.py." in results["output"]


def test_a_file_in_the_labs_layout_wins_over_a_stray_copy_at_the_top(
    calc: Lab, tmp_path: Path
) -> None:
    results = grade_upload(calc, tmp_path, {"fx/calc.py": SOLUTION, "calc.py": PARTIAL})
    assert results["score"] == calc.max_score, results["output"]


@pytest.mark.parametrize(
    ("files", "held"),
    [
        ({"notes.txt": "my answers", "src/main.py": "print(1)"}, "holds: notes.txt, src/."),
        ({}, "Your upload is empty."),
    ],
    ids=["other-files", "empty"],
)
def test_an_upload_without_any_lab_file_says_so_and_scores_zero(
    calc: Lab, tmp_path: Path, files: dict[str, str], held: str
) -> None:
    results = grade_upload(calc, tmp_path, files)
    assert results["score"] == 0
    assert (
        "could not grade this submission: None of the lab's files was found in your upload"
        in (results["output"])
    )
    assert "fx/__init__.py, fx/calc.py" in results["output"] and held in results["output"]
    assert [t["score"] for t in results["tests"]] == [0, 0]
    assert all(t["status"] == "failed" for t in results["tests"])


def test_two_copies_of_the_work_are_refused_rather_than_one_picked(
    calc: Lab, tmp_path: Path
) -> None:
    results = grade_upload(calc, tmp_path, {"v1/fx/calc.py": PARTIAL, "v2/fx/calc.py": SOLUTION})
    assert results["score"] == 0
    assert "more than one folder (v1/, v2/)" in results["output"]


def test_a_symlink_at_the_top_of_the_upload_is_refused(calc: Lab, tmp_path: Path) -> None:
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(calc, tmp_path / "calc.zip"), autograder)
    (autograder / "submission").mkdir()
    (autograder / "submission" / "calc.py").symlink_to(
        FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py"
    )
    results = run_autograder(autograder)
    assert results["score"] == 0
    assert "calc.py is a symlink" in results["output"]


# --- results.json is always written -----------------------------------------------------


def test_a_venv_whose_python_does_not_start_still_gets_a_valid_results_json(
    calc: Lab, tmp_path: Path
) -> None:
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(calc, tmp_path / "calc.zip"), autograder)
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", autograder / "submission")
    # What a venv looks like once the Python it was made from is gone.
    (autograder / "venv" / "bin").mkdir(parents=True)
    (autograder / "venv" / "bin" / "python").symlink_to("/nonexistent/python3.12")
    results = run_autograder(autograder, python=None)
    assert results["score"] == 0 and results["tests"] == []
    assert results["output"].startswith(
        "The autograder could not grade this submission: its Python environment does not start."
    )
    assert "not in your work" in results["output"]


def test_a_grader_killed_before_it_writes_still_gets_a_valid_results_json(
    calc: Lab, tmp_path: Path
) -> None:
    autograder = tmp_path / "autograder"
    unpack(write_autograder_zip(calc, tmp_path / "calc.zip"), autograder)
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", autograder / "submission")
    python = tmp_path / "python"  # starts, but dies as the grader runs, as on an OOM kill
    python.write_text(
        f'#!/bin/sh\nif [ "$1" = -c ]; then exec {shlex.quote(sys.executable)} "$@"; fi\n'
        "kill -9 $$\n"
    )
    python.chmod(0o755)
    results = run_autograder(autograder, python=str(python))
    assert results["score"] == 0 and results["tests"] == []
    assert "the grader stopped unexpectedly (exit code 137)" in results["output"]


def test_a_crash_inside_the_grader_is_written_as_a_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(*args: object) -> dict[str, Any]:
        raise RuntimeError("/srv/secret/path broke")

    monkeypatch.setattr(gradescope, "_grade", crash)
    monkeypatch.setenv("MLSKILLS_ROOT", str(FIXTURE_LABS.parent))
    results = tmp_path / "results" / "results.json"
    argv = ["calc", "--upload", str(tmp_path), "--results", str(results)]
    assert gradescope.main(argv) == 0
    written = json.loads(results.read_text())
    assert written["score"] == 0 and "it crashed" in written["output"]
    assert "/srv/secret" not in written["output"]  # the traceback is for the log only
    assert "/srv/secret/path broke" in caplog.text


# --- hidden tests ------------------------------------------------------------------------


def test_hidden_tests_are_scored_apart_and_never_replace_a_visible_message(
    calc: Lab, tmp_path: Path
) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_hidden.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.task(1)\ndef test_hidden_product_of_zero(learner):\n"
        "    assert learner.module('fx.calc').mul(0, 1) == 0, 'SECRET-ONE'\n\n\n"
        "@pytest.mark.task(2)\ndef test_hidden_zero_squared(learner):\n"
        "    assert learner.module('fx.calc').mul(0, 0) == 0, 'SECRET-TWO'\n"
    )
    results = grade_upload(calc, tmp_path, {"fx/calc.py": PARTIAL}, hidden=hidden)
    entries = {t["number"]: t for t in results["tests"]}
    assert list(entries) == ["1", "1.h", "2", "2.h"]
    # Task 1: its one visible test passes, so its visible entry is passed in full.
    assert entries["1"]["status"] == "passed" and entries["1"]["score"] == 5
    assert entries["1"]["max_score"] == 5 and entries["1"]["output"] == ""
    # Task 2: the visible entry keeps the visible test's own message.
    assert entries["2"]["score"] == 6.67 and entries["2"]["max_score"] == 13.33
    assert "mul(0, 7) returned 1; expected 0" in entries["2"]["output"]
    for number in ("1.h", "2.h"):
        assert entries[number]["visibility"] == "after_published"
        assert entries[number]["status"] == "failed" and entries[number]["score"] == 0
        assert entries[number]["output"] == "0/1 hidden tests passed"
    assert all(entries[n]["visibility"] == "visible" for n in ("1", "2"))
    assert results["score"] == 11.67
    text = json.dumps(results)
    assert "SECRET" not in text and "test_hidden" not in text and "mul(0, 0)" not in text


# --- setup.sh on the Ubuntu base images Gradescope offers -------------------------------
# A stand-in for each base image: Ubuntu from debootstrap with python3 but no venv module,
# and the archive's usual components. The rootfs is cached under .cache/gradescope and
# imported into Docker once. setup.sh's first run on a base is committed as an image keyed
# by the base and setup.sh; every test session runs setup.sh again on it, so its venv step
# always runs and a changed constraints.txt is picked up. pip takes the packages from a
# wheelhouse made on the host, as the lab images do: the index is slow to reach from
# here (seconds a package), and it is not what is under test.

UBUNTU = {"jammy": "22.04", "noble": "24.04"}
BASE_PACKAGES = "python3,ca-certificates"
SOURCES = """\
deb http://archive.ubuntu.com/ubuntu {r} main restricted universe multiverse
deb http://archive.ubuntu.com/ubuntu {r}-updates main restricted universe multiverse
deb http://security.ubuntu.com/ubuntu {r}-security main restricted universe multiverse
"""
VENV_PYTHON = "3.12"  # what setup.sh installs on both releases (see CPYTHON_SOURCE)


def docker(*args: str, timeout: float = 600, check: bool = True) -> str:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        pytest.fail(f"docker {args[0]} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc.stdout.strip()


def image_id(tag: str) -> str | None:
    found = docker("image", "inspect", "--format", "{{.Id}}", tag, check=False)
    return found or None


def digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:12]


def unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def ubuntu_base(release: str) -> str:
    """The stand-in base image for ``release``, bootstrapped once and cached."""
    sources = SOURCES.format(r=release)
    tag = f"mlskills-gradescope-test:{release}-base-{digest(release, BASE_PACKAGES, sources)}"
    if image_id(tag):
        return tag
    cache = cache_dir() / "gradescope"
    tarball = cache / f"{tag.partition(':')[2]}.tar"
    if not tarball.is_file():
        if shutil.which("debootstrap") is None or os.geteuid() != 0:
            unavailable(f"building the {release} base needs debootstrap, as root")
        rootfs = cache / f"rootfs-{release}"
        shutil.rmtree(rootfs, ignore_errors=True)
        # The Ubuntu release scripts are all one script; a debootstrap older than the
        # release may lack its name.
        script = "/usr/share/debootstrap/scripts/gutsy"
        proc = subprocess.run(
            [
                *("debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}"),
                *("--no-check-gpg", release, str(rootfs), "http://archive.ubuntu.com/ubuntu"),
                script,
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        (rootfs / "etc/apt/sources.list").write_text(sources)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
        shutil.rmtree(rootfs)
    docker("import", str(tarball), tag)
    return tag


def wheelhouse(source: Path) -> Path:
    """Wheels for the calc lab's setup.sh, for the venv's Python; made once per constraints."""
    constraints = (source / "constraints.txt").read_bytes()
    packages = ["pytest", "rich", "watchfiles"]
    folder = cache_dir() / "gradescope" / f"wheels-{digest(constraints, *packages, VENV_PYTHON)}"
    if not folder.is_dir():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "-d", str(partial)),
                *("--only-binary=:all:", "--implementation", "cp", "--python-version"),
                *(VENV_PYTHON, "--platform", "manylinux2014_x86_64"),
                *("-c", str(source / "constraints.txt"), *packages),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert proc.returncode == 0, f"pip download failed:\n{proc.stderr[-3000:]}"
        partial.rename(folder)
    return folder


def run_setup(image: str, source: Path, *, commit: str | None = None) -> str:
    """Run setup.sh in ``image`` as Gradescope does (root, network); commit the result."""
    name = f"mlskills-gradescope-setup-{os.getpid()}-{digest(image)}"
    wheels = ["-v", f"{wheelhouse(source)}:/wheels:ro", "-e", "PIP_FIND_LINKS=/wheels"]
    env = [*wheels, "-e", "PIP_NO_INDEX=1"]
    docker("rm", "-f", name, check=False)
    try:
        proc = subprocess.run(
            [
                *("docker", "run", "--name", name, "--network", "host", *env),
                *("-v", f"{source}:/autograder/source:ro", image),
                *("bash", "/autograder/source/setup.sh"),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert proc.returncode == 0, f"setup.sh failed:\n{(proc.stdout + proc.stderr)[-4000:]}"
        tag = commit or f"mlskills-gradescope-test:setup-{digest(image, str(os.getpid()))}"
        docker("commit", name, tag)
        return tag
    finally:
        docker("rm", "-f", name, check=False)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("release", list(UBUNTU))
def test_setup_sh_installs_a_final_cpython_and_grades_on_ubuntu(
    release: str, calc: Lab, tmp_path: Path
) -> None:
    source = unpack(write_autograder_zip(calc, tmp_path / "calc.zip"), tmp_path / "autograder")
    base = ubuntu_base(release)
    setup = (source / "setup.sh").read_bytes()
    first = f"mlskills-gradescope-test:{release}-setup-{digest(base, setup)}"
    # Run again on an image setup.sh already ran on: its venv step, this constraints.txt.
    ready = run_setup(first, source) if image_id(first) else run_setup(base, source, commit=first)
    try:
        version = docker(
            "run",
            "--rm",
            "--network",
            "none",
            ready,
            "/autograder/venv/bin/python",
            "-c",
            "import sys; print(sys.version_info.releaselevel, *sys.version_info[:3])",
        )
        level, *numbers = version.split()
        assert level == "final", f"Ubuntu {UBUNTU[release]}: the venv's Python is {version}"
        assert tuple(map(int, numbers)) >= (3, 11)

        upload, results = tmp_path / "upload", tmp_path / "results"
        upload.mkdir()
        results.mkdir()
        shutil.copyfile(FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py", upload / "calc.py")
        mounts = [
            *("-v", f"{source}:/autograder/source:ro"),
            *("-v", f"{upload}:/autograder/submission:ro"),
            *("-v", f"{results}:/autograder/results"),
        ]
        docker(
            "run", "--rm", "--network", "none", *mounts, ready, "/autograder/source/run_autograder"
        )
        graded = json.loads((results / "results.json").read_text())
        assert graded["score"] == calc.max_score, graded["output"]

        # The venv's Python gone: bash alone still writes a valid results.json.
        remove = (
            'rm -f "$(readlink -f /autograder/venv/bin/python)"; /autograder/source/run_autograder'
        )
        docker("run", "--rm", "--network", "none", *mounts, ready, "bash", "-c", remove)
        broken = json.loads((results / "results.json").read_text())
        assert broken["score"] == 0 and "Python environment does not start" in broken["output"]
    finally:
        if ready != first:
            docker("rmi", ready, check=False)


def test_export_gradescope_cli_writes_the_zip_and_refuses_an_unknown_lab(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "calc.zip"
    proc = run_cli("export-gradescope", "calc", "--out", str(dest))
    assert proc.returncode == 0, proc.stderr
    assert str(dest) in proc.stdout
    assert "run_autograder" in zipfile.ZipFile(dest).namelist()
    assert_clean_error(run_cli("export-gradescope", "nosuch"), "no lab called 'nosuch'")


# --- .github/workflows/grade.yml ------------------------------------------------------


def workflow_steps() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(WORKFLOW.read_text())
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in triggers
    steps = data["jobs"]["grade"]["steps"]
    return {step["name"]: step for step in steps}


def test_workflow_checks_out_history_and_grades_with_a_markdown_summary() -> None:
    steps = workflow_steps()
    checkout = steps["Check out the push with its history"]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] in (0, 2)
    grade = steps["Grade"]["run"]
    assert "-m grader grade" in grade and "--markdown summary.md" in grade
    assert '>> "$GITHUB_STEP_SUMMARY"' in grade
    assert "${{" not in grade, "expressions go through env:, never into the script"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def run_step(
    script: str, repo: Path, tmp_path: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=repo,
        env={
            **os.environ,
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc, output, summary


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_workflow_grades_only_the_labs_the_push_touched_and_fails_by_exit_code(
    tmp_path: Path,
) -> None:
    steps = workflow_steps()
    repo = tmp_path / "course"
    for slug in ("calc", "sleepy"):
        shutil.copytree(FIXTURE_LABS / slug, repo / "labs" / slug)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "course")
    shutil.copyfile(SUBMISSIONS / "calc-partial" / "fx" / "calc.py", repo / "labs/calc/fx/calc.py")
    git(repo, "commit", "-q", "-am", "learner works on calc")

    proc, output, _ = run_step(
        steps["Find the labs this push touched"]["run"], repo, tmp_path, {"BEFORE": ""}
    )
    assert proc.returncode == 0, proc.stderr
    assert output.read_text().strip() == "labs=calc"

    env = {
        "LABS": "calc",
        "PYTHON": sys.executable,
        "PYTHONPATH": str(REPO),
        "MLSKILLS_ROOT": str(repo),
        "MLSKILLS_RUNNER": "local",
    }
    proc, _, summary = run_step(steps["Grade"]["run"], repo, tmp_path, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the partial calc fails a task
    partial = json.loads((GOLDEN / "partial.json").read_text())
    assert f"### calc: {partial['score']}/{partial['max_score']}" in summary.read_text()
    # A learner's own run of the learner's own tests is feedback, and says so.
    assert "Feedback, not a grade" in summary.read_text()

    shutil.copyfile(FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py", repo / "labs/calc/fx/calc.py")
    proc, _, summary = run_step(steps["Grade"]["run"], repo, tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    summary.unlink()
    proc, _, summary = run_step(steps["Grade"]["run"], repo, tmp_path, {**env, "LABS": ""})
    assert proc.returncode == 0
    assert "No lab changed" in summary.read_text()
