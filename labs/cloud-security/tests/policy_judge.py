"""The judge's own evaluator of IAM policy documents, for what moto does not enforce.

moto 5.2 stores a KMS key policy and a role's trust policy but evaluates neither: it
issues credentials for AssumeRoleWithWebIdentity whatever the token says, and lets every
caller use a key whatever its key policy says (it only honours a Deny of kms:DescribeKey).
So task 6 reads the policies back from moto and asks this module whether each request in
a table of requests would be allowed. Task 3 asks it the same about the bucket policy's
encryption conditions, which moto stores but does not evaluate either.

It follows the AWS policy evaluation logic for one policy, and only the parts that key
and trust policies need:

- a request is allowed when some ``Allow`` statement matches it and no ``Deny`` statement
  does; everything else is an implicit deny;
- a statement matches when its ``Principal``, ``Action`` (or ``NotAction``), ``Resource``
  (if it has one; trust policies have none) and every ``Condition`` match;
- ``Principal``: ``"*"``, or a map of ``AWS`` / ``Federated`` / ``Service`` to a string or a
  list; an account id means that account's root. **Simplification:** the account's root
  principal matches only a request made as the root. In AWS it delegates to the IAM
  policies of every principal in the account; the roles in task 6's tables have no IAM
  policy that mentions KMS or STS, so it would grant them nothing either;
- ``Action`` and ``Resource`` patterns with ``*`` and ``?``; actions case-insensitive;
- conditions: every operator in a statement must hold (AND), every key under an operator
  must hold (AND), and a key holds when the request's value matches any listed value
  (OR). Condition keys are case-insensitive, values case-sensitive (except the
  ``IgnoreCase`` and ``Bool`` operators). Supported: ``String(Not)Equals``,
  ``StringEqualsIgnoreCase``, ``String(Not)Like``, ``Arn(Not)Equals``, ``Arn(Not)Like``,
  ``Bool``, ``Null``, each with ``IfExists``, and ``ForAnyValue:``/``ForAllValues:`` on
  them. A key missing from the request fails a positive operator and satisfies a negated
  one (``StringNotEquals``), or any operator with ``IfExists``.

Anything else (``NotPrincipal``, another operator) is refused with :class:`Unsupported`:
the judge says it cannot evaluate the policy rather than guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ALLOW", "EXPLICIT_DENY", "IMPLICIT_DENY", "Request", "Unsupported", "decide"]

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allow", "explicit deny", "implicit deny"


class Unsupported(ValueError):
    """The policy uses something this evaluator does not implement."""


@dataclass(frozen=True)
class Request:
    """One request: who (``{"AWS": arn}``, ``{"Federated": arn}`` or ``{"Service": name}``),
    which action, on what, and the request context (condition keys and their values)."""

    principal: tuple[str, str]
    action: str
    resource: str = "*"
    context: dict[str, str | list[str]] = field(default_factory=dict)
    why: str = ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _pattern(text: str, ignore_case: bool = False) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(value: str, pattern: str, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def _principal_matches(principal: Any, request: Request) -> bool:
    kind, who = request.principal
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        raise Unsupported(f"Principal {principal!r} is neither '*' nor a map of principal types")
    for key, values in principal.items():
        if key not in ("AWS", "Federated", "Service", "CanonicalUser"):
            raise Unsupported(f"principal type {key!r}")
        if key != kind:
            continue
        for value in _as_list(values):
            value = str(value)
            if value == "*":
                return True
            if kind == "AWS" and re.fullmatch(r"\d{12}", value):
                value = f"arn:aws:iam::{value}:root"
            if value == who:
                return True
    return False


def _context(request: Request, key: str) -> list[str] | None:
    for name, value in request.context.items():
        if name.lower() == key.lower():
            return [str(v) for v in _as_list(value)]
    return None


_BASE = {
    "stringequals": (lambda v, p: v == p, False),
    "stringnotequals": (lambda v, p: v == p, True),
    "stringequalsignorecase": (lambda v, p: v.lower() == p.lower(), False),
    "stringnotequalsignorecase": (lambda v, p: v.lower() == p.lower(), True),
    "stringlike": (_like, False),
    "stringnotlike": (_like, True),
    "arnequals": (lambda v, p: v == p, False),
    "arnnotequals": (lambda v, p: v == p, True),
    "arnlike": (_like, False),
    "arnnotlike": (_like, True),
    "bool": (lambda v, p: v.lower() == p.lower(), False),
}


def _condition_holds(operator: str, key: str, wanted: Any, request: Request) -> bool:
    name = operator.lower()
    quantifier = ""
    if name.startswith(("foranyvalue:", "forallvalues:")):
        quantifier, _, name = name.partition(":")
    if_exists = name.endswith("ifexists")
    name = name.removesuffix("ifexists")
    values = _context(request, key)
    patterns = [str(w).lower() if isinstance(w, bool) else str(w) for w in _as_list(wanted)]
    if name == "null":
        if quantifier or if_exists:
            raise Unsupported(f"condition operator {operator!r}")
        absent = values is None
        return any((p.lower() == "true") == absent for p in patterns)
    if name not in _BASE:
        raise Unsupported(f"condition operator {operator!r}")
    test, negated = _BASE[name]
    if values is None:
        return if_exists or negated or quantifier == "forallvalues"

    def one(value: str) -> bool:
        hit = any(test(value, p) for p in patterns)
        return not hit if negated else hit

    if quantifier == "forallvalues":
        return all(one(v) for v in values)
    if quantifier == "foranyvalue" or len(values) == 1:
        return any(one(v) for v in values)
    raise Unsupported(f"{operator} on the multi-valued key {key} needs ForAnyValue/ForAllValues")


def _statement_matches(statement: dict[str, Any], request: Request) -> bool:
    if "NotPrincipal" in statement:
        raise Unsupported("NotPrincipal")
    if "Principal" in statement and not _principal_matches(statement["Principal"], request):
        return False
    action = request.action.lower()
    if "NotAction" in statement:
        if any(_like(action, str(p).lower()) for p in _as_list(statement["NotAction"])):
            return False
    elif not any(_like(action, str(p).lower()) for p in _as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(_like(request.resource, str(p)) for p in _as_list(statement["NotResource"])):
            return False
    elif "Resource" in statement and not any(
        _like(request.resource, str(p)) for p in _as_list(statement["Resource"])
    ):
        return False
    conditions = statement.get("Condition", {})
    if not isinstance(conditions, dict):
        raise Unsupported(f"Condition {conditions!r} is not a map")
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            raise Unsupported(f"Condition operator {operator!r} holds {tests!r}, not a map")
        for key, wanted in tests.items():
            if not _condition_holds(str(operator), str(key), wanted, request):
                return False
    return True


def decide(policy: dict[str, Any], request: Request) -> str:
    """``"allow"``, ``"explicit deny"`` or ``"implicit deny"`` for ``request``."""
    statements = _as_list(policy.get("Statement"))
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            raise Unsupported(f"statement {statement!r} is not a map")
        if not _statement_matches(statement, request):
            continue
        effect = str(statement.get("Effect"))
        if effect == "Deny":
            return EXPLICIT_DENY
        if effect == "Allow":
            allowed = True
        else:
            raise Unsupported(f"Effect {effect!r}")
    return ALLOW if allowed else IMPLICIT_DENY
