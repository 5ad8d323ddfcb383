"""Approvals: permissive actions waiting for an operations manager.

A queued approval holds the exact tool call. Approving runs it through ``call_tool`` with the
idempotency key ``approval:<id>``, so approving twice (or resuming after a crash) never repeats
the effect. Rejecting reopens the exception; the next triage escalates instead of re-proposing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agent.brains.base import Proposal
from record import audit
from record.audit import canonical_json
from record.errors import ConflictError, NotFoundError
from tools.base import ToolContext, call_tool, get_tool
from tools.errors import PermissionDenied, ToolError

__all__ = ["APPROVER_ROLES", "decide", "get", "list_approvals", "queue"]

APPROVER_ROLES = frozenset({"ops_manager"})


def _approval_id(proposal: Proposal, origin: str) -> str:
    digest = hashlib.sha256(canonical_json([origin, proposal.as_dict()]).encode()).hexdigest()
    return f"APR-{digest[:10]}"


def queue(
    ctx: ToolContext, proposal: Proposal, *, origin: str, why: str, thread_id: str | None = None
) -> str:
    """Queue ``proposal`` for approval (idempotent for the same origin and call); return its id."""
    approval_id = _approval_id(proposal, origin)

    def _write(cur: Any) -> None:
        if cur.execute("SELECT 1 FROM approvals WHERE approval_id = ?", [approval_id]).fetchone():
            return
        now = ctx.clock.now()
        cur.execute(
            "INSERT INTO approvals (approval_id, exception_id, tool, args, proposer, reason,"
            " status, created_at, thread_id) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            [
                approval_id,
                proposal.exception_id,
                proposal.tool,
                canonical_json(proposal.args),
                ctx.actor,
                f"{proposal.reason} — {why}",
                now,
                thread_id,
            ],
        )
        if proposal.exception_id:
            cur.execute(
                "UPDATE exceptions SET status = 'pending_approval', updated_at = ?"
                " WHERE exception_id = ? AND status <> 'resolved'",
                [now, proposal.exception_id],
            )
        audit.append(
            cur,
            actor=ctx.actor,
            role=ctx.role,
            ts=now,
            action="approval.requested",
            subject=approval_id,
            inputs=proposal.as_dict(),
            reason=why,
            model=ctx.model,
            prompt_version=ctx.prompt_version,
        )

    ctx.store.write(_write)
    return approval_id


def get(ctx: ToolContext, approval_id: str) -> dict[str, Any]:
    """One approval, or NotFoundError."""
    row = ctx.store.row("SELECT * FROM approvals WHERE approval_id = ?", [approval_id])
    if row is None:
        raise NotFoundError(
            f"unknown approval {approval_id!r}; list them with `proofline approvals`"
        )
    row["args"] = json.loads(row["args"])
    row["result"] = json.loads(row["result"]) if row["result"] else None
    return row


def list_approvals(ctx: ToolContext, status: str | None = "pending") -> list[dict[str, Any]]:
    """Approvals with ``status`` (all when None), oldest first."""
    sql = "SELECT approval_id FROM approvals"
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    return [
        get(ctx, r["approval_id"])
        for r in ctx.store.rows(sql + " ORDER BY created_at, approval_id", params)
    ]


def decide(
    ctx: ToolContext, approval_id: str, *, approve: bool, reason: str | None = None
) -> dict[str, Any]:
    """Approve (run the call) or reject an approval as ``ctx.actor``; return the updated row.

    Raises:
        PermissionDenied: the decider is not a person with an approver role.
        ConflictError: it was already decided the other way.
        ToolError: approving ran the tool and the record refused it (the approval stays pending).
    """
    get(ctx, approval_id)  # NotFoundError for an unknown id
    if ctx.role not in APPROVER_ROLES or ctx.actor.startswith("agent:"):
        raise PermissionDenied(
            f"{ctx.actor} ({ctx.role}) may not decide approvals; an ops_manager must"
        )
    if not approve:
        return _reject(ctx, approval_id, reason or "rejected")
    if not _claim(ctx, approval_id):  # someone else decided first
        row = get(ctx, approval_id)
        if row["status"] == "rejected":
            raise ConflictError(
                f"approval {approval_id} was already rejected by {row['decided_by']}"
            )
        if row["result"] is not None:
            return row
    row = get(ctx, approval_id)  # approved by us, or approved but not carried out (a crash): run it
    try:
        result = call_tool(
            ctx,
            get_tool(row["tool"]).name,
            row["args"],
            idempotency_key=f"approval:{approval_id}",
            reason=f"approved {approval_id}: {row['reason']}",
        )
    except ToolError:
        ctx.store.write(lambda cur: cur.execute(
            "UPDATE approvals SET status = 'pending', decided_by = NULL, decided_at = NULL"
            " WHERE approval_id = ? AND result IS NULL", [approval_id],
        ))  # fmt: skip
        raise
    ctx.store.write(
        lambda cur: cur.execute(
            "UPDATE approvals SET result = ?, decision_reason = ? WHERE approval_id = ?",
            [canonical_json(result.model_dump(mode="json")), reason, approval_id],
        )
    )
    return get(ctx, approval_id)


def _claim(ctx: ToolContext, approval_id: str) -> bool:
    """Mark a pending approval approved by ``ctx.actor``; False if it was no longer pending."""

    def _write(cur: Any) -> bool:
        found = cur.execute(
            "UPDATE approvals SET status = 'approved', decided_by = ?, decided_at = ?"
            " WHERE approval_id = ? AND status = 'pending'",
            [ctx.actor, ctx.clock.now(), approval_id],
        ).fetchone()
        return bool(found and found[0])

    return ctx.store.write(_write)


def _reject(ctx: ToolContext, approval_id: str, reason: str) -> dict[str, Any]:
    row = get(ctx, approval_id)

    def _write(cur: Any) -> bool:
        now = ctx.clock.now()
        changed = cur.execute(
            "UPDATE approvals SET status = 'rejected', decided_by = ?, decided_at = ?,"
            " decision_reason = ? WHERE approval_id = ? AND status = 'pending'",
            [ctx.actor, now, reason, approval_id],
        ).fetchone()
        if not (changed and changed[0]):
            return False
        if row["exception_id"]:
            cur.execute(
                "UPDATE exceptions SET status = 'open', updated_at = ? WHERE exception_id = ?"
                " AND status = 'pending_approval'",
                [now, row["exception_id"]],
            )
        audit.append(
            cur,
            actor=ctx.actor,
            role=ctx.role,
            ts=now,
            action="approval.rejected",
            subject=row["approval_id"],
            inputs={"tool": row["tool"], "args": row["args"]},
            reason=reason,
        )
        return True

    if not ctx.store.write(_write):
        row = get(ctx, approval_id)
        if row["status"] == "approved":
            raise ConflictError(
                f"approval {approval_id} was already approved by {row['decided_by']}"
            )
    return get(ctx, approval_id)
