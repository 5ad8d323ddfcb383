"""Chat with the agent over server-sent events: one turn per POST, approvals by resume."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.sse import EventSourceResponse, ServerSentEvent

from agent import service
from agent.approvals import APPROVER_ROLES
from agent.http.deps import (
    Actor,
    ClaimedThread,
    CurrentActor,
    RuntimeDep,
    ThreadId,
    require_roles,
)
from agent.http.errors import ERROR_RESPONSES, STREAM_ERROR_RESPONSES
from agent.http.idempotency import IdempotentRoute, idempotency_header
from agent.http.models import ChatMessageCreate, ChatResumeCreate, ChatThreadPublic
from agent.http.streams import sse_events

__all__ = ["router"]

router = APIRouter(
    prefix="/chat", tags=["chat"], route_class=IdempotentRoute, responses=ERROR_RESPONSES
)
Approver = Annotated[Actor, Depends(require_roles(*sorted(APPROVER_ROLES)))]


def _message(rt: RuntimeDep, thread_id: ThreadId, body: ChatMessageCreate) -> ChatMessageCreate:
    """A valid message for a thread that is not waiting for an approval (409 if it is)."""
    pending = service.pending_interrupt(rt, thread_id, rt.settings.brain)
    if pending:
        raise HTTPException(
            409,
            f"thread {thread_id} is waiting for approval {pending.get('approval_id')}; answer "
            f"it with POST /chat/{thread_id}/resume",
        )
    return body


def _answer(rt: RuntimeDep, thread_id: ThreadId, body: ChatResumeCreate) -> ChatResumeCreate:
    """A valid answer for a thread that waits for an approval (409 if it does not)."""
    if not service.pending_interrupt(rt, thread_id, rt.settings.brain):
        raise HTTPException(409, f"thread {thread_id} is not waiting for an approval")
    return body


@router.post(
    "/{thread_id}/messages",
    response_class=EventSourceResponse,
    responses=STREAM_ERROR_RESPONSES,
    dependencies=[Depends(idempotency_header)],
)
def post_message(
    thread_id: ClaimedThread,
    body: Annotated[ChatMessageCreate, Depends(_message)],
    rt: RuntimeDep,
    actor: CurrentActor,
) -> Iterator[ServerSentEvent]:
    """Send a message; stream the turn's events (message, note, tool_call, tool_result,
    tool_error, refused, approval_request, reply) and a final ``done``."""
    events = service.chat_stream(rt, thread_id, body.message, actor=actor.actor, role=actor.role)
    yield from sse_events(events, f"chat {thread_id}")


@router.post(
    "/{thread_id}/resume",
    response_class=EventSourceResponse,
    responses=STREAM_ERROR_RESPONSES,
    dependencies=[Depends(idempotency_header)],
)
def resume(
    thread_id: ClaimedThread,
    answer: Annotated[ChatResumeCreate, Depends(_answer)],
    rt: RuntimeDep,
    actor: Approver,
) -> Iterator[ServerSentEvent]:
    """Approve or reject the thread's pending action (ops_manager); stream the rest of the turn."""
    decision = {
        "decision": answer.decision,
        "actor": actor.actor,
        "role": actor.role,
        "reason": answer.reason,
    }
    events = service.chat_stream(
        rt, thread_id, "", actor=actor.actor, role=actor.role, resume=decision
    )
    yield from sse_events(events, f"chat {thread_id}")


@router.get("/{thread_id}")
def get_thread(thread_id: ThreadId, rt: RuntimeDep, actor: CurrentActor) -> ChatThreadPublic:
    """The approval the thread waits for, if any."""
    pending = service.pending_interrupt(rt, thread_id, rt.settings.brain)
    return ChatThreadPublic(thread_id=thread_id, approval=pending)
