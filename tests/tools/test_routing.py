"""Routing: the lane graph, positions, stability budgets and find_cold_depots.

``build_network`` writes a small explicit network (also used by test_planning and
test_reschedule). Lanes run both ways; minutes (km):

    P --60 (50)-- W --60 (55)-- H          P --150 (30)-- H   (shorter, but slower)
                  W --30 (25)-- A --45 (40)-- H
                  W --90 (80)-- B --30 (25)-- H
                  W --20 (15)-- F --50 (45)-- H
                  W --10 (8)--- C --60 (50)-- H
                  H --20 (10)-- X           I --10 (5)-- J   (an island)

A: dc (crt, refrigerated)  B: cross_dock (all)  F: dc (crt, frozen)  C: dc (crt only)
I: dc (refrigerated), unreachable  H: hospital 08:00-17:00 Mon-Fri, 2 deliveries a day.

At NOW (Mon 2026-11-23 06:00) SHP-1 (2 pallets of a 2-8 °C product, budget 120 min) is in
transit at W on reefer T1, which alarms: out of range since 05:10, so 50 min used, 70 left,
burning one minute per minute. It is promised 08:00-10:00 today.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import tools.planning  # noqa: F401  (registers the tools)
from record.identifiers import gs1_check_digit
from record.store import Store
from tools import routing
from tools.base import call_tool
from tools.errors import PermissionDenied, ToolError

NOW = datetime(2026, 11, 23, 6, 0)


def gln(n: int) -> str:
    """A valid GLN for test location ``n``."""
    body = f"061414{n:06d}"
    return body + str(gs1_check_digit(body))


def gtin(n: int) -> str:
    """A valid GTIN-14 for test product ``n``."""
    body = f"1031234{n:06d}"
    return body + str(gs1_check_digit(body))


def sscc(n: int) -> str:
    """A valid SSCC for test pallet ``n``."""
    body = f"00614141{n:09d}"
    return body + str(gs1_check_digit(body))


L = SimpleNamespace(**{k: gln(i) for i, k in enumerate("PWABFCHXIJ", 1)})
REF, FRZ, CRT = gtin(1), gtin(2), gtin(3)

_LOCATIONS = [
    # key, kind, cold classes
    ("P", "plant", ["crt", "refrigerated"]),
    ("W", "other", []),
    ("A", "dc", ["crt", "refrigerated"]),
    ("B", "cross_dock", ["crt", "refrigerated", "frozen"]),
    ("F", "dc", ["crt", "frozen"]),
    ("C", "dc", ["crt"]),
    ("H", "hospital", ["crt", "refrigerated"]),
    ("X", "pharmacy", ["crt", "refrigerated"]),
    ("I", "dc", ["refrigerated"]),
    ("J", "other", []),
]
_LANES = [
    ("P", "W", 60, 50),
    ("W", "H", 60, 55),
    ("P", "H", 150, 30),
    ("W", "A", 30, 25),
    ("A", "H", 45, 40),
    ("W", "B", 90, 80),
    ("B", "H", 30, 25),
    ("W", "F", 20, 15),
    ("F", "H", 50, 45),
    ("W", "C", 10, 8),
    ("C", "H", 60, 50),
    ("H", "X", 20, 10),
    ("I", "J", 10, 5),
]
_ASSETS = [
    # id, kind, min, max, capacity, at, status, health
    ("T1", "reefer_truck", -5, 15, 10, "W", "in_service", "alarm"),
    ("T2", "reefer_truck", 0, 12, 10, "C", "available", "ok"),
    ("T3", "van", 15, 25, 10, "C", "available", "ok"),
    ("T4", "reefer_trailer", 0, 10, 1, "A", "available", "ok"),
    ("T5", "reefer_truck", -25, -15, 10, "F", "available", "ok"),
    ("T6", "reefer_truck", 2, 8, 10, "W", "available", "alarm"),
    ("T7", "reefer_truck", 2, 8, 10, "W", "maintenance", "ok"),
    ("T8", "reefer_truck", 0, 10, 10, "B", "available", "ok"),
    ("T9", "reefer_truck", 0, 10, 10, "A", "available", "ok"),
]


def _ins(store: Store, table: str, row: dict[str, Any]) -> None:
    names = ", ".join(row)
    store.execute(
        f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values())
    )


def add_shipment(
    store: Store,
    sid: str,
    *,
    status: str = "in_transit",
    product: str = REF,
    lot: str = "L1",
    pallets: int = 2,
    dest: str = "H",
    **fields: Any,
) -> None:
    """A shipment P -> ``dest`` with ``pallets`` SSCC pallets of two units each."""
    with store.transaction():
        _add_shipment(store, sid, status, product, lot, pallets, dest, fields)


def _add_shipment(
    store: Store,
    sid: str,
    status: str,
    product: str,
    lot: str,
    pallets: int,
    dest: str,
    fields: dict[str, Any],
) -> None:
    row = {
        "shipment_id": sid,
        "origin_id": L.P,
        "destination_id": getattr(L, dest),
        "status": status,
        "ts_attested": True,
        **fields,
    }
    _ins(store, "shipments", row)
    base = 100 * int(sid.split("-")[1])
    for p in range(pallets):
        pallet = sscc(base + p)
        _ins(
            store,
            "containers",
            {"container_id": pallet, "kind": "pallet", "shipment_id": sid, "declared_children": 2},
        )
        for u in range(2):
            serial = f"S{base + p}{u}"
            _ins(
                store,
                "units",
                {
                    "gtin": product,
                    "serial": serial,
                    "lot": lot,
                    "container_id": pallet,
                    "commissioned_at": NOW - timedelta(days=9),
                },
            )
            _ins(
                store,
                "shipment_units",
                {
                    "shipment_id": sid,
                    "gtin": product,
                    "serial": serial,
                    "lot": lot,
                    "container_id": pallet,
                },
            )


def build_network(store: Store) -> Store:
    """Write the network described in the module docstring; return the store."""
    with store.transaction():
        _build(store)
    return store


def _build(store: Store) -> None:
    store.set_meta("network_now", NOW.isoformat())
    for key, kind, cold in _LOCATIONS:
        hours = (
            {"opens_at": "08:00", "closes_at": "17:00", "daily_capacity": 2} if key == "H" else {}
        )
        _ins(
            store,
            "locations",
            {
                "location_id": getattr(L, key),
                "gln": getattr(L, key),
                "name": f"Site {key}",
                "kind": kind,
                "cold_classes": cold,
                **hours,
            },
        )
    for a, b, minutes, km in _LANES:
        for src, dst in ((a, b), (b, a)):
            _ins(
                store,
                "lanes",
                {
                    "from_id": getattr(L, src),
                    "to_id": getattr(L, dst),
                    "km": km,
                    "minutes": minutes,
                },
            )
    for code, cls, lo, hi, budget in (
        (REF, "refrigerated", 2, 8, 120),
        (FRZ, "frozen", -25, -10, 60),
        (CRT, "crt", 20, 25, 0),
    ):
        _ins(
            store,
            "products",
            {
                "gtin": code,
                "name": f"{cls} product",
                "temp_class": cls,
                "temp_min_c": lo,
                "temp_max_c": hi,
                "stability_budget_min": budget,
                "min_shelf_life_days": 30,
            },
        )
    _ins(store, "lots", {"gtin": REF, "lot": "L1", "expiry": date(2027, 6, 30)})
    _ins(store, "lots", {"gtin": REF, "lot": "L2", "expiry": date(2026, 12, 26)})
    for aid, kind, lo, hi, cap, at, status, health in _ASSETS:
        _ins(
            store,
            "assets",
            {
                "asset_id": aid,
                "kind": kind,
                "temp_min_c": lo,
                "temp_max_c": hi,
                "capacity_pallets": cap,
                "location_id": getattr(L, at),
                "status": status,
                "health": health,
                "last_telemetry_at": NOW - timedelta(minutes=5),
            },
        )
    _ins(
        store,
        "routes",
        {
            "route_id": "R1",
            "asset_id": "T1",
            "origin_id": L.P,
            "departs_at": NOW - timedelta(hours=1),
            "status": "active",
        },
    )
    add_shipment(
        store,
        "SHP-1",
        route_id="R1",
        asset_id="T1",
        departed_at=NOW - timedelta(hours=1),
        eta=NOW + timedelta(hours=1),
        promised_start=datetime(2026, 11, 23, 8),
        promised_end=datetime(2026, 11, 23, 10),
    )
    add_shipment(
        store,
        "SHP-6",
        route_id="R1",
        asset_id="T1",
        dest="X",
        pallets=1,
        departed_at=NOW - timedelta(hours=1),
        eta=NOW + timedelta(hours=2),
    )
    _ins(
        store,
        "stops",
        {
            "route_id": "R1",
            "seq": 1,
            "location_id": L.H,
            "shipment_id": "SHP-1",
            "eta": NOW + timedelta(hours=1),
        },
    )
    _ins(
        store,
        "stops",
        {
            "route_id": "R1",
            "seq": 2,
            "location_id": L.X,
            "shipment_id": "SHP-6",
            "eta": NOW + timedelta(hours=2),
        },
    )
    for minute, temp in (
        (-60, 5.0),
        (-50, 9.0),
        (-40, 10.0),
        (-30, 10.5),
        (-20, 11.0),
        (-10, 11.5),
    ):
        _ins(
            store,
            "sensor_readings",
            {
                "asset_id": "T1",
                "shipment_id": "SHP-1",
                "ts": NOW + timedelta(minutes=minute),
                "temp_c": temp,
            },
        )
    _ins(
        store,
        "exceptions",
        {
            "exception_id": "EXC-1",
            "kind": "asset_fault",
            "severity": "high",
            "subject": "T1",
            "shipment_id": "SHP-1",
            "detected_at": NOW,
            "evidence": "{}",
        },
    )


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every row a planning tool may change, to compare before and after a refusal."""
    tables = (
        "shipments",
        "stops",
        "routes",
        "assets",
        "plan_changes",
        "handoff_plans",
        "exceptions",
        "tool_calls",
    )
    return {
        t: sorted(map(tuple, store.execute(f"SELECT * FROM {t}").fetchall()), key=repr)
        for t in tables
    }


def network_template(factory: pytest.TempPathFactory) -> Path:
    """Build the network once into a DuckDB file that tests copy."""
    path = factory.mktemp("network") / "network.duckdb"
    with Store(path) as store:
        build_network(store)
    return path


def network_copy(template: Path, tmp_path: Path) -> Store:
    """A fresh copy of the network in a real DuckDB file (close it when done)."""
    copy = tmp_path / "net.duckdb"
    shutil.copyfile(template, copy)
    return Store(copy)


@pytest.fixture(scope="module")
def network_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return network_template(tmp_path_factory)


@pytest.fixture
def net(network_file: Path, tmp_path: Path) -> Iterator[Store]:
    with network_copy(network_file, tmp_path) as store:
        yield store


def seeded_network(store: Store) -> Store:
    """A small seeded synthetic network (every exception kind injected); skip without synth."""
    synth = pytest.importorskip("record.synth")
    synth.generate(store, scale=0.05, seed=7)
    return store


def truth(store: Store, kind: str) -> dict[str, Any]:
    """The first injected exception of ``kind`` (ground truth of the synthetic network)."""
    found = store.row("SELECT * FROM synth_truth WHERE kind = ? ORDER BY subject", [kind])
    assert found, f"the seeded network has no injected {kind}"
    return found


# -- the lane graph ---------------------------------------------------------------------------


def test_shortest_leg_minimises_minutes_not_km(net: Store) -> None:
    graph = routing.lane_graph(net.cursor())
    leg = routing.shortest_leg(graph, L.P, L.H)
    assert leg == routing.Leg(minutes=120, km=105.0, path=(L.P, L.W, L.H))  # not the 30 km lane


def test_unreachable_and_unknown_locations_have_no_leg(net: Store) -> None:
    graph = routing.lane_graph(net.cursor())
    assert routing.shortest_leg(graph, L.W, L.I) is None
    assert routing.shortest_leg(graph, L.W, "0000000000000") is None
    assert routing.shortest_leg(graph, L.W, L.W) == routing.Leg(0, 0.0, (L.W,))


def test_legs_to_reads_paths_towards_the_target(net: Store) -> None:
    graph = routing.lane_graph(net.cursor())
    legs = routing.legs_to(graph, L.H)
    assert legs[L.W].path == (L.W, L.H) and legs[L.P].minutes == 120
    assert L.I not in legs


def test_graph_is_cached_until_lanes_change(net: Store) -> None:
    first = routing.lane_graph(net.cursor())
    assert routing.lane_graph(net.cursor()) is first
    net.execute("UPDATE lanes SET minutes = 5 WHERE from_id = ? AND to_id = ?", [L.P, L.H])
    second = routing.lane_graph(net.cursor())
    assert second is not first
    assert routing.shortest_leg(second, L.P, L.H).minutes == 5


# -- position and stability -------------------------------------------------------------------


def _shipment(store: Store, sid: str) -> Any:
    from record.models import Shipment

    return Shipment.from_row(store.row("SELECT * FROM shipments WHERE shipment_id = ?", [sid]))


def test_position_uses_the_newer_of_telemetry_and_custody(net: Store) -> None:
    cur, graph = net.cursor(), routing.lane_graph(net.cursor())
    pos = routing.current_position(cur, _shipment(net, "SHP-1"), graph, NOW)
    assert (pos.location_id, pos.basis) == (L.W, "asset_telemetry")
    net.execute(
        "INSERT INTO custody_events (event_id, event_type, event_time, read_point, shipment_id)"
        " VALUES ('e1', 'ObjectEvent', ?, ?, 'SHP-1')",
        [NOW - timedelta(minutes=1), f"{L.A}.7"],
    )  # a scan at A (an SGLN extension), newer than the telemetry
    pos = routing.current_position(cur, _shipment(net, "SHP-1"), graph, NOW)
    assert (pos.location_id, pos.basis, pos.heading_to) == (L.A, "custody_event", L.H)
    assert (pos.minutes_since, pos.minutes_to_next) == (1, 44)  # 1 min into the 45 min lane


def test_a_shipment_between_nodes_can_go_on_or_turn_back(net: Store) -> None:
    add_shipment(net, "SHP-7", departed_at=NOW - timedelta(minutes=20))  # no asset, no scans
    graph = routing.lane_graph(net.cursor())
    pos = routing.current_position(net.cursor(), _shipment(net, "SHP-7"), graph, NOW)
    assert (pos.location_id, pos.basis, pos.heading_to) == (L.P, "origin", L.W)
    assert (pos.minutes_since, pos.minutes_to_next) == (20, 40)
    assert routing.reach(graph, pos, L.H).minutes == 100  # on: 40 + 60
    assert routing.reach(graph, pos, L.A).minutes == 70  # on: 40 + 30
    back = routing.reach(graph, pos, L.P)
    assert (back.minutes, back.km, back.path) == (20, pytest.approx(50 / 3, abs=0.01), (L.P,))
    assert routing.reach_all(graph, pos)[L.B].minutes == 130


def test_a_vehicle_overdue_on_its_path_is_arriving_now(net: Store) -> None:
    add_shipment(net, "SHP-7", departed_at=NOW - timedelta(hours=5))
    graph = routing.lane_graph(net.cursor())
    pos = routing.current_position(net.cursor(), _shipment(net, "SHP-7"), graph, NOW)
    assert (pos.location_id, pos.heading_to, pos.minutes_to_next) == (L.W, L.H, 0)
    assert routing.reach(graph, pos, L.H).minutes == 0


def test_position_of_a_shipment_not_yet_departed_is_its_origin(net: Store) -> None:
    add_shipment(net, "SHP-2", status="planned", asset_id="T9")
    graph = routing.lane_graph(net.cursor())
    pos = routing.current_position(net.cursor(), _shipment(net, "SHP-2"), graph, NOW)
    assert (pos.location_id, pos.basis) == (L.P, "origin")


def test_stability_counts_minutes_out_of_range_and_burns_on(net: Store) -> None:
    stab = routing.stability(net.cursor(), "SHP-1", NOW)
    (ref,) = stab.products
    assert (ref.gtin, ref.used_min, ref.remaining_min) == (REF, 50.0, 70.0)
    assert stab.burning_now and stab.remaining_after(30) == 40.0
    assert stab.minutes_until_exhausted() == 70.0


def test_stability_follows_a_warming_trend(net: Store) -> None:
    add_shipment(net, "SHP-2")
    for minute in range(0, 61, 10):  # 3.0 °C rising to 7.0 °C over the last hour
        net.execute(
            "INSERT INTO sensor_readings VALUES ('T9', 'SHP-2', ?, ?, 'telemetry')",
            [NOW - timedelta(minutes=60 - minute), 3.0 + minute / 15],
        )
    stab = routing.stability(net.cursor(), "SHP-2", NOW)
    assert not stab.burning_now
    assert stab.products[0].minutes_until_out == pytest.approx(15.0)  # 1 °C left at 4 °C/h
    assert stab.remaining_after(45) == pytest.approx(90.0)
    assert stab.minutes_until_exhausted() == pytest.approx(135.0)


def test_room_temperature_products_without_budget_are_not_watched(net: Store) -> None:
    add_shipment(net, "SHP-2", product=CRT)
    assert not routing.stability(net.cursor(), "SHP-2", NOW).applies


# -- find_cold_depots -------------------------------------------------------------------------


def test_find_cold_depots_lists_only_depots_that_hold_the_class(net: Store, make_ctx) -> None:
    found = call_tool(make_ctx(net), "find_cold_depots", {"shipment_id": "SHP-1"})
    assert [d.depot_id for d in found.depots] == [L.A, L.B]  # not F, C (class), I (no lanes), X
    a, b = found.depots
    assert (a.eta_at_depot, a.delivery_eta) == (
        datetime(2026, 11, 23, 6, 30),
        datetime(2026, 11, 23, 7, 45),
    )
    assert (a.keeps_window, a.budget_holds, a.budget_at_depot_min, a.extra_km) == (
        True,
        True,
        40.0,
        10.0,
    )
    assert (b.budget_holds, b.budget_at_depot_min) == (False, -20.0)
    assert found.position == L.W and found.temp_classes == ["refrigerated"]
    assert found.budget.remaining_min == 70.0 and found.budget.burning_now


def test_find_cold_depots_for_a_frozen_shipment(net: Store, make_ctx) -> None:
    add_shipment(net, "SHP-2", status="planned", product=FRZ)
    found = call_tool(make_ctx(net), "find_cold_depots", {"shipment_id": "SHP-2", "max_results": 1})
    assert [d.depot_id for d in found.depots] == [L.F]  # F is nearer than B from the origin
    assert found.budget.applies and not found.budget.burning_now


def test_find_cold_depots_is_open_to_auditors_not_the_contact_center(net: Store, make_ctx) -> None:
    assert call_tool(make_ctx(net, "auditor"), "find_cold_depots", {"shipment_id": "SHP-1"}).depots
    with pytest.raises(PermissionDenied, match="contact_center may not call find_cold_depots"):
        call_tool(make_ctx(net, "contact_center"), "find_cold_depots", {"shipment_id": "SHP-1"})


def test_find_cold_depots_refuses_a_delivered_shipment(net: Store, make_ctx) -> None:
    net.execute("UPDATE shipments SET status = 'delivered' WHERE shipment_id = 'SHP-1'")
    with pytest.raises(ToolError, match="cannot find depots for shipment SHP-1: it was already"):
        call_tool(make_ctx(net), "find_cold_depots", {"shipment_id": "SHP-1"})


# -- on a seeded synthetic network ------------------------------------------------------------


def test_seeded_network_positions_budgets_and_depots(empty_store: Store, make_ctx) -> None:
    store = seeded_network(empty_store)
    now = datetime.fromisoformat(store.get_meta("network_now"))
    graph = routing.lane_graph(store.cursor())
    # single-stop shipments in transit: our ETA from the position agrees with the route plan
    for row in store.rows(
        "SELECT s.* FROM shipments s WHERE status = 'in_transit' AND (SELECT count(*) FROM stops"
        " t WHERE t.route_id = s.route_id) = 1 AND shipment_id NOT IN (SELECT shipment_id FROM"
        " synth_truth WHERE shipment_id IS NOT NULL)"
    ):
        ship = _shipment(store, row["shipment_id"])
        leg = routing.reach(
            graph, routing.current_position(store.cursor(), ship, graph, now), ship.destination_id
        )
        assert now + timedelta(minutes=leg.minutes) == ship.eta, ship.shipment_id
    excursion = truth(store, "temp_excursion")
    stab = routing.stability(store.cursor(), excursion["shipment_id"], now)
    out = json.loads(excursion["details"])["minutes_out_of_range"]
    assert (
        out <= stab.strictest().used_min <= out + 5
    )  # readings every 5 min, each holds to the next
    sid = truth(store, "asset_fault")["shipment_id"]
    found = call_tool(make_ctx(store, "auditor"), "find_cold_depots", {"shipment_id": sid})
    kinds = {r["location_id"]: r for r in store.rows("SELECT * FROM locations")}
    assert found.depots
    for depot in found.depots:
        assert kinds[depot.depot_id]["kind"] in ("dc", "cross_dock")
        assert set(found.temp_classes) <= set(kinds[depot.depot_id]["cold_classes"])
    order = [(not d.budget_holds, not d.keeps_window, d.eta_at_depot) for d in found.depots]
    assert order == sorted(order)
