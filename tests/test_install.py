"""A lab's packages are installed the first time it is graded locally, and only then."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from grader.install import NO_INSTALL_ENV, ensure_packages, java_problem, missing_packages
from grader.lab import Lab, load_lab
from tests.conftest import FIXTURE_LABS


def _needing(*python: str) -> Lab:
    lab = load_lab(FIXTURE_LABS / "calc")
    return dataclasses.replace(lab, image=dataclasses.replace(lab.image, python=python))


def test_installed_packages_are_not_missing_whatever_their_extras() -> None:
    assert missing_packages(_needing("pytest", "rich>=13", "docker[ssh]")) == []


def test_a_package_that_is_not_installed_is_missing() -> None:
    lab = _needing("pytest", "mlskills-no-such-package")
    assert missing_packages(lab) == ["mlskills-no-such-package"]


def test_nothing_is_installed_or_announced_when_nothing_is_missing() -> None:
    said: list[str] = []
    assert ensure_packages(_needing("pytest"), announce=said.append) == ""
    assert said == []


def test_with_installing_turned_off_the_message_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(NO_INSTALL_ENV, "1")
    said: list[str] = []
    problem = ensure_packages(_needing("mlskills-no-such-package"), announce=said.append)
    assert said == []
    assert "needs Python packages this environment lacks: mlskills-no-such-package" in problem
    assert "pip install -c constraints.txt mlskills-no-such-package" in problem
    assert "--runner docker" in problem


def test_a_failed_install_is_announced_then_explained_in_a_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip really runs, and finds nothing
    said: list[str] = []
    problem = ensure_packages(_needing("mlskills-no-such-package"), announce=said.append)
    assert len(said) == 1 and "Installing the calc lab's packages" in said[0]
    assert problem.startswith(
        "Could not install the calc lab's packages (mlskills-no-such-package)"
    )
    assert "Traceback" not in problem


def _java(folder: Path, version: str) -> Path:
    """A stand-in ``java`` in ``folder/bin`` that reports ``version`` as a JDK does."""
    java = folder / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2025-04-15' >&2\n")
    java.chmod(0o755)
    return java


SPARK = ("pyspark",)


def test_java_is_found_as_spark_finds_it_java_home_before_path(tmp_path: Path) -> None:
    good = _java(tmp_path / "jdk17", "17.0.15")
    path = str(good.parent)
    stale = {"JAVA_HOME": str(tmp_path / "gone"), "PATH": path}
    problem = java_problem(_needing(*SPARK), stale)
    assert "Spark takes it from JAVA_HOME before PATH" in problem
    assert f"JAVA_HOME is {tmp_path / 'gone'}" in problem
    assert f"unset JAVA_HOME (Spark will then use {good})" in problem
    assert java_problem(_needing(*SPARK), {"PATH": path}) == ""
    assert java_problem(_needing(*SPARK), {"JAVA_HOME": "", "PATH": path}) == ""
    assert java_problem(_needing(*SPARK), {"JAVA_HOME": str(tmp_path / "jdk17"), "PATH": ""}) == ""


def test_a_java_too_old_for_spark_or_none_at_all_is_said(tmp_path: Path) -> None:
    old = _java(tmp_path / "jdk8", "1.8.0_392")
    problem = java_problem(_needing(*SPARK), {"JAVA_HOME": str(tmp_path / "jdk8"), "PATH": ""})
    assert "is Java 8" in problem and "Java 17 or newer" in problem
    assert "Java 11" in java_problem(
        _needing(*SPARK), {"PATH": str(_java(tmp_path / "jdk11", "11.0.2").parent)}
    )
    none = java_problem(_needing(*SPARK), {"PATH": str(tmp_path / "empty")})
    assert "no JAVA_HOME, no java on PATH" in none and "openjdk-17-jre-headless" in none
    assert java_problem(_needing("pytest"), {"PATH": ""}) == ""  # no Spark, no Java needed
    assert old.exists()


def test_a_stale_java_home_stops_the_grade_before_any_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "gone"))
    said: list[str] = []
    problem = ensure_packages(_needing("pyspark", "mlskills-no-such-package"), announce=said.append)
    assert said == [] and "JAVA_HOME" in problem


class _Exec(Exception):
    """os.execve, caught: the grader would now run again in the lab's environment."""


FAKE_UV = """#!/bin/sh
echo "$@" >> "{log}"
if [ "$1" = venv ]; then
  for last; do :; done
  mkdir -p "$last/bin" && touch "$last/bin/python"
fi
exit {code}
"""


@pytest.fixture
def lab_envs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A fake uv, the grader's environment in tmp_path, and os.execve caught."""
    import grader.install as install

    state: dict[str, object] = {"log": tmp_path / "uv.log", "exec": None, "said": []}
    uv = tmp_path / "uv"
    uv.write_text(FAKE_UV.format(log=state["log"], code=0))
    uv.chmod(0o755)
    state["uv"] = uv
    (tmp_path / "venv").mkdir()
    monkeypatch.setattr(install.sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.setattr(install, "_uv", lambda: str(uv))
    monkeypatch.setenv("MLSKILLS_LAB_ENVS", "1")
    monkeypatch.delenv("MLSKILLS_IN_LAB_ENV", raising=False)

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        state["exec"] = (path, argv, env)
        raise _Exec

    monkeypatch.setattr(install.os, "execve", execve)
    return state


def _regrade(state: dict[str, object], slug: str = "networking", runner: str = "local") -> None:
    from grader.install import regrade_there_if_local

    said = state["said"]
    assert isinstance(said, list)
    regrade_there_if_local(slug, runner, ["grade", slug], announce=said.append)


def test_a_local_grade_runs_again_in_the_labs_own_environment(lab_envs: dict) -> None:
    with pytest.raises(_Exec):
        _regrade(lab_envs)
    python, argv, env = lab_envs["exec"]
    assert python.endswith("venv/labs/networking/bin/python")
    assert argv == [python, "-m", "grader", "grade", "networking"]
    assert env["MLSKILLS_IN_LAB_ENV"] == "networking"
    venv_call, packages, grader, prune = lab_envs["log"].read_text().splitlines()
    assert venv_call.startswith("venv ")
    wanted = load_lab(FIXTURE_LABS.parents[2] / "labs/networking").image.python
    # What the image has (pytest, rich, the lab's packages), and watchfiles for make watch.
    assert packages.split("constraints.txt ")[1].split() == [
        "pytest",
        "rich",
        "watchfiles",
        *wanted,
    ]
    assert "-c " in packages and "--compile-bytecode" in packages
    assert "--no-deps -e " in grader  # not the Docker SDK and requests, which no image has
    assert prune.startswith("cache prune")  # pyspark's stale builds go
    assert "Making the networking lab's own environment" in lab_envs["said"][0]
    # Made once: the next grade goes straight in.
    with pytest.raises(_Exec):
        _regrade(lab_envs)
    assert len(lab_envs["log"].read_text().splitlines()) == 4
    # Made again from nothing when what it is made of changes.
    leftover = Path(python).parent.parent / "lib" / "docker"
    leftover.mkdir(parents=True)
    (Path(python).parent.parent / ".mlskills-lab-env").write_text("older")
    with pytest.raises(_Exec):
        _regrade(lab_envs)
    assert len(lab_envs["log"].read_text().splitlines()) == 8 and not leftover.exists()


def test_the_labs_environment_is_not_used_where_it_does_not_apply(
    lab_envs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    _regrade(lab_envs, runner="docker")  # the image is the environment
    monkeypatch.setenv("MLSKILLS_ROOT", str(FIXTURE_LABS.parent))
    _regrade(lab_envs, slug="calc")  # a lab with no packages of its own
    monkeypatch.delenv("MLSKILLS_ROOT")
    monkeypatch.setenv("MLSKILLS_IN_LAB_ENV", "networking")
    _regrade(lab_envs)  # already inside it
    monkeypatch.delenv("MLSKILLS_IN_LAB_ENV")
    monkeypatch.delenv("MLSKILLS_LAB_ENVS")
    _regrade(lab_envs)  # python -m grader, not make or ./mlskills
    assert lab_envs["exec"] is None and not lab_envs["log"].exists()


def test_a_lab_environment_that_cannot_be_made_is_said_and_the_grade_goes_on(
    lab_envs: dict,
) -> None:
    uv = lab_envs["uv"]
    uv.write_text(FAKE_UV.format(log=lab_envs["log"], code=1))
    _regrade(lab_envs)
    assert lab_envs["exec"] is None
    assert "grading in the grader's own environment instead" in lab_envs["said"][-1]


def test_auto_uses_the_labs_environment_only_when_no_docker_engine_answers(
    lab_envs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("grader.runners.select.docker_problem", lambda: None)
    _regrade(lab_envs, runner="auto")  # docker grades it: nothing to do here
    assert lab_envs["exec"] is None
    monkeypatch.setattr("grader.runners.select.docker_problem", lambda: "no engine")
    with pytest.raises(_Exec):
        _regrade(lab_envs, runner="auto")
