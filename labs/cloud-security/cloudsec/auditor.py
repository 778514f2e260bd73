"""Task 2: a policy auditor.

``audit_policy`` reads one IAM policy document and returns a list of
:class:`~cloudsec.findings.Finding`, one per problem, each with the severity from
``RULE_SEVERITY`` and a reason that names the offending action or resource. A good policy
gives an empty list.

Policies come in every shape AWS accepts, and the auditor must read them all:

* ``Statement`` is a list of statements, or a single statement given as a dict;
* ``Action``, ``NotAction``, ``Resource`` and ``NotResource`` are a string or a list;
* action names are case-insensitive: ``IAM:PassRole`` is ``iam:passrole``;
* ``Principal`` is ``"*"``, or a dict such as ``{"AWS": "*"}`` or ``{"Service": "…"}``.

Only ``Allow`` statements grant anything. A ``Deny`` with a wildcard is a guardrail, not
a problem, so it must not be flagged.
"""

from __future__ import annotations

from typing import Any

from cloudsec.findings import (  # noqa: F401  (the names you will need)
    PRIVILEGE_ESCALATION_ACTIONS,
    RULE_SEVERITY,
    UNSCOPED_ACTIONS,
    Finding,
    Rule,
    Severity,
)

__all__ = ["audit_policy"]


def audit_policy(document: dict[str, Any] | str) -> list[Finding]:
    """Audit one policy document (a dict, or its JSON text) and return every finding.

    For each ``Allow`` statement (``statement`` is its index):

    * ``Rule.ADMIN_ACTION`` when an action is ``"*"``;
    * ``Rule.SERVICE_WILDCARD`` when an action is ``"<service>:*"``;
    * ``Rule.RESOURCE_STAR`` when ``Resource`` contains ``"*"`` and at least one action
      is not in ``UNSCOPED_ACTIONS``;
    * ``Rule.ALLOW_NOT_ACTION`` / ``Rule.ALLOW_NOT_RESOURCE`` when it uses ``NotAction`` /
      ``NotResource``;
    * ``Rule.PUBLIC_PRINCIPAL`` when ``Principal`` is ``"*"`` (or ``{"AWS": "*"}``) and
      the statement has no ``Condition``;
    * ``Rule.PASSROLE_ANY`` when an action pattern covers ``iam:PassRole`` and
      ``Resource`` contains ``"*"``;
    * ``Rule.PRIVILEGE_ESCALATION`` when an action pattern covers one of
      ``PRIVILEGE_ESCALATION_ACTIONS``. Patterns count: ``iam:Put*Policy`` covers
      ``iam:PutRolePolicy`` (``fnmatch.fnmatchcase`` on lower-cased strings does this).
    """
    # TODO(student): normalise the document (JSON text, dict-or-list Statement,
    # string-or-list elements, case), skip Deny statements, then apply each rule above.
    # Build each finding as Finding(rule, RULE_SEVERITY[rule], reason, index).
    raise NotImplementedError("TODO(student): implement audit_policy")
