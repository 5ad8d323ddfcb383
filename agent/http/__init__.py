"""Proofline's HTTP API (FastAPI): routes, dependencies, auth, errors, idempotency, ingestion.

``server.py`` assembles the app from :data:`ROUTERS`; see ``agent/http/errors.py`` for the
mapping of errors to status codes.
"""

from __future__ import annotations

__all__: list[str] = []
