"""``grader check --mutants``: manifests are validated, mutants are laid over the solution,
and a wrong answer the suite accepts fails the check by name."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from grader.errors import GraderError, LabNotFound, ManifestError
from grader.lab import Lab, load_lab
from grader.mutants import (
    MutantResult,
    Verdict,
    check_mutants,
    exit_code,
    find_mutants,
    kill_rates,
    load_mutant,
    overlay,
)
from grader.patches import make_patch
from grader.runners.local import LocalRunner
from tests.conftest import FIXTURE_LABS, FIXTURE_SOLUTIONS, FIXTURES
from tests.test_cli import run_cli

CALC_SOLUTION = FIXTURE_SOLUTIONS / "calc" / "fx" / "calc.py"
# Passes both calc tests (2*3 and 0*7) and is still wrong: a negative b gives 0.
REPEATED_ADDITION = (
    "def add(a: int, b: int) -> int:\n    return a + b\n\n\n"
    "def mul(a: int, b: int) -> int:\n    return sum(a for _ in range(b))\n"
)


@pytest.fixture
def calc() -> Lab:
    return load_lab(FIXTURE_LABS / "calc")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A checkout with the calc lab, its solution, and an empty mutants/calc/."""
    root = tmp_path / "root"
    (root / "labs").mkdir(parents=True)
    (root / "labs" / "calc").symlink_to(FIXTURE_LABS / "calc")
    shutil.copytree(FIXTURE_SOLUTIONS / "calc", root / "solutions" / "calc")
    (root / "mutants" / "calc").mkdir(parents=True)
    return root


def write_mutant(root: Path, name: str, manifest: str, files: dict[str, str] | None = None) -> Path:
    """A mutant whose patch takes the solution's files to ``files`` (full texts)."""
    folder = root / "mutants" / "calc" / name
    folder.mkdir(parents=True)
    (folder / "mutant.toml").write_text(manifest)
    edited = root / "edited" / name
    shutil.copytree(root / "solutions" / "calc", edited)
    files = files if files is not None else {"fx/calc.py": REPEATED_ADDITION}
    for rel, text in files.items():
        (edited / rel).parent.mkdir(parents=True, exist_ok=True)
        (edited / rel).write_text(text)
    if files:
        (folder / "mutant.diff").write_text(make_patch(root / "solutions" / "calc", edited, files))
    return folder


def test_fixture_mutants_load_sorted_by_task_with_their_manifest() -> None:
    found = find_mutants(root=FIXTURES)
    assert [(m.label, m.task) for m in found] == [
        ("calc/add-ignores-b", "1"),
        ("calc/mul-adds-instead", "2"),
    ]
    assert found[0].mistake == "Returns its first argument and drops the second."
    assert found[0].files == ("fx/calc.py",)


def test_overlay_keeps_the_solutions_other_files_and_replaces_the_mutants(
    root: Path, calc: Lab, tmp_path: Path
) -> None:
    (root / "solutions" / "calc" / "fx" / "helpers.py").write_text("HELP = 1\n")
    mutant = load_mutant(
        calc,
        write_mutant(root, "mul-by-repeated-addition", 'task = 2\nmistake = "Loops."\n'),
        root / "solutions" / "calc",
    )
    dest = overlay(mutant, tmp_path / "submission")
    assert (dest / "fx" / "calc.py").read_text() == REPEATED_ADDITION
    assert (dest / "fx" / "helpers.py").read_text() == "HELP = 1\n"
    assert sorted(p.name for p in (dest / "fx").iterdir()) == ["calc.py", "helpers.py"]


@pytest.mark.parametrize(
    ("name", "manifest", "files", "phrases"),
    [
        ("no-task", 'mistake = "x"\n', None, ["field 'task'", "it is required"]),
        ("task-nine", 'task = 9\nmistake = "x"\n', None, ["field 'task'", "no task '9'", "1, 2"]),
        ("task-true", 'task = true\nmistake = "x"\n', None, ["field 'task'", "1, 2"]),
        ("blank-mistake", 'task = 2\nmistake = "  "\n', None, ["field 'mistake'", "non-empty"]),
        ("no-mistake", "task = 2\n", None, ["field 'mistake'"]),
        ("extra-field", 'task = 2\nmistake = "x"\nseverity = 3\n', None, ["field 'severity'"]),
        ("not-toml", "task = = 2\n", None, ["not valid TOML"]),
        (
            "edits-a-test",
            'task = 2\nmistake = "x"\n',
            {"tests/test_task2_mul.py": "def test_x():\n    pass\n"},
            ["tests/test_task2_mul.py", "not one of the lab's submission files", "fx/*.py"],
        ),
        (
            "same-as-solution",
            'task = 2\nmistake = "x"\n',
            {"fx/calc.py": CALC_SOLUTION.read_text()},
            ["the patch changes no file", "+++ b/<path>"],
        ),
        ("no-patch", 'task = 2\nmistake = "x"\n', {}, ["there is no patch", "unified diff"]),
        ("Not_Kebab", 'task = 2\nmistake = "x"\n', None, ["kebab-case", "rename it"]),
    ],
)
def test_a_bad_mutant_is_refused_naming_the_file_and_the_field(
    root: Path,
    calc: Lab,
    name: str,
    manifest: str,
    files: dict[str, str] | None,
    phrases: list[str],
) -> None:
    folder = write_mutant(root, name, manifest, files)
    with pytest.raises(ManifestError) as caught:
        load_mutant(calc, folder, root / "solutions" / "calc")
    message = str(caught.value)
    assert str(folder) in message
    for phrase in phrases:
        assert phrase in message


def test_a_whole_file_copy_beside_the_patch_is_refused_with_how_to_convert_it(
    root: Path, calc: Lab
) -> None:
    folder = write_mutant(root, "old-style-copy", 'task = 2\nmistake = "x"\n')
    (folder / "fx").mkdir()
    (folder / "fx" / "calc.py").write_text(REPEATED_ADDITION)
    with pytest.raises(ManifestError) as caught:
        load_mutant(calc, folder, root / "solutions" / "calc")
    assert "fx/calc.py" in str(caught.value)
    assert "holds only mutant.toml and mutant.diff" in str(caught.value)
    assert "grader mutant save calc/old-style-copy" in str(caught.value)


def test_a_patch_the_solution_moved_away_from_is_stale_by_name_and_fails_the_check(
    root: Path,
) -> None:
    write_mutant(root, "mul-by-repeated-addition", 'task = 2\nmistake = "Loops."\n')
    solution = root / "solutions" / "calc" / "fx" / "calc.py"
    # The solution changes under the patch: mul's body is no longer what the patch removes.
    solution.write_text(solution.read_text().replace("a * b", "b * a"))
    proc = run_cli("check", "--mutants", "calc", "--runner", "local", root=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "STALE" in proc.stdout
    assert "calc/mul-by-repeated-addition" in proc.stdout
    assert "does not apply to the solution" in proc.stdout
    [result] = check_mutants(find_mutants(["calc"], root=root), runner=LocalRunner(), jobs=1)
    assert result.verdict is Verdict.STALE
    assert exit_code([result]) == 1


def test_mutant_edit_then_save_writes_a_patch_that_grades_as_the_edit(
    root: Path, tmp_path: Path
) -> None:
    edited = tmp_path / "edit"
    proc = run_cli("mutant", "edit", "calc/mul-by-repeated-addition", str(edited), root=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (edited / "fx" / "calc.py").read_text() == CALC_SOLUTION.read_text()
    (edited / "fx" / "calc.py").write_text(REPEATED_ADDITION)
    proc = run_cli(
        "mutant",
        "save",
        "calc/mul-by-repeated-addition",
        str(edited),
        "--task",
        "2",
        "--mistake",
        'Multiplies by "repeated" addition.',
        root=root,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder = root / "mutants" / "calc" / "mul-by-repeated-addition"
    assert sorted(p.name for p in folder.iterdir()) == ["mutant.diff", "mutant.toml"]
    assert "+    return sum(a for _ in range(b))" in (folder / "mutant.diff").read_text()
    mutant = load_mutant(load_lab(root / "labs" / "calc"), folder, root / "solutions" / "calc")
    assert mutant.mistake == 'Multiplies by "repeated" addition.'
    assert overlay(mutant, tmp_path / "again").joinpath("fx/calc.py").read_text() == (
        REPEATED_ADDITION
    )
    # Editing it again starts from the mutant, not the solution, and keeps its manifest.
    again = tmp_path / "edit-again"
    proc = run_cli("mutant", "edit", "calc/mul-by-repeated-addition", str(again), root=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (again / "fx" / "calc.py").read_text() == REPEATED_ADDITION
    proc = run_cli("mutant", "save", "calc/mul-by-repeated-addition", str(edited), root=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        load_mutant(load_lab(root / "labs" / "calc"), folder, root / "solutions" / "calc").task
        == "2"
    )


def test_mutant_save_of_an_unchanged_copy_says_to_make_the_mistake_first(
    root: Path, tmp_path: Path
) -> None:
    edited = tmp_path / "edit"
    run_cli("mutant", "edit", "calc/nothing-yet", str(edited), root=root)
    proc = run_cli(
        "mutant",
        "save",
        "calc/nothing-yet",
        str(edited),
        "--task",
        "1",
        "--mistake",
        "x",
        root=root,
    )
    assert proc.returncode == 2
    assert "make the mistake in the copy first" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_mutant_folder_without_a_manifest_is_refused(root: Path, calc: Lab) -> None:
    folder = write_mutant(root, "no-manifest", "")
    (folder / "mutant.toml").unlink()
    with pytest.raises(ManifestError, match=r"no manifest; every mutant needs a mutant\.toml"):
        load_mutant(calc, folder, root / "solutions" / "calc")


def test_mutants_of_an_unknown_lab_or_a_lab_without_mutants_are_refused(root: Path) -> None:
    shutil.rmtree(root / "mutants" / "calc")
    with pytest.raises(GraderError, match="Lab 'calc' has no mutants"):
        find_mutants(["calc"], root=root)
    (root / "mutants" / "nosuch").mkdir()
    with pytest.raises(LabNotFound, match=r"no lab called 'nosuch'.*mutants/nosuch"):
        find_mutants(root=root)


def test_a_kill_only_counts_where_the_solution_passes_the_task(root: Path) -> None:
    (root / "solutions" / "calc" / "fx" / "calc.py").write_text(
        "def add(a: int, b: int) -> int:\n    return a + b\n\n\n"
        "def mul(a: int, b: int) -> int:\n    return 0\n"
    )
    write_mutant(root, "mul-by-repeated-addition", 'task = 2\nmistake = "Loops."\n')
    [result] = check_mutants(find_mutants(["calc"], root=root), runner=LocalRunner(), jobs=1)
    assert result.verdict is Verdict.ERROR
    assert "the solution itself does not pass task 2" in result.detail
    assert exit_code([result]) == 2


def test_kill_rates_count_killed_out_of_every_mutant_per_lab() -> None:
    found = find_mutants(root=FIXTURES)
    results = [
        MutantResult(found[0], Verdict.KILLED, "test_add: no", 0.1),
        MutantResult(found[1], Verdict.SURVIVED, found[1].mistake, 0.1),
    ]
    [rate] = kill_rates(results).values()
    assert (rate.lab, rate.killed, rate.total, rate.rate) == ("calc", 1, 2, 0.5)
    assert exit_code(results) == 1
    assert exit_code(results[:1]) == 0


def test_check_mutants_exits_0_when_the_suite_kills_every_mutant() -> None:
    proc = run_cli("check", "--mutants", "--runner", "local")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "add-ignores-b" in proc.stdout and "mul-adds-instead" in proc.stdout
    assert "test_task2_mul.py::test_mul_small_numbers" in proc.stdout
    assert "calc: 2/2 mutants killed (100%)" in proc.stdout
    assert "SURVIVED" not in proc.stdout


def test_check_mutants_exits_1_and_names_a_survivor_with_its_mistake(root: Path) -> None:
    write_mutant(
        root,
        "mul-by-repeated-addition",
        'task = 2\nmistake = "Multiplies by adding a to itself b times, which is 0 for b < 0."\n',
    )
    proc = run_cli("check", "--mutants", "calc", "--runner", "local", "-j", "2", root=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "SURVIVED" in proc.stdout
    assert (
        "calc/mul-by-repeated-addition (task 2): Multiplies by adding a to itself b times, "
        "which is 0 for b < 0." in proc.stdout
    )
    assert "calc: 0/1 mutants killed (0%)" in proc.stdout


def test_check_mutants_exits_2_on_a_bad_manifest(root: Path) -> None:
    write_mutant(root, "task-nine", 'task = 9\nmistake = "x"\n')
    proc = run_cli("check", "--mutants", "--runner", "local", root=root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "mutant.toml: field 'task' is invalid" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_mutant_stops_at_its_first_failing_test_and_the_rest_count_as_failed(
    tmp_path: Path,
) -> None:
    from grader.api import grade_lab
    from grader.lab import find_lab
    from grader.runners.local import LocalRunner
    from grader.workspace import pytest_command
    from tests.conftest import FIXTURE_LABS

    assert "--exitfirst" in pytest_command("python", "g", "j", ("1",), fail_fast=True)
    assert "--exitfirst" not in pytest_command("python", "g", "j", ("1",))
    calc = find_lab("calc", FIXTURE_LABS)
    report = grade_lab(
        calc, submission=calc.root, runner=LocalRunner(), tasks=("2",), fail_fast=True
    )
    (task,) = report.tasks
    assert [t.status.value for t in task.tests] == ["fail", "fail"]
    assert task.tests[1].message == "did not run"


class BulkLocal(LocalRunner):
    """A local runner with ``run_bulk``: one outcome per workspace, each graded alone,
    with ``alter`` to play a bulk run that went wrong."""

    def __init__(self, alter: Any = None) -> None:
        super().__init__()
        self.requests: list[int] = []
        self.alone = 0
        self.alter = alter

    def run(self, request: Any) -> Any:
        self.alone += 1
        return super().run(request)

    def run_bulk(self, request: Any) -> list[Any]:
        from grader.runners import RunRequest

        self.requests.append(len(request.workspaces))
        outcomes = [
            super(BulkLocal, self).run(RunRequest(request.lab, w, request.tasks, request.fail_fast))
            for w in request.workspaces
        ]
        return self.alter(outcomes, request) if self.alter else outcomes


def two_wrong_multiplications(root: Path) -> None:
    for name, op in (("mul-adds", "+"), ("mul-subtracts", "-")):
        source = REPEATED_ADDITION.replace("sum(a for _ in range(b))", f"a {op} b")
        write_mutant(root, name, f'task = 2\nmistake = "{name}"\n', {"fx/calc.py": source})


def test_bulk_grading_hands_a_tasks_mutants_and_a_control_to_one_run(root: Path) -> None:
    """A runner that can grade in bulk gets a task's mutants in one request, with the
    solution last as a control; a mutant its bulk run could not grade is graded again
    on its own, and still counts."""
    from grader.runners import RunOutcome

    def judge_crashed_on_the_first(outcomes: list[Any], request: Any) -> list[Any]:
        outcomes[0] = RunOutcome("local", None, None, "", 0.0, error="judge ended")
        return outcomes

    two_wrong_multiplications(root)
    runner = BulkLocal(judge_crashed_on_the_first)
    results = check_mutants(find_mutants(["calc"], root=root), runner=runner, jobs=1)
    assert runner.requests == [3]
    assert runner.alone == 2  # the solution's own baseline, and the first mutant again
    assert [r.verdict for r in results] == [Verdict.KILLED, Verdict.KILLED], results


def test_a_bulk_run_whose_control_fails_counts_no_kill_and_grades_each_alone(
    root: Path,
) -> None:
    """The solution failing in the bulk run means the run cannot be trusted: kills come
    only from the mutants' own runs then."""
    from grader.runners import RunRequest

    def leaked_into_the_control(outcomes: list[Any], request: Any) -> list[Any]:
        wrong = RunRequest(request.lab, request.workspaces[0], request.tasks, True)
        return [*outcomes[:-1], LocalRunner().run(wrong)]

    two_wrong_multiplications(root)
    runner = BulkLocal(leaked_into_the_control)
    results = check_mutants(find_mutants(["calc"], root=root), runner=runner, jobs=1)
    assert runner.requests == [3]
    assert runner.alone == 3  # the baseline, then each mutant on its own
    assert [r.verdict for r in results] == [Verdict.KILLED, Verdict.KILLED], results


def test_a_baseline_this_run_already_made_is_used_instead_of_grading_the_solution_again(
    root: Path,
) -> None:
    from grader.api import grade_lab
    from grader.lab import find_lab

    two_wrong_multiplications(root)
    lab = find_lab("calc", root / "labs")
    baseline = grade_lab(lab, submission=root / "solutions" / "calc", runner=LocalRunner())
    runner = BulkLocal()
    mutants = find_mutants(["calc"], root=root)
    results = check_mutants(mutants, runner=runner, jobs=1, baselines={"calc": baseline})
    assert runner.alone == 0 and runner.requests == [3]
    assert [r.verdict for r in results] == [Verdict.KILLED, Verdict.KILLED], results
