"""Reschedule requests from the contact center."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from agent import service
from agent.http.deps import Actor, RuntimeDep, require_roles
from agent.http.errors import ERROR_RESPONSES, WRITE_RESPONSES
from agent.http.idempotency import IdempotentRoute, idempotency_header
from agent.http.models import RescheduleCreate, ReschedulePublic

__all__ = ["router"]

router = APIRouter(tags=["reschedule"], route_class=IdempotentRoute, responses=ERROR_RESPONSES)
Requester = Annotated[Actor, Depends(require_roles("contact_center", "ops_manager"))]


@router.post("/reschedule", responses=WRITE_RESPONSES, dependencies=[Depends(idempotency_header)])
def reschedule(body: RescheduleCreate, rt: RuntimeDep, actor: Requester) -> ReschedulePublic:
    """Free text in; applied (with the confirmation sent), nearest feasible options, one
    clarifying question, or a refusal — never a silent change."""
    outcome = service.reschedule(rt, body.text, actor=actor.actor, role=actor.role)
    return ReschedulePublic.model_validate(outcome)
