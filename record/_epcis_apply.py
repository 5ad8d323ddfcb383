"""Writing a read EPCIS document into the record, inside the caller's transaction.

Master data first (products, locations), then the events in time order: each new event is
applied (:mod:`record._epcis_derive`) and queued for ``custody_events``; the queue is written in
a few multi-row statements at the end. An event already in the record is not stored twice; an
event id that names a *different* event already in the record is an error found only here, and
raising it rolls the whole import back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from record._epcis_checks import summary
from record._epcis_derive import Deriver
from record._epcis_master import LocationInfo, ProductInfo
from record._epcis_plan import ParsedEvent, canonical, normalise_event
from record.errors import EPCISError
from record.store import Cursor

__all__ = ["TABLES", "Applier"]

TABLES = ("units", "containers", "products", "lots", "shipments", "locations")
"""Tables an import creates rows in (their counts before and after say what was created)."""
_COLUMNS = (
    "event_id", "event_type", "action", "biz_step", "disposition", "event_time", "tz_offset",
    "epcs", "parent_id", "quantities", "read_point", "biz_location", "source_id",
    "destination_id", "shipment_id", "biz_transactions", "origin", "document_id", "raw",
)  # fmt: skip
_CHUNK = 200


def _core(raw: dict[str, Any]) -> str:
    """The event without its error declaration, canonically encoded."""
    return canonical({k: v for k, v in normalise_event(raw).items() if k != "errorDeclaration"})


def _values(rows: list[list[Any]], width: int) -> str:
    return ", ".join(["(" + ", ".join("?" * width) + ")"] * len(rows))


@dataclass
class Applier:
    """Applies one document on a cursor; collects warnings and the errors found late."""

    cur: Cursor
    document_id: str
    ts_attested: bool
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stored: dict[str, int] = field(default_factory=dict)
    """Events stored, by type."""
    _rows: dict[str, list[Any]] = field(default_factory=dict)
    """Rows queued for custody_events, by event id."""
    _seen: dict[str, ParsedEvent] = field(default_factory=dict)
    _deriver: Deriver = field(init=False)

    def __post_init__(self) -> None:
        self._deriver = Deriver(self.cur, self.document_id, self.ts_attested, self.warnings)

    def counts(self) -> dict[str, int]:
        """Row counts of :data:`TABLES`."""
        sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES)
        row = self.cur.execute(sql).fetchone() or ()
        return dict(zip(TABLES, map(int, row), strict=True))

    # -- master data ----------------------------------------------------------------------

    def products(self, products: dict[str, ProductInfo]) -> None:
        """Create products for every GTIN seen; fill in only what the record did not know."""
        rows = [
            [
                p.gtin,
                p.ndc,
                p.name or f"GTIN {p.gtin}",
                p.company_prefix_len,
                p.dosage_form,
                p.strength,
            ]
            for p in products.values()
        ]
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            self.cur.execute(
                "INSERT INTO products (gtin, ndc, name, company_prefix_len, dosage_form, strength)"
                f" VALUES {_values(chunk, 6)} ON CONFLICT (gtin) DO UPDATE SET"
                " ndc = coalesce(ndc, excluded.ndc),"
                " name = CASE WHEN name = 'GTIN ' || gtin THEN excluded.name ELSE name END,"
                " company_prefix_len = coalesce(company_prefix_len, excluded.company_prefix_len),"
                " dosage_form = coalesce(dosage_form, excluded.dosage_form),"
                " strength = coalesce(strength, excluded.strength)",
                [v for row in chunk for v in row],
            )

    def locations(self, locations: dict[str, LocationInfo]) -> None:
        """Create the master data's locations that the record does not have yet."""
        rows = [[loc.location_id, loc.gln, loc.name] for loc in locations.values()]
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            self.cur.execute(
                "INSERT INTO locations (location_id, gln, name, kind) SELECT *, 'other' FROM "
                f"(VALUES {_values(chunk, 3)}) ON CONFLICT (location_id) DO NOTHING",
                [v for row in chunk for v in row],
            )

    # -- events ---------------------------------------------------------------------------

    def event(self, ev: ParsedEvent) -> None:
        """Apply one event and queue it for ``custody_events`` (unless already recorded)."""
        if not self._is_new(ev):
            return
        shipment_id = None
        if ev.declared_error:
            self.warnings.append(
                f"{ev.label}: declares an error in event {ev.event_id}; stored, but it changes "
                "no units, containers or shipments"
            )
        else:
            shipment_id = self._deriver.apply(ev)
        self._rows[ev.event_id] = self._row(ev, shipment_id)
        self.stored[ev.event_type] = self.stored.get(ev.event_type, 0) + 1

    def _is_new(self, ev: ParsedEvent) -> bool:
        earlier = self._seen.get(ev.event_id)
        if earlier is not None:
            old, where = earlier.raw, earlier.label
        else:
            row = self.cur.execute(
                "SELECT raw, document_id FROM custody_events WHERE event_id = ?", [ev.event_id]
            ).fetchone()
            if row is None:
                self._seen[ev.event_id] = ev
                return True
            old, where = (json.loads(row[0]) if row[0] else {}), f"document {row[1]}"
        if _core(old) != _core(ev.raw):
            self.errors.append(
                f"{ev.label}.eventID: {ev.event_id} is already the id of a different event "
                f"({where}); event ids must be unique"
            )
        elif ev.declared_error and "errorDeclaration" not in old:
            if ev.event_id in self._rows:  # declared in the document that brings the event
                self._rows[ev.event_id][_COLUMNS.index("raw")] = json.dumps(ev.raw)
            else:
                self.cur.execute(
                    "UPDATE custody_events SET raw = ? WHERE event_id = ?",
                    [json.dumps(ev.raw), ev.event_id],
                )
            self.warnings.append(
                f"{ev.label}: declares event {ev.event_id} ({where}) erroneous; the declaration "
                "is recorded, but what that event changed is not undone: review it"
            )
        else:
            self.warnings.append(
                f"{ev.label}: event {ev.event_id} is already recorded ({where}); not stored again"
            )
        return False

    def _row(self, ev: ParsedEvent, shipment_id: str | None) -> list[Any]:
        values = {
            "event_id": ev.event_id,
            "event_type": ev.event_type,
            "action": ev.action,
            "biz_step": ev.biz_step,
            "disposition": ev.disposition,
            "event_time": ev.event_time,
            "tz_offset": ev.tz_offset,
            "epcs": ev.epcs,
            "parent_id": ev.parent.key if ev.parent else None,
            "quantities": json.dumps(ev.quantities) if ev.quantities else None,
            "read_point": ev.read_point,
            "biz_location": ev.biz_location,
            "source_id": ev.source_id,
            "destination_id": ev.destination_id,
            "shipment_id": shipment_id,
            "biz_transactions": json.dumps(ev.biz_transactions) if ev.biz_transactions else None,
            "origin": "epcis",
            "document_id": self.document_id,
            "raw": json.dumps(ev.raw),
        }
        return [values[c] for c in _COLUMNS]

    def finish(
        self, *, name: str, fmt: str, sha256: str, now: datetime, header: dict, events: int
    ) -> None:
        """Write the queued events and the document; or raise the errors found while writing.

        Raises:
            EPCISError: If an event id clashed with a different event (the caller's
                transaction then rolls everything back).
        """
        if self.errors:
            raise EPCISError(summary(name, self.errors), self.errors)
        rows = list(self._rows.values())
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            self.cur.execute(
                f"INSERT INTO custody_events ({', '.join(_COLUMNS)}) "
                f"VALUES {_values(chunk, len(_COLUMNS))}",
                [v for row in chunk for v in row],
            )
        self.cur.execute(
            "INSERT INTO epcis_documents (document_id, format, sha256, imported_at, header, "
            "event_count) VALUES (?, ?, ?, ?, ?, ?)",
            [self.document_id, fmt, sha256, now, json.dumps(header), events],
        )
