"""Re-grade when a submission file changes, and say what changed since the last run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from grader.lab import Lab
from grader.workspace import submission_files

__all__ = ["relevant_changes", "watch_lab"]


def relevant_changes(lab: Lab, changed: Iterable[str]) -> list[str]:
    """The changed paths that are submission files of ``lab``."""
    wanted = {str((lab.root / rel).resolve()) for rel in submission_files(lab, lab.root)}
    return sorted(p for p in changed if str(Path(p).resolve()) in wanted)


def watch_lab(
    lab: Lab,
    on_change: Callable[[list[str]], None],
    *,
    poll: bool = False,
    debounce_ms: int = 400,
    stop_after: int | None = None,
) -> None:
    """Call ``on_change`` with the changed files after each debounced burst of edits.

    ``poll`` stats the files instead of using change events, for file systems (network
    mounts, some container volumes) that do not deliver them.
    """
    from watchfiles import watch  # imported when watching starts: nothing else needs it

    # On Ctrl-C watchfiles logs "KeyboardInterrupt caught, cancelling watch" as a warning;
    # the CLI says it stopped in its own words.
    logging.getLogger("watchfiles").setLevel(logging.ERROR)
    runs = 0
    for batch in watch(
        lab.root, debounce=debounce_ms, force_polling=poll, poll_delay_ms=300, raise_interrupt=False
    ):
        files = relevant_changes(lab, (path for _, path in batch))
        if not files:
            continue
        on_change(files)
        runs += 1
        if stop_after is not None and runs >= stop_after:
            return
