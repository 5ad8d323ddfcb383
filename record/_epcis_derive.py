"""What EPCIS events mean for the record's units, containers, lots and shipments.

Applied event by event, in time order, inside the import transaction:

- every SGTIN seen gets a ``units`` row (``commissioned_at`` stays NULL until it is
  commissioned), so sensing can find serials that were never commissioned;
- commissioning (ObjectEvent ADD, or a TransformationEvent's outputs) records lot, expiry,
  place and time, creates the lot, and creates SSCC containers;
- packing (AggregationEvent ADD) creates the parent container (pallet for an SSCC, case for an
  SGTIN), adds to its declared child count and links the children; unpacking (DELETE) unlinks;
- shipping (ObjectEvent OBSERVE) creates or advances the shipment keyed by the despatch advice
  or purchase order, tags the containers shipped (and those nested in them), marks units shipped;
- receiving delivers the shipment and marks the units received where they were received;
- decommissioning/destroying and dispensing end a unit's life.

Units held as suspect or quarantined are never moved on by an event; a warning says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from record._epcis_keys import Ident
from record._epcis_plan import ParsedEvent
from record.store import Cursor

__all__ = ["Deriver"]

_UNIT_KEY = "(gtin || '.' || serial)"
# Matching the key columns (rather than the concatenated key) lets DuckDB join on them.
_UNIT_IN = (
    "(gtin, serial) IN (SELECT substr(k, 1, 14), substr(k, 16) FROM unnest(?::VARCHAR[]) t(k))"
)
_IN_LIST = "IN (SELECT unnest(?::VARCHAR[]))"
_MOVABLE = "('commissioned', 'packed', 'received', 'shipped')"
_MADE = ("quantityList", "outputQuantityList")  # quantity lists whose classes are created


def _keys(idents: Sequence[Ident | None], *kinds: str) -> list[str]:
    return list(dict.fromkeys(i.key for i in idents if i is not None and i.kind in kinds))


@dataclass
class Deriver:
    """Moves the record on for each event; collects warnings."""

    cur: Cursor
    document_id: str
    ts_attested: bool
    warnings: list[str] = field(default_factory=list)

    def _column(self, sql: str, *params: Any) -> list[Any]:
        return [row[0] for row in self.cur.execute(sql, list(params)).fetchall()]

    def _tree(self, roots: Sequence[str]) -> list[str]:
        """Containers among ``roots`` and every container nested in them."""
        if not roots:
            return []
        return self._column(
            f"WITH RECURSIVE tree(id) AS (SELECT container_id FROM containers WHERE container_id "
            f"{_IN_LIST} UNION SELECT c.container_id FROM containers c JOIN tree t "
            "ON c.parent_id = t.id) SELECT id FROM tree",
            list(roots),
        )

    def apply(self, ev: ParsedEvent) -> str | None:
        """Apply one event; return the shipment it belongs to, if any."""
        units = _keys([*ev.idents(), ev.parent], "sgtin")
        if units:
            self.cur.execute(
                "INSERT INTO units (gtin, serial) SELECT substr(k, 1, 14), substr(k, 16) "
                "FROM unnest(?::VARCHAR[]) t(k) ON CONFLICT DO NOTHING",
                [units],
            )
        kind, action, step = ev.event_type, ev.action, ev.biz_step
        if step == "commissioning" and (kind, action) == ("ObjectEvent", "ADD"):
            self._commission(ev, ev.idents("epcList"))
        elif step == "commissioning" and kind == "TransformationEvent":
            self._commission(ev, ev.idents("outputEPCList"))
        if kind == "AggregationEvent" and action in ("ADD", "DELETE"):
            (self._pack if action == "ADD" else self._unpack)(ev)
        if step == "shipping" and (kind, action) == ("ObjectEvent", "OBSERVE"):
            return self._ship(ev)
        if step == "receiving" and kind in ("ObjectEvent", "AggregationEvent"):
            return self._receive(ev)
        if kind == "ObjectEvent":
            self._end_of_life(ev)
        return None

    # -- commissioning --------------------------------------------------------------------

    def _commission(self, ev: ParsedEvent, idents: list[Ident]) -> None:
        units = _keys(idents, "sgtin")
        if units:
            again = self._column(
                f"SELECT {_UNIT_KEY} FROM units WHERE commissioned_at IS NOT NULL "
                f"AND {_UNIT_IN} ORDER BY 1",
                units,
            )
            if again:
                self.warnings.append(
                    f"{ev.label}: {len(again)} serial(s) were already commissioned, e.g. "
                    f"{again[0]}; their first commissioning data is kept"
                )
            self.cur.execute(
                "UPDATE units SET lot = coalesce(lot, ?), expiry = coalesce(expiry, ?), "
                "location_id = coalesce(location_id, ?), commissioned_at = ? "
                f"WHERE commissioned_at IS NULL AND {_UNIT_IN}",
                [ev.lot, ev.expiry, ev.biz_location or ev.read_point, ev.event_time, units],
            )
        ssccs = _keys(idents, "sscc")
        if ssccs:
            self.cur.execute(
                "INSERT INTO containers (container_id, kind, created_at) SELECT k, 'pallet', ? "
                "FROM unnest(?::VARCHAR[]) t(k) ON CONFLICT DO NOTHING",
                [ev.event_time, ssccs],
            )
        lots = {(i.gtin, ev.lot) for i in idents if i.kind == "sgtin" and i.gtin and ev.lot}
        for quantity, klass in zip(ev.quantities, ev.classes, strict=True):
            made = quantity.get("list", "quantityList") in _MADE
            if made and klass.kind == "lgtin" and klass.gtin:
                lots.add((klass.gtin, klass.key[15:]))
        for gtin, lot in sorted(lots):
            self._lot(ev, gtin, lot)

    def _lot(self, ev: ParsedEvent, gtin: str, lot: str) -> None:
        known = self._column("SELECT expiry FROM lots WHERE gtin = ? AND lot = ?", gtin, lot)
        if known and known[0] and ev.expiry and known[0] != ev.expiry:
            self.warnings.append(
                f"{ev.label}: lot {lot} of GTIN {gtin} expires {ev.expiry} here but {known[0]} "
                "in the record; the record keeps its date"
            )
        self.cur.execute(
            "INSERT INTO lots (gtin, lot, expiry) VALUES (?, ?, ?) ON CONFLICT (gtin, lot) "
            "DO UPDATE SET expiry = coalesce(expiry, excluded.expiry)",
            [gtin, lot, ev.expiry],
        )

    # -- packing and unpacking ------------------------------------------------------------

    def _pack(self, ev: ParsedEvent) -> None:
        parent = ev.parent
        if parent is None or parent.kind not in ("sscc", "sgtin"):
            return  # an asset (GRAI, GIAI ...) or other URI: not a container of the record
        children = ev.idents("childEPCs")
        self.cur.execute(
            "INSERT INTO containers (container_id, kind, declared_children, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (container_id) DO UPDATE SET "
            "declared_children = coalesce(declared_children, 0) + excluded.declared_children",
            [
                parent.key,
                "pallet" if parent.kind == "sscc" else "case",
                len(children),
                ev.event_time,
            ],
        )
        units, ssccs = _keys(children, "sgtin"), _keys(children, "sscc")
        if not units and not ssccs:
            return
        moved = self._column(
            f"SELECT {_UNIT_KEY} FROM units WHERE container_id <> ? AND {_UNIT_IN} "
            f"UNION SELECT container_id FROM containers WHERE parent_id <> ? AND container_id "
            f"{_IN_LIST} ORDER BY 1",
            parent.key,
            units,
            parent.key,
            units + ssccs,
        )
        if moved:
            self.warnings.append(
                f"{ev.label}: {len(moved)} child(ren) moved into {parent.key} from another "
                f"container without an unpacking event, e.g. {moved[0]}"
            )
        self.cur.execute(
            "UPDATE units SET container_id = ?, status = CASE WHEN status = 'commissioned' "
            f"THEN 'packed' ELSE status END WHERE {_UNIT_IN}",
            [parent.key, units],
        )
        if ssccs:
            self.cur.execute(
                "INSERT INTO containers (container_id, kind, created_at) SELECT k, 'shipper', ? "
                "FROM unnest(?::VARCHAR[]) t(k) ON CONFLICT DO NOTHING",
                [ev.event_time, ssccs],
            )
        self.cur.execute(
            f"UPDATE containers SET parent_id = ? WHERE container_id {_IN_LIST}",
            [parent.key, units + ssccs],
        )

    def _unpack(self, ev: ParsedEvent) -> None:
        parent = ev.parent
        if parent is None or parent.kind not in ("sscc", "sgtin"):
            return
        keys = [c.key for c in ev.idents("childEPCs")]
        if keys:
            unit_match, box_match = f"AND {_UNIT_IN}", f"AND container_id {_IN_LIST}"
            params: list[Any] = [parent.key, keys]
        else:  # no children named: everything comes out
            unit_match = box_match = ""
            params = [parent.key]
        self.cur.execute(
            f"UPDATE units SET container_id = NULL WHERE container_id = ? {unit_match}", params
        )
        self.cur.execute(
            f"UPDATE containers SET parent_id = NULL WHERE parent_id = ? {box_match}", params
        )
        self.cur.execute(
            "UPDATE containers SET declared_children = CASE WHEN ? = 0 THEN 0 ELSE "
            "greatest(coalesce(declared_children, 0) - ?, 0) END WHERE container_id = ?",
            [len(keys), len(keys), parent.key],
        )

    # -- shipping and receiving -----------------------------------------------------------

    def _ship(self, ev: ParsedEvent) -> str | None:
        origin = ev.source_id or ev.biz_location or ev.read_point
        sid: str | None = None
        if ev.destination_id is None or origin is None:
            self.warnings.append(
                f"{ev.label}: the shipping event names no destination (destinationList); no "
                "shipment is recorded, the goods are marked shipped"
            )
        else:
            digest = hashlib.sha256(ev.event_id.encode()).hexdigest()[:12].upper()
            sid = ev.transaction or f"EPCIS-{digest}"
            self._shipment(ev, sid, origin, ev.destination_id)
        roots = [i.key for i in ev.idents("epcList")]
        tree = self._tree(roots)
        if sid and tree:
            self.cur.execute(
                f"UPDATE containers SET shipment_id = ? WHERE container_id {_IN_LIST}", [sid, tree]
            )
        self._move(ev, "shipped", roots, tree, location=None)
        return sid

    def _shipment(self, ev: ParsedEvent, sid: str, origin: str, destination: str) -> None:
        status = self._column("SELECT status FROM shipments WHERE shipment_id = ?", sid)
        if status and status[0] not in ("planned", "released", "in_transit"):
            self.warnings.append(
                f"{ev.label}: shipment {sid} is {status[0]} in the record but this event ships "
                "it; its status is left as is: investigate"
            )
        self.cur.execute(
            "INSERT INTO shipments (shipment_id, origin_id, destination_id, status, departed_at, "
            "ti_document, ts_attested, updated_at) VALUES (?, ?, ?, 'in_transit', ?, ?, ?, ?) "
            "ON CONFLICT (shipment_id) DO UPDATE SET "
            "status = CASE WHEN status IN ('planned', 'released') THEN 'in_transit' "
            "ELSE status END, departed_at = coalesce(departed_at, excluded.departed_at), "
            "ti_document = coalesce(ti_document, excluded.ti_document), "
            "ts_attested = ts_attested OR excluded.ts_attested, updated_at = excluded.updated_at",
            [
                sid,
                origin,
                destination,
                ev.event_time,
                self.document_id,
                self.ts_attested,
                ev.event_time,
            ],
        )

    def _receive(self, ev: ParsedEvent) -> str | None:
        roots = [i.key for i in [*ev.idents(), *([ev.parent] if ev.parent else [])]]
        tree = self._tree(roots)
        known = ev.transaction and self._column(
            "SELECT shipment_id FROM shipments WHERE shipment_id = ?", ev.transaction
        )
        found = known or self._column(
            f"SELECT DISTINCT shipment_id FROM containers WHERE shipment_id IS NOT NULL "
            f"AND container_id {_IN_LIST} ORDER BY 1",
            tree,
        )
        sid = found[0] if found else None
        if sid:
            self.cur.execute(
                "UPDATE shipments SET status = 'delivered', updated_at = ?, "
                "delivered_at = coalesce(delivered_at, ?) WHERE shipment_id = ? "
                "AND status IN ('planned', 'released', 'in_transit')",
                [ev.event_time, ev.event_time, sid],
            )
        where = ev.biz_location or ev.read_point or ev.destination_id
        self._move(ev, "received", roots, tree, location=where)
        return sid

    def _move(
        self, ev: ParsedEvent, status: str, roots: list[str], tree: list[str], location: Any
    ) -> None:
        """Set the status of the units named, and of those inside the containers named."""
        if not roots:
            return
        match = f"({_UNIT_IN} OR container_id {_IN_LIST})"
        stuck = self._column(
            f"SELECT {_UNIT_KEY} FROM units WHERE {match} AND status NOT IN {_MOVABLE} ORDER BY 1",
            roots,
            tree,
        )
        if stuck:
            self.warnings.append(
                f"{ev.label}: {len(stuck)} unit(s) cannot be {status} from their current status "
                f"(e.g. {stuck[0]}); left as they are"
            )
        self.cur.execute(
            "UPDATE units SET status = ?, location_id = coalesce(?, location_id) "
            f"WHERE {match} AND status IN {_MOVABLE}",
            [status, location, roots, tree],
        )

    def _end_of_life(self, ev: ParsedEvent) -> None:
        if ev.action == "DELETE" or ev.biz_step in ("decommissioning", "destroying"):
            status = "decommissioned"
        elif ev.biz_step in ("dispensing", "retail_selling"):
            status = "dispensed"
        else:
            return
        units = _keys(ev.idents("epcList"), "sgtin")
        if units:
            self.cur.execute(
                f"UPDATE units SET status = ? WHERE {_UNIT_IN} "
                "AND status NOT IN ('suspect', 'quarantined')",
                [status, units],
            )
