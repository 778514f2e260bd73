"""Task 2: the policy auditor, checked against a corpus of good and bad policies.

The corpus lives in data/policies/: good/ holds policies that must produce no finding,
bad/ holds policies with known problems. The answer key, tests/answers/policies.json,
lists for each bad policy the rules that must fire and the rules that must not; it lives
with the tests, so it is never in the tree your code runs in. Each corpus policy is audited
as a reviewer would meet it, with its own Sid on every statement (a Sid changes nothing a
statement grants), so an auditor has to read the policy, not recognise the file.

Your auditor runs in the worker; each Finding it returns comes back as plain data (rule,
severity, reason, statement), converted by ``cloudsec_bridge.findings``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cloudsec.findings import RULE_SEVERITY, Rule, Severity
from conftest import ANSWERS, POLICIES_DIR, learner_function, load_policy, policy_statements

pytestmark = pytest.mark.task(2)

GOOD = sorted(p.name for p in (POLICIES_DIR / "good").glob("*.json"))
BAD = sorted(p.name for p in (POLICIES_DIR / "bad").glob("*.json"))
EXPECTED: dict[str, dict[str, Any]] = {
    name: value
    for name, value in json.loads((ANSWERS / "policies.json").read_text("utf-8")).items()
    if not name.startswith("_")
}
if set(BAD) != set(EXPECTED):  # a broken corpus is the lab's bug: refuse to run
    raise RuntimeError(f"tests/answers/policies.json and bad/ disagree: {set(BAD) ^ set(EXPECTED)}")


@dataclass(frozen=True)
class Reported:
    """One Finding your auditor returned, as plain data."""

    rule: str
    severity: Any
    reason: str
    statement: int


@dataclass(frozen=True)
class NotAFinding:
    """An item of the returned list that is not a cloudsec.findings.Finding."""

    text: str

    def __repr__(self) -> str:
        return self.text


class Returned(list[Any]):
    """What audit_policy returned: its findings, and the name of its type."""

    type_name = "list"


@pytest.fixture(scope="module")
def audit(learner: Any, module_bridge: Any) -> Callable[[Any], Returned]:
    audit_policy = learner_function(learner, "auditor", "audit_policy")

    def run(document: Any) -> Returned:
        described = module_bridge.findings(audit_policy(document))
        returned = Returned(
            Reported(item["rule"], item["severity"], item["reason"], item["statement"])
            if item["finding"]
            else NotAFinding(item["repr"])
            for item in described["items"]
        )
        returned.type_name = described["type"]
        return returned

    return run


def _run(audit: Callable[[Any], Returned], document: Any, label: str) -> list[Reported]:
    findings = audit(document)
    assert findings.type_name == "list", (
        f"audit_policy({label}) returned {findings.type_name}; expected a list of Finding."
    )
    for finding in findings:
        assert isinstance(finding, Reported), (
            f"audit_policy({label}) returned {finding!r}; build each item with "
            "cloudsec.findings.Finding(rule, severity, reason, statement)."
        )
    return list(findings)


def as_met(document: dict[str, Any], name: str) -> dict[str, Any]:
    """``document`` with a Sid of its own on every statement: what a reviewer meets in an
    account is never byte for byte the corpus file, and a Sid grants nothing."""
    changed = copy.deepcopy(document)
    statements = changed["Statement"]
    for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
        statement["Sid"] = f"Reviewed{index}{name.removesuffix('.json').title().replace('-', '')}"
    return changed


def _summary(findings: list[Reported]) -> str:
    return "; ".join(f"{f.rule} (statement {f.statement})" for f in findings) or "no findings"


@pytest.mark.parametrize("name", GOOD)
def test_good_policy_is_not_flagged(audit: Callable[[Any], Returned], name: str) -> None:
    document = as_met(load_policy(f"good/{name}"), name)
    findings = _run(audit, document, f"good/{name}")
    assert not findings, (
        f"audit_policy(good/{name}) reported {_summary(findings)}, but this policy is fine: "
        "only Allow statements grant anything (a wildcard Deny is a guardrail), a Principal "
        "'*' with a Condition is restricted, and the actions in UNSCOPED_ACTIONS can only take "
        "Resource '*'. An auditor that cries wolf gets switched off."
    )
    # The same policy with one admin statement added: an auditor that reports nothing on
    # everything would pass the check above; this one it cannot.
    widened = copy.deepcopy(document)
    statements = policy_statements(widened)
    widened["Statement"] = [*statements, {"Effect": "Allow", "Action": "*", "Resource": "*"}]
    found = {(f.rule, f.statement) for f in _run(audit, widened, f"good/{name} + Allow *:*")}
    assert ("admin-action", len(statements)) in found, (
        f"audit_policy(good/{name} with an 'Allow * on *' statement appended) reported "
        f"{sorted(found)}; expected an 'admin-action' finding at statement {len(statements)}. "
        "A clean report counts only from an auditor that reports what is there."
    )


@pytest.mark.parametrize("name", BAD)
def test_bad_policy_is_flagged(audit: Callable[[Any], Returned], name: str) -> None:
    document = as_met(load_policy(f"bad/{name}"), name)
    findings = _run(audit, document, f"bad/{name}")
    found = {str(f.rule) for f in findings}
    for rule in EXPECTED[name]["must"]:
        assert rule in found, (
            f"audit_policy(bad/{name}) reported {_summary(findings)}; expected a '{rule}' "
            f"finding. The policy: {json.dumps(document)}"
        )
    for rule in EXPECTED[name]["must_not"]:
        assert rule not in found, (
            f"audit_policy(bad/{name}) reported '{rule}', which does not apply to this policy "
            f"({json.dumps(document)}). A finding that is wrong teaches people to ignore them."
        )
    _check_statement_indices(findings, EXPECTED[name].get("at", {}), f"bad/{name}", document)


def _check_statement_indices(
    findings: list[Reported], at: dict[str, list[int]], label: str, document: Any
) -> None:
    for rule, indices in at.items():
        pointed = sorted({f.statement for f in findings if str(f.rule) == rule})
        assert pointed == sorted(indices), (
            f"audit_policy({label}) reported '{rule}' at statement(s) {pointed}; it belongs to "
            f"statement(s) {sorted(indices)}, counted from 0 over the whole Statement list, "
            f"Deny statements included. The policy: {json.dumps(document)}"
        )


@pytest.mark.parametrize("name", BAD)
def test_finding_has_severity_and_reason(audit: Callable[[Any], Returned], name: str) -> None:
    document = as_met(load_policy(f"bad/{name}"), name)
    statements = document["Statement"]
    count = len(statements) if isinstance(statements, list) else 1
    findings = _run(audit, document, f"bad/{name}")
    assert findings, f"audit_policy(bad/{name}) reported nothing; this policy has a problem."
    for f in findings:
        assert f.rule in set(Rule), f"Unknown rule {f.rule!r}; use the members of Rule."
        assert f.severity == RULE_SEVERITY[Rule(f.rule)], (
            f"A '{f.rule}' finding on bad/{name} has severity {f.severity!r}; RULE_SEVERITY "
            f"says {RULE_SEVERITY[Rule(f.rule)]!r}."
        )
        assert isinstance(f.reason, str) and len(f.reason.strip()) >= 20, (
            f"A '{f.rule}' finding on bad/{name} has reason {f.reason!r}; say what is wrong "
            "and what to do instead, in a sentence."
        )
        assert 0 <= f.statement < count, (
            f"A '{f.rule}' finding on bad/{name} points at statement {f.statement}; the policy "
            f"has {count} statement(s), numbered from 0."
        )


def test_admin_outranks_read_only(audit: Callable[[Any], Returned]) -> None:
    worst = {
        name: max((f.severity for f in audit(load_policy(f"bad/{name}"))), default=None)
        for name in (
            "aws-managed-AdministratorAccess.json",
            "aws-managed-AmazonS3ReadOnlyAccess.json",
        )
    }
    admin, read_only = worst.values()
    assert admin == Severity.CRITICAL and read_only is not None and read_only < admin, (
        f"Worst severity: AdministratorAccess {admin!r}, AmazonS3ReadOnlyAccess {read_only!r}. "
        "Admin must be CRITICAL and outrank read-only, or triage cannot tell them apart."
    )


def test_single_statement_dict_is_not_skipped(audit: Callable[[Any], Returned]) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"},
    }
    found = {str(f.rule) for f in audit(document)}
    assert "admin-action" in found, (
        "audit_policy() on a policy whose Statement is one dict (not a list) reported "
        f"{sorted(found)}; AWS accepts that shape, so normalise it to a list first."
    )


def test_action_case_is_ignored(audit: Callable[[Any], Returned]) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["IAM:CREATEACCESSKEY"],
                "Resource": "arn:aws:iam::123456789012:user/*",
            }
        ],
    }
    found = {str(f.rule) for f in audit(document)}
    assert "privilege-escalation" in found, (
        "audit_policy() did not flag 'IAM:CREATEACCESSKEY'. IAM action names are "
        "case-insensitive, so lower-case them before comparing."
    )


def test_reason_names_the_offending_action(audit: Callable[[Any], Returned]) -> None:
    findings = audit(load_policy("bad/privesc-UpdateAssumeRolePolicy.json"))
    reasons = " ".join(f.reason for f in findings if str(f.rule) == "privilege-escalation")
    assert "updateassumerolepolicy" in reasons.lower(), (
        f"The privilege-escalation reason was {reasons!r}; name the action that escalates, "
        "so the reader knows which line to remove."
    )


def test_json_text_is_accepted(audit: Callable[[Any], Returned]) -> None:
    text = (POLICIES_DIR / "bad" / "public-bucket-policy.json").read_text("utf-8")
    found = {str(f.rule) for f in audit(text)}
    assert "public-principal" in found, (
        f"audit_policy(<JSON text>) reported {sorted(found)}; accept the document as text "
        "too (json.loads it), as it comes from get_bucket_policy or a file."
    )


def test_input_document_is_not_modified(learner: Any, module_bridge: Any) -> None:
    document = load_policy("bad/aws-managed-IAMFullAccess.json")
    before = copy.deepcopy(document)
    audit_policy = learner_function(learner, "auditor", "audit_policy")
    # The document is audited in the worker; it comes back as it is after the call.
    document = module_bridge.argument_after(audit_policy, document)
    assert document == before, (
        "audit_policy() changed the document it was given; normalise a copy, because the "
        "caller may still apply or store the original."
    )


@pytest.mark.parametrize(
    "name", ["public-principal-aws-list.json", "public-principal-mixed-list.json"]
)
def test_principal_star_in_a_list_is_not_missed(
    audit: Callable[[Any], Returned], name: str
) -> None:
    document = load_policy(f"bad/{name}")
    found = {str(f.rule) for f in audit(document)}
    assert "public-principal" in found, (
        f"audit_policy(bad/{name}) reported {sorted(found)}. Its Principal is "
        f"{json.dumps(document['Statement'][-1]['Principal'])}: a '*' in the list of AWS "
        "principals means everyone, whatever else the list names. Normalise each principal "
        "type's value to a list before you look for '*'."
    )


@pytest.mark.parametrize("name", ["resource-star-in-a-list.json", "resource-star-mixed-list.json"])
def test_resource_star_in_a_list_is_not_missed(audit: Callable[[Any], Returned], name: str) -> None:
    document = load_policy(f"bad/{name}")
    found = {str(f.rule) for f in audit(document)}
    assert "resource-star" in found, (
        f"audit_policy(bad/{name}) reported {sorted(found)}. Its Resource is "
        f"{json.dumps(document['Statement'][-1]['Resource'])}: a '*' anywhere in the list "
        "grants every resource, and the scoped ARNs beside it restrict nothing. Normalise "
        "Resource to a list and look for '*' in it."
    )


def test_statement_index_that_skips_deny_statements_is_rejected(
    audit: Callable[[Any], Returned],
) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
            {
                "Sid": "ReadTrainingData",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::ml-training-data/train/*",
            },
            {"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"},
            {"Sid": "EverythingInS3", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        ],
    }
    findings = _run(audit, document, "a policy of Deny, Allow, Deny, Allow")
    assert findings, "audit_policy() reported nothing on Allow s3:* on Resource '*'."
    _check_statement_indices(
        findings,
        {"service-wildcard": [3], "resource-star": [3]},
        "a policy of Deny, Allow, Deny, Allow",
        document,
    )
    assert {f.statement for f in findings} == {3}, (
        f"audit_policy() reported {_summary(findings)}; only statement 3 (EverythingInS3) "
        "grants too much. A finding's index is how a reviewer finds the line to fix."
    )
