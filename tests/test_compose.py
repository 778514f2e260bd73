"""docker-compose.yml's grader service: grades a read-only checkout, with no Docker socket."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.docker

COMPOSE = REPO / "docker-compose.yml"


def test_grader_service_is_sandboxed_and_mounts_no_socket() -> None:
    service = yaml.safe_load(COMPOSE.read_text())["services"]["grader"]
    assert service["volumes"] == ["./:/repo:ro"]
    assert "docker.sock" not in COMPOSE.read_text()
    assert service["network_mode"] == "none"
    assert service["read_only"] is True
    assert service["environment"]["MLSKILLS_RUNNER"] == "local"


@pytest.mark.slow
def test_compose_run_grades_networking_without_python_on_the_host() -> None:
    from grader.lab import find_lab, list_labs, load_lab
    from grader.runners.docker import build_images

    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is not installed (apt-get install docker-compose)")
    find_lab("networking")
    build_images([load_lab(p) for p in list_labs()], compose=True)
    proc = subprocess.run(
        [compose, "-f", str(COMPOSE), "run", "--rm", "-T", "grader", "grade", "networking"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
        check=False,
    )
    output = proc.stdout + proc.stderr
    # the untouched starter fails every task: exit code 1, with the table and the hints
    assert proc.returncode == 1, output
    assert "networking" in proc.stdout and "hint:" in proc.stdout
    assert "0/" in proc.stdout and "local runner" in proc.stdout
    assert "Traceback" not in output
