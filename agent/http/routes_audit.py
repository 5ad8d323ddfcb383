"""The audit log: query, verify the hash chain, export as JSON lines."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from agent.http.deps import Actor, StoreDep, require_roles
from agent.http.errors import ERROR_RESPONSES
from agent.http.idempotency import IdempotentRoute
from agent.http.models import AuditEntryPublic, AuditVerifyPublic
from record import audit

__all__ = ["router", "verify_public"]

router = APIRouter(
    prefix="/audit", tags=["audit"], route_class=IdempotentRoute, responses=ERROR_RESPONSES
)
Auditor = Annotated[Actor, Depends(require_roles("auditor", "ops_manager"))]


def verify_public(status: audit.ChainStatus) -> AuditVerifyPublic:
    """The chain status as the API shows it."""
    return AuditVerifyPublic(**asdict(status), description=status.describe())


@router.get("")
def list_entries(
    store: StoreDep,
    actor: Auditor,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    since_seq: Annotated[int, Query(ge=0, description="Entries after this sequence")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditEntryPublic]:
    """Entries after ``since_seq``, oldest first."""
    found = audit.entries(store, subject=subject, action=action, since_seq=since_seq, limit=limit)
    return [AuditEntryPublic.model_validate(e, from_attributes=True) for e in found]


@router.get("/verify")
def verify(store: StoreDep, actor: Auditor) -> AuditVerifyPublic:
    """Recompute the hash chain; name the first broken entry."""
    return verify_public(audit.verify(store))


@router.get(
    "/export",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "description": "One entry per line, then a head line",
        }
    },
)
def export(
    store: StoreDep,
    actor: Auditor,
    start: Annotated[int, Query(ge=1)] = 1,
    end: Annotated[int | None, Query(ge=1)] = None,
) -> FileResponse:
    """Entries ``start..end`` as JSON lines, then ``{"head_hash", "entries"}``."""
    fd, name = tempfile.mkstemp(prefix="proofline-audit-", suffix=".jsonl")
    os.close(fd)
    path = Path(name)
    audit.export(store, path, start=start, end=end)
    return FileResponse(
        path,
        media_type="application/x-ndjson",
        filename="audit.jsonl",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
