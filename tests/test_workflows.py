"""The project's own workflow and the cicd lab's reference workflow pass the checks the
cicd lab teaches: GitHub's workflow schema, and zizmor's security audit (both offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

WORKFLOWS = [
    REPO / ".github/workflows/grade.yml",
    REPO / "solutions/cicd/workflows/model-ci.yml",
]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(workflow: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", workflow],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_has_no_zizmor_findings(workflow: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
