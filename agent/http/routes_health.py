"""Liveness and readiness (no API key)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from agent.http.deps import StoreDep
from agent.http.models import HealthPublic, ReadyPublic
from agent.http.routes_audit import verify_public
from record import audit
from record.store import migrations

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> HealthPublic:
    """The process answers."""
    return HealthPublic()


@router.get("/ready", responses={503: {"model": ReadyPublic, "description": "Not ready"}})
def ready(store: StoreDep, response: Response) -> ReadyPublic:
    """The database answers and every migration is applied (503 otherwise); also the audit
    chain's state, which does not make the server unready (an auditor must be able to look)."""
    expected = max(v for v, _, _ in migrations())
    try:
        version = store.schema_version()
        chain = verify_public(audit.verify(store))
        database = "ok"
    except Exception as exc:  # the probe reports; it does not fail
        version, chain, database = 0, None, f"error: {type(exc).__name__}"
    ok = database == "ok" and version >= expected
    response.status_code = 200 if ok else 503
    return ReadyPublic(
        ready=ok,
        database=database,
        schema_version=version,
        expected_schema_version=expected,
        audit=chain,
    )
