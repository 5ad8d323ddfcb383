"""Synthetic network, part 5: the injector that patches a normal network and keeps the truth.

Each injection step draws its target (a shipment, asset, lot or container) with the seeded RNG
from pools read once into Python, in a fixed order. A shipment is patched by one injection at
most, so one injected fault proves exactly one exception. Small tables are updated on the spot;
patches to the big ones (units, shipment units, readings) are collected and applied at the end in
a few set-based statements. The truth goes to ``synth_truth`` with the subject that
``record.sensing`` reports.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from record._synth_write import temp_table
from record.store import Cursor

__all__ = ["UNDELIVERED", "Injector", "Row"]

UNDELIVERED = ("planned", "held", "released", "in_transit")
Row = dict[str, Any]

_SHIPS = """
    SELECT s.shipment_id, s.status, s.asset_id, s.route_id, s.eta, s.departed_at,
           s.destination_id, s.delivered_at,
           any_value(p.temp_class) AS cls, min(p.temp_max_c) AS hi, max(p.temp_min_c) AS lo,
           min(p.stability_budget_min) AS budget, coalesce(any_value(r.n), 0) AS n_reads,
           any_value(r.first_ts) AS first_ts, any_value(a.setpoint_c) AS setpoint,
           any_value(k.on_route) AS on_route
    FROM shipments s
    JOIN (SELECT DISTINCT shipment_id, gtin FROM shipment_units) su USING (shipment_id)
    JOIN products p USING (gtin)
    LEFT JOIN assets a USING (asset_id)
    LEFT JOIN (SELECT route_id, count(*) AS on_route FROM shipments GROUP BY ALL) k USING (route_id)
    LEFT JOIN (SELECT shipment_id, count(*) AS n, min(ts) AS first_ts FROM sensor_readings
               WHERE shipment_id IS NOT NULL GROUP BY ALL) r USING (shipment_id)
    GROUP BY ALL ORDER BY s.shipment_id
"""
_SAMPLE = """
    SELECT * FROM shipment_units WHERE lot IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY shipment_id ORDER BY gtin, serial) <= 3
    ORDER BY shipment_id, gtin, serial
"""
_LOTS = f"""
    SELECT su.gtin, su.lot, l.expiry, p.min_shelf_life_days AS shelf,
           array_sort(list(DISTINCT su.shipment_id)) AS ships, min(s.eta)::DATE AS first_eta
    FROM shipment_units su JOIN shipments s USING (shipment_id)
         JOIN lots l ON l.gtin = su.gtin AND l.lot = su.lot JOIN products p ON p.gtin = su.gtin
    WHERE s.status IN {tuple(UNDELIVERED)} AND l.status = 'released'
    GROUP BY ALL ORDER BY su.gtin, su.lot
"""
_LOADED = """
    SELECT asset_id, list(shipment_id ORDER BY shipment_id) AS ships FROM shipments
    WHERE status = 'in_transit' AND asset_id IS NOT NULL GROUP BY ALL ORDER BY asset_id
"""
_SU_PATCH = """
    UPDATE shipment_units su SET
        lot = CASE p.op WHEN 'lot_x' THEN su.lot || 'X' WHEN 'lot_null' THEN NULL ELSE su.lot END,
        expiry = CASE p.op WHEN 'expiry_plus' THEN su.expiry + INTERVAL 31 DAY
                           WHEN 'expiry_null' THEN NULL ELSE su.expiry END
    FROM _p_su p
    WHERE su.shipment_id = p.shipment_id AND su.gtin = p.gtin AND su.serial = p.serial
"""
_READ_PATCH = """
    UPDATE sensor_readings r SET temp_c = round(p.base + p.slope * (epoch(r.ts) - epoch(p.t0)) / 60
                                                + ((hash(r.ts) % 1000) / 999.0 - 0.5) * p.amp, 2)
    FROM _p_read p WHERE r.shipment_id = p.shipment_id AND r.ts BETWEEN p.t0 AND p.t1
"""


class Injector:
    """Patches the record and collects ``(kind, subject, shipment_id, details)`` truth rows."""

    def __init__(self, cur: Cursor, rng: random.Random, now: datetime) -> None:
        self.cur, self.rng, self.now = cur, rng, now
        self.used: set[str] = set()
        self.used_lots: set[tuple[str, str]] = set()
        self.truth: list[tuple[str, str, str | None, str]] = []
        self.ships = self.rows(_SHIPS)
        self.sample: dict[str, list[Row]] = {}
        for unit in self.rows(_SAMPLE):
            self.sample.setdefault(unit["shipment_id"], []).append(unit)
        self.lots = self.rows(_LOTS)
        self.loaded = self.rows(_LOADED)
        self.places = {
            r["location_id"]: r
            for r in self.rows(
                "SELECT location_id, kind, lat, lon FROM locations ORDER BY location_id"
            )
        }
        self.unit_ops: list[tuple] = []
        self.su_ops: list[tuple] = []
        self.lot_ops: list[tuple] = []
        self.read_ops: list[tuple] = []
        self.stale: list[tuple] = []

    def rows(self, sql: str, params: list | None = None) -> list[Row]:
        """Run a query, rows as dicts."""
        cur = self.cur.execute(sql, params or [])
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def ship(
        self, pred: Callable[[Row], bool], order: Callable[[Row], Any] | None = None, top: int = 0
    ) -> Row | None:
        """Draw an unused shipment matching ``pred`` (among the first ``top`` by ``order``)."""
        found = [r for r in self.ships if r["shipment_id"] not in self.used and pred(r)]
        if order is not None:
            found.sort(key=order)
        if not found:
            return None
        pick = self.rng.choice(found[:top] if top else found)
        self.used.add(pick["shipment_id"])
        return pick

    def units_of(self, shipment_id: str, n: int) -> list[Row]:
        """The first ``n`` units (by GTIN, serial) declared on a shipment."""
        return self.sample.get(shipment_id, [])[:n]

    def record(self, kind: str, subject: str, shipment_id: str | None, **details: Any) -> None:
        """Add a truth row."""
        blob = json.dumps(details, sort_keys=True, default=str)
        self.truth.append((kind, subject, shipment_id, blob))

    def apply(self) -> None:
        """Apply the collected patches to the big tables, set-based."""
        cur = self.cur
        if self.unit_ops:
            temp_table(cur, "_p_unit", ("gtin", "serial"), self.unit_ops)
            cur.execute(
                "UPDATE units SET commissioned_at = NULL, lot = NULL, expiry = NULL "
                "FROM _p_unit p WHERE units.gtin = p.gtin AND units.serial = p.serial"
            )
        if self.su_ops:
            temp_table(cur, "_p_su", ("shipment_id", "gtin", "serial", "op"), self.su_ops)
            cur.execute(_SU_PATCH)
        if self.lot_ops:
            temp_table(cur, "_p_lot", ("gtin", "lot", "old", "new"), self.lot_ops)
            for table in ("lots", "units", "shipment_units"):
                cur.execute(
                    f"UPDATE {table} t SET expiry = p.new FROM _p_lot p "
                    "WHERE t.gtin = p.gtin AND t.lot = p.lot AND t.expiry = p.old"
                )
        if self.stale:
            temp_table(cur, "_p_stale", ("asset_id", "cutoff"), self.stale)
            cur.execute(
                "DELETE FROM sensor_readings r USING _p_stale p "
                "WHERE r.asset_id = p.asset_id AND r.ts > p.cutoff"
            )
        if self.read_ops:
            cols = ("shipment_id", "t0", "t1", "base", "slope", "amp")
            temp_table(cur, "_p_read", cols, self.read_ops)
            cur.execute(_READ_PATCH)
        for name in ("_p_unit", "_p_su", "_p_lot", "_p_stale", "_p_read"):
            cur.execute(f"DROP TABLE IF EXISTS {name}")
