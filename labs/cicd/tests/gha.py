"""What GitHub Actions does with a workflow, for the task 5 tests (the tests' own code).

- ``evaluate(expression, contexts, status)``: a GitHub expression (``github.ref ==
  'refs/heads/main' && success()``), with GitHub's rules: loose equality, case-insensitive
  string comparison, ``&&``/``||`` that return an operand, and the status functions.
- ``job_runs(workflow, job_id, event, ref, needs_results)``: whether a job starts, given
  the results of the jobs it needs. A job-level ``if:`` without a status function gets
  an implicit ``success() &&`` in front; with ``always()`` it runs whatever ``needs:`` did.
- ``interpolate(text, contexts)``: ``${{ … }}`` inside a string (a concurrency group).
- ``step_plan(…)``: how GitHub would run a ``run:`` step (its shell command, folder and
  script), with a stand-in ``python`` that plays the gate. The learner's worker runs it
  (``cicd_bridge.run_step``): a learner's script never runs in the tests' process.

References: "Evaluate expressions in workflows and actions", "Using conditions to control
job execution", "Workflow syntax: defaults.run, jobs.<job_id>.steps[*].shell,
concurrency", docs.github.com.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "ExpressionError",
    "contexts_for",
    "evaluate",
    "interpolate",
    "job_runs",
    "shell_command",
    "step_env",
    "step_plan",
    "uses_status_function",
    "working_directory",
]

STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")
_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+)"
    r"|(?P<str>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[()\[\].,!<>*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


class ExpressionError(ValueError):
    """An expression GitHub would refuse."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"cannot read {text[pos : pos + 20]!r} in {text!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _truthy(value: Any) -> bool:
    if value is None or value is False or value == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    return True


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def _equal(a: Any, b: Any) -> bool:
    """GitHub's loose equality: strings ignore case, mixed types compare as numbers."""
    if type(a) is type(b) or (isinstance(a, int | float) and isinstance(b, int | float)):
        if isinstance(a, str):
            return a.casefold() == b.casefold()
        if isinstance(a, dict | list):
            return a is b
        return bool(a == b)
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return _number(a) == _number(b)


def _compare(a: Any, b: Any, op: str) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        x: Any = a.casefold()
        y: Any = b.casefold()
    else:
        x, y = _number(a), _number(b)
        if math.isnan(x) or math.isnan(y):
            return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Parser:
    def __init__(self, text: str, contexts: dict[str, Any], status: dict[str, bool]) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.contexts = contexts
        self.status = status
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'more'} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if _truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.equality()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.equality()
            value = right if _truthy(value) else value
        return value

    def equality(self) -> Any:
        value = self.comparison()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.comparison()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "<"), ("op", "<="), ("op", ">"), ("op", ">=")):
            op = self.take()[1]
            value = _compare(value, self.unary(), op)
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not _truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() in (("op", "."), ("op", "[")):
            op = self.take()[1]
            if op == ".":
                _kind, name = self.take()
                if name == "*":
                    value = list(value.values()) if isinstance(value, dict) else []
                    continue
                value = self._member(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = self._member(value, key)
        return value

    @staticmethod
    def _member(value: Any, key: Any) -> Any:
        if isinstance(value, dict):
            wanted = _text(key).casefold()
            for k, v in value.items():
                if str(k).casefold() == wanted:
                    return v
            return None
        if isinstance(value, list) and isinstance(key, int | float):
            index = int(key)
            return value[index] if 0 <= index < len(value) else None
        return None

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "num":
            return float(int(value, 16)) if value.lower().startswith("0x") else float(value)
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "op" and value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "name":
            lowered = value.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            if lowered == "null":
                return None
            if self.peek() == ("op", "("):
                return self.call(lowered)
            if value not in self.contexts:
                raise ExpressionError(f"unknown context {value!r} in {self.text!r}")
            return self.contexts[value]
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[Any] = []
        while self.peek() != ("op", ")"):
            args.append(self.or_())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        if name in STATUS_FUNCTIONS:
            return self.status[name]
        functions: dict[str, Callable[..., Any]] = {
            "contains": lambda hay, needle: (
                any(_equal(item, needle) for item in hay)
                if isinstance(hay, list)
                else _text(needle).casefold() in _text(hay).casefold()
            ),
            "startswith": lambda s, p: _text(s).casefold().startswith(_text(p).casefold()),
            "endswith": lambda s, p: _text(s).casefold().endswith(_text(p).casefold()),
            "format": lambda f, *a: re.sub(
                r"\{(\d+)\}", lambda m: _text(a[int(m.group(1))]), _text(f)
            ),
            "join": lambda items, sep=",": (
                _text(sep).join(_text(i) for i in items)
                if isinstance(items, list)
                else _text(items)
            ),
            "tojson": lambda v: repr(v),
            "fromjson": lambda v: __import__("json").loads(_text(v)),
            "hashfiles": lambda *a: "0" * 64,
        }
        if name not in functions:
            raise ExpressionError(f"unknown function {name}() in {self.text!r}")
        return functions[name](*args)


def _strip(expression: str) -> str:
    text = expression.strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", text, flags=re.S)
    return match.group(1) if match else text


def uses_status_function(expression: str) -> bool:
    return bool(re.search(r"\b(success|failure|always|cancelled)\s*\(", expression))


def evaluate(expression: Any, contexts: dict[str, Any], status: dict[str, bool]) -> Any:
    """The value of a GitHub expression (with or without ``${{ }}``)."""
    if isinstance(expression, bool):
        return expression
    return _Parser(_strip(str(expression)), contexts, status).parse()


def interpolate(text: Any, contexts: dict[str, Any]) -> str:
    """``text`` with each ``${{ … }}`` replaced by its value, as GitHub does in strings."""
    status = {"success": True, "failure": False, "always": True, "cancelled": False}
    return re.sub(
        r"\$\{\{(.*?)\}\}",
        lambda m: _text(evaluate(m.group(1), contexts, status)),
        str(text),
    )


def contexts_for(
    event: str,
    ref: str,
    *,
    run_id: int = 9001,
    sha: str = "a" * 40,
    needs: Any = None,
    secrets: dict[str, str] | None = None,
    steps: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The contexts of one run: a push or a pull request, on a ref."""
    ref_name = ref.rsplit("/", 1)[-1]
    github = {
        "event_name": event,
        "ref": ref,
        "ref_name": ref_name,
        "ref_type": "branch",
        "head_ref": "feature" if event == "pull_request" else "",
        "base_ref": "main" if event == "pull_request" else "",
        "sha": sha,
        "run_id": str(run_id),
        "run_number": str(run_id % 1000),
        "run_attempt": "1",
        "workflow": "model-ci",
        "job": "",
        "repository": "acme/churn",
        "repository_owner": "acme",
        "actor": "dev",
        "workspace": "/home/runner/work/churn/churn",
        "event": {},
    }
    return {
        "github": github,
        "env": {},
        "vars": {},
        "secrets": secrets or {},
        "inputs": {},
        "matrix": {},
        "strategy": {},
        "runner": {"os": "Linux", "temp": "/home/runner/work/_temp"},
        "needs": needs or {},
        "steps": steps or {},
    }


def step_env(
    workflow: dict[Any, Any], job: dict[Any, Any], step: dict[Any, Any], contexts: dict[str, Any]
) -> dict[str, str]:
    """The environment a step runs with: workflow, then job, then step ``env:`` (the most
    specific wins), each value's ``${{ }}`` evaluated in ``contexts``."""
    merged: dict[str, Any] = {}
    for source in (workflow.get("env"), job.get("env"), step.get("env")):
        if isinstance(source, dict):
            merged.update({str(k): v for k, v in source.items()})
    return {k: interpolate("" if v is None else v, contexts).strip() for k, v in merged.items()}


def job_runs(
    workflow: dict[Any, Any],
    job_id: str,
    event: str,
    ref: str,
    needs_results: dict[str, str],
) -> bool:
    """Whether GitHub starts ``job_id`` in this run, given the results of its needs."""
    job = workflow["jobs"][job_id]
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else list(needs or [])
    results = {n: needs_results.get(n, "success") for n in needs}
    failed = any(r == "failure" for r in results.values())
    cancelled = any(r == "cancelled" for r in results.values())
    status = {
        "success": not failed and not cancelled,
        "failure": failed,
        "always": True,
        "cancelled": False,
    }
    contexts = contexts_for(
        event, ref, needs={n: {"result": r, "outputs": {}} for n, r in results.items()}
    )
    condition = job.get("if")
    if condition is None or condition == "":
        return status["success"]
    text = condition if isinstance(condition, str) else str(condition).lower()
    value = _truthy(evaluate(text, contexts, status))
    if isinstance(condition, str) and uses_status_function(condition):
        return value
    return status["success"] and value


def working_directory(workflow: dict[Any, Any], job: dict[Any, Any], step: dict[Any, Any]) -> str:
    """The folder a ``run:`` step runs in, relative to the repository root."""
    for source in (
        step,
        ((job.get("defaults") or {}).get("run") or {}),
        ((workflow.get("defaults") or {}).get("run") or {}),
    ):
        folder = source.get("working-directory")
        if folder:
            return str(folder)
    return "."


def shell_command(workflow: dict[Any, Any], job: dict[Any, Any], step: dict[Any, Any]) -> list[str]:
    """The command GitHub runs a step's script with on Linux (``{0}`` is the script)."""
    shell = (
        step.get("shell")
        or ((job.get("defaults") or {}).get("run") or {}).get("shell")
        or ((workflow.get("defaults") or {}).get("run") or {}).get("shell")
    )
    if not shell:
        return ["bash", "-e", "{0}"]  # no pipefail: a failing command before `|` is lost
    shell = str(shell)
    known = {
        "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
        "sh": ["sh", "-e", "{0}"],
    }
    if shell in known:
        return known[shell]
    if "{0}" in shell:
        return shell.split()
    raise ExpressionError(f"shell {shell!r} is not one this check can run")


FAKE_PYTHON = """#!/bin/sh
# Plays python for a workflow step: records how it was called; `-m cicd_lab gate` exits
# with the status the test chose, as the real gate does for a rejected model.
printf '%s\\n' "$*" >> "$FAKE_CALLS"
case "$*" in
  *"-m cicd_lab gate"*) exit "$GATE_EXIT" ;;
  *"-m cicd_lab rollout"*) exit "$ROLLOUT_EXIT" ;;
esac
exit 0
"""


def step_plan(
    workflow: dict[Any, Any], job: dict[Any, Any], step: dict[Any, Any], *, gate_exit: int
) -> dict[str, Any]:
    """How GitHub would run a ``run:`` step, as plain data for ``cicd_bridge.run_step``.

    The script is the learner's, so it runs in the learner's worker, never here. ``${{ }}``
    expressions become a placeholder; ``python`` is a stand-in that plays the gate.
    """
    return {
        "script": re.sub(r"\$\{\{.*?\}\}", "x", str(step.get("run", "")), flags=re.S),
        "command": shell_command(workflow, job, step),
        "working_directory": working_directory(workflow, job, step),
        "fake_python": FAKE_PYTHON,
        "env": {"GATE_EXIT": str(gate_exit), "ROLLOUT_EXIT": "0"},
    }
