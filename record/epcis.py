"""EPCIS import and export: the record's door to partners' traceability data.

:func:`import_document` reads an EPCIS 2.0 JSON/JSON-LD or EPCIS 1.2 XML document, checks all of
it (the official GS1 JSON Schema, the CBV vocabulary, time formats, namespaced extensions, GS1
keys and check digits), and only then writes it in one transaction: the events into
``custody_events``, what they imply into ``units``, ``containers``, ``lots``, ``products``,
``shipments`` and ``locations``, the document into ``epcis_documents``, and one audit entry.
A problem anywhere means nothing is written, and :class:`~record.errors.EPCISError` lists every
problem with the field it is in. The same bytes imported twice are imported once.

:func:`export_document` writes custody events back out as an EPCIS 2.0 JSON document that
validates against the official schema.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from record import audit
from record._epcis_apply import Applier
from record._epcis_export import build_document
from record._epcis_read import Plan, read_document
from record._epcis_schema import DEFAULT_SCHEMA, schema_problems
from record.clock import SystemClock, utc_naive
from record.errors import EPCISError
from record.store import Cursor, Store

__all__ = [
    "DEFAULT_SCHEMA",
    "ImportResult",
    "export_document",
    "export_json",
    "import_document",
]


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    document_id: str
    """Record id of the document: ``EPCIS-DOC-`` and the start of its SHA-256."""
    format: str
    """``epcis2-json``, ``epcis12-xml`` or ``epcis2-xml``."""
    sha256: str
    events: dict[str, int] = field(default_factory=dict)
    """Events stored, by type (events already in the record are not counted)."""
    units_created: int = 0
    containers_created: int = 0
    products_created: int = 0
    lots_created: int = 0
    shipments_created: int = 0
    locations_created: int = 0
    warnings: tuple[str, ...] = ()
    already_imported: bool = False
    """True when these exact bytes were imported before; nothing was changed."""

    @property
    def event_count(self) -> int:
        """Events stored by this import."""
        return sum(self.events.values())

    def summary(self) -> str:
        """One line a person can read."""
        if self.already_imported:
            return f"{self.document_id} was already imported (same SHA-256); nothing changed"
        return (
            f"{self.document_id} ({self.format}): {self.event_count} events, "
            f"{self.units_created} units, {self.containers_created} containers, "
            f"{self.products_created} products created; {len(self.warnings)} warnings"
        )


# -- import -------------------------------------------------------------------------------


def _source_bytes(
    source: str | bytes | os.PathLike[str], filename: str | None
) -> tuple[bytes, str]:
    if isinstance(source, os.PathLike):
        path = Path(source)
        try:
            return path.read_bytes(), filename or path.name
        except OSError as exc:
            raise EPCISError(f"{path}: cannot be read ({exc.strerror})") from exc
    data = source.encode("utf-8") if isinstance(source, str) else bytes(source)
    return data, filename or "document"


def _previous(cur: Cursor, sha: str) -> ImportResult | None:
    row = cur.execute(
        "SELECT document_id, format FROM epcis_documents WHERE sha256 = ?", [sha]
    ).fetchone()
    if row is None:
        return None
    return ImportResult(document_id=row[0], format=row[1], sha256=sha, already_imported=True)


def _write(cur: Cursor, plan: Plan, actor: str, now: datetime) -> ImportResult:
    previous = _previous(cur, plan.sha256)
    if previous:
        return previous
    applier = Applier(cur, plan.document_id, plan.ts_attested, list(plan.warnings))
    before = applier.counts()
    applier.products(plan.products)
    applier.locations(plan.locations)
    for event in plan.events:
        applier.event(event)
    applier.finish(
        name=plan.name,
        fmt=plan.fmt,
        sha256=plan.sha256,
        now=now,
        header=plan.header,
        events=len(plan.events),
    )
    after = applier.counts()
    created = {table: after[table] - before[table] for table in after}
    result = ImportResult(
        document_id=plan.document_id,
        format=plan.fmt,
        sha256=plan.sha256,
        events=dict(sorted(applier.stored.items())),
        units_created=created["units"],
        containers_created=created["containers"],
        products_created=created["products"],
        lots_created=created["lots"],
        shipments_created=created["shipments"],
        locations_created=created["locations"],
        warnings=tuple(applier.warnings),
    )
    audit.append(
        cur,
        actor=actor,
        action="epcis.import",
        ts=now,
        subject=plan.document_id,
        inputs={"filename": plan.name, "sha256": plan.sha256, "format": plan.fmt},
        result={
            "events": result.events,
            **{f"{t}_created": n for t, n in created.items()},
            "warnings": len(result.warnings),
        },
    )
    return result


def import_document(
    store: Store,
    source: str | bytes | os.PathLike[str],
    *,
    actor: str = "system",
    now: datetime | None = None,
    filename: str | None = None,
    schema_path: str | os.PathLike[str] | None = None,
) -> ImportResult:
    """Import an EPCIS document into the record, all or nothing.

    Args:
        store: The record.
        source: A path to the file, or the document itself (``str`` or ``bytes``). EPCIS 2.0
            JSON/JSON-LD and EPCIS 1.2 (or 2.0) XML are told apart by their first character.
        actor: Who imports it, for the audit entry.
        now: The import time (default: the system clock); naive values are UTC.
        filename: How to name the document in messages (default: the file's name).
        schema_path: The official EPCIS 2.0 JSON Schema (default: :data:`DEFAULT_SCHEMA`).

    Returns:
        What was imported: counts by event type, rows created, warnings. Importing the same
        bytes again changes nothing and returns ``already_imported=True``.

    Raises:
        EPCISError: If anything in the document is wrong; ``errors`` lists every problem as
            ``"<field path>: <rule>"``. Nothing is written.
    """
    data, name = _source_bytes(source, filename)
    sha = hashlib.sha256(data).hexdigest()
    previous = _previous(store.cursor(), sha)
    if previous:
        return previous
    plan = read_document(data, name, Path(schema_path) if schema_path else DEFAULT_SCHEMA)
    moment = utc_naive(now) if now else SystemClock().now()
    return store.write(lambda cur: _write(cur, plan, actor, moment))


# -- export -------------------------------------------------------------------------------


def export_document(
    store: Store,
    *,
    event_ids: list[str] | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    schema_path: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Write custody events as an EPCIS 2.0 JSON document (validated against the schema).

    Args:
        store: The record.
        event_ids: Only these events (default: all).
        since: Only events at or after this time (naive values are UTC).
        now: The document's creationDate (default: the system clock).
        schema_path: The EPCIS 2.0 JSON Schema to validate against.

    Returns:
        The document, events in time order.

    Raises:
        EPCISError: If the document would not validate (a stored event is malformed).
    """
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if event_ids is not None:
        where.append("event_id IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(event_ids))
    if since is not None:
        where.append("event_time >= ?")
        params.append(utc_naive(since))
    rows = store.rows(
        f"SELECT * FROM custody_events WHERE {' AND '.join(where)} ORDER BY event_time, rowid",
        params,
    )
    doc = build_document(store, rows, utc_naive(now) if now else SystemClock().now())
    problems = schema_problems(doc, Path(schema_path) if schema_path else DEFAULT_SCHEMA)
    if problems:
        raise EPCISError(f"export: {len(problems)} event(s) would not validate", problems)
    return doc


def export_json(store: Store, path: str | os.PathLike[str], **options: Any) -> int:
    """Write :func:`export_document` to ``path`` as JSON; return the number of events."""
    doc = export_document(store, **options)
    Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(doc["epcisBody"]["eventList"])
