"""Event ingestion: temperature readings, barcode scans and EPCIS documents (8 MiB bodies)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from agent.http import ingest
from agent.http.deps import Actor, BackendDep, require_roles
from agent.http.errors import ERROR_RESPONSES, WRITE_RESPONSES
from agent.http.idempotency import IdempotentRoute, idempotency_header
from agent.http.models import (
    EpcisImportPublic,
    ErrorPublic,
    ReadingsCreate,
    ReadingsPublic,
    ScansCreate,
    ScansPublic,
)
from record import epcis

__all__ = ["INGEST_MAX_BODY", "router"]

INGEST_MAX_BODY = 8 * 1024 * 1024
router = APIRouter(
    prefix="/ingest",
    tags=["ingest"],
    route_class=IdempotentRoute,
    max_body_size=INGEST_MAX_BODY,
    responses={**ERROR_RESPONSES, **WRITE_RESPONSES},
    dependencies=[Depends(idempotency_header)],
)
Ingestor = Annotated[Actor, Depends(require_roles("automation", "ops_manager"))]
_JSON = ("application/json", "application/ld+json")
_XML = ("application/xml", "text/xml")
_EPCIS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An EPCIS 2.0 JSON/JSON-LD document or an EPCIS 1.2 XML document.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/xml": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/readings")
def post_readings(body: ReadingsCreate, backend: BackendDep, actor: Ingestor) -> ReadingsPublic:
    """Store up to 10,000 readings (−90..+90 °C, at most 5 minutes ahead of the server clock);
    readings already stored are skipped, so a retried batch never stores one twice."""
    rt = backend.runtime
    counts = ingest.ingest_readings(
        rt.store,
        body.readings,
        now=rt.clock.now(),
        actor=actor.actor,
        role=actor.role,
        lock=backend.ingest_lock,
    )
    return ReadingsPublic.model_validate(counts)


@router.post("/scans")
def post_scans(body: ScansCreate, backend: BackendDep, actor: Ingestor) -> ScansPublic:
    """Store barcode scans as custody events (origin ``scan``); invalid ones are reported per
    item with the reason."""
    rt = backend.runtime
    report = ingest.ingest_scans(
        rt.store,
        body.scans,
        now=rt.clock.now(),
        actor=actor.actor,
        role=actor.role,
        lock=backend.ingest_lock,
    )
    return ScansPublic.model_validate(report)


@router.post(
    "/epcis",
    openapi_extra=_EPCIS_BODY,
    responses={415: {"model": ErrorPublic, "description": "Neither JSON nor XML"}},
)
async def post_epcis(request: Request, backend: BackendDep, actor: Ingestor) -> EpcisImportPublic:
    """Capture an EPCIS document, all or nothing; every problem is listed in a 422."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in _JSON + _XML:
        raise HTTPException(
            415,
            f"content-type {kind or '(none)'}: send application/json "
            "(EPCIS 2.0) or application/xml (EPCIS 1.2)",
        )
    data = await request.body()
    if not data.strip():
        raise HTTPException(422, "empty body: send an EPCIS document")
    rt = backend.runtime
    result = await run_in_threadpool(
        epcis.import_document,
        rt.store,
        data,
        actor=actor.actor,
        now=rt.clock.now(),
        filename="request body",
    )
    return EpcisImportPublic.model_validate(
        {**asdict(result), "warnings": list(result.warnings), "summary": result.summary()}
    )
