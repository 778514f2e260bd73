"""The runner interface and shared output capping."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from grader.lab import Lab
from grader.workspace import Workspace

__all__ = [
    "LIVE_PREFIX",
    "BulkRequest",
    "BulkRunner",
    "OutputCapture",
    "RunOutcome",
    "RunRequest",
    "Runner",
    "echo_to_stderr",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    lab: Lab
    workspace: Workspace
    tasks: tuple[str, ...] = ()  # only these tasks' tests; () means every task
    fail_fast: bool = False  # stop at the first failure (a mutant needs only one)
    live: bool = False  # echo the judge's progress lines (LIVE_PREFIX) as they arrive


@dataclass(frozen=True)
class BulkRequest:
    """Several submissions of one sealed lab, each graded on its own, by one judge.

    For mutants: the judge's start (its container, its imports, its collection) is paid
    once for them all; each submission still gets its own pytest session (fresh session
    fixtures) and its own fresh worker. ``workspaces`` differ only in the learner's files.
    """

    lab: Lab
    workspaces: tuple[Workspace, ...]
    tasks: tuple[str, ...] = ()
    fail_fast: bool = False


@dataclass(frozen=True)
class RunOutcome:
    runner: str
    exit_code: int | None
    results: str | None  # the plugin's JSON lines, or None if it never wrote them
    output: str
    duration_s: float
    timed_out: bool = False
    error: str = ""  # a sentence when the run itself failed (out of memory, no engine …)
    notices: tuple[str, ...] = field(default=())


class Runner(Protocol):
    name: str

    def run(self, request: RunRequest) -> RunOutcome: ...


class BulkRunner(Runner, Protocol):
    """A runner that can also grade several submissions with one judge."""

    def run_bulk(self, request: BulkRequest) -> list[RunOutcome]:
        """One outcome per workspace, in order, each as :meth:`run` would give it."""
        ...


# A line the judge prints for the person waiting (the call it is still waiting for): with
# a live request, the runner shows it as it arrives, not only in the report.
LIVE_PREFIX = b"[mlskills] "
_LIVE_LINE_LIMIT = 4096


def echo_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class OutputCapture:
    """Keeps the head and the tail of a stream, and says how much it dropped.

    With ``echo``, each whole line that starts with :data:`LIVE_PREFIX` is handed to it
    as it arrives (the grader's own progress lines; the learner's output is not echoed).
    """

    def __init__(
        self,
        head_bytes: int = 32 * 1024,
        tail_bytes: int = 32 * 1024,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self._head = bytearray()
        self._tail = bytearray()
        self._head_limit = head_bytes
        self._tail_limit = tail_bytes
        self.total = 0
        self.gap = False  # part of the stream never arrived; the tail came from elsewhere
        self._echo = echo
        self._line = bytearray()

    def _echo_lines(self, chunk: bytes) -> None:
        assert self._echo is not None
        self._line += chunk
        *whole, rest = self._line.split(b"\n")
        self._line = bytearray(rest[-_LIVE_LINE_LIMIT:])
        for line in whole:
            if line.startswith(LIVE_PREFIX):
                self._echo(line[:_LIVE_LINE_LIMIT].decode("utf-8", "replace").rstrip())

    def feed(self, chunk: bytes) -> None:
        if self._echo is not None:
            self._echo_lines(chunk)
        self.total += len(chunk)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > self._tail_limit:
                del self._tail[: len(self._tail) - self._tail_limit]

    @property
    def cut(self) -> bool:
        """Whether anything went past the head, so the tail matters."""
        return self.total > self._head_limit

    def settle_tail(self, last: bytes) -> None:
        """Check the tail against ``last``, the stream's true end read from elsewhere.

        A stream that lost part of the output, and so its end, takes ``last`` as its tail
        and stops claiming to know how many bytes it cut.
        """
        if not last:
            return
        overlap = min(len(last), len(self._tail), self._tail_limit)
        if overlap and bytes(self._tail[-overlap:]) == last[-overlap:]:
            return
        self.gap = True
        self._tail = bytearray(last[-self._tail_limit :])

    def text(self) -> str:
        dropped = self.total - len(self._head) - len(self._tail)
        head = self._head.decode("utf-8", "replace")
        if self.gap:
            note = "\n… [output cut; showing the first and last parts] …\n"
        elif dropped <= 0:
            return head + self._tail.decode("utf-8", "replace")
        else:
            note = f"\n… [{dropped:,} bytes of output cut; showing the first and last parts] …\n"
        return head + note + self._tail.decode("utf-8", "replace")
