"""The cicd lab's benchmark: the docker grade of the reference solution, before and after.

    python bench/cicd.py [--before-rev 08eadfa] [--rounds 2]

Grades ``solutions/cicd`` with the docker runner, alternating the repository as it was at
``--before-rev`` (exported with ``git archive`` into a temporary folder, graded with its
own grader and lab) and the working tree, ``--rounds`` times each. This machine's load
changes from minute to minute, so the figure that means something is the ratio within a
round, not either time. Reports each task's share too (the sum of its tests' durations).

Writes bench/out/cicd.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "cicd.json"


def grade(repo: Path, report: Path) -> dict[str, Any]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            "cicd",
            "--submission",
            "solutions/cicd",
            "--runner",
            "docker",
            "--json",
            str(report),
        ],
        cwd=repo,
        check=False,
        capture_output=True,
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    tasks = {
        str(t["id"]): round(sum(x.get("duration_s", 0.0) for x in t["tests"]), 1)
        for t in data["tasks"]
    }
    return {"duration_s": data["duration_s"], "score": data["score"], "tasks": tasks}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before-rev", default="08eadfa")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="cicd-bench-") as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.before_rev], cwd=ROOT, check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        for n in range(args.rounds):
            old = grade(before, Path(tmp) / f"before-{n}.json")
            new = grade(ROOT, Path(tmp) / f"after-{n}.json")
            load = os.getloadavg()[0]
            ratio = new["duration_s"] / old["duration_s"]
            rounds.append({"before": old, "after": new, "ratio": round(ratio, 2), "load": load})
            print(
                f"round {n + 1}: before {old['duration_s']:.1f} s, after "
                f"{new['duration_s']:.1f} s, ratio {ratio:.2f} (load {load:.1f})"
            )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"before_rev": args.before_rev, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
