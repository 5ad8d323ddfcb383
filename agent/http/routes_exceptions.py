"""Exceptions: the list (list_exceptions tool) and a live board over server-sent events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from agent.http import views
from agent.http.deps import ContextDep, require_tool
from agent.http.errors import ERROR_RESPONSES, STREAM_ERROR_RESPONSES
from agent.http.idempotency import IdempotentRoute
from agent.http.models import ExceptionListPublic
from agent.http.streams import poll_changes
from tools.read import ExceptionList, ListExceptionsArgs

__all__ = ["router"]

router = APIRouter(
    prefix="/exceptions",
    tags=["exceptions"],
    route_class=IdempotentRoute,
    responses=ERROR_RESPONSES,
)
Query_ = Annotated[ListExceptionsArgs, Query()]


@router.get("")
def list_exceptions(ctx: ContextDep, query: Query_) -> ExceptionListPublic:
    """Sensed exceptions, most severe first, with their evidence (default: open ones)."""
    found = views.read_tool(ctx, "list_exceptions", query, ExceptionList)
    return ExceptionListPublic.model_validate(found, from_attributes=True)


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses=STREAM_ERROR_RESPONSES,
    dependencies=[Depends(require_tool("list_exceptions"))],
)
async def stream_board(
    ctx: ContextDep,
    query: Query_,
    max_seconds: Annotated[int, Query(ge=1, le=3600, description="Close after this long")] = 300,
) -> AsyncIterator[ServerSentEvent]:
    """The exceptions board (same filters as ``GET /exceptions``), sent as ``event: board`` now
    and again whenever it changes (checked every second). The stream closes after
    ``max_seconds``; EventSource reconnects on its own."""

    def read() -> dict[str, Any]:
        return views.read_tool(ctx, "list_exceptions", query, ExceptionList).model_dump()

    async for event in poll_changes(read, event="board", seconds=max_seconds):
        yield event
