"""Typed grading results, serialised in one place (:meth:`GradeReport.as_json`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["GradeReport", "Status", "TaskResult", "TestResult", "as_number"]


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    TIMEOUT = "timeout"


def as_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class, despite the name

    name: str
    status: Status
    message: str = ""
    task: str | None = None
    hidden: bool = False
    duration_s: float = 0.0
    hint: str = ""  # the test's own hint (@pytest.mark.hint), for the mistake it rejects

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "message": self.message,
            "hidden": self.hidden,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True)
class TaskResult:
    id: str
    title: str
    score: float
    max_score: float
    status: Status
    hint: str
    tests: tuple[TestResult, ...] = ()
    message: str = ""
    hidden: bool = False  # the task's hidden tests, scored apart from its visible ones

    @property
    def first_failure(self) -> str:
        """The first thing a learner should read about why this task did not pass."""
        if self.message:
            return self.message
        failed = next((t for t in self.tests if t.status is not Status.PASS), None)
        if failed is None:
            return ""
        return failed.message or f"{failed.name} did not pass"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "score": as_number(self.score),
            "max_score": as_number(self.max_score),
            "status": str(self.status),
            "hidden": self.hidden,
            "hint": self.hint,
            "message": self.first_failure,
            "tests": [t.as_json() for t in self.tests],
        }


@dataclass(frozen=True)
class GradeReport:
    lab: str
    score: float
    max_score: int
    status: Status
    runner: str
    duration_s: float
    tasks: tuple[TaskResult, ...] = ()
    message: str = ""
    notices: tuple[str, ...] = field(default=())
    output: str = ""
    unscored: tuple[TestResult, ...] = ()  # tests that name no task of the manifest

    @property
    def exit_code(self) -> int:
        """0 every task passed, 1 some task failed, 2 the lab could not be graded."""
        if self.status is Status.ERROR:
            return 2
        return 0 if self.status is Status.PASS else 1

    @property
    def hidden_tests(self) -> tuple[TestResult, ...]:
        return tuple(t for task in self.tasks for t in task.tests if t.hidden)

    def as_json(self) -> dict[str, Any]:
        hidden = self.hidden_tests
        return {
            "lab": self.lab,
            "score": as_number(self.score),
            "max_score": self.max_score,
            "status": str(self.status),
            "runner": self.runner,
            "duration_s": round(self.duration_s, 2),
            "message": self.message,
            "notices": list(self.notices),
            "hidden_tests": {
                "count": len(hidden),
                "passed": sum(t.status is Status.PASS for t in hidden),
            },
            "tasks": [t.as_json() for t in self.tasks],
        }
