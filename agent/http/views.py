"""What the read routes assemble beyond a single tool call: triage runs, a shipment's custody,
approval decisions that resume a chat, and the console's KPIs (SQL over the record).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from agent import approvals, service
from agent.graphs.triage import build_triage_graph
from agent.runtime import Runtime
from record.errors import NotFoundError
from record.store import Store
from tools.base import ToolContext, call_tool
from tools.errors import PermissionDenied, ToolError

__all__ = [
    "decide_approval",
    "kpis",
    "read_tool",
    "shipment_custody",
    "triage_run",
    "triage_runs",
]

M = TypeVar("M", bound=BaseModel)


def read_tool(ctx: ToolContext, name: str, args: BaseModel | dict[str, Any], result: type[M]) -> M:
    """Run a READ tool for the caller (its roles and arguments are checked by ``call_tool``)."""
    return cast(M, call_tool(ctx, name, args))


def _run_row(row: dict[str, Any]) -> dict[str, Any]:
    summary = row.get("summary")
    return {**row, "summary": json.loads(summary) if isinstance(summary, str) else summary}


def triage_runs(store: Store, limit: int) -> list[dict[str, Any]]:
    """The latest runs, newest first, with their summaries."""
    rows = store.rows("SELECT * FROM triage_runs ORDER BY started_at DESC, run_id LIMIT ?", [limit])
    return [_run_row(r) for r in rows]


def triage_run(rt: Runtime, run_id: str) -> dict[str, Any]:
    """One run with the plans, verdicts and outcomes kept in its LangGraph state."""
    row = rt.store.row("SELECT * FROM triage_runs WHERE run_id = ?", [run_id])
    if row is None:
        raise NotFoundError(f"unknown triage run {run_id!r}; list runs with GET /triage/runs")
    state = build_triage_graph(rt).get_state({"configurable": {"thread_id": run_id}})
    values = state.values or {}
    decisions = {k: values.get(k, []) for k in ("plans", "verdicts", "outcomes")}
    return {**_run_row(row), **decisions}


def shipment_custody(ctx: ToolContext, shipment_id: str, limit: int) -> dict[str, Any]:
    """custody_trail of each top-level container of the shipment, merged in time order."""
    if ctx.store.row("SELECT 1 FROM shipments WHERE shipment_id = ?", [shipment_id]) is None:
        raise ToolError(
            f"unknown shipment {shipment_id!r}: check the id (shipments look like SHP-1042)",
            code="unknown_shipment",
        )
    containers = [
        r["container_id"]
        for r in ctx.store.rows(
            "SELECT container_id FROM containers WHERE shipment_id = ? AND parent_id IS NULL"
            " ORDER BY container_id LIMIT 50",
            [shipment_id],
        )
    ]
    events: dict[str, dict[str, Any]] = {}
    epods: dict[str, dict[str, Any]] = {}
    for container in containers:
        trail = call_tool(ctx, "custody_trail", {"identifier": container, "limit": limit})
        for event in trail.model_dump()["events"]:
            events.setdefault(event["event_id"], {**event, "container_id": container})
        for epod in trail.model_dump()["epods"]:
            epods.setdefault(epod["shipment_id"], epod)
    ordered = sorted(events.values(), key=lambda e: (e["event_time"], e["event_id"]))
    return {
        "shipment_id": shipment_id,
        "containers": containers,
        "events": ordered[:limit],
        "epods": list(epods.values()),
    }


def decide_approval(
    rt: Runtime,
    ctx: ToolContext,
    approval_id: str,
    *,
    approve: bool,
    reason: str | None,
    hold_thread: Callable[[str], AbstractContextManager[str]],
) -> dict[str, Any]:
    """Approve or reject; when a chat thread waits on this approval, resume it instead.

    Raises:
        NotFoundError: no such approval.
        PermissionDenied: the caller may not decide approvals.
        ConflictError: already decided the other way.
        ToolError: approving ran the tool and the record refused it (it stays pending).
    """
    row = approvals.get(ctx, approval_id)
    if ctx.role not in approvals.APPROVER_ROLES:
        raise PermissionDenied(
            f"{ctx.actor} ({ctx.role}) may not decide approvals; an ops_manager must"
        )
    thread = row.get("thread_id")
    if row["status"] != "pending" or not thread:
        return approvals.decide(ctx, approval_id, approve=approve, reason=reason)
    with hold_thread(thread):
        waiting = service.pending_interrupt(rt, thread, rt.settings.brain)
        if not waiting or waiting.get("approval_id") != approval_id:
            return approvals.decide(ctx, approval_id, approve=approve, reason=reason)
        outcome = service.resume_chat(
            rt,
            thread,
            decision="approve" if approve else "reject",
            actor=ctx.actor,
            role=ctx.role,
            reason=reason,
        )
    row = approvals.get(ctx, approval_id)
    failed = [e for e in outcome.get("events", []) if e.get("type") == "tool_error"]
    if row["status"] == "pending" and failed:
        raise ToolError(str(failed[-1].get("error")), code="refused")
    return {**row, "thread_reply": outcome.get("reply")}


_KPIS = """
WITH delivered AS (
    SELECT count(*) AS n, count(*) FILTER (WHERE delivered_at <= promised_end) AS on_time
    FROM shipments WHERE status = 'delivered' AND delivered_at IS NOT NULL
        AND promised_end IS NOT NULL),
temp_units AS (
    SELECT coalesce(sum(q.units_quarantined), 0) AS n FROM quarantines q
    LEFT JOIN exceptions e USING (exception_id)
    WHERE e.kind IN ('temp_excursion', 'temp_excursion_risk')
       OR q.reason ILIKE '%temperat%' OR q.reason ILIKE '%excursion%'),
gates AS (SELECT count(*) AS n, count(*) FILTER (WHERE passed) AS passed FROM shipment_gates),
first_action AS (
    SELECT e.exception_id, min(a.ts) AS acted_at, any_value(e.detected_at) AS detected_at
    FROM exceptions e JOIN audit_log a
      ON json_extract_string(a.inputs, '$.exception_id') = e.exception_id
    WHERE a.ts >= e.detected_at AND a.action NOT LIKE '%.refused' AND a.action <> 'guard.refused'
    GROUP BY e.exception_id)
SELECT d.n AS delivered, d.on_time,
       (SELECT count(*) FROM exceptions WHERE kind = 'temp_excursion') AS excursions,
       (SELECT n FROM temp_units) AS units_lost,
       g.n AS gates_run, g.passed AS gates_passed,
       (SELECT count(*) FROM first_action) AS acted_exceptions,
       (SELECT median(epoch(acted_at - detected_at) / 60.0) FROM first_action) AS median_minutes
FROM delivered d, gates g
"""


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def kpis(store: Store, now: datetime) -> dict[str, Any]:
    """On-time delivery, open exceptions by severity, excursions and units lost, verification
    pass rate and median minutes from detection to action — one SQL pass each."""
    row = store.row(_KPIS) or {}
    severities = {
        r["severity"]: r["n"]
        for r in store.rows(
            "SELECT severity, count(*) AS n FROM exceptions WHERE status <> 'resolved'"
            " GROUP BY severity"
        )
    }
    median = row.get("median_minutes")
    return {
        "as_of": now,
        "delivered": row["delivered"],
        "on_time": row["on_time"],
        "on_time_delivery_pct": _pct(row["on_time"], row["delivered"]),
        "open_exceptions": {s: severities.get(s, 0) for s in ("critical", "high", "medium", "low")},
        "excursions": row["excursions"],
        "units_lost": int(row["units_lost"]),
        "gates_run": row["gates_run"],
        "gates_passed": row["gates_passed"],
        "verification_pass_rate_pct": _pct(row["gates_passed"], row["gates_run"]),
        "acted_exceptions": row["acted_exceptions"],
        "median_minutes_to_action": None if median is None else round(float(median), 1),
    }
