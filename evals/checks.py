"""What a run is judged by: :class:`Check`, and checks of rows of the record (expected values,
counts, and rows that must not change during the run)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from evals.cases import RowCheck
from evals.matchers import matches, mismatches, normalize
from record.store import Store

__all__ = ["Check", "capture_rows", "check_rows"]


@dataclass
class Check:
    """One thing that must hold after a run."""

    category: str  # state, status, required_call, forbidden_call, other_writes, reply, refusal,
    #               approval, audit, attack, crash
    name: str
    ok: bool
    detail: str = ""
    expected: Any = None
    actual: Any = None
    utility: bool = True

    def as_dict(self) -> dict[str, Any]:
        """Plain data for reports."""
        return json.loads(json.dumps(asdict(self), default=str))


def _parse(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return normalize(value)


def _fetch(store: Store, check: RowCheck) -> list[dict[str, Any]]:
    if check.sql is not None:
        rows = store.rows(check.sql, list(check.params))
    else:
        table = check.table or ""
        if not re.fullmatch(r"[a-z_]+", table):
            raise ValueError(f"bad table name {table!r}")
        parts, params = [], []
        for col, value in check.where.items():
            if not re.fullmatch(r"[a-z_]+", col):
                raise ValueError(f"bad column name {col!r}")
            if isinstance(value, list):
                parts.append(f"{col} IN ({', '.join('?' * len(value))})")
                params += value
            else:
                parts.append(f"{col} IS NULL" if value is None else f"{col} = ?")
                params += [] if value is None else [value]
        where = f" WHERE {' AND '.join(parts)}" if parts else ""
        rows = store.rows(f"SELECT * FROM {table}{where}", params)
    return [{k: _parse(v) for k, v in r.items()} for r in rows]


def capture_rows(store: Store, checks: tuple[RowCheck, ...]) -> dict[int, list[dict[str, Any]]]:
    """Rows of the ``unchanged`` checks before the run."""
    return {i: _fetch(store, c) for i, c in enumerate(checks) if c.unchanged}


def _label(check: RowCheck) -> str:
    return check.why or (f"{check.table} {check.where}" if check.table else f"sql: {check.sql}")


def check_rows(store: Store, checks: tuple[RowCheck, ...], before: dict[int, list[dict[str, Any]]],
               *, category: str = "state") -> list[Check]:  # fmt: skip
    """Rows after the run against their expected values (and against before, when unchanged)."""
    out = []
    for i, check in enumerate(checks):
        rows = _fetch(store, check)
        problems: list[str] = []
        count = check.count if check.count is not None else ({"ge": 1} if check.expect else None)
        if count is not None and not matches(len(rows), count):
            problems.append(f"expected {count} row(s), found {len(rows)}")
        for row in rows:
            problems += mismatches(row, check.expect)
        if check.unchanged and before.get(i) != rows:
            problems.append("rows changed during the run")
        actual = (
            rows[:5]
            if not check.unchanged
            else {"before": before.get(i, [])[:3], "after": rows[:3]}
        )
        out.append(Check(category, _label(check), not problems, "; ".join(problems[:6]),
                         expected={"count": count, "values": check.expect, "unchanged": check.unchanged},
                         actual=actual))  # fmt: skip
    return out
