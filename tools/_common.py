"""Helpers shared by tool modules (private)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from record.audit import canonical_json
from record.models import Shipment
from record.store import Cursor
from tools.base import ToolContext
from tools.errors import ToolError

__all__ = ["insert_custody_event", "load_shipment", "mark_exception", "new_id"]


def new_id(prefix: str) -> str:
    """A new identifier such as ``MSG-3f2a9c1e0b7d``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def load_shipment(ctx: ToolContext, shipment_id: str) -> Shipment:
    """The shipment, or a ToolError a person can act on."""
    row = ctx.store.row("SELECT * FROM shipments WHERE shipment_id = ?", [shipment_id])
    if row is None:
        raise ToolError(
            f"unknown shipment {shipment_id!r}: check the id (shipments look like SHP-1042)",
            code="unknown_shipment",
        )
    return Shipment.from_row(row)


def mark_exception(
    cur: Cursor, exception_id: str | None, status: str, note: str, now: datetime
) -> None:
    """Move an exception to ``status`` with a resolution note (no-op when no id is given)."""
    if not exception_id:
        return
    found = cur.execute(
        "SELECT status FROM exceptions WHERE exception_id = ?", [exception_id]
    ).fetchone()
    if found is None:
        raise ToolError(f"unknown exception {exception_id!r}", code="unknown_exception")
    cur.execute(
        "UPDATE exceptions SET status = ?, resolution = ?, updated_at = ? WHERE exception_id = ?",
        [status, note, now, exception_id],
    )


def insert_custody_event(
    cur: Cursor,
    *,
    event_type: str,
    action: str,
    biz_step: str,
    disposition: str | None,
    event_time: datetime,
    epcs: list[str],
    shipment_id: str | None = None,
    read_point: str | None = None,
    source_id: str | None = None,
    destination_id: str | None = None,
    raw: dict[str, Any] | None = None,
) -> str:
    """Record a custody event in EPCIS form, captured by a tool; return its id."""
    event_id = f"urn:uuid:{uuid.uuid4()}"
    cur.execute(
        "INSERT INTO custody_events (event_id, event_type, action, biz_step, disposition,"
        " event_time, tz_offset, epcs, read_point, biz_location, source_id, destination_id,"
        " shipment_id, origin, raw) VALUES (?, ?, ?, ?, ?, ?, '+00:00', ?, ?, ?, ?, ?, ?, 'tool', ?)",
        [
            event_id,
            event_type,
            action,
            biz_step,
            disposition,
            event_time,
            epcs,
            read_point,
            read_point,
            source_id,
            destination_id,
            shipment_id,
            canonical_json(raw or {}),
        ],
    )
    return event_id
