"""``grader similarity``: a renamed copy is flagged, independent solutions are not.

The corpus is ``tests/fixtures/similarity``: a small lab (``quota``, five tasks) and its
submissions. ``ana``, ``ben``, ``chloe`` and ``dmitri`` are four correct solutions written
independently of each other; ``eve-copies-ana`` is ana's with every variable renamed and
the whitespace, comments and docstrings redone; ``hugo-reorders-ben`` is ben's renamed
with its functions in another order; ``finn-starter`` and ``gus-starter`` handed in the
untouched starter. The measurements (every pair's share) are printed by ``bench/batch.py``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from grader.api import grade_lab
from grader.batch import find_learners
from grader.errors import GraderError
from grader.lab import Lab, load_lab
from grader.results import Status
from grader.runners.local import LocalRunner
from grader.similarity import DEFAULT_THRESHOLD, SimilarityReport, _normalise, compare_submissions
from tests.conftest import FIXTURES
from tests.test_cli import assert_clean_error, run_cli

CORPUS = FIXTURES / "similarity"
SUBMISSIONS = CORPUS / "submissions"
INDEPENDENT = ("ana", "ben", "chloe", "dmitri")
COPIES = {("ana", "eve-copies-ana"), ("ben", "hugo-reorders-ben")}
STARTERS = ("finn-starter", "gus-starter")
# The independent pairs stay this far below the threshold (measured: at most 0.39).
MARGIN = 0.08


@pytest.fixture(scope="module")
def quota() -> Lab:
    return load_lab(CORPUS / "labs" / "quota")


@pytest.fixture(scope="module")
def report(quota: Lab) -> SimilarityReport:
    return compare_submissions(quota, find_learners(SUBMISSIONS))


def share(report: SimilarityReport, left: str, right: str) -> tuple[float, float]:
    for pair in report.pairs:
        if (pair.left, pair.right) == (left, right):
            return pair.left_share, pair.right_share
    return 0.0, 0.0


@pytest.mark.parametrize("learner", [*INDEPENDENT, "eve-copies-ana", "hugo-reorders-ben"])
def test_the_corpus_solutions_are_correct(quota: Lab, learner: str) -> None:
    """False positives are only worth measuring on solutions that are right."""
    graded = grade_lab(quota, submission=SUBMISSIONS / learner, runner=LocalRunner())
    assert graded.status is Status.PASS, [(t.id, t.first_failure) for t in graded.tasks]


def test_a_copy_with_renamed_variables_is_flagged_with_its_passages(
    report: SimilarityReport,
) -> None:
    flagged = {(p.left, p.right): p for p in report.flagged}
    assert set(flagged) == COPIES
    eve = flagged[("ana", "eve-copies-ana")]
    assert min(eve.left_share, eve.right_share) >= 0.9, (eve.left_share, eve.right_share)
    assert eve.passages, "a flagged pair shows what it shares"
    mine, theirs = eve.passages[0]
    assert theirs is not None
    assert mine.file == theirs.file == "quota/limits.py"
    assert "parsedate_to_datetime(value)" in mine.text
    assert "parsedate_to_datetime(header)" in theirs.text  # the renamed lines, side by side
    shown = "\n".join(m.text for m, _ in eve.passages)
    for function in ("parse_retry_after", "backoff_delays", "allowed_requests", "percentile"):
        assert f"def {function}" in shown


def test_a_renamed_copy_with_its_functions_reordered_is_flagged(report: SimilarityReport) -> None:
    assert min(share(report, "ben", "hugo-reorders-ben")) >= 0.9


def test_independent_correct_solutions_are_not_flagged(report: SimilarityReport) -> None:
    for left, right in itertools.combinations(INDEPENDENT, 2):
        shares = share(report, left, right)
        assert max(shares) <= DEFAULT_THRESHOLD - MARGIN, (left, right, shares)
    # nor is a copy paired with anyone but its source
    copies = {name for pair in COPIES for name in pair}
    for pair in report.flagged:
        assert {pair.left, pair.right} <= copies and (pair.left, pair.right) in COPIES


def test_the_starter_is_base_code_so_untouched_starters_share_nothing(
    report: SimilarityReport,
) -> None:
    assert set(STARTERS) <= set(report.compared)
    for pair in report.pairs:
        assert not {pair.left, pair.right} & set(STARTERS), pair


def test_identifiers_whitespace_comments_and_docstrings_are_normalised() -> None:
    one = 'def f(a, b):\n    """Add."""\n    total = a + b  # sum\n    return total\n'
    two = "def g(x,y):\n\n    s=x+y\n\n    return s"
    assert _normalise([("m.py", one)]).text == _normalise([("m.py", two)]).text
    assert _normalise([("m.py", one)]).text == "defF(V,V):V=V+VreturnV"
    three = "def g(x, y):\n    return x - y\n"
    assert _normalise([("m.py", one)]).text != _normalise([("m.py", three)]).text


def test_a_learner_whose_folder_holds_a_symlink_is_not_compared_and_says_why(
    quota: Lab, tmp_path: Path
) -> None:
    subs = tmp_path / "subs"
    shutil.copytree(SUBMISSIONS / "ana", subs / "ana")
    (subs / "mallory" / "quota").mkdir(parents=True)
    os.symlink(
        SUBMISSIONS / "ana" / "quota" / "limits.py", subs / "mallory" / "quota" / "limits.py"
    )
    (subs / "nobody").mkdir()
    result = compare_submissions(quota, find_learners(subs))
    assert result.compared == ("ana",)
    reasons = dict(result.skipped)
    assert "is a symlink" in reasons["mallory"]
    assert "none of the lab's submission files" in reasons["nobody"]
    assert result.pairs == ()


def test_bad_parameters_and_a_missing_library_are_one_sentence(
    quota: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    learners = find_learners(SUBMISSIONS)
    with pytest.raises(GraderError, match="--threshold must be above 0"):
        compare_submissions(quota, learners, threshold=0)
    monkeypatch.setitem(sys.modules, "copydetect", None)
    with pytest.raises(GraderError, match="copydetect is installed but does not import"):
        compare_submissions(quota, learners)


def test_copydetect_is_installed_on_first_use_or_the_sentence_says_how(
    quota: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a lab's packages on its first local grade: `make setup` leaves the cohort out."""
    import subprocess

    import grader.install
    import grader.similarity

    learners = find_learners(SUBMISSIONS)
    installed: list[list[str]] = []
    answers = iter([["copydetect"], ["copydetect"], []])
    monkeypatch.setattr(grader.similarity, "missing_requirements", lambda _: next(answers))

    def pip(args: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        installed.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(grader.install.subprocess, "run", pip)
    said: list[str] = []
    result = compare_submissions(quota, learners, announce=said.append)
    assert result.compared  # it went on to compare, with the library now there
    assert installed and installed[0][-1] == "copydetect" and "-c" in installed[0]
    assert said == [
        f"Installing what comparing submissions needs (copydetect) into {sys.prefix}: "
        "the first comparison adds it."
    ]

    monkeypatch.setattr(grader.similarity, "missing_requirements", lambda _: ["copydetect"])
    monkeypatch.setenv("MLSKILLS_NO_INSTALL", "1")
    with pytest.raises(GraderError) as caught:
        compare_submissions(quota, learners)
    assert "Comparing submissions needs Python packages this environment lacks" in str(caught.value)
    assert "pip install -c constraints.txt copydetect" in str(caught.value)
    assert "install the cohort extra" in str(caught.value)


# --- the command line ---------------------------------------------------------------------


def test_cli_flags_the_copies_shows_passages_writes_json_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "pairs.json"
    proc = run_cli("similarity", "quota", str(SUBMISSIONS), "--json", str(out), root=CORPUS)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 pairs flagged" in proc.stdout
    assert "ana and eve-copies-ana: shared passages" in proc.stdout
    assert "quota/limits.py:" in proc.stdout and "def backoff_delays" in proc.stdout
    data = json.loads(out.read_text())
    flagged = {(p["left"], p["right"]) for p in data["flagged"]}
    assert flagged == COPIES
    assert data["compared"] == sorted(p.name for p in SUBMISSIONS.iterdir())


def test_cli_exits_0_when_no_pair_is_flagged(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    for name in INDEPENDENT:
        shutil.copytree(SUBMISSIONS / name, subs / name)
    proc = run_cli("similarity", "quota", str(subs), root=CORPUS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No pair reaches 50%. The closest pair" in proc.stdout


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("quota", "nosuch"), "does not exist"),
        (("nosuch", str(SUBMISSIONS)), "There is no lab called 'nosuch'"),
        (("quota", str(SUBMISSIONS), "--threshold", "2"), "--threshold must be above 0"),
    ],
)
def test_cli_bad_input_is_one_sentence_and_exit_2(args: tuple[str, ...], phrase: str) -> None:
    assert_clean_error(run_cli("similarity", *args, root=CORPUS), phrase)
