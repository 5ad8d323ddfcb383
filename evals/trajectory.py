"""What the agent did, read from the record: the audit entries a run wrote, plus the read-only
calls a chat turn reports in its events (reads are not audited).

Audit actions map to calls: ``<tool>`` — done; ``<tool>.refused`` — refused by the tool (its
error code kept); ``guard.refused`` — refused by the guard before the tool ran;
``approval.requested`` — queued for a person; ``approval.rejected`` — a person said no.

The baseline (:class:`Snapshot`) is taken after setup: audit head, row counts of every table,
and a fingerprint per shipment, so completeness can be checked on the state, not on the agent's
word.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from record import audit
from record.store import Store

__all__ = [
    "COUNTED",
    "Call",
    "Snapshot",
    "calls_from_audit",
    "calls_from_events",
    "counts",
    "snapshot",
    "tool_kind",
]


@dataclass
class Call:
    """One tool call as the record (or the chat events) show it."""

    tool: str
    args: dict[str, Any]
    outcome: str  # done | queued | refused | read | rejected
    kind: str  # WRITE | READ | ? (unknown tool)
    source: str = "audit"  # audit | events
    seq: int | None = None
    actor: str | None = None
    role: str | None = None
    code: str | None = None  # refusal code
    detail: str | None = None  # refusal reason, approval id
    via_approval: bool = False  # executed because a person approved it

    def as_dict(self) -> dict[str, Any]:
        """Plain data for reports."""
        return asdict(self)


@dataclass
class Snapshot:
    """The record right before the agent runs."""

    audit_seq: int
    counts: dict[str, int]
    shipments: dict[str, str]
    approvals: set[str] = field(default_factory=set)


def tool_kind(name: str) -> str:
    """READ, WRITE, or ? for a name no tool has."""
    from tools.base import REGISTRY

    spec = REGISTRY.get(name)
    return str(spec.kind) if spec else "?"


COUNTED = (
    "shipment_holds", "quarantines", "investigations", "escalations", "messages", "plan_changes",
    "handoff_plans", "recalls", "notice_drafts", "verifications", "shipment_gates", "epod",
    "approvals",
)  # fmt: skip


def counts(store: Store) -> dict[str, int]:
    """Row counts of the tables agent actions write to (one query)."""
    have = {r["table_name"] for r in store.rows("SELECT table_name FROM duckdb_tables()")}
    tables = [t for t in COUNTED if t in have]
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in tables)
    return {r["t"]: int(r["n"]) for r in store.rows(sql)} if tables else {}


def snapshot(store: Store) -> Snapshot:
    """Take the baseline."""
    counts_now = counts(store)
    ships = {r["shipment_id"]: r["h"] for r in store.rows(
        "SELECT shipment_id, md5(CAST(s AS VARCHAR)) AS h FROM shipments s")}  # fmt: skip
    approvals = {r["approval_id"] for r in store.rows("SELECT approval_id FROM approvals")}
    return Snapshot(int(store.scalar("SELECT coalesce(max(seq), 0) FROM audit_log") or 0), counts_now, ships,
                    approvals)  # fmt: skip


def _guard_code(reason: str) -> str:
    if re.search(r"may not call", reason):
        return "forbidden"
    if "invalid arguments" in reason:
        return "invalid_arguments"
    if "there is no tool named" in reason:
        return "unknown_tool"
    return "precondition"


def calls_from_audit(store: Store, since_seq: int) -> tuple[list[Call], list[dict[str, Any]]]:
    """Calls recorded after ``since_seq``, and every entry (for the report)."""
    from tools.base import REGISTRY

    calls: list[Call] = []
    entries = []
    for e in audit.entries(store, since_seq=since_seq, limit=100_000):
        entries.append({"seq": e.seq, "actor": e.actor, "role": e.role, "action": e.action,
                        "subject": e.subject, "reason": e.reason, "model": e.model})  # fmt: skip
        inputs = e.inputs if isinstance(e.inputs, dict) else {}
        base: dict[str, Any] = {"seq": e.seq, "actor": e.actor, "role": e.role}
        if e.action in REGISTRY:
            calls.append(Call(e.action, inputs, "done", tool_kind(e.action), **base,
                              via_approval=str(e.idempotency_key or "").startswith("approval:")))  # fmt: skip
        elif e.action == "guard.refused":
            tool = str(inputs.get("tool", "?"))
            calls.append(Call(tool, dict(inputs.get("args") or {}), "refused", tool_kind(tool), **base,
                              code=_guard_code(e.reason or ""), detail=e.reason))  # fmt: skip
        elif e.action.endswith(".refused"):
            tool = e.action.removesuffix(".refused")
            result = e.result if isinstance(e.result, dict) else {}
            calls.append(Call(tool, inputs, "refused", tool_kind(tool), **base,
                              code=result.get("code", "refused"), detail=e.reason))  # fmt: skip
        elif e.action == "approval.requested":
            tool = str(inputs.get("tool", "?"))
            calls.append(Call(tool, dict(inputs.get("args") or {}), "queued", tool_kind(tool), **base,
                              detail=e.subject))  # fmt: skip
        elif e.action == "approval.rejected":
            tool = str(inputs.get("tool", "?"))
            calls.append(Call(tool, dict(inputs.get("args") or {}), "rejected", tool_kind(tool), **base,
                              detail=e.subject))  # fmt: skip
    return calls, entries


def calls_from_events(events: list[dict[str, Any]]) -> list[Call]:
    """Read-only calls a chat run reports (writes come from the audit log instead)."""
    calls: list[Call] = []
    pending: Call | None = None
    for event in events:
        kind = event.get("type")
        if kind == "tool_call":
            tool = str(event.get("tool"))
            pending = Call(
                tool, dict(event.get("args") or {}), "read", tool_kind(tool), source="events"
            )
            if pending.kind == "READ":
                calls.append(pending)
        elif pending is not None and pending.kind == "READ" and event.get("tool") == pending.tool:
            if kind in ("tool_error", "refused"):
                pending.outcome = "refused"
                pending.detail = str(event.get("error") or event.get("reason"))
            pending = None
    return calls
