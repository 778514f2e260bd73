"""Submissions from git: ``grader batch <slug> --roster roster.csv [--deadline …]``.

A roster is a CSV file with the header ``learner,repo`` and an optional ``ref`` column:
one learner per row, with a repository that git can clone (a URL, or a local path) and
the branch, tag or commit to grade (default: the repository's HEAD)::

    learner,repo,ref
    ada,https://github.com/course/lab-ada.git,main
    grace,/srv/git/grace.git,

Each repository is mirrored under ``<out>/repos/<learner>.git`` (fetched again on the next
run) and only the lab's declared submission files are taken from the commit graded, into
``<out>/submissions/<learner>/``: the course's own tests and grader grade them, never a
copy from the learner's repository.

With a deadline, the commit graded is the last one whose *commit time* is at or before it.
Commit times are written by the learner's own git, so they are the learner's word: a push
log (GitHub's push events, a Classroom release time) is better evidence where there is one.
A late policy grades the newest commit instead, and takes points off (see :class:`LatePolicy`).
"""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from grader.errors import GraderError, SubmissionError
from grader.lab import Lab
from grader.workspace import MAX_FILE_BYTES, MAX_TOTAL_BYTES, submission_files

__all__ = [
    "Checkout",
    "LatePolicy",
    "RosterEntry",
    "checkout",
    "checkout_all",
    "load_roster",
    "parse_deadline",
    "public_repo",
]

_LEARNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_GIT_TIMEOUT_S = 300
DAY = timedelta(days=1)


@dataclass(frozen=True)
class RosterEntry:
    learner: str
    repo: str
    ref: str  # '' means the repository's HEAD
    line: int


def load_roster(path: Path) -> list[RosterEntry]:
    """The roster's rows; a bad file is refused naming the line and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GraderError(f"The roster {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"The roster {path} cannot be read: {exc}.") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    if header[:2] != ["learner", "repo"] or not set(header) <= {"learner", "repo", "ref"}:
        raise GraderError(
            f"{path}: the header must be 'learner,repo' with an optional 'ref' column "
            f"(got '{','.join(header)}')."
        )
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(values.values()):
            continue
        learner, repo = values.get("learner", ""), values.get("repo", "")
        if not _LEARNER.fullmatch(learner):
            raise GraderError(
                f"{path}, line {number}: the learner '{learner}' must be a name of letters, "
                "digits, '.', '_' and '-' (it names their report and folder)."
            )
        if learner in seen:
            raise GraderError(
                f"{path}, line {number}: '{learner}' is already on line {seen[learner]}."
            )
        if not repo:
            raise GraderError(f"{path}, line {number}: '{learner}' has no repo.")
        if repo.startswith("-") or repo.startswith("ext::"):
            raise GraderError(f"{path}, line {number}: '{repo}' is not a repository address.")
        ref = values.get("ref", "")
        if ref.startswith("-"):
            raise GraderError(f"{path}, line {number}: '{ref}' is not a git ref.")
        seen[learner] = number
        entries.append(RosterEntry(learner=learner, repo=repo, ref=ref, line=number))
    if not entries:
        raise GraderError(f"{path} lists no learner; add a row 'name,repository' per learner.")
    return entries


def parse_deadline(text: str) -> datetime:
    """An ISO 8601 time with its offset (``2026-01-10T00:00:00Z``), as UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise GraderError(
            f"The deadline '{text}' is not an ISO 8601 time; write it like 2026-01-10T00:00:00Z."
        ) from None
    if when.tzinfo is None:
        raise GraderError(
            f"The deadline '{text}' has no time zone; add one (Z for UTC, or +01:00)."
        )
    return when.astimezone(UTC)


@dataclass(frozen=True)
class LatePolicy:
    """What a late submission costs. ``none``: later commits are not graded at all (the
    last commit before the deadline is). ``per-day=P``: the newest commit is graded and
    loses P % of its points per day or part of a day late. ``cap=C``: a late commit earns
    at most C % of the lab's points. Both may be given: ``per-day=10,cap=70``."""

    per_day: float | None = None
    cap: float | None = None

    @property
    def grades_late_work(self) -> bool:
        return self.per_day is not None or self.cap is not None

    @classmethod
    def parse(cls, text: str) -> LatePolicy:
        text = text.strip()
        if text in ("", "none"):
            return cls()
        values: dict[str, float] = {}
        for part in text.split(","):
            key, _, value = part.partition("=")
            key = key.strip()
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if key not in ("per-day", "cap") or key in values or not 0 <= number <= 100:
                raise GraderError(
                    f"The late policy '{text}' is not one of: none, per-day=P, cap=C or "
                    "per-day=P,cap=C (P and C are percentages from 0 to 100)."
                )
            values[key] = number
        return cls(per_day=values.get("per-day"), cap=values.get("cap"))

    def penalty(self, score: float, max_score: int, days_late: int) -> float:
        """Points taken off ``score`` for ``days_late`` days (0: none)."""
        if days_late <= 0 or not self.grades_late_work:
            return 0.0
        kept = score
        if self.per_day is not None:
            kept = score * max(0.0, 1 - self.per_day * days_late / 100)
        if self.cap is not None:
            kept = min(kept, max_score * self.cap / 100)
        return round(score - kept, 2)

    def describe(self) -> str:
        parts = []
        if self.per_day is not None:
            parts.append(f"-{self.per_day:g}% per day late")
        if self.cap is not None:
            parts.append(f"late work capped at {self.cap:g}%")
        return ", ".join(parts) or "commits after the deadline are not graded"


@dataclass(frozen=True)
class Checkout:
    """One learner's submission taken from git, or why it could not be."""

    learner: str
    repo: str  # without credentials
    folder: Path | None = None
    commit: str = ""
    committed_at: datetime | None = None
    days_late: int = 0
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "commit": self.commit,
            "committed_at": self.committed_at.isoformat() if self.committed_at else None,
            "days_late": self.days_late,
        }


def public_repo(repo: str) -> str:
    """The repository address with any user name or token removed, fit for a report."""
    parts = urlsplit(repo)
    if parts.scheme and parts.netloc and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return repo


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",  # a private repository fails instead of asking
        "GIT_ASKPASS": "true",
        "GIT_CONFIG_NOSYSTEM": "1",
        "LC_ALL": "C",
    }
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise GraderError("Grading from a roster needs git; install it.") from None
    except subprocess.TimeoutExpired:
        raise SubmissionError(f"git {args[0]} took over {_GIT_TIMEOUT_S} s.") from None
    if proc.returncode != 0:
        last = next((ln for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "")
        raise SubmissionError(f"git {args[0]} failed: {last.strip() or proc.returncode}")
    return proc.stdout.strip()


def _mirror(entry: RosterEntry, repos: Path) -> Path:
    """A bare mirror of the learner's repository, cloned once and fetched after."""
    mirror = repos / f"{entry.learner}.git"
    if (mirror / "HEAD").is_file():
        _git("--git-dir", str(mirror), "remote", "set-url", "origin", entry.repo)
        _git("--git-dir", str(mirror), "fetch", "--quiet", "--prune", "--force", "origin")
    else:
        shutil.rmtree(mirror, ignore_errors=True)
        _git("clone", "--quiet", "--mirror", "--no-hardlinks", "--", entry.repo, str(mirror))
    return mirror


def _choose_commit(
    mirror: Path, ref: str, deadline: datetime | None, late: LatePolicy
) -> tuple[str, datetime, int]:
    git_dir = ("--git-dir", str(mirror))
    wanted = ref or "HEAD"
    if not ref:
        # A bare repository's HEAD can name a branch nobody pushed (master where the
        # learner pushed main): with one branch, that branch is the work.
        branches = _git(*git_dir, "for-each-ref", "--format=%(refname)", "refs/heads/")
        heads = branches.split()
        try:
            _git(*git_dir, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        except SubmissionError:
            if len(heads) == 1:
                wanted = heads[0]
    try:
        tip = _git(*git_dir, "rev-parse", "--verify", "--end-of-options", f"{wanted}^{{commit}}")
    except SubmissionError:
        raise SubmissionError(
            f"the repository has no commit at '{ref or 'HEAD'}' (an empty repository, or a "
            "branch or tag that does not exist)."
        ) from None
    commit = tip
    if deadline is not None and not late.grades_late_work:
        stamp = deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
        commit = _git(*git_dir, "rev-list", "-1", f"--before={stamp}", tip)
        if not commit:
            first = _git(*git_dir, "log", "--format=%cI", tip).splitlines()[-1]
            raise SubmissionError(
                f"no commit before the deadline {deadline.isoformat()} "
                f"(the first commit is from {first})."
            )
    committed_at = datetime.fromisoformat(_git(*git_dir, "show", "-s", "--format=%cI", commit))
    days_late = 0
    if deadline is not None and committed_at > deadline:
        days_late = math.ceil((committed_at - deadline) / DAY)
    return commit, committed_at.astimezone(UTC), days_late


def _extract(lab: Lab, mirror: Path, commit: str, dest: Path) -> None:
    """The lab's declared submission files at ``commit`` into ``dest``, nothing else."""
    git_dir = ("--git-dir", str(mirror))
    nested = f"labs/{lab.slug}"
    prefix = nested + "/" if _git(*git_dir, "ls-tree", "-d", commit, nested) else ""
    with tempfile.TemporaryDirectory(prefix="mlskills-roster-") as tmp:
        tree = Path(tmp)
        archive = tree / "commit.tar"
        with archive.open("wb") as handle:
            proc = subprocess.run(
                ["git", *git_dir, "archive", "--format=tar", commit, "--", prefix or "."],
                stdout=handle,
                stderr=subprocess.PIPE,
                timeout=_GIT_TIMEOUT_S,
                check=False,
            )
        if proc.returncode != 0:
            raise SubmissionError(f"git archive failed: {proc.stderr.decode(errors='replace')}")
        files = tree / "files"
        total = 0
        with tarfile.open(archive) as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                # Regular files of sane size only; a symlink is skipped, and so is missing.
                if not member.isreg() or member.size > MAX_FILE_BYTES:
                    continue
                if not name.startswith(prefix) or ".." in Path(name).parts:
                    continue
                rel = name[len(prefix) :]
                if rel.split("/", 1)[0] in ("tests", "data") or rel == "lab.toml":
                    continue
                total += member.size
                if total > MAX_TOTAL_BYTES:
                    break
                source = tar.extractfile(member)
                if source is None:
                    continue
                target = files / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
        taken = submission_files(lab, files) if files.is_dir() else {}
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for rel, path in taken.items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / rel)


def checkout(
    lab: Lab,
    entry: RosterEntry,
    out_dir: Path,
    *,
    deadline: datetime | None,
    late: LatePolicy,
) -> Checkout:
    """Fetch ``entry``'s repository and lay out the commit graded; never raises for it."""
    public = public_repo(entry.repo)
    try:
        mirror = _mirror(entry, out_dir / "repos")
        commit, committed_at, days_late = _choose_commit(mirror, entry.ref, deadline, late)
        folder = out_dir / "submissions" / entry.learner
        _extract(lab, mirror, commit, folder)
    except SubmissionError as exc:
        return Checkout(entry.learner, public, error=f"{public}: {exc}")
    return Checkout(
        learner=entry.learner,
        repo=public,
        folder=folder,
        commit=commit,
        committed_at=committed_at,
        days_late=days_late,
    )


def checkout_all(
    lab: Lab,
    entries: list[RosterEntry],
    out_dir: Path,
    *,
    deadline: datetime | None,
    late: LatePolicy,
    jobs: int = 1,
) -> list[Checkout]:
    """Every roster entry's checkout, ``jobs`` repositories at a time, in roster order."""
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="git") as pool:
        return list(
            pool.map(lambda e: checkout(lab, e, out_dir, deadline=deadline, late=late), entries)
        )
