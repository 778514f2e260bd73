"""A lab's image needs: Debian packages in its base, a build hook, and the commands a local
grade checks for. No engine needed: these are the inputs the docker runner builds from."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import images
from grader.errors import ManifestError
from grader.lab import load_lab
from grader.runners.local import missing_tools
from tests.test_lab import GOOD, write_lab

NEEDS = (
    GOOD
    + """
[image]
python = ["numpy"]
debian = ["prometheus"]
commands = ["prometheus", "promtool"]
build = "image/build.sh"
"""
)


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    folder = write_lab(tmp_path, NEEDS)
    (folder / "image").mkdir()
    (folder / "image" / "build.sh").write_text("echo archive > /opt/archive\n")
    return folder


def test_image_needs_load_from_the_manifest(lab_dir: Path) -> None:
    image = load_lab(lab_dir).image
    assert image.python == ("numpy",)
    assert image.debian == ("prometheus",)
    assert image.commands == ("prometheus", "promtool")
    assert image.build == "image/build.sh"


@pytest.mark.parametrize(
    ("change", "allowed"),
    [
        (('debian = ["prometheus"]', 'debian = ["Prometheus; rm -rf /"]'), "Debian package"),
        (('build = "image/build.sh"', 'build = "image/missing.sh"'), "not a file inside"),
        (('build = "image/build.sh"', 'build = "../elsewhere.sh"'), "not a file inside"),
        (('build = "image/build.sh"', 'build = "lab.toml"'), "folder of its own"),
        (('build = "image/build.sh"', 'build = "image/build.sh"\ncolour = 1'), "allowed fields"),
    ],
)
def test_bad_image_needs_name_the_field(
    lab_dir: Path, change: tuple[str, str], allowed: str
) -> None:
    (lab_dir / "lab.toml").write_text(NEEDS.replace(*change))
    (lab_dir.parent / "elsewhere.sh").write_text("")
    with pytest.raises(ManifestError, match=r"field 'image\.") as caught:
        load_lab(lab_dir)
    assert allowed in str(caught.value)


def test_labs_with_other_debian_packages_get_another_base_and_rootfs() -> None:
    plain, extra = images.base_tag("debootstrap"), images.base_tag("debootstrap", ("prometheus",))
    assert plain != extra
    assert images.base_tag("registry") != images.base_tag("registry", ("prometheus",))
    assert "prometheus" in images.base_packages(("prometheus",)).split(",")
    assert images.base_packages() == images.BASE_PACKAGES
    assert images.rootfs_dir() != images.rootfs_dir(("prometheus",))
    assert " prometheus " in images.registry_base_dockerfile(("prometheus",)) + " "


def test_the_build_hook_runs_last_and_an_edit_to_it_rebuilds(lab_dir: Path, tmp_path: Path) -> None:
    hook = lab_dir / "image" / "build.sh"
    with_hook = images.plan_for(("numpy",), "sha256:base", hook)
    without = images.plan_for(("numpy",), "sha256:base")
    assert with_hook.digest != without.digest
    # A lab without a hook keeps the tag it had before hooks existed: no rebuild.
    assert without.digest == images._digest(
        "sha256:base", images.DOCKERFILE, "\n".join(without.requirements), images._constraints()
    )
    (lab_dir / "image" / "data.txt").write_text("more input")
    assert images.plan_for(("numpy",), "sha256:base", hook).digest != with_hook.digest

    assert "lab-image" not in images.dockerfile(None)
    dockerfile = images.dockerfile("image/build.sh")
    assert dockerfile.rstrip().endswith("RUN /bin/sh /lab-image/build.sh")


def test_a_local_grade_names_the_missing_command_and_its_package(
    lab_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(lab_dir))  # nothing on PATH
    message = missing_tools(load_lab(lab_dir))
    assert "prometheus, promtool" in message
    assert "sudo apt-get install prometheus" in message
    assert "--runner docker" in message
