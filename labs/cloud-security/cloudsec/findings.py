"""What the policy auditor reports (given: do not edit; the grader uses this copy).

A :class:`Finding` names the rule that fired, how bad it is, a reason a human can act
on, and the index of the statement it fired on. ``RULE_SEVERITY`` fixes the severity of
each rule, so that every auditor in this lab ranks problems the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

__all__ = [
    "PRIVILEGE_ESCALATION_ACTIONS",
    "RULE_SEVERITY",
    "UNSCOPED_ACTIONS",
    "Finding",
    "Rule",
    "Severity",
]


class Severity(IntEnum):
    """Ordered, so that ``max(f.severity for f in findings)`` is the worst problem."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class Rule(StrEnum):
    ADMIN_ACTION = "admin-action"  # Allow with Action "*"
    SERVICE_WILDCARD = "service-wildcard"  # Allow with "s3:*", "iam:*", …
    RESOURCE_STAR = "resource-star"  # Allow on Resource "*" for actions that can be scoped
    ALLOW_NOT_ACTION = "allow-not-action"  # Allow + NotAction: everything but a few actions
    ALLOW_NOT_RESOURCE = "allow-not-resource"  # Allow + NotResource: everything but a few ARNs
    PUBLIC_PRINCIPAL = "public-principal"  # Allow to Principal "*" with no Condition
    PASSROLE_ANY = "passrole-any"  # iam:PassRole on Resource "*"
    PRIVILEGE_ESCALATION = "privilege-escalation"  # actions that let a holder grant itself more


RULE_SEVERITY: dict[Rule, Severity] = {
    Rule.ADMIN_ACTION: Severity.CRITICAL,
    Rule.PUBLIC_PRINCIPAL: Severity.CRITICAL,
    Rule.SERVICE_WILDCARD: Severity.HIGH,
    Rule.ALLOW_NOT_ACTION: Severity.HIGH,
    Rule.ALLOW_NOT_RESOURCE: Severity.HIGH,
    Rule.PASSROLE_ANY: Severity.HIGH,
    Rule.PRIVILEGE_ESCALATION: Severity.HIGH,
    Rule.RESOURCE_STAR: Severity.MEDIUM,
}

# Lower-case, because IAM action names are case-insensitive. Each one lets its holder give
# itself (or a principal it controls) more permissions than it was granted.
PRIVILEGE_ESCALATION_ACTIONS: frozenset[str] = frozenset(
    {
        "iam:createpolicyversion",
        "iam:setdefaultpolicyversion",
        "iam:putuserpolicy",
        "iam:putrolepolicy",
        "iam:putgrouppolicy",
        "iam:attachuserpolicy",
        "iam:attachrolepolicy",
        "iam:attachgrouppolicy",
        "iam:createaccesskey",
        "iam:updateassumerolepolicy",
    }
)

# A few actions that support no resource-level scoping: for them Resource "*" is the only
# correct value, and flagging it would be noise. The full, authoritative list is the
# "Service Authorization Reference" in the AWS docs (column "Resource types" left empty).
UNSCOPED_ACTIONS: frozenset[str] = frozenset(
    {
        "s3:listallmybuckets",
        "sts:getcalleridentity",
        "cloudwatch:putmetricdata",
        "ec2:describeinstances",
        "ec2:describesubnets",
        "ec2:describevpcs",
        "ec2:describesecuritygroups",
        "kms:createkey",
        "kms:listkeys",
        "kms:listaliases",
        "secretsmanager:listsecrets",
        "secretsmanager:getrandompassword",
    }
)


@dataclass(frozen=True)
class Finding:
    rule: Rule
    severity: Severity
    reason: str  # what is wrong and what to do instead, naming the offending action/resource
    statement: int  # index of the statement in the policy's Statement list (0 for a dict)
