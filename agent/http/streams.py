"""Server-sent event streams (FastAPI's own SSE: ``EventSourceResponse`` + ``ServerSentEvent``).

A stream that fails after it has started cannot change its status code; it ends with one
``error`` event carrying the usual error body instead (a 500's details go to the log only).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import anyio
from fastapi.sse import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from agent.http.errors import unexpected_event
from agent.http.models import utc_json

__all__ = ["poll_changes", "sse_events"]

RETRY_MS = 2000


def _error(exc: Exception, where: str) -> ServerSentEvent:
    return ServerSentEvent(
        event="error", data=unexpected_event(exc, where).model_dump(exclude_none=True)
    )


def sse_events(events: Iterable[dict[str, Any]], where: str) -> Iterator[ServerSentEvent]:
    """Each event dict as ``event: <type>`` with the dict as JSON data, numbered from 1."""
    n = 0
    try:
        for event in events:
            n += 1
            name = str(event.get("type", "message"))
            yield ServerSentEvent(event=name, data=utc_json(event), id=str(n))
    except Exception as exc:  # the stream has started: report, do not raise
        yield _error(exc, where)


async def poll_changes(
    read: Callable[[], Any], *, event: str, seconds: float, every: float = 1.0
) -> AsyncIterator[ServerSentEvent]:
    """Call ``read`` (in the threadpool) every ``every`` seconds for ``seconds``; send its value
    whenever it changes. The browser's EventSource reconnects after the stream ends."""
    last, n = None, 0
    deadline = anyio.current_time() + seconds
    while True:
        try:
            value = utc_json(await run_in_threadpool(read))
        except Exception as exc:
            yield _error(exc, f"{event} stream")
            return
        digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
        if digest != last:
            n += 1
            yield ServerSentEvent(event=event, data=value, id=str(n), retry=RETRY_MS)
            last = digest
        if anyio.current_time() + every > deadline:
            return
        await anyio.sleep(every)
