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
