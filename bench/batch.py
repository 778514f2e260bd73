"""Batch throughput and similarity: ``python bench/batch.py``.

Similarity (no Docker needed): ``grader similarity`` on the corpus in
``tests/fixtures/similarity`` (four independent correct solutions of the ``quota`` lab,
two disguised copies, two untouched starters). Reports the false positives (independent
pairs flagged) with the highest independent share, the shares of the renamed copies, and
the time taken.

Throughput: builds one cohort of 20 submissions of the ``calc`` fixture lab (solutions,
partial, syntax and import errors, untouched starters), then grades it with the docker
runner at ``-j 1`` and at ``-j 2`` in the same run, after a warm-up grade so that neither
timing includes an image build. Prints submissions per minute for each and their ratio.

Writes ``bench/out/batch.json`` (the throughput figures need Docker; without it they are
left out and the exit code is 2).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402

from grader.api import grade_lab  # noqa: E402
from grader.batch import find_learners, grade_cohort  # noqa: E402
from grader.lab import find_lab, load_lab  # noqa: E402
from grader.runners.select import docker_problem  # noqa: E402
from grader.similarity import DEFAULT_THRESHOLD, compare_submissions  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"
COHORT = 20
# (source, how many): 8 solutions, 6 partial, 2 syntax errors, 2 import errors, 2 starters
MIX = [
    (FIXTURES / "solutions" / "calc", 8),
    (FIXTURES / "submissions" / "calc-partial", 6),
    (FIXTURES / "submissions" / "calc-syntax-error", 2),
    (FIXTURES / "submissions" / "calc-import-error", 2),
    (FIXTURES / "labs" / "calc", 2),
]


def build_cohort(folder: Path) -> Path:
    subs = folder / "submissions"
    number = 0
    for source, count in MIX:
        for _ in range(count):
            number += 1
            target = subs / f"learner{number:02d}" / "fx"
            shutil.copytree(source / "fx", target)
    assert number == COHORT
    return subs


SIMILARITY = FIXTURES / "similarity"
INDEPENDENT = ("ana", "ben", "chloe", "dmitri")
COPIES = (("ana", "eve-copies-ana"), ("ben", "hugo-reorders-ben"))


def similarity() -> dict[str, object]:
    """False positives on independent correct solutions; detection of disguised copies."""
    lab = load_lab(SIMILARITY / "labs" / "quota")
    started = time.perf_counter()
    report = compare_submissions(lab, find_learners(SIMILARITY / "submissions"))
    seconds = time.perf_counter() - started
    shares = {(p.left, p.right): p for p in report.pairs}
    independent = [
        (a, b, shares[(a, b)].score if (a, b) in shares else 0.0)
        for i, a in enumerate(INDEPENDENT)
        for b in INDEPENDENT[i + 1 :]
    ]
    false_positives = [
        f"{a}/{b}" for a, b, _ in independent if (a, b) in shares and shares[(a, b)].flagged
    ]
    copies = {
        f"{a}/{b}": {
            "shares": [round(shares[(a, b)].left_share, 3), round(shares[(a, b)].right_share, 3)],
            "flagged": shares[(a, b)].flagged,
        }
        for a, b in COPIES
    }
    figures: dict[str, object] = {
        "method": report.method,
        "threshold": DEFAULT_THRESHOLD,
        "submissions": len(report.compared),
        "independent_pairs": len(independent),
        "false_positives": false_positives,
        "max_independent_share": round(max(score for _, _, score in independent), 3),
        "independent_shares": {f"{a}/{b}": round(score, 3) for a, b, score in independent},
        "copies": copies,
        "copies_detected": sum(bool(c["flagged"]) for c in copies.values()),
        "starter_pairs": sum("starter" in p.left or "starter" in p.right for p in report.pairs),
        "seconds": round(seconds, 2),
    }
    detected = ", ".join(f"{name} {min(c['shares']):.0%}" for name, c in copies.items())
    print(
        f"similarity: {len(false_positives)} of {len(independent)} independent pairs flagged "
        f"(highest share {figures['max_independent_share']:.0%}, threshold "
        f"{DEFAULT_THRESHOLD:.0%}); {figures['copies_detected']} of {len(COPIES)} disguised "
        f"copies flagged ({detected}); "
        f"{figures['starter_pairs']} pairs involve an untouched starter; {seconds:.1f} s"
    )
    return figures


def main() -> int:
    figures: dict[str, object] = {"similarity": similarity()}
    out = REPO / "bench" / "out" / "batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    problem = docker_problem()
    if problem:
        out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"batch throughput needs the docker runner: {problem}")
        return 2
    from grader.runners.docker import DockerRunner

    lab = find_lab("calc", FIXTURES / "labs")
    runner = DockerRunner()
    console = Console(stderr=True)
    figures |= {
        "lab": lab.slug,
        "submissions": COHORT,
        "runner": "docker",
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    with tempfile.TemporaryDirectory(prefix="mlskills-bench-batch-") as tmp:
        subs = build_cohort(Path(tmp))
        grade_lab(lab, submission=subs / "learner01", runner=runner)  # builds the image if needed
        statuses: dict[int, dict[str, int]] = {}
        per_minute: dict[int, float] = {}
        for jobs in (1, 2):
            started = time.perf_counter()
            rows = grade_cohort(
                lab=lab,
                submissions_dir=subs,
                out_dir=Path(tmp) / f"out-j{jobs}",
                runner=runner,
                jobs=jobs,
                console=console,
            )
            seconds = time.perf_counter() - started
            statuses[jobs] = dict(Counter(str(r.status) for r in rows))
            figures[f"j{jobs}_s"] = round(seconds, 2)
            per_minute[jobs] = COHORT / seconds * 60
            figures[f"j{jobs}_per_minute"] = round(per_minute[jobs], 1)
    if statuses[1] != statuses[2]:
        print(f"the two runs disagree: -j 1 {statuses[1]}, -j 2 {statuses[2]}")
        return 1
    figures["statuses"] = statuses[1]
    figures["ratio_j2_over_j1"] = round(per_minute[2] / per_minute[1], 2)
    for jobs in (1, 2):
        print(
            f"-j {jobs}: {COHORT} submissions in {figures[f'j{jobs}_s']} s = "
            f"{figures[f'j{jobs}_per_minute']} submissions/minute"
        )
    print(f"ratio -j 2 / -j 1: {figures['ratio_j2_over_j1']}  (statuses {statuses[1]})")
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
