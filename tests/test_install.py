"""A lab's packages are installed the first time it is graded locally, and only then."""

from __future__ import annotations

import dataclasses

import pytest

from grader.install import NO_INSTALL_ENV, ensure_packages, missing_packages
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
