"""Synthetic network, part 4: writing the small tables of the plan into the record.

Small tables go in from Python as column lists (``INSERT ... SELECT unnest(?), unnest(?)``, one
statement per table); the bulk is in ``record._synth_bulk``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from record._synth_catalog import CLASS_RANGES, LotSpec, ProductSpec
from record._synth_geo import Network
from record._synth_plan import Plan
from record.store import Cursor

__all__ = ["insert_rows", "temp_table", "write_small"]

_SIGNERS = ("J. Alvarez", "M. Chen", "R. Okafor", "S. Patel", "D. Kowalski", "L. Nguyen")


def insert_rows(cur: Cursor, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) with one statement of column lists."""
    if not rows:
        return
    lists = [list(col) for col in zip(*rows, strict=True)]
    picks = ", ".join(f"unnest(${i + 1})" for i in range(len(columns)))
    cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picks}", lists)


def temp_table(cur: Cursor, name: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    picks = ", ".join(f"unnest(${i + 1}) AS {c}" for i, c in enumerate(columns))
    lists = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in columns]
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {picks}", lists)


# -- small tables ---------------------------------------------------------------------------


def _network(cur: Cursor, net: Network) -> None:
    insert_rows(
        cur, "partners", ("gln", "name", "role"), [(g, n, r) for g, (n, r) in net.partners.items()]
    )
    insert_rows(
        cur,
        "locations",
        (
            "location_id",
            "gln",
            "partner_gln",
            "name",
            "kind",
            "lat",
            "lon",
            "cold_classes",
            "opens_at",
            "closes_at",
            "open_days",
            "daily_capacity",
        ),
        [
            (
                x.location_id,
                x.gln,
                x.partner_gln,
                x.name,
                x.kind,
                x.lat,
                x.lon,
                list(x.classes),
                x.hours[0] if x.hours else None,
                x.hours[1] if x.hours else None,
                list(x.open_days),
                x.capacity,
            )
            for x in net.locations
        ],
    )
    insert_rows(
        cur,
        "lanes",
        ("from_id", "to_id", "km", "minutes"),
        [(x.from_id, x.to_id, x.km, x.minutes) for x in net.lanes.values()],
    )


def _catalogue(cur: Cursor, products: list[ProductSpec], lots: list[LotSpec]) -> None:
    insert_rows(
        cur,
        "products",
        (
            "gtin",
            "ndc",
            "name",
            "manufacturer_gln",
            "company_prefix_len",
            "temp_class",
            "temp_min_c",
            "temp_max_c",
            "stability_budget_min",
            "min_shelf_life_days",
            "dosage_form",
            "strength",
        ),
        [
            (
                p.gtin,
                p.ndc,
                p.name,
                p.manufacturer_gln,
                7,
                p.temp_class,
                *CLASS_RANGES[p.temp_class],
                p.budget_min,
                p.shelf_days,
                p.dosage_form,
                p.strength,
            )
            for p in products
        ],
    )
    insert_rows(
        cur,
        "lots",
        ("gtin", "lot", "expiry", "status"),
        [(x.gtin, x.lot, x.expiry, "released") for x in lots],
    )


def _assets_routes(cur: Cursor, plan: Plan, now: datetime) -> None:
    insert_rows(
        cur,
        "assets",
        (
            "asset_id",
            "kind",
            "temp_min_c",
            "temp_max_c",
            "setpoint_c",
            "capacity_pallets",
            "location_id",
            "status",
            "health",
            "battery_pct",
        ),
        [
            (
                a.asset_id,
                a.kind,
                a.tmin,
                a.tmax,
                a.setpoint,
                a.capacity,
                _asset_at(a, now),
                a.status,
                a.health,
                a.battery_pct,
            )
            for a in plan.assets
        ],
    )
    insert_rows(
        cur,
        "routes",
        ("route_id", "asset_id", "origin_id", "departs_at", "status"),
        [
            (r.route_id, r.asset_id, r.origin.location_id, r.departs_at, r.phase)
            for r in plan.routes
        ],
    )
    insert_rows(
        cur,
        "stops",
        ("route_id", "seq", "location_id", "shipment_id", "eta"),
        [(s.route_id, s.seq, s.dest.location_id, s.shipment_id, s.eta) for s in plan.shipments],
    )


def _asset_at(asset: Any, now: datetime) -> str:
    done = [r for r in asset.routes if r.phase != "planned"]
    if not done:
        return str(asset.home_id)
    last = max(done, key=lambda r: r.departs_at)
    return str(
        last.origin.location_id if last.phase == "active" else last.shipments[-1].dest.location_id
    )


def _orders_shipments(cur: Cursor, rng: random.Random, plan: Plan, now: datetime) -> None:
    orders, ships = [], []
    for i, s in enumerate(plan.shipments):
        created = min(
            s.planned_departure - timedelta(hours=rng.randrange(24, 120)), now - timedelta(hours=1)
        )
        order_id = f"ORD-{70001 + i}"
        orders.append(
            (
                order_id,
                s.dest.partner_gln,
                s.dest.location_id,
                f"PO-{rng.randrange(100000, 999999)}",
                created,
            )
        )
        touched = min(now, s.delivered_at or s.departed_at or created)
        ships.append(
            (
                s.shipment_id,
                order_id,
                s.origin.location_id,
                s.dest.location_id,
                s.route_id,
                s.asset_id,
                s.status,
                s.planned_departure,
                s.departed_at,
                s.eta,
                *s.promised,
                s.delivered_at,
                f"TI-{s.shipment_id[4:]}-{i:05d}",
                True,
                s.notes,
                touched,
            )
        )
    insert_rows(
        cur, "orders", ("order_id", "customer_gln", "ship_to_id", "po_number", "created_at"), orders
    )
    insert_rows(
        cur,
        "shipments",
        (
            "shipment_id",
            "order_id",
            "origin_id",
            "destination_id",
            "route_id",
            "asset_id",
            "status",
            "planned_departure",
            "departed_at",
            "eta",
            "promised_start",
            "promised_end",
            "delivered_at",
            "ti_document",
            "ts_attested",
            "notes",
            "updated_at",
        ),
        ships,
    )


def _epod_contacts(cur: Cursor, rng: random.Random, plan: Plan, net: Network) -> None:
    epod = [
        (
            s.shipment_id,
            rng.choice(_SIGNERS),
            s.delivered_at + timedelta(minutes=rng.randrange(1, 6)),
            s.dest.location_id,
            s.dest.lat,
            s.dest.lon,
            "good",
            None,
        )
        for s in plan.shipments
        if s.delivered_at is not None
    ]
    insert_rows(
        cur,
        "epod",
        (
            "shipment_id",
            "signed_by",
            "signed_at",
            "location_id",
            "lat",
            "lon",
            "condition",
            "notes",
        ),
        epod,
    )
    contacts: list[tuple] = []
    for loc in net.locations:
        if loc.kind == "plant":
            continue
        home = loc.kind == "patient_home"
        who = "Patient (home delivery)" if home else f"Receiving desk, {loc.name}"
        slug = loc.location_id.replace(".", "-")
        n = len(contacts)
        contacts.append(
            (
                f"CT-{1001 + n}",
                loc.partner_gln,
                loc.location_id,
                who,
                "sms",
                f"+1555{rng.randrange(0, 10_000_000):07d}",
                home or rng.random() < 0.7,
            )
        )
        contacts.append(
            (
                f"CT-{1002 + n}",
                loc.partner_gln,
                loc.location_id,
                who,
                "email",
                f"receiving-{slug}@example.com",
                rng.random() < 0.85,
            )
        )
    insert_rows(
        cur,
        "contacts",
        ("contact_id", "partner_gln", "location_id", "name", "channel", "address", "consent"),
        contacts,
    )


def write_small(
    cur: Cursor,
    rng: random.Random,
    net: Network,
    products: list[ProductSpec],
    lots: list[LotSpec],
    plan: Plan,
    now: datetime,
) -> None:
    """Partners, locations, lanes, catalogue, assets, routes, stops, orders, shipments, ePOD,
    contacts."""
    _network(cur, net)
    _catalogue(cur, products, lots)
    _assets_routes(cur, plan, now)
    _orders_shipments(cur, rng, plan, now)
    _epod_contacts(cur, rng, plan, net)
