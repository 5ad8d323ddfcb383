"""Shipments: the shipment, its temperature trace and its custody trail (read tools)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from agent.http import views
from agent.http.deps import ContextDep
from agent.http.errors import ERROR_RESPONSES
from agent.http.idempotency import IdempotentRoute
from agent.http.models import (
    ErrorPublic,
    ShipmentCustodyPublic,
    ShipmentPublic,
    TemperaturesPublic,
)
from tools.read import ShipmentView, TemperatureHistory

__all__ = ["router"]

_404: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "No such shipment"}
}
router = APIRouter(
    prefix="/shipments",
    tags=["shipments"],
    route_class=IdempotentRoute,
    responses={**ERROR_RESPONSES, **_404},
)
ShipmentId = Annotated[str, Path(min_length=1, max_length=64, description="e.g. SHP-1042")]


@router.get("/{shipment_id}")
def get_shipment(shipment_id: ShipmentId, ctx: ContextDep) -> ShipmentPublic:
    """Places, asset, route, contents, products, window, status, holds and exceptions."""
    view = views.read_tool(ctx, "get_shipment", {"shipment_id": shipment_id}, ShipmentView)
    return ShipmentPublic.model_validate(view, from_attributes=True)


@router.get("/{shipment_id}/temperatures")
def get_temperatures(
    shipment_id: ShipmentId,
    ctx: ContextDep,
    since: Annotated[datetime | None, Query(description="Only readings at or after (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="Only readings at or before (UTC)")] = None,
    max_points: Annotated[int, Query(ge=10, le=5000)] = 500,
) -> TemperaturesPublic:
    """The temperature trace against the product's allowed range, with the stability budget."""
    args = {"shipment_id": shipment_id, "since": since, "until": until, "max_points": max_points}
    trace = views.read_tool(ctx, "temperature_history", args, TemperatureHistory)
    return TemperaturesPublic.model_validate(trace, from_attributes=True)


@router.get("/{shipment_id}/custody")
def get_custody(
    shipment_id: ShipmentId, ctx: ContextDep, limit: Annotated[int, Query(ge=1, le=5000)] = 500
) -> ShipmentCustodyPublic:
    """Custody events of the shipment's containers (and what is packed in them), in time order."""
    return ShipmentCustodyPublic.model_validate(views.shipment_custody(ctx, shipment_id, limit))
