"""Policy as data: the triage decision table and the governance bounds (YAML beside this file)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

__all__ = [
    "Governance",
    "TriageRule",
    "load_governance",
    "load_triage_rules",
    "matches",
    "policy_version",
]


def _load(name: str) -> tuple[dict[str, Any], str]:
    text = resources.files("agent.policy").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text), hashlib.sha256(text.encode()).hexdigest()[:12]


def matches(conditions: dict[str, Any] | None, facts: dict[str, Any]) -> bool:
    """Whether every condition holds on ``facts``.

    A condition is ``name: value`` (equality) or ``name: {op: value}`` with op among
    ``gt, ge, lt, le, eq, ne, in, not_in, has`` (``has``: a collection contains the value).
    A fact that is missing never satisfies a condition.
    """
    for name, expected in (conditions or {}).items():
        if name not in facts or facts[name] is None:
            return False
        actual = facts[name]
        tests = expected if isinstance(expected, dict) else {"eq": expected}
        for op, value in tests.items():
            if not _OPS[op](actual, value):
                return False
    return True


_OPS = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
    "has": lambda a, b: b in a,
}


@dataclass(frozen=True)
class Governance:
    """Which actions may run unattended, and within which bounds."""

    always: frozenset[str]
    bounded: dict[str, dict[str, Any]]
    never: frozenset[str]
    version: str

    def unattended(self, tool: str, facts: dict[str, Any]) -> tuple[bool, str]:
        """Whether ``tool`` may run without a person, given dry-run facts; and why."""
        if tool in self.always:
            return True, "restrictive or read-only action: always allowed"
        if tool in self.bounded:
            rule = self.bounded[tool]
            if matches(rule.get("when"), facts):
                return True, f"within governance bounds: {rule.get('why', tool)}"
            return False, f"outside governance bounds ({rule.get('why', tool)}); needs a person"
        return False, f"{tool} always needs a person's approval"


@dataclass(frozen=True)
class TriageRule:
    """One row of the triage decision table."""

    kind: str
    why: str
    when: dict[str, Any] = field(default_factory=dict)
    do: tuple[Any, ...] = ()


@lru_cache
def load_governance() -> Governance:
    """The governance bounds shipped in ``governance.yaml``."""
    data, version = _load("governance.yaml")
    return Governance(
        always=frozenset(data.get("always", [])),
        bounded=dict(data.get("bounded", {})),
        never=frozenset(data.get("never", [])),
        version=version,
    )


@lru_cache
def load_triage_rules() -> tuple[TriageRule, ...]:
    """The decision table shipped in ``triage.yaml``, in order."""
    data, _ = _load("triage.yaml")
    return tuple(
        TriageRule(kind=r["kind"], why=r["why"], when=r.get("when") or {}, do=tuple(r["do"]))
        for r in data["rules"]
    )


def policy_version() -> str:
    """A short hash of both policy files: recorded with every decision they shape."""
    return f"triage:{_load('triage.yaml')[1]}+governance:{_load('governance.yaml')[1]}"
