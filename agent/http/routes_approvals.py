"""Approvals: the queue, and approve/reject (resuming the chat that asked, when there is one)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from agent import approvals
from agent.http import views
from agent.http.deps import Actor, BackendDep, ContextDep, require_roles
from agent.http.errors import ERROR_RESPONSES
from agent.http.idempotency import IdempotentRoute, idempotency_header
from agent.http.models import (
    ApprovalApproveCreate,
    ApprovalPublic,
    ApprovalRejectCreate,
    ErrorPublic,
)

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "No such approval"},
    409: {"model": ErrorPublic, "description": "Decided the other way, or the record refused"},
}
router = APIRouter(
    prefix="/approvals", tags=["approvals"], route_class=IdempotentRoute, responses=ERROR_RESPONSES
)
Reader = Annotated[Actor, Depends(require_roles("ops_manager", "automation", "auditor"))]
ApprovalId = Annotated[str, Path(min_length=1, max_length=64, description="e.g. APR-3f2a9c1e0b")]


@router.get("")
def list_approvals(
    ctx: ContextDep,
    actor: Reader,
    status: Annotated[Literal["pending", "approved", "rejected", "all"], Query()] = "pending",
) -> list[ApprovalPublic]:
    """Approvals with that status, oldest first."""
    rows = approvals.list_approvals(ctx, None if status == "all" else status)
    return [ApprovalPublic.model_validate(r) for r in rows]


@router.post(
    "/{approval_id}/approve", responses=_ERRORS, dependencies=[Depends(idempotency_header)]
)
def approve(
    approval_id: ApprovalId,
    backend: BackendDep,
    ctx: ContextDep,
    body: ApprovalApproveCreate | None = None,
) -> ApprovalPublic:
    """Approve: the action runs now, once (ops_manager only)."""
    row = views.decide_approval(
        backend.runtime,
        ctx,
        approval_id,
        approve=True,
        reason=body.reason if body else None,
        hold_thread=backend.hold_thread,
    )
    return ApprovalPublic.model_validate(row)


@router.post("/{approval_id}/reject", responses=_ERRORS, dependencies=[Depends(idempotency_header)])
def reject(
    approval_id: ApprovalId, body: ApprovalRejectCreate, backend: BackendDep, ctx: ContextDep
) -> ApprovalPublic:
    """Reject: nothing runs; the exception is reopened (ops_manager only)."""
    row = views.decide_approval(
        backend.runtime,
        ctx,
        approval_id,
        approve=False,
        reason=body.reason,
        hold_thread=backend.hold_thread,
    )
    return ApprovalPublic.model_validate(row)
