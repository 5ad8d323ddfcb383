"""What the console needs besides the other routes: who the key is, and the KPI strip."""

from __future__ import annotations

from fastapi import APIRouter

from agent.http import views
from agent.http.deps import CurrentActor, RuntimeDep
from agent.http.errors import ERROR_RESPONSES
from agent.http.idempotency import IdempotentRoute
from agent.http.models import KpisPublic, MePublic

__all__ = ["router"]

router = APIRouter(tags=["console"], route_class=IdempotentRoute, responses=ERROR_RESPONSES)


@router.get("/me")
def get_me(actor: CurrentActor) -> MePublic:
    """The caller: the key's id, role and name, and the actor the audit log records."""
    return MePublic(key_id=actor.key_id, role=actor.role, name=actor.name, actor=actor.actor)


@router.get("/kpis")
def get_kpis(rt: RuntimeDep, actor: CurrentActor) -> KpisPublic:
    """On-time delivery, open exceptions by severity, excursions and units lost, verification
    pass rate, and the median time from detection to the first action."""
    return KpisPublic.model_validate(views.kpis(rt.store, rt.clock.now()))
