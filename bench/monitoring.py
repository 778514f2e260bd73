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

With ``--evidently`` it compares instead, on the same data, Evidently's DataDriftPreset
with the solution's ``drift_report``: undrifted windows against a small (500 rows, KS) and
a large (2,000 rows, Wasserstein) reference, a 0.3-sigma shift, and hours of the week.
Evidently is not in the lab's image (27 more packages with this repository's pins), so
run it from a venv of its own:

    python3.11 -m venv /tmp/ev && /tmp/ev/bin/pip install evidently==0.7.23 scipy duckdb
    /tmp/ev/bin/python bench/monitoring.py --evidently
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


def evidently_comparison(windows: int = 100) -> dict[str, Any]:
    """Evidently's DataDriftPreset and the solution's drift_report on the same samples."""
    import os
    import warnings

    os.environ.setdefault("DO_NOT_TRACK", "1")
    warnings.simplefilter("ignore")
    import numpy as np
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    from monitor_lab import drift, week

    def evidently(reference: dict[str, Any], current: dict[str, Any]) -> tuple[dict, float]:
        found = Report([DataDriftPreset()]).run(pd.DataFrame(current), pd.DataFrame(reference))
        columns, share = {}, 0.0
        for metric in found.dict()["metrics"]:
            config = metric["config"]
            if config["type"].endswith("DriftedColumnsCount"):
                share = float(metric["value"]["share"])
            elif config["type"].endswith("ValueDrift"):
                method, threshold, value = config["method"], config["threshold"], metric["value"]
                # p-value methods drift below the threshold, distances at or above it
                drifted = value < threshold if "p_value" in method else value >= threshold
                columns[config["column"]] = (bool(drifted), method)
        return columns, share

    def ours(reference: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
        return drift.drift_report(
            {k: list(v) for k, v in reference.items()}, {k: list(v) for k, v in current.items()}
        )

    rng = np.random.default_rng(999)
    features = [f"f{i}" for i in range(10)]
    result: dict[str, Any] = {}
    for rows in (500, 2000):
        reference = {f: rng.normal(0, 1, rows).tolist() for f in features}
        column = dataset = controlled = 0
        methods = set()
        for _ in range(windows):
            current = {f: rng.normal(0, 1, 200).tolist() for f in features}
            columns, share = evidently(reference, current)
            methods |= {method for _, method in columns.values()}
            column += any(flag for flag, _ in columns.values())
            dataset += share >= 0.5
            controlled += any(r["drifted"] for r in ours(reference, current).values())
        result[f"undrifted_reference_{rows}"] = {
            "windows": windows,
            "evidently_methods": sorted(methods),
            "evidently_any_column": column,
            "evidently_dataset_drift": dataset,
            "drift_report_any": controlled,
        }
    reference = {f: rng.normal(0, 1, 2000).tolist() for f in features}
    caught_evidently = caught_ours = 0
    for _ in range(20):
        current = {f: rng.normal(0.3 if f == "f3" else 0.0, 1, 300).tolist() for f in features}
        caught_evidently += evidently(reference, current)[0]["f3"][0]
        caught_ours += ours(reference, current)["f3"]["drifted"]
    result["shift_0.3_sd"] = {
        "windows": 20,
        "evidently": caught_evidently,
        "drift_report": caught_ours,
    }
    day = week.reference(1)
    columns = ["tenure_months", "monthly_charges", "channel", "label"]
    hours = {}
    for hour in (5, 35, 72, 105, 145):
        batch = week.batch(1, hour)
        flagged, share = evidently({c: day[c] for c in columns}, {c: batch[c] for c in columns})
        hours[hour] = {
            "drifted": sorted(c for c, (flag, _) in flagged.items() if flag),
            "share": share,
        }
    result["week_hours"] = hours
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--evidently", action="store_true", help="compare with Evidently")
    args = parser.parse_args()
    _solution_first()
    if args.evidently:
        compared = evidently_comparison()
        print(json.dumps(compared, indent=2))
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "monitoring-evidently.json").write_text(json.dumps(compared, indent=2) + "\n")
        return 0
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
