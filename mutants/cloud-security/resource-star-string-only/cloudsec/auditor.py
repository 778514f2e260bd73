"""Task 2: a policy auditor."""

from __future__ import annotations

import json
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from cloudsec.findings import (
    PRIVILEGE_ESCALATION_ACTIONS,
    RULE_SEVERITY,
    UNSCOPED_ACTIONS,
    Finding,
    Rule,
)

__all__ = ["audit_policy"]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _covers(patterns: Iterable[str], action: str) -> bool:
    return any(fnmatchcase(action, pattern) for pattern in patterns)


def _is_public(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))


def audit_policy(document: dict[str, Any] | str) -> list[Finding]:
    """Audit one policy document (a dict, or its JSON text) and return every finding."""
    policy = json.loads(document) if isinstance(document, str) else document
    findings: list[Finding] = []

    def flag(rule: Rule, index: int, reason: str) -> None:
        findings.append(Finding(rule, RULE_SEVERITY[rule], reason, index))

    for index, statement in enumerate(_as_list(policy.get("Statement"))):
        # Only Allow grants anything; a wildcard Deny is a guardrail.
        if str(statement.get("Effect", "")).lower() != "allow":
            continue
        actions = [str(a).lower() for a in _as_list(statement.get("Action"))]

        if "NotAction" in statement:
            flag(
                Rule.ALLOW_NOT_ACTION,
                index,
                "Allow with NotAction grants every action except the listed ones, including "
                "services added later; list the actions you mean in Action instead.",
            )
        if "NotResource" in statement:
            flag(
                Rule.ALLOW_NOT_RESOURCE,
                index,
                "Allow with NotResource grants every resource except the listed ones, "
                "including ones created later; list the resources in Resource instead.",
            )
        if _is_public(statement.get("Principal")) and not statement.get("Condition"):
            flag(
                Rule.PUBLIC_PRINCIPAL,
                index,
                "Principal '*' with no Condition lets anyone, in any AWS account or none, "
                "use this statement; name the principals or add a Condition such as "
                "aws:PrincipalOrgID.",
            )
        for action in actions:
            if action == "*":
                flag(
                    Rule.ADMIN_ACTION,
                    index,
                    "Action '*' grants every action in every service: full administrator.",
                )
            elif action.endswith(":*"):
                flag(
                    Rule.SERVICE_WILDCARD,
                    index,
                    f"Action '{action}' grants every action of the service, including ones "
                    "that delete data or change permissions; list the actions needed.",
                )
        if statement.get("Resource") == "*":
            scopable = [a for a in actions if a not in UNSCOPED_ACTIONS]
            if scopable:
                flag(
                    Rule.RESOURCE_STAR,
                    index,
                    f"Resource '*' on {', '.join(scopable)}, which can be scoped to specific "
                    "ARNs; name the buckets, keys or roles the principal needs.",
                )
            if _covers(actions, "iam:passrole"):
                flag(
                    Rule.PASSROLE_ANY,
                    index,
                    "iam:PassRole on '*' lets the holder hand any role, admin included, to a "
                    "service it controls; name the role ARNs and add iam:PassedToService.",
                )
        escalating = sorted(a for a in PRIVILEGE_ESCALATION_ACTIONS if _covers(actions, a))
        if escalating:
            flag(
                Rule.PRIVILEGE_ESCALATION,
                index,
                f"{', '.join(escalating)} let the holder grant itself more permissions than "
                "this policy gives it; keep these for administrators.",
            )
    return findings
