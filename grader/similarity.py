"""Pairs of submissions that are suspiciously alike: ``python -m grader similarity``.

The method is MOSS's winnowing fingerprints, through the ``copydetect`` library (the
``cohort`` extra):

1. Each learner's declared submission files are tokenised with Pygments and normalised:
   every identifier becomes one symbol (``V`` for a name, ``F`` for a function name,
   ``O`` for a class name), every string literal ``S``, and whitespace, comments and
   docstrings go. Renaming variables or reformatting changes nothing.
2. Every k-gram of that normalised text is a fingerprint (copydetect's
   :class:`CodeFingerprint`, window 1: every k-gram is kept, so the result does not
   depend on Python's hash seed).
3. The lab's starter is base code, as MOSS's base file: a fingerprint the starter has
   never counts. So learners who barely touched the starter are not alike.
4. For a pair, each side's share is the part of its own (non-starter) normalised code
   that the other side has too (copydetect's :func:`compare_files`). A pair is flagged
   when either share reaches the threshold and the shared code is at least
   ``min_shared`` normalised characters long.

Only regular files the manifest declares are read, through the same checks as grading
(:func:`grader.workspace.submission_files`): a learner whose folder holds a symlink is
listed as not compared, with the reason.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from grader.errors import GraderError, SubmissionError
from grader.install import install_missing, missing_requirements
from grader.lab import Lab
from grader.workspace import MAX_FILE_BYTES, resolve_submission, submission_files

__all__ = [
    "DEFAULT_K",
    "DEFAULT_MIN_SHARED",
    "DEFAULT_THRESHOLD",
    "Pair",
    "Passage",
    "SimilarityReport",
    "compare_submissions",
]

log = logging.getLogger(__name__)

# k = copydetect's default noise threshold: shorter shared runs are ignored.
DEFAULT_K = 25
DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_SHARED = 150
MAX_PASSAGES = 8
MAX_PASSAGE_LINES = 120
# A file boundary in a learner's normalised text; never produced by normalising code.
_SEPARATOR = "\n"
_LIBRARY = ("copydetect",)  # the cohort extra: installed on first use, as a lab's packages


@dataclass(frozen=True)
class Passage:
    """Lines of one learner's file: ``first`` and ``last`` are 1-based and inclusive."""

    file: str
    first: int
    last: int
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "first": self.first, "last": self.last, "text": self.text}


@dataclass(frozen=True)
class Pair:
    left: str
    right: str
    left_share: float  # of the left learner's own code, the part the right one has too
    right_share: float
    shared: int  # normalised characters the two have in common (left's count)
    passages: tuple[tuple[Passage, Passage | None], ...] = ()
    flagged: bool = False

    @property
    def score(self) -> float:
        return max(self.left_share, self.right_share)

    def as_json(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "left_share": round(self.left_share, 3),
            "right_share": round(self.right_share, 3),
            "shared": self.shared,
            "flagged": self.flagged,
            "passages": [
                {"left": a.as_json(), "right": None if b is None else b.as_json()}
                for a, b in self.passages
            ],
        }


@dataclass(frozen=True)
class SimilarityReport:
    lab: str
    threshold: float
    min_shared: int
    k: int
    compared: tuple[str, ...]
    pairs: tuple[Pair, ...]  # every pair that shares any code, most alike first
    skipped: tuple[tuple[str, str], ...] = ()  # (learner, why not compared)
    method: str = field(default="")

    @property
    def flagged(self) -> tuple[Pair, ...]:
        return tuple(p for p in self.pairs if p.flagged)

    def as_json(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "method": self.method,
            "threshold": self.threshold,
            "min_shared": self.min_shared,
            "k": self.k,
            "compared": list(self.compared),
            "skipped": [{"learner": n, "reason": r} for n, r in self.skipped],
            "flagged": [p.as_json() for p in self.flagged],
            "top_pairs": [p.as_json() for p in self.pairs[:20] if not p.flagged],
        }


@dataclass
class _Document:
    """A learner's normalised code, and where each normalised character came from."""

    text: str
    origin: list[int]  # normalised character → token index; -1 for a file separator
    tokens: list[tuple[int, int, int]]  # (file index, start, end) in the original text
    files: list[tuple[str, str]]  # (lab-relative path, original text)


def _normalise(documents: Iterable[tuple[str, str]]) -> _Document:
    from pygments import lexers, token, util  # type: ignore[import-untyped]

    text: list[str] = []
    origin: list[int] = []
    tokens: list[tuple[int, int, int]] = []
    files = list(documents)
    for index, (rel, code) in enumerate(files):
        if index:
            text.append(_SEPARATOR)
            origin.append(-1)
        try:
            lexer = lexers.get_lexer_for_filename(rel, code)
        except util.ClassNotFound:
            lexer = lexers.TextLexer()
        for start, kind, value in lexer.get_tokens_unprocessed(code):
            if kind in token.Text or kind in token.Comment or kind in token.String.Doc:
                continue
            if kind in token.String:
                symbol = '"' if value in ("'", '"') else "S"
            elif kind in token.Name.Function:
                symbol = "F"
            elif kind in token.Name.Class:
                symbol = "O"
            elif kind is token.Name or kind in token.Name.Variable or kind in token.Name.Attribute:
                symbol = "V"
            else:
                symbol = "".join(value.split())
            if not symbol:
                continue
            tokens.append((index, start, start + len(value)))
            text.append(symbol)
            origin.extend([len(tokens) - 1] * len(symbol))
    return _Document("".join(text), origin, tokens, files)


def _read_submission(lab: Lab, folder: Path) -> list[tuple[str, str]]:
    tree = resolve_submission(lab, folder)
    found = submission_files(lab, tree)
    if not found:
        raise SubmissionError("none of the lab's submission files is in this folder")
    documents = []
    for rel, path in sorted(found.items()):
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise SubmissionError(f"{rel} is over {MAX_FILE_BYTES // 1024 // 1024} MB")
        documents.append((rel, data.decode("utf-8", errors="replace")))
    return documents


def _lines(doc: _Document, start: int, end: int) -> list[tuple[int, int, int]]:
    """(file index, first line, last line) that the normalised range [start, end) came from."""
    by_file: dict[int, list[int]] = {}
    for token_index in doc.origin[start:end]:
        if token_index >= 0:
            by_file.setdefault(doc.tokens[token_index][0], []).append(token_index)
    found = []
    for file_index, in_file in by_file.items():
        code = doc.files[file_index][1]
        first_char = doc.tokens[min(in_file)][1]
        last_char = doc.tokens[max(in_file)][2] - 1
        found.append(
            (file_index, code.count("\n", 0, first_char) + 1, code.count("\n", 0, last_char) + 1)
        )
    return found


def _passage(doc: _Document, file_index: int, first: int, last: int) -> Passage:
    rel, code = doc.files[file_index]
    lines = code.splitlines()[first - 1 : last]
    if len(lines) > MAX_PASSAGE_LINES:
        more = len(lines) - MAX_PASSAGE_LINES
        lines = [*lines[:MAX_PASSAGE_LINES], f"… {more} more lines"]
    return Passage(rel, first, last, "\n".join(lines))


def _positions(fingerprint: Any) -> dict[int, Any]:
    """Normalised position → the fingerprint hash that starts there."""
    return {int(i): h for h, idx in fingerprint.hash_idx.items() for i in idx}


_Lines = tuple[int, int, int]


def _match(
    left: _Document, right: _Document, left_fp: Any, right_fp: Any, slices: Any, k: int
) -> tuple[tuple[Passage, Passage | None], ...]:
    """Each shared stretch of the left side, beside the lines of the right it matches.

    Stretches that touch (the starter's lines split them) are shown as one.
    """
    left_at = _positions(left_fp)
    found: list[tuple[_Lines, _Lines | None]] = []
    for start, end in zip(slices[0], slices[1], strict=True):
        start, end = int(start), int(end)
        theirs: list[int] = []
        for position in range(start, max(start + 1, end - k + 1)):
            digest = left_at.get(position)
            if digest is not None and digest in right_fp.hash_idx:
                theirs.extend(int(i) for i in right_fp.hash_idx[digest])
        right_lines: list[_Lines] = []
        if theirs:
            # the right side's copy of this stretch: its most common file, first to last
            spans = _lines(right, min(theirs), max(theirs) + k)
            right_lines = [max(spans, key=lambda s: s[2] - s[1])] if spans else []
        for mine in _lines(left, start, end):
            found.append((mine, right_lines[0] if right_lines else None))
    found.sort()
    merged: list[tuple[_Lines, _Lines | None]] = []
    for mine, theirs_lines in found:
        if merged:
            (f, first, last), other = merged[-1]
            if mine[0] == f and mine[1] <= last + 1:
                if other is not None and theirs_lines is not None and other[0] == theirs_lines[0]:
                    other = (
                        other[0],
                        min(other[1], theirs_lines[1]),
                        max(other[2], theirs_lines[2]),
                    )
                merged[-1] = ((f, first, max(last, mine[2])), other or theirs_lines)
                continue
        merged.append((mine, theirs_lines))
    merged.sort(key=lambda m: -(m[0][2] - m[0][1]))
    chosen = sorted(merged[:MAX_PASSAGES])
    return tuple(
        (_passage(left, *mine), None if other is None else _passage(right, *other))
        for mine, other in chosen
    )


def compare_submissions(
    lab: Lab,
    learners: Sequence[tuple[str, Path]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_shared: int = DEFAULT_MIN_SHARED,
    k: int = DEFAULT_K,
    announce: Callable[[str], None] | None = None,
) -> SimilarityReport:
    """Compare every pair of ``learners`` ((name, folder) as :func:`batch.find_learners`).

    copydetect is installed on first use (``announce`` gets the line saying so), as a
    lab's packages are on its first local grade. Raises :class:`GraderError` when it
    cannot be, or the parameters are wrong; a learner whose files cannot be read is listed
    in ``skipped``, not raised.
    """
    if not 0 < threshold <= 1:
        raise GraderError(f"--threshold must be above 0 and at most 1 (got {threshold}).")
    if min_shared < 0:
        raise GraderError(f"--min-shared must be 0 or more (got {min_shared}).")
    problem = install_missing(
        lambda: missing_requirements(_LIBRARY),
        needs="Comparing submissions needs",
        what="what comparing submissions needs",
        why="the first comparison adds it",
        otherwise="install the cohort extra (.venv/bin/pip install -e '.[cohort]')",
        announce=announce or log.warning,
    )
    if problem:
        raise GraderError(problem)
    try:
        from copydetect import CodeFingerprint, compare_files  # type: ignore[import-untyped]
        from copydetect.utils import get_token_coverage  # type: ignore[import-untyped]
    except ImportError as exc:
        raise GraderError(f"copydetect is installed but does not import: {exc}.") from None

    def fingerprint(doc: _Document) -> Any:
        return CodeFingerprint("normalised", k, 1, filter=False, fp=io.StringIO(doc.text))

    base_doc = _normalise(_read_submission(lab, lab.root))
    base = set(fingerprint(base_doc).hashes)
    documents: dict[str, _Document] = {}
    prints: dict[str, Any] = {}
    skipped: list[tuple[str, str]] = []
    for name, folder in learners:
        try:
            if folder.is_symlink():
                raise SubmissionError("the learner's folder is a symlink")
            doc = _normalise(_read_submission(lab, folder))
        except (GraderError, OSError) as exc:
            skipped.append((name, str(exc)))
            continue
        fp = fingerprint(doc)
        # The starter's fingerprints are dropped here rather than through copydetect's
        # ``boilerplate``, whose np.intersect1d(assume_unique=True) also drops one
        # occurrence of any k-gram that a file repeats.
        common = fp.hashes & base
        for digest in common:
            del fp.hash_idx[digest]
        fp.hashes -= common
        fp.token_coverage = get_token_coverage(fp.hash_idx, k, len(doc.text))
        documents[name] = doc
        prints[name] = fp

    names = sorted(documents)
    pairs: list[Pair] = []
    for i, left in enumerate(names):
        for right in names[i + 1 :]:
            left_fp, right_fp = prints[left], prints[right]
            if not left_fp.hashes & right_fp.hashes:
                continue
            shared, (left_share, right_share), (left_slices, _) = compare_files(left_fp, right_fp)
            flagged = bool(max(left_share, right_share) >= threshold and shared >= min_shared)
            passages = (
                _match(documents[left], documents[right], left_fp, right_fp, left_slices, k)
                if flagged
                else ()
            )
            pairs.append(
                Pair(
                    left,
                    right,
                    float(left_share),
                    float(right_share),
                    int(shared),
                    passages,
                    flagged,
                )
            )
    pairs.sort(key=lambda p: (-p.score, p.left, p.right))
    version = metadata.version("copydetect")
    return SimilarityReport(
        lab=lab.slug,
        threshold=threshold,
        min_shared=min_shared,
        k=k,
        compared=tuple(names),
        pairs=tuple(pairs),
        skipped=tuple(skipped),
        method=f"winnowing fingerprints (copydetect {version}), k = {k} normalised "
        "characters, the starter as base code",
    )
