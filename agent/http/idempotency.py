"""``Idempotency-Key`` on writes: a retry gets the first answer, never a second effect.

:class:`IdempotentRoute` wraps each POST route's handler. With the header set:

- first time: the key is claimed (``status_code`` NULL while running), the request runs, and a
  2xx answer is stored — for an SSE stream, every byte once the stream has ended;
- same key with the same method, path and body: the stored answer is replayed (header
  ``Idempotency-Replayed: true``); while the first request is still running: 409;
- same key with another request: 409 ``idempotency_conflict``.

Keys are scoped to the API key that sent them and kept for 24 hours. Answers other than 2xx
are not stored (the claim is dropped), so a corrected retry runs again; so is a claim left
running for 10 minutes (its server died).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

import anyio
from fastapi import Header, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from agent.http import auth
from agent.http.deps import backend_for_app
from agent.http.errors import error_response
from agent.http.models import ErrorPublic
from record.clock import SystemClock
from record.store import Cursor, Store

__all__ = ["IdempotentRoute", "idempotency_header"]

KEEP = timedelta(hours=24)
STALE = timedelta(minutes=10)
"""A claim still running after this long belongs to a request that died (e.g. a restart)."""
MAX_KEY = 200
_HEADER = "Idempotency-Key"
_STREAM_ERROR = re.compile(rb"(^|\n)event: error\r?\n")


def idempotency_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=_HEADER,
            min_length=1,
            max_length=MAX_KEY,
            description="Retry-safe writes: the same key and body replay the first answer; "
            "the same key with another body is a 409.",
        ),
    ] = None,
) -> None:
    """Declare the header in OpenAPI (the route class does the work)."""


def _caller(store: Store, request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    presented = request.headers.get("x-api-key") or (token if scheme.lower() == "bearer" else "")
    key = auth.authenticate(store, presented) if presented else None
    return key.key_id if key else None


def _claim(store: Store, key: str, route: str, digest: str) -> tuple[str, tuple[Any, ...] | None]:
    now = SystemClock().now()

    def _tx(cur: Cursor) -> tuple[str, tuple[Any, ...] | None]:
        cur.execute("DELETE FROM http_idempotency WHERE created_at < ?", [now - KEEP])
        row = cur.execute(
            "SELECT request_hash, status_code, content_type, body, created_at"
            " FROM http_idempotency WHERE key = ?",
            [key],
        ).fetchone()
        if row is not None and row[1] is None and row[4] < now - STALE:
            cur.execute("DELETE FROM http_idempotency WHERE key = ?", [key])  # its run died
            row = None
        if row is None:
            cur.execute(
                "INSERT INTO http_idempotency (key, route, request_hash, created_at)"
                " VALUES (?, ?, ?, ?)",
                [key, route, digest, now],
            )
            return "new", None
        if row[0] != digest:
            return "conflict", None
        return ("running", None) if row[1] is None else ("replay", row)

    return store.write(_tx)


def _save(store: Store, key: str, status: int, content_type: str | None, body: bytes) -> None:
    store.write(
        lambda cur: cur.execute(
            "UPDATE http_idempotency SET status_code = ?, content_type = ?, body = ? WHERE key = ?",
            [status, content_type, body, key],
        )
    )


def _release(store: Store, key: str) -> None:
    store.write(
        lambda cur: cur.execute(
            "DELETE FROM http_idempotency WHERE key = ? AND status_code IS NULL", [key]
        )
    )


async def _shielded(fn: Callable[..., None], *args: Any) -> None:
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(fn, *args)


async def _tee(
    chunks: AsyncIterable[Any], store: Store, key: str, status: int, content_type: str | None
) -> AsyncIterator[bytes]:
    """Pass a stream through, and store it once it has been sent in full."""
    parts: list[bytes] = []
    complete = False
    try:
        async for chunk in chunks:
            data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
            parts.append(data)
            yield data
        complete = True
    finally:
        body = b"".join(parts)
        if complete and not _STREAM_ERROR.search(body):  # a stream that failed is not replayed
            await _shielded(_save, store, key, status, content_type, body)
        else:
            await _shielded(_release, store, key)


def _refusal(code: str, detail: str) -> Response:
    return error_response(409, ErrorPublic(error=code, detail=detail, fields={_HEADER: detail}))


class IdempotentRoute(APIRoute):
    """An APIRoute whose POSTs honour ``Idempotency-Key``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        route = f"{','.join(sorted(self.methods or ()))} {self.path}"

        async def run(request: Request) -> Response:
            header = request.headers.get(_HEADER)
            if request.method != "POST" or header is None or not 0 < len(header) <= MAX_KEY:
                return await handler(request)  # (a bad header fails the route's validation)
            store = backend_for_app(request.app).runtime.store
            caller = await run_in_threadpool(_caller, store, request)
            if caller is None:
                return await handler(request)  # the route answers 401
            body = await request.body()
            target = f"{request.method} {request.url.path}?{request.url.query}\n".encode()
            digest = hashlib.sha256(target + body).hexdigest()
            key = f"{caller}:{header}"
            state, stored = await run_in_threadpool(_claim, store, key, route, digest)
            if state == "conflict":
                return _refusal(
                    "idempotency_conflict",
                    f"{_HEADER} {header!r} was used for "
                    "another request; use a new key for a different request",
                )
            if state == "running":
                return _refusal(
                    "idempotency_in_progress",
                    f"the request with {_HEADER} {header!r} is still running; retry shortly",
                )
            if stored is not None:
                headers = {"Idempotency-Replayed": "true"}
                if stored[2]:
                    headers["content-type"] = stored[2]
                return Response(
                    content=bytes(stored[3] or b""), status_code=stored[1], headers=headers
                )
            return await self._first(handler, request, store, key)

        return run

    @staticmethod
    async def _first(
        handler: Callable[[Request], Coroutine[Any, Any, Response]],
        request: Request,
        store: Store,
        key: str,
    ) -> Response:
        try:
            response = await handler(request)
        except BaseException:
            await _shielded(_release, store, key)
            raise
        content_type = response.headers.get("content-type")
        if not 200 <= response.status_code < 300:
            await _shielded(_release, store, key)
        elif isinstance(response, StreamingResponse):
            response.body_iterator = _tee(
                response.body_iterator, store, key, response.status_code, content_type
            )
        else:
            await _shielded(
                _save, store, key, response.status_code, content_type, bytes(response.body)
            )
        return response
