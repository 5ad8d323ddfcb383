"""Triage runs: run one now, list runs, show a run's decisions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from agent import service
from agent.http import views
from agent.http.deps import Actor, BackendDep, RuntimeDep, StoreDep, require_roles
from agent.http.errors import ERROR_RESPONSES
from agent.http.idempotency import IdempotentRoute, idempotency_header
from agent.http.models import (
    ErrorPublic,
    TriageRunDetailPublic,
    TriageRunPublic,
    TriageSummaryPublic,
)
from record import audit

__all__ = ["router"]

router = APIRouter(
    prefix="/triage", tags=["triage"], route_class=IdempotentRoute, responses=ERROR_RESPONSES
)
Runner = Annotated[Actor, Depends(require_roles("ops_manager", "automation"))]
Reader = Annotated[Actor, Depends(require_roles("ops_manager", "automation", "auditor"))]
_409: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorPublic, "description": "A run is going"}
}
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorPublic, "description": "No such run"}}


@router.post("/runs", responses=_409, dependencies=[Depends(idempotency_header)])
def run_triage(backend: BackendDep, actor: Runner) -> TriageSummaryPublic:
    """Sense, decide and act on every open exception now; return the run's summary.

    The agent acts as ``agent:<brain>`` (role automation) inside governance bounds; who asked
    for the run is audited as ``triage.requested``.
    """
    rt, run_id = backend.runtime, f"RUN-{uuid.uuid4().hex[:10]}"
    with backend.exclusive(backend.triage_lock, "a triage run"):
        rt.store.write(
            lambda cur: audit.append(
                cur,
                actor=actor.actor,
                role=actor.role,
                ts=rt.clock.now(),
                action="triage.requested",
                subject=run_id,
            )
        )
        summary = service.run_triage(rt, run_id=run_id)
    return TriageSummaryPublic.model_validate(summary)


@router.get("/runs")
def list_runs(
    store: StoreDep, actor: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[TriageRunPublic]:
    """The latest runs, newest first, with their summaries."""
    return [TriageRunPublic.model_validate(r) for r in views.triage_runs(store, limit)]


@router.get("/runs/{run_id}", responses=_404)
def get_run(
    run_id: Annotated[str, Path(max_length=100)], rt: RuntimeDep, actor: Reader
) -> TriageRunDetailPublic:
    """One run: its summary and, per case, the plans, guard verdicts and outcomes."""
    return TriageRunDetailPublic.model_validate(views.triage_run(rt, run_id))
