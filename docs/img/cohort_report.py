"""Make the README's screenshot of the cohort report: ``python docs/img/cohort_report.py``.

Builds a small cohort of the ``quota`` lab (``tests/fixtures/similarity``): correct
solutions written independently, a renamed copy of one of them, three with a typical
mistake (one of them copied), an untouched starter and a submission that cannot be
graded (a symlink). Grades
it with ``grade_cohort`` and the local runner, exactly as ``python -m grader batch`` does,
then renders ``report.html`` to ``docs/img/cohort-report.png`` through headless Chromium
(/usr/bin/chromium, driven by Playwright; no network).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402

from grader.batch import REPORT_HTML, grade_cohort  # noqa: E402
from grader.cohort import render_png  # noqa: E402
from grader.lab import load_lab  # noqa: E402
from grader.runners.local import LocalRunner  # noqa: E402

CORPUS = REPO / "tests" / "fixtures" / "similarity"
FILE = Path("quota") / "limits.py"
# learner → (source submission, [(text to replace, replacement)]): each mistake is one a
# learner makes, applied to an independent author's correct solution.
COHORT: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "amara": ("ana", []),
    "bruno": ("eve-copies-ana", []),  # ana's work, every variable renamed
    "chen": ("dmitri", []),
    "delphine": (  # backoff without the cap
        "ben",
        [("min(cap, base * (1 << n))", "base * (1 << n)")],
    ),
    "emeka": (  # percentile rank rounded down, and a date in the past is negative
        "chloe",
        [
            (
                "k = max(1, math.ceil(len(data) * q / 100.0))",
                "k = max(1, int(len(data) * q / 100.0))",
            ),
            ("return target - now if target > now else 0.0", "return target - now"),
        ],
    ),
    "farah": (  # chen's work, copied, with a bucket that fills beyond its capacity
        "dmitri",
        [
            (
                "level = min(capacity, level + rate * (t - clock))",
                "level = level + rate * (t - clock)",
            )
        ],
    ),
    "gosia": ("finn-starter", []),
}


def build(folder: Path) -> Path:
    subs = folder / "submissions"
    for learner, (source, edits) in COHORT.items():
        text = (CORPUS / "submissions" / source / FILE).read_text(encoding="utf-8")
        for old, new in edits:
            if old not in text:
                raise SystemExit(f"{learner}: {old!r} is not in {source}'s solution")
            text = text.replace(old, new)
        target = subs / learner / FILE
        target.parent.mkdir(parents=True)
        target.write_text(text, encoding="utf-8")
    # hugo's folder points at another learner's file: refused, an error row
    (subs / "hugo" / "quota").mkdir(parents=True)
    os.symlink(subs / "amara" / FILE, subs / "hugo" / FILE)
    return subs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", type=Path, default=REPO / "docs" / "img" / "cohort-report.png")
    parser.add_argument("--html", type=Path, help="also keep the report.html here")
    parser.add_argument("--width", type=int, default=1200)
    args = parser.parse_args()
    lab = load_lab(CORPUS / "labs" / "quota")
    with tempfile.TemporaryDirectory(prefix="mlskills-screenshot-") as tmp:
        subs = build(Path(tmp))
        out = Path(tmp) / "out"
        rows = grade_cohort(
            lab=lab,
            submissions_dir=subs,
            out_dir=out,
            runner=LocalRunner(),
            jobs=2,
            console=Console(file=io.StringIO()),
        )
        print(", ".join(f"{r.learner} {r.status} {r.score:g}" for r in rows))
        if args.html is not None:
            shutil.copyfile(out / REPORT_HTML, args.html)
        render_png(out / REPORT_HTML, args.png, width=args.width)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
