"""Turning errors into HTTP answers: one JSON shape, no stack traces to clients.

Every error answer is ``{"error": code, "detail": message, "fields": {...}}`` (see
:class:`~agent.http.models.ErrorPublic`). Status codes:

====================================  =====  ==================================================
error                                 HTTP   notes
====================================  =====  ==================================================
missing / unknown / revoked API key   401    ``WWW-Authenticate: Bearer``
PermissionDenied (code ``forbidden``) 403    the caller's role may not do this
NotFoundError, ToolError ``unknown_*``404    e.g. ``unknown_shipment``; except the 422 codes below
request validation, InputError,       422    ``fields`` names each bad field; EPCIS errors are
IdentifierError, EPCISError,                 all listed under ``errors``
ToolArgumentError, ToolError with an
input code (``invalid_*``, ``bad_*``,
``missing_*``, ``unknown_fields``,
``unknown_template``, ...)
ConflictError, IdempotencyConflict,   409    the request clashes with the record's state
any other ToolError                          (``not_verified``, ``already_delivered``, ...)
body over the size limit              413    before the body is parsed
StoreError                            503    the database cannot be opened
anything else                         500    opaque ``error_id``; the trace goes to the log
====================================  =====  ==================================================
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.http.models import ErrorPublic
from record.errors import (
    ConflictError,
    EPCISError,
    IdentifierError,
    InputError,
    NotFoundError,
    ProoflineError,
    StoreError,
)
from tools.errors import ToolArgumentError, ToolError

__all__ = [
    "ERROR_RESPONSES",
    "STREAM_ERROR_RESPONSES",
    "FieldsError",
    "TooLargeAsJson",
    "error_response",
    "install",
    "status_for",
    "tool_status",
    "unexpected_event",
    "WRITE_RESPONSES",
]

logger = logging.getLogger("proofline.http")

# ToolError codes that mean "your input is wrong" rather than "the record says no".
_INPUT_CODES = frozenset(
    {
        "invalid_arguments",
        "invalid_field",
        "invalid_window",
        "bad_identifier",
        "bad_id",
        "bad_gtin",
        "missing_subject",
        "missing_fields",
        "unknown_fields",
        "unknown_template",
        "unknown_tool",
        "incomplete_identifier",
        "conflicting_identifier",
        "future_time",
        "body_too_long",
        "nothing_selected",
        "channel_unsupported",
    }
)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}

_ERRORS = (
    (400, "The body could not be read (not UTF-8, or not the declared media type)"),
    (401, "Missing, unknown or revoked API key"),
    (403, "The caller's role may not do this"),
    (413, "Request body too large"),
    (422, "Invalid request; `fields` names each bad field"),
)
_CONFLICT = (
    "Conflict with the record's state, or an Idempotency-Key reused for another request "
    "(or still running)"
)
_JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic, "description": text} for status, text in _ERRORS
}
"""Error answers every authenticated route can give (404 and 409 are added where they apply)."""

WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorPublic, "description": _CONFLICT}
}
"""What every POST can answer besides :data:`ERROR_RESPONSES`."""

STREAM_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": _JSON_ERROR}
    for status, text in (*_ERRORS, (409, _CONFLICT))
}
"""The same errors for routes that answer with an event stream: errors are still JSON."""


class FieldsError(InputError):
    """Input with one problem per field (items of a batch, say); answered 422 with ``fields``."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.fields = fields


def tool_status(code: str) -> int:
    """The HTTP status of a ToolError with ``code``."""
    if code == "forbidden":
        return 403
    if code in _INPUT_CODES:
        return 422
    if code.startswith("unknown_"):
        return 404
    return 409


def status_for(exc: ProoflineError) -> tuple[int, ErrorPublic]:
    """Status and body for one of our errors."""
    if isinstance(exc, ToolArgumentError):
        return 422, ErrorPublic(error=exc.code, detail=str(exc), fields=exc.fields)
    if isinstance(exc, ToolError):
        return tool_status(exc.code), ErrorPublic(error=exc.code, detail=str(exc))
    if isinstance(exc, EPCISError):
        fields = dict(_split(e) for e in exc.errors)
        return 422, ErrorPublic(
            error="invalid_epcis", detail=str(exc), fields=fields, errors=list(exc.errors)
        )
    if isinstance(exc, IdentifierError):
        return 422, ErrorPublic(
            error="invalid_identifier",
            detail=str(exc),
            fields={exc.field: str(exc)} if exc.field else {},
        )
    if isinstance(exc, FieldsError):
        return 422, ErrorPublic(error="invalid_input", detail=str(exc), fields=exc.fields)
    if isinstance(exc, InputError):
        return 422, ErrorPublic(error="invalid_input", detail=str(exc))
    if isinstance(exc, NotFoundError):
        return 404, ErrorPublic(error="not_found", detail=str(exc))
    if isinstance(exc, ConflictError):
        return 409, ErrorPublic(error="conflict", detail=str(exc))
    if isinstance(exc, StoreError):
        return 503, ErrorPublic(error="unavailable", detail=str(exc))
    return 400, ErrorPublic(error="bad_request", detail=str(exc))


def _split(problem: str) -> tuple[str, str]:
    path, sep, rule = problem.partition(": ")
    return (path, rule) if sep else ("(document)", problem)


def error_response(
    status: int, body: ErrorPublic, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error answer."""
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "(body)"


async def _proofline(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProoflineError)
    status, body = status_for(exc)
    return error_response(status, body)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, str] = {}
    for error in exc.errors():
        fields.setdefault(_field(error.get("loc", ())), str(error.get("msg", "invalid")))
    shown = "; ".join(f"{k}: {v}" for k, v in list(fields.items())[:5])
    more = f" (and {len(fields) - 5} more)" if len(fields) > 5 else ""
    body = ErrorPublic(
        error="invalid_request", detail=f"invalid request — {shown}{more}", fields=fields
    )
    return error_response(422, body)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.detail, dict):
        body = ErrorPublic.model_validate(exc.detail)
    else:
        code = _STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
        body = ErrorPublic(error=code, detail=str(exc.detail))
    return error_response(exc.status_code, body, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    logger.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
    body = ErrorPublic(
        error="internal_error",
        error_id=error_id,
        detail=f"internal error {error_id}; the server log has the details",
    )
    return error_response(500, body)


def unexpected_event(exc: Exception, where: str) -> ErrorPublic:
    """Log an error that broke a stream after it started; return what the client may see."""
    if isinstance(exc, ProoflineError):
        return status_for(exc)[1]
    error_id = uuid.uuid4().hex[:12]
    logger.error("error %s in %s", error_id, where, exc_info=exc)
    return ErrorPublic(
        error="internal_error",
        error_id=error_id,
        detail=f"internal error {error_id}; the server log has the details",
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ProoflineError, _proofline)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


class TooLargeAsJson:
    """Give the framework's plain-text 413 (FastAPI ``max_body_size``) our JSON error shape."""

    def __init__(self, app: ASGIApp, message: str) -> None:
        self.app = app
        self.body = json.dumps({"error": "too_large", "detail": message, "fields": {}}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def _send(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                kind = Headers(raw=message.get("headers", [])).get("content-type", "")
                if kind.startswith("text/plain"):
                    replaced = True
                    headers = [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(self.body)).encode()),
                    ]
                    await send({"type": "http.response.start", "status": 413, "headers": headers})
                    await send({"type": "http.response.body", "body": self.body})
                    return
            if not replaced:
                await send(message)

        await self.app(scope, receive, _send)
