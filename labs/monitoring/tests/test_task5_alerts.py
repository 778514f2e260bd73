"""Task 5: multi-window, multi-burn-rate SLO alerts (rules/slo_alerts.yml).

Your rules file comes back from the worker as text; the tests write it into a folder of
their own, beside a ``promtool test rules`` file they wrote, and run Debian's promtool on
synthetic series: two replicas, 100 requests a minute each unless a test says otherwise.

The SLO: 99.9 % of requests succeed over 30 days (error budget 0.1 %).

Requirement sentences, and the test that fails when each alone is broken:

- The rules file is valid Prometheus rules: test_rules_file_is_valid
- A fast burn (5 % errors, 50 times the budget) pages within 30 minutes:
  test_a_fast_burn_pages
- A one-minute blip does not page (a long window confirms a short one):
  test_a_short_blip_does_not_page
- Alerts follow the error ratio, not the number of errors:
  test_alerts_follow_the_error_ratio_not_the_error_count
- The page stops within 35 minutes of the errors stopping (a short window resets it):
  test_the_page_stops_soon_after_the_errors_stop
- One page for the fleet, labelled only severity="page": test_one_page_for_the_whole_fleet
- ... every window's ratio summed over versions too: test_ratio_kept_per_version
- The 6 h / 30 m page pair uses 6 x the budget: test_six_hour_page_at_fourteen_x
- A slow burn (2 times the budget) opens a ticket and does not page:
  test_a_slow_burn_opens_a_ticket_and_does_not_page
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.task(5)

RULES = "rules/slo_alerts.yml"
FAST, SLOW = "ModelErrorBudgetFastBurn", "ModelErrorBudgetSlowBurn"
PAGE, TICKET = [{"exp_labels": {"severity": "page"}}], [{"exp_labels": {"severity": "ticket"}}]


@pytest.fixture
def rules_text(bridge: Any) -> str:
    text = bridge.read_text(RULES)
    if text is None:
        pytest.fail(f"MISSING FILE: {RULES} is not in your submission.", pytrace=False)
    return str(text)


def counter_values(segments: list[tuple[int, float]], per_minute: float) -> tuple[str, str]:
    """Cumulative requests and errors, one sample a minute, for (minutes, error ratio) runs."""
    requests, errors = [0.0], [0.0]
    for minutes, ratio in segments:
        for _ in range(minutes):
            requests.append(requests[-1] + per_minute)
            errors.append(errors[-1] + per_minute * ratio)
    return " ".join(f"{v:.6g}" for v in requests), " ".join(f"{v:.6g}" for v in errors)


def fleet(
    segments: dict[str, list[tuple[int, float]]], per_minute: float = 100.0
) -> list[dict[str, str]]:
    """Input series for replicas named by ``segments``' keys."""
    series = []
    for instance, runs in segments.items():
        requests, errors = counter_values(runs, per_minute)
        labels = f'instance="{instance}", job="model", model_version="v1"'
        series.append({"series": f"predict_requests_total{{{labels}}}", "values": requests})
        series.append({"series": f"predict_errors_total{{{labels}}}", "values": errors})
    return series


def both(runs: list[tuple[int, float]]) -> dict[str, list[tuple[int, float]]]:
    return {"a": runs, "b": runs}


def without_annotations(rules_text: str) -> str:
    """The rules without their annotations (a summary, a runbook link: welcome, but
    promtool would compare them with the tests' expected alerts, which have none)."""
    try:
        parsed = yaml.safe_load(rules_text)
        for group in parsed["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        return rules_text  # promtool says what is wrong with it
    return str(yaml.safe_dump(parsed, sort_keys=False))


def promtool(tmp_path: Path, rules_text: str, tests: list[dict[str, Any]]) -> str:
    """Run ``promtool test rules`` on the tests' copy of the rules; '' when it passes."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: sudo apt-get install prometheus", pytrace=False)
    (tmp_path / "slo_alerts.yml").write_text(without_annotations(rules_text), encoding="utf-8")
    spec = {"rule_files": ["slo_alerts.yml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    proc = subprocess.run(
        [binary, "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode == 0:
        return ""
    return (proc.stdout + proc.stderr).strip()[-1500:]


def alert_test(series: list[dict[str, str]], checks: list[tuple[int, str, list[Any]]]) -> dict:
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": f"{minute}m", "alertname": name, "exp_alerts": expected}
            for minute, name, expected in checks
        ],
    }


def test_rules_file_is_valid(tmp_path, rules_text):
    (tmp_path / "slo_alerts.yml").write_text(rules_text, encoding="utf-8")
    proc = subprocess.run(
        [shutil.which("promtool") or "promtool", "check", "rules", "slo_alerts.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"promtool check rules failed:\n{proc.stdout}{proc.stderr}"


def test_a_fast_burn_pages(tmp_path, rules_text):
    series = fleet(both([(180, 0.0001), (120, 0.05)]))
    failed = promtool(tmp_path, rules_text, [alert_test(series, [(210, FAST, PAGE)])])
    assert not failed, (
        "5 % of requests failing (50 times the 0.1 % budget) for 30 minutes did not raise "
        f"exactly one {FAST} with severity=page. At this rate the month's budget is gone "
        f"in 14 hours. promtool said:\n{failed}"
    )


@pytest.mark.hint("Each page condition is a long window AND a short one: 1h with 5m, 6h with 30m.")
def test_a_short_blip_does_not_page(tmp_path, rules_text):
    series = fleet(both([(180, 0.0001), (1, 0.2), (60, 0.0001)]))
    checks = [(m, FAST, []) for m in (183, 184, 185, 186)]
    failed = promtool(tmp_path, rules_text, [alert_test(series, checks)])
    assert not failed, (
        "One minute of 20 % errors (0.7 % of the hour's requests) paged. A 5-minute window "
        "alone sees 4 % errors and wakes someone for a blip that is over before they log "
        "in; require the long window (1 h) to agree. promtool said:\n" + failed
    )


def test_alerts_follow_the_error_ratio_not_the_error_count(tmp_path, rules_text):
    quiet = fleet(both([(180, 0.0001), (60, 0.3)]), per_minute=2.0)
    busy = fleet(both([(240, 0.0005)]), per_minute=10_000.0)
    failed = promtool(
        tmp_path,
        rules_text,
        [alert_test(quiet, [(215, FAST, PAGE)]), alert_test(busy, [(215, FAST, [])])],
    )
    assert not failed, (
        "A quiet hour at 2 requests a minute with 30 % failing must page; a busy one at "
        "10,000 a minute with 0.05 % failing (10 errors a minute, half the budget's pace) "
        "must not. A threshold on the number of errors gets both wrong: alert on errors / "
        "requests against the budget. promtool said:\n" + failed
    )


def test_the_page_stops_soon_after_the_errors_stop(tmp_path, rules_text):
    series = fleet(both([(180, 0.0001), (60, 0.05), (120, 0.0001)]))
    failed = promtool(
        tmp_path, rules_text, [alert_test(series, [(230, FAST, PAGE), (275, FAST, [])])]
    )
    assert not failed, (
        "An hour of 5 % errors ended at minute 240; at minute 275 the page was still "
        "firing (or it never fired at 230). With long windows only, the page fires for a "
        "budget already spent: the short window (5 m with 1 h, 30 m with 6 h) lets it "
        "resolve once the errors stop. promtool said:\n" + failed
    )


def test_one_page_for_the_whole_fleet(tmp_path, rules_text):
    series = fleet({"a": [(180, 0.0001), (60, 0.10)], "b": [(240, 0.0001)]})
    failed = promtool(tmp_path, rules_text, [alert_test(series, [(225, FAST, PAGE)])])
    assert not failed, (
        "Replica a failed 10 % of its requests and b none: the fleet burns 5 % and must "
        "raise one page with the labels {severity: page} and nothing else. A ratio per "
        "instance (or without sum) pages once per replica and leaves the on-call to "
        "deduplicate. promtool said:\n" + failed
    )


def test_a_slow_burn_opens_a_ticket_and_does_not_page(tmp_path, rules_text):
    series = fleet(both([(24 * 60, 0.002)]))
    checks = [(22 * 60, SLOW, TICKET), (22 * 60, FAST, [])]
    failed = promtool(tmp_path, rules_text, [alert_test(series, checks)])
    assert not failed, (
        "0.2 % errors for a day (twice the budget's pace: the month's budget gone in 15 "
        f"days) must open a ticket ({SLOW}, severity=ticket) and not page. promtool "
        "said:\n" + failed
    )


def test_six_hour_page_at_fourteen_x(tmp_path, rules_text):
    series = fleet(both([(360, 0.0001), (300, 0.01)]))
    failed = promtool(tmp_path, rules_text, [alert_test(series, [(650, FAST, PAGE)])])
    assert not failed, (
        "1 % of requests failing (10 times the budget) for almost five hours did not page. "
        "The 1 h window never reaches 14.4 x the budget, but the 6 h one passes 6 x within "
        "four hours: the second page condition is 6 h AND 30 m above 6 x the budget (5 % of "
        "the month's budget spent), not another 14.4 x. promtool said:\n" + failed
    )


def test_ratio_kept_per_version(tmp_path, rules_text):
    stable = fleet({"a": [(360, 0.0001), (30, 0.0001)]})
    canary = [
        {k: v.replace('model_version="v1"', 'model_version="v2"') for k, v in s.items()}
        for s in fleet({"b": [(360, 0.0001), (30, 0.10)]})
    ]
    failed = promtool(tmp_path, rules_text, [alert_test(stable + canary, [(388, FAST, PAGE)])])
    assert not failed, (
        "A canary on v2 (replica b) failed 10 % of its requests for half an hour beside a "
        "healthy v1 (replica a): the fleet burns 5 %, and the 1 h and 5 m windows both pass "
        "14.4 x the budget, so exactly one page with {severity: page} is expected. Every "
        "window's ratio is the whole fleet's, summed over replicas and versions alike: a "
        "ratio kept per version carries a label the other windows lack, and `and` matches "
        "nothing (or pages once per version). promtool said:\n" + failed
    )
