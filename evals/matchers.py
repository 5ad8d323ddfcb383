"""Value matchers used by cases for tool arguments and rows.

A matcher is one of:

- a plain value: equality (datetimes compare as ISO strings, so ``"2026-11-26T14:00"`` matches
  ``datetime(2026, 11, 26, 14, 0)``; numbers compare numerically);
- a mapping of operators: ``eq, ne, in, not_in, gt, ge, lt, le, contains, not_contains,
  startswith, regex, icontains, absent, present, len, any_of`` — all must hold;
- a mapping without operators: the actual value must be a mapping whose keys match (a subset);
- a list: the actual value must be a list of the same length, item by item.

:func:`mismatches` explains every failed key, so a report can show expected against actual.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

__all__ = ["OPERATORS", "matches", "mismatches", "normalize"]

_MISSING = object()
OPERATORS = frozenset({
    "eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "contains", "not_contains",
    "startswith", "regex", "icontains", "absent", "present", "len", "any_of",
})  # fmt: skip


def normalize(value: Any) -> Any:
    """Plain JSON-like data: datetimes as ISO strings, JSON text parsed, tuples as lists."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if hasattr(value, "model_dump"):
        return normalize(value.model_dump(mode="json"))
    return value


def _iso(value: Any) -> str | None:
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?", value):
        try:
            return datetime.fromisoformat(value.replace(" ", "T")).isoformat()
        except ValueError:
            return None
    return None


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return abs(actual - expected) < 1e-9
    if isinstance(actual, str) and isinstance(expected, str):
        a, e = _iso(actual), _iso(expected)
        if a and e:
            return a == e
    return bool(actual == expected)


def _text(actual: Any) -> str:
    return actual if isinstance(actual, str) else json.dumps(actual, default=str, sort_keys=True)


def _op(name: str, actual: Any, arg: Any) -> bool:
    if name == "absent":
        return (actual is _MISSING or actual is None) == bool(arg)
    if name == "present":
        return (actual is not _MISSING and actual is not None) == bool(arg)
    if actual is _MISSING:
        return name in ("ne", "not_in", "not_contains")
    actual_o, arg_o = _ordered(actual, arg)
    checks = {
        "eq": lambda: _equal(actual, arg),
        "ne": lambda: not _equal(actual, arg),
        "in": lambda: any(_equal(actual, v) for v in arg),
        "not_in": lambda: not any(_equal(actual, v) for v in arg),
        "gt": lambda: actual is not None and actual_o > arg_o,
        "ge": lambda: actual is not None and actual_o >= arg_o,
        "lt": lambda: actual is not None and actual_o < arg_o,
        "le": lambda: actual is not None and actual_o <= arg_o,
        "contains": lambda: _contains(actual, arg),
        "not_contains": lambda: not _contains(actual, arg),
        "icontains": lambda: str(arg).lower() in _text(actual).lower(),
        "startswith": lambda: _text(actual).startswith(str(arg)),
        "regex": lambda: re.search(arg, _text(actual)) is not None,
        "len": lambda: hasattr(actual, "__len__") and matches(len(actual), arg),
        "any_of": lambda: any(matches(actual, m) for m in arg),
    }
    return checks[name]()


def _ordered(actual: Any, arg: Any) -> tuple[Any, Any]:
    """Times written differently ("…T14:00" and "…T14:00:00") compare as times."""
    a, b = _iso(actual), _iso(arg)
    return (a, b) if a and b else (actual, arg)


def _contains(actual: Any, arg: Any) -> bool:
    if isinstance(actual, list):
        return any(
            _equal(item, arg) or (isinstance(arg, dict) and matches(item, arg)) for item in actual
        )
    return str(arg) in _text(actual)


def _is_ops(expected: Any) -> bool:
    return isinstance(expected, dict) and bool(expected) and set(expected) <= OPERATORS


def mismatches(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Why ``actual`` does not match ``expected``: one line per failed key (empty: it matches)."""
    actual = normalize(actual) if actual is not _MISSING else actual
    if _is_ops(expected):
        failed = [op for op, arg in expected.items() if not _op(op, actual, arg)]
        return [f"{path or 'value'}: expected {op} {arg!r}, got {_show(actual)}"
                for op, arg in expected.items() if op in failed]  # fmt: skip
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path or 'value'}: expected a mapping, got {_show(actual)}"]
        out: list[str] = []
        for key, sub in expected.items():
            out += mismatches(actual.get(key, _MISSING), sub, f"{path}.{key}" if path else key)
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path or 'value'}: expected {expected!r}, got {_show(actual)}"]
        out = []
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            out += mismatches(a, e, f"{path}[{i}]")
        return out
    if actual is _MISSING:
        return [f"{path or 'value'}: missing (expected {expected!r})"]
    return (
        []
        if _equal(actual, expected)
        else [f"{path or 'value'}: expected {expected!r}, got {_show(actual)}"]
    )


def matches(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` satisfies the matcher ``expected``."""
    return not mismatches(actual, expected)


def _show(value: Any) -> str:
    if value is _MISSING:
        return "nothing (missing)"
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def missing_key(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Keys a matcher expects present that the actual arguments lack."""
    return [k for k, v in expected.items()
            if k not in actual and not (_is_ops(v) and ("absent" in v or "ne" in v or "not_in" in v))]  # fmt: skip
