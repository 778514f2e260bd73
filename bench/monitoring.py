"""The monitoring reference solution, replayed on the provided week of traffic.

1. Replays ``monitor_lab.week`` (seed 1, the lab's incident schedule) through the
   solution's ``Monitor`` and reports, per incident, the hours until it was named and the
   alerts on clean hours; draws the timeline as ``bench/out/monitoring/timeline.png``
   (tenure and charges medians, the share of positive labels, p99 latency, incidents
   shaded, alerts marked).
2. Measures the drift report's false-alarm rate on undrifted windows (10 features, 200
   rows each, 200 windows) with Benjamini-Hochberg and without any correction.

Prints both and writes bench/out/monitoring.json.

    python bench/monitoring.py [--seed 1] [--windows 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The solution holds only the submission files; the lab folder has the provided modules
# (and the package's __init__), so the package looks in the solution's folder first.
sys.path[:0] = [str(ROOT / "labs" / "monitoring")]
OUT = ROOT / "bench" / "out"


def _solution_first() -> None:
    import monitor_lab

    monitor_lab.__path__.insert(0, str(ROOT / "solutions" / "monitoring" / "monitor_lab"))


def replay(seed: int) -> dict[str, Any]:
    import numpy as np
    from monitor_lab import week
    from monitor_lab.incident import Monitor

    monitor = Monitor(week.reference(seed))
    batches = week.week(seed)
    started = time.perf_counter()
    alerts = [monitor.observe(b) for b in batches]
    seconds = time.perf_counter() - started
    incidents = []
    for inc in week.INCIDENTS:
        hours = [h for h in range(inc.start, inc.end) if inc.kind in alerts[h]]
        incidents.append(
            {
                "kind": inc.kind,
                "start": inc.start,
                "end": inc.end,
                "delay_h": hours[0] - inc.start if hours else None,
            }
        )
    clean = [
        (h, kinds)
        for h, kinds in enumerate(alerts)
        if kinds and not any(i.start <= h < i.end + 3 for i in week.INCIDENTS)
    ]
    series = {
        "tenure_median": [float(np.median(b["tenure_months"])) for b in batches],
        "charges_median": [float(np.median(b["monthly_charges"])) for b in batches],
        "label_rate": [float(np.mean(b["label"])) for b in batches],
        "latency_p99": [float(np.percentile(b["latency_ms"], 99)) for b in batches],
    }
    return {
        "incidents": incidents,
        "false_alarms": clean,
        "observe_ms_per_hour": seconds / len(batches) * 1000,
        "alerts": alerts,
        "series": series,
    }


def draw(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from monitor_lab import week

    colours = {
        "covariate_shift": "tab:blue",
        "unit_change": "tab:orange",
        "label_shift": "tab:green",
        "latency": "tab:red",
    }
    panels = [
        ("tenure_median", "tenure median (months)", "linear"),
        ("charges_median", "charges median", "log"),
        ("label_rate", "share of churned labels", "linear"),
        ("latency_p99", "p99 latency (ms)", "log"),
    ]
    fig, axes = plt.subplots(
        len(panels) + 1,
        1,
        figsize=(11, 9),
        sharex=True,
        gridspec_kw={"height_ratios": [1.2] + [2] * len(panels)},
    )
    hours = range(len(result["alerts"]))
    kinds = list(colours)
    for hour, raised in enumerate(result["alerts"]):
        for kind in raised:
            axes[0].plot(hour, kinds.index(kind), "s", color=colours[kind], markersize=3)
    axes[0].set_yticks(range(len(kinds)), kinds, fontsize=7)
    axes[0].set_ylim(-0.7, len(kinds) - 0.3)
    axes[0].set_title("A week replayed: incidents shaded, the monitor's alerts above")
    for inc in week.INCIDENTS:
        axes[0].axvspan(inc.start, inc.end, color=colours[inc.kind], alpha=0.12)
    for ax, (key, title, scale) in zip(axes[1:], panels, strict=True):
        ax.plot(hours, result["series"][key], color="0.2", linewidth=1)
        ax.set_yscale(scale)
        ax.set_ylabel(title, fontsize=8)
        for inc in week.INCIDENTS:
            ax.axvspan(inc.start, inc.end, color=colours[inc.kind], alpha=0.12)
    axes[-1].set_xlabel("hour of the week")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def false_alarm_rates(windows: int) -> dict[str, float]:
    import numpy as np
    from monitor_lab import drift

    rng = np.random.default_rng(999)
    features = [f"f{i}" for i in range(10)]
    reference = {f: rng.normal(0, 1, 2000).tolist() for f in features}
    corrected = uncorrected = 0
    for _ in range(windows):
        current = {f: rng.normal(0, 1, 200).tolist() for f in features}
        report = drift.drift_report(reference, current)
        corrected += any(r["drifted"] for r in report.values())
        uncorrected += any(r["p_value"] < 0.05 for r in report.values())
    return {
        "windows": windows,
        "benjamini_hochberg": corrected / windows,
        "no_correction": uncorrected / windows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--windows", type=int, default=200)
    args = parser.parse_args()
    _solution_first()
    result = replay(args.seed)
    png = OUT / "monitoring" / "timeline.png"
    draw(result, png)
    rates = false_alarm_rates(args.windows)
    print(f"week replayed (seed {args.seed}): {result['observe_ms_per_hour']:.1f} ms per hour")
    for inc in result["incidents"]:
        print(
            f"  {inc['kind']:16} hours {inc['start']:3}-{inc['end']:3}  named after "
            f"{inc['delay_h']} h"
        )
    print(f"  alerts on clean hours: {len(result['false_alarms'])}")
    print(
        f"drift, {rates['windows']} undrifted windows of 10 features: an alarm in "
        f"{rates['benjamini_hochberg']:.1%} with Benjamini-Hochberg, "
        f"{rates['no_correction']:.1%} with none"
    )
    figures = {
        "seed": args.seed,
        "incidents": result["incidents"],
        "false_alarms": len(result["false_alarms"]),
        "observe_ms_per_hour": result["observe_ms_per_hour"],
        "drift_false_alarm_rate": rates,
        "timeline_png": str(png.relative_to(ROOT)),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "monitoring.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {png.relative_to(ROOT)} and bench/out/monitoring.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
