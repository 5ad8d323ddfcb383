"""Proofline's HTTP server: ``create_app(settings)`` and the default ``app``.

Run it with ``proofline serve`` (or ``uvicorn server:app``). The API is described at
``/openapi.json`` and ``/docs``; the operations console is served at ``/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from agent.http import errors
from agent.http.deps import backend_for_app, close_backends
from agent.http.routes_approvals import router as approvals
from agent.http.routes_audit import router as audit
from agent.http.routes_chat import router as chat
from agent.http.routes_console import router as console
from agent.http.routes_docs import router as docs
from agent.http.routes_exceptions import router as exceptions
from agent.http.routes_health import router as health
from agent.http.routes_ingest import router as ingest
from agent.http.routes_reschedule import router as reschedule
from agent.http.routes_shipments import router as shipments
from agent.http.routes_triage import router as triage
from agent.settings import Settings, get_settings

__all__ = ["MAX_BODY", "WEB_DIR", "app", "create_app"]

MAX_BODY = 1024 * 1024
"""Request body limit (1 MiB); ``/ingest/*`` allows 8 MiB."""
WEB_DIR = Path(__file__).resolve().parent / "web"
ROUTERS = (
    health,
    chat,
    triage,
    exceptions,
    shipments,
    approvals,
    reschedule,
    ingest,
    audit,
    console,
)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(backend_for_app, app)  # open the database now: fail fast
    try:
        yield
    finally:
        close_backends(app)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` default to the environment's (``PROOFLINE_*``)."""
    app = FastAPI(
        title="Proofline",
        version="0.1.0",
        summary="DSCSA-grade operations assistant for healthcare supply chains.",
        description="Send the API key as `X-API-Key` (or `Authorization: Bearer`). Writes "
        "accept `Idempotency-Key`. Errors are `{error, detail, fields}`.",
        lifespan=_lifespan,
        docs_url=None,  # served from web/vendor by routes_docs, not from a CDN
        redoc_url=None,
    )
    if settings is not None:
        app.dependency_overrides[get_settings] = lambda: settings
    errors.install(app)
    app.add_middleware(
        errors.TooLargeAsJson,
        message="request body too large: at most 1 MiB (8 MiB for /ingest/*); send smaller batches",
    )
    for router in ROUTERS:
        app.include_router(router, max_body_size=MAX_BODY)
    app.include_router(docs)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="console")
    return app


app = create_app()
