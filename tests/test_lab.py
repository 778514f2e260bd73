"""The manifest loader: good manifests load, bad ones name file, field and what is allowed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.errors import LabNotFound, ManifestError
from grader.lab import find_lab, list_labs, load_lab
from tests.conftest import FIXTURE_LABS

GOOD = """\
format_version = 1
slug = "demo"
title = "Demo"
blurb = "A demo lab."

[submission]
files = ["pkg/*.py"]

[limits]
time_limit_s = 30
memory_mb = 512
cpus = 1

[[tasks]]
id = 1
title = "First"
points = 10
hint = "Start here."
"""


def write_lab(tmp_path: Path, text: str, slug: str = "demo") -> Path:
    folder = tmp_path / slug
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "mod.py").write_text("")  # the starter the manifest declares
    (folder / "lab.toml").write_text(text)
    return folder


def test_good_manifest_loads_into_frozen_dataclasses(tmp_path: Path) -> None:
    lab = load_lab(write_lab(tmp_path, GOOD))
    assert lab.slug == "demo"
    assert lab.network == "none"
    assert lab.limits.pids == 512
    assert lab.max_score == 10
    assert lab.tasks[0].hint_levels == ("Start here.",)
    with pytest.raises(AttributeError):
        lab.slug = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [
        (('hint = "Start here."', 'hint = "  "'), "tasks[1].hint", "non-empty string"),
        (("format_version = 1", "format_version = 7"), "format_version", "format_version = 1"),
        (('slug = "demo"', 'slug = "other"'), "slug", "folder name 'demo'"),
        (("points = 10", "points = 0"), "tasks[1].points", "at least 1"),
        (("id = 1", "id = 2"), "tasks[1].id", "expected 1"),
        (('files = ["pkg/*.py"]', 'files = ["tests/*.py"]'), "submission.files", "tests/"),
        (('files = ["pkg/*.py"]', 'files = ["../x.py"]'), "submission.files", "relative"),
        (("cpus = 1", "cpus = 0"), "limits.cpus", "greater than 0"),
        (("cpus = 1", "cpus = 1\ncolour = 3"), "limits.colour", "allowed fields are"),
        (
            ("[limits]", '[sandbox]\nnetwork = "host"\n\n[limits]'),
            "sandbox.network",
            "allowed values are none",
        ),
        (("memory_mb = 512\n", ""), "limits.memory_mb", "required"),
    ],
)
def test_bad_manifest_names_file_field_and_what_is_allowed(
    tmp_path: Path, change: tuple[str, str], field: str, allowed: str
) -> None:
    assert change[0] in GOOD
    folder = write_lab(tmp_path, GOOD.replace(change[0], change[1], 1))
    with pytest.raises(ManifestError) as err:
        load_lab(folder)
    message = str(err.value)
    assert str(folder / "lab.toml") in message
    assert f"'{field}'" in message
    assert allowed in message


def test_manifest_that_is_not_toml_says_so(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not valid TOML"):
        load_lab(write_lab(tmp_path, "title = [unclosed"))


def test_missing_tasks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="'tasks'"):
        load_lab(write_lab(tmp_path, GOOD.split("[[tasks]]")[0]))


def test_unknown_lab_lists_the_known_ones() -> None:
    with pytest.raises(LabNotFound) as err:
        find_lab("nope", FIXTURE_LABS)
    assert "calc" in str(err.value) and "sleepy" in str(err.value)


def test_path_like_slug_is_not_a_lab() -> None:
    with pytest.raises(LabNotFound):
        find_lab("../labs/calc", FIXTURE_LABS)


def test_list_labs_finds_fixture_labs() -> None:
    assert [p.name for p in list_labs(FIXTURE_LABS)] == ["calc", "empty", "sleepy"]


def test_a_submission_file_the_starter_lacks_is_a_manifest_error(tmp_path: Path) -> None:
    lab = tmp_path / "calc"
    shutil.copytree(FIXTURE_LABS / "calc", lab)
    manifest = lab / "lab.toml"
    manifest.write_text(manifest.read_text().replace('"fx/*.py"', '"fx/*.py", "fx/clac.py"'))
    with pytest.raises(ManifestError, match=r"'fx/clac\.py' is not a file of the lab's starter"):
        load_lab(lab)
