"""reroute_shipment, find_compatible_assets and swap_asset on the network of test_routing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from record import audit
from record.store import Store
from tests.tools.test_routing import (
    L,
    add_shipment,
    network_copy,
    network_template,
    seeded_network,
    snapshot,
    sscc,
    truth,
)
from tools.base import call_tool
from tools.errors import IdempotencyConflict, PermissionDenied, ToolError

T = datetime(2026, 11, 23, 0, 0)


def at(hh: int, mm: int = 0) -> datetime:
    """A time on the network's day."""
    return T.replace(hour=hh, minute=mm)


@pytest.fixture(scope="module")
def network_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return network_template(tmp_path_factory)


@pytest.fixture
def net(network_file: Path, tmp_path: Path) -> Iterator[Store]:
    with network_copy(network_file, tmp_path) as store:
        yield store


def _refused(store: Store, ctx, tool: str, args: dict, match: str, code: str) -> ToolError:
    """Call a tool that must refuse; the record must be unchanged and the refusal audited."""
    before = snapshot(store)
    with pytest.raises(ToolError, match=match) as caught:
        call_tool(ctx, tool, args)
    assert caught.value.code == code
    assert snapshot(store) == before
    last = audit.entries(store, action=f"{tool}.refused")[-1]
    assert last.result["code"] == code
    return caught.value


# -- reroute_shipment ---------------------------------------------------------------------------

REROUTE = {
    "shipment_id": "SHP-1",
    "depot_id": L.A,
    "reason": "reefer T1 alarm",
    "exception_id": "EXC-1",
}


def test_reroute_inserts_the_depot_before_the_destination(net: Store, make_ctx) -> None:
    result = call_tool(make_ctx(net), "reroute_shipment", REROUTE, idempotency_key="rr-1")
    assert (result.eta_at_depot, result.new_eta, result.previous_eta) == (
        at(6, 30),
        at(7, 45),
        at(7),
    )
    assert result.keeps_window and result.budget_left_on_arrival_min == 40.0
    assert result.not_retimed == ["SHP-6"]
    stops = net.rows(
        "SELECT seq, location_id, shipment_id, eta FROM stops WHERE route_id = 'R1' ORDER BY seq"
    )
    assert [(s["seq"], s["location_id"], s["shipment_id"], s["eta"]) for s in stops] == [
        (1, L.A, "SHP-1", at(6, 30)),
        (2, L.H, "SHP-1", at(7, 45)),
        (3, L.X, "SHP-6", at(8)),
    ]
    assert net.scalar("SELECT eta FROM shipments WHERE shipment_id = 'SHP-1'") == at(7, 45)
    change = net.row("SELECT * FROM plan_changes WHERE change_id = ?", [result.change_id])
    assert change["tool"] == "reroute_shipment" and change["actor"] == "test:ops_manager"
    assert json.loads(change["after_state"])["eta"] == "2026-11-23T07:45:00"
    exc = net.row("SELECT status, resolution FROM exceptions WHERE exception_id = 'EXC-1'")
    assert exc == {"status": "acted", "resolution": f"rerouted via {L.A}: reefer T1 alarm"}
    (entry,) = audit.entries(net, action="reroute_shipment")
    assert (entry.subject, entry.idempotency_key, entry.result["depot_id"]) == (
        "SHP-1",
        "rr-1",
        L.A,
    )


def test_reroute_replay_returns_the_first_result_without_a_second_change(
    net: Store, make_ctx
) -> None:
    first = call_tool(make_ctx(net), "reroute_shipment", REROUTE, idempotency_key="rr-1")
    again = call_tool(make_ctx(net), "reroute_shipment", REROUTE, idempotency_key="rr-1")
    assert again == first
    assert net.scalar("SELECT count(*) FROM stops WHERE route_id = 'R1'") == 3
    assert net.scalar("SELECT count(*) FROM plan_changes") == 1
    with pytest.raises(IdempotencyConflict, match="other arguments"):
        call_tool(
            make_ctx(net), "reroute_shipment", {**REROUTE, "depot_id": L.B}, idempotency_key="rr-1"
        )


def test_reroute_a_second_time_via_the_same_depot_is_refused(net: Store, make_ctx) -> None:
    call_tool(make_ctx(net), "reroute_shipment", REROUTE)
    _refused(
        net, make_ctx(net), "reroute_shipment", REROUTE, "already routed via", "already_routed"
    )


def test_reroute_without_a_route_creates_one(net: Store, make_ctx) -> None:
    add_shipment(net, "SHP-2", status="planned", planned_departure=at(9))
    result = call_tool(
        make_ctx(net), "reroute_shipment", {**REROUTE, "shipment_id": "SHP-2", "exception_id": None}
    )
    assert (
        net.scalar("SELECT route_id FROM shipments WHERE shipment_id = 'SHP-2'") == result.route_id
    )
    assert [(s.seq, s.location_id) for s in result.stops] == [(1, L.A), (2, L.H)]
    assert result.eta_at_depot == at(10, 30) and result.budget_left_on_arrival_min == 120.0


@pytest.mark.parametrize(
    ("depot", "match", "code"),
    [
        (L.F, r"cannot hold refrigerated product: it stores crt, frozen", "depot_cannot_hold"),
        (L.C, r"cannot hold refrigerated product: it stores crt;", "depot_cannot_hold"),
        (L.I, r"unreachable: no lanes lead from .* to ", "unreachable"),
        (
            L.B,
            r"would run out before reaching .*: 70 min left now, the depot is 90 min away"
            r" and the product would be 20 min over budget",
            "budget_exhausted",
        ),
        (L.X, r"is a pharmacy, not a depot", "not_a_depot"),
        (L.H, r"is the destination of SHP-1", "depot_is_destination"),
        ("0614149999999", r"unknown location", "unknown_location"),
    ],
)
def test_reroute_refusals_leave_the_record_unchanged(net, make_ctx, depot, match, code) -> None:
    _refused(net, make_ctx(net), "reroute_shipment", {**REROUTE, "depot_id": depot}, match, code)


@pytest.mark.parametrize("status", ["delivered", "quarantined", "held"])
def test_reroute_refuses_a_shipment_that_may_not_move(net: Store, make_ctx, status: str) -> None:
    net.execute("UPDATE shipments SET status = ? WHERE shipment_id = 'SHP-1'", [status])
    _refused(
        net,
        make_ctx(net),
        "reroute_shipment",
        REROUTE,
        "cannot reroute shipment SHP-1",
        f"shipment_{status}",
    )


def test_reroute_is_not_open_to_auditors_and_the_denial_is_audited(net: Store, make_ctx) -> None:
    before = snapshot(net)
    with pytest.raises(PermissionDenied, match="role auditor may not call reroute_shipment"):
        call_tool(make_ctx(net, "auditor"), "reroute_shipment", REROUTE)
    assert snapshot(net) == before
    (entry,) = audit.entries(net, action="reroute_shipment.refused")
    assert (entry.actor, entry.subject, entry.result["code"]) == (
        "test:auditor",
        "SHP-1",
        "forbidden",
    )


# -- find_compatible_assets ---------------------------------------------------------------------


def test_find_compatible_assets_orders_by_arrival_and_counts_exclusions(
    net: Store, make_ctx
) -> None:
    found = call_tool(make_ctx(net), "find_compatible_assets", {"shipment_id": "SHP-1"})
    assert [a.asset_id for a in found.assets] == ["T2", "T9"]
    t2 = found.assets[0]
    assert (t2.meeting_at, t2.delivery_eta, t2.budget_at_handoff_min) == (
        at(6, 10),
        at(7, 40),
        30.0,
    )
    assert t2.setpoint_c == 5.0 and t2.keeps_window and t2.free_pallets == 10
    assert found.pallets_needed == 2 and found.setpoint_band_c == [3.0, 7.0]
    assert found.excluded == {
        "same_asset": 1,
        "asset_temperature": 2,
        "asset_full": 1,
        "asset_unhealthy": 1,
        "asset_unavailable": 1,
        "budget_exhausted": 1,
    }


def test_free_capacity_counts_other_loads_on_the_asset(net: Store, make_ctx) -> None:
    add_shipment(net, "SHP-2", status="planned", asset_id="T2", pallets=9)
    found = call_tool(make_ctx(net), "find_compatible_assets", {"shipment_id": "SHP-1"})
    assert [a.asset_id for a in found.assets] == ["T9"] and found.excluded["asset_full"] == 2


def test_the_load_meets_the_new_asset_where_both_get_soonest(net: Store, make_ctx) -> None:
    add_shipment(net, "SHP-7", departed_at=at(5, 30), promised_end=at(9))  # P -> W, 30 min left
    found = call_tool(make_ctx(net), "find_compatible_assets", {"shipment_id": "SHP-7"})
    first = found.assets[0]
    assert (found.position, found.heading_to) == (L.P, L.W)
    assert (first.asset_id, first.meeting_location_id, first.meeting_at) == ("T2", L.W, at(6, 30))
    assert first.delivery_eta == at(8) and first.budget_at_handoff_min == 120.0
    swapped = call_tool(
        make_ctx(net), "swap_asset", {**SWAP, "shipment_id": "SHP-7", "exception_id": None}
    )
    assert (swapped.meeting_location_id, swapped.new_eta) == (L.W, at(8))
    assert swapped.old_asset_id is None and swapped.containers == [sscc(700), sscc(701)]


# -- swap_asset ---------------------------------------------------------------------------------

SWAP = {
    "shipment_id": "SHP-1",
    "new_asset_id": "T2",
    "reason": "reefer T1 alarm",
    "exception_id": "EXC-1",
}


def test_swap_moves_the_load_and_plans_the_handoff(net: Store, make_ctx) -> None:
    result = call_tool(make_ctx(net), "swap_asset", SWAP, idempotency_key="sw-1")
    assert (result.meeting_location_id, result.meeting_at, result.new_eta) == (
        L.W,
        at(6, 10),
        at(7, 40),
    )
    assert result.containers == [sscc(100), sscc(101)] and result.budget_left_at_handoff_min == 30.0
    shp = net.row("SELECT asset_id, route_id, eta FROM shipments WHERE shipment_id = 'SHP-1'")
    assert shp == {"asset_id": "T2", "route_id": result.route_id, "eta": at(7, 40)}
    assets = {r["asset_id"]: r for r in net.rows("SELECT * FROM assets")}
    assert (assets["T2"]["status"], assets["T2"]["setpoint_c"]) == ("in_service", 5.0)
    assert (assets["T1"]["status"], assets["T1"]["health"]) == ("in_service", "alarm")
    handoff = net.row("SELECT * FROM handoff_plans WHERE handoff_id = ?", [result.handoff_id])
    assert (handoff["from_asset_id"], handoff["to_asset_id"], handoff["status"]) == (
        "T1",
        "T2",
        "planned",
    )
    assert handoff["containers"] == result.containers and handoff["planned_at"] == at(6, 10)
    assert net.rows("SELECT route_id, seq, location_id FROM stops ORDER BY route_id") == [
        {"route_id": "R1", "seq": 2, "location_id": L.X},
        {"route_id": result.route_id, "seq": 1, "location_id": L.H},
    ]
    assert net.row(
        "SELECT asset_id, origin_id FROM routes WHERE route_id = ?", [result.route_id]
    ) == {"asset_id": "T2", "origin_id": L.W}
    assert net.scalar("SELECT asset_id FROM shipments WHERE shipment_id = 'SHP-6'") == "T1"
    assert net.scalar("SELECT status FROM exceptions WHERE exception_id = 'EXC-1'") == "acted"
    (entry,) = audit.entries(net, action="swap_asset")
    assert entry.result["new_asset_id"] == "T2" and entry.reason is None


def test_after_a_swap_plans_start_from_the_meeting_point(net: Store, make_ctx) -> None:
    call_tool(make_ctx(net), "swap_asset", SWAP)  # T2 meets the load at W at 06:10
    found = call_tool(make_ctx(net), "find_cold_depots", {"shipment_id": "SHP-1"})
    assert (found.position, found.position_basis) == (L.W, "handoff_plan")
    assert found.depots[0].eta_at_depot == at(7, 10)  # handoff done 06:40, then 30 min to A
    rerouted = call_tool(make_ctx(net), "reroute_shipment", {**REROUTE, "exception_id": None})
    stops = net.rows("SELECT seq, location_id FROM stops WHERE shipment_id = 'SHP-1' ORDER BY seq")
    assert [s["location_id"] for s in stops] == [L.A, L.H] and rerouted.new_eta == at(8, 25)


def test_swap_replay_has_no_second_effect(net: Store, make_ctx) -> None:
    first = call_tool(make_ctx(net), "swap_asset", SWAP, idempotency_key="sw-1")
    assert call_tool(make_ctx(net), "swap_asset", SWAP, idempotency_key="sw-1") == first
    assert net.scalar("SELECT count(*) FROM handoff_plans") == 1
    assert net.scalar("SELECT count(*) FROM routes") == 2
    with pytest.raises(IdempotencyConflict):
        call_tool(
            make_ctx(net), "swap_asset", {**SWAP, "new_asset_id": "T9"}, idempotency_key="sw-1"
        )


@pytest.mark.parametrize(
    ("asset", "match", "code"),
    [
        ("T3", r"T3 is too warm \(coldest 15 °C\).*setpoint within 3 to 7 °C", "asset_temperature"),
        ("T5", r"T5 is too cold \(warmest -15 °C\)", "asset_temperature"),
        ("T4", r"T4 has 1 free pallet places; the load needs 2", "asset_full"),
        ("T6", r"T6 reports alarm", "asset_unhealthy"),
        ("T7", r"T7 is maintenance, not available", "asset_unavailable"),
        ("T8", r"T8 is 90 min away.* budget would be 50 min overspent", "budget_exhausted"),
        ("T1", r"T1 already carries SHP-1", "same_asset"),
        ("T99", r"unknown asset 'T99'", "unknown_asset"),
    ],
)
def test_swap_refusals_leave_the_record_unchanged(net, make_ctx, asset, match, code) -> None:
    _refused(net, make_ctx(net), "swap_asset", {**SWAP, "new_asset_id": asset}, match, code)


def test_swap_refuses_a_held_shipment_and_auditors(net: Store, make_ctx) -> None:
    with pytest.raises(PermissionDenied):
        call_tool(make_ctx(net, "auditor"), "swap_asset", SWAP)
    net.execute("UPDATE shipments SET status = 'held' WHERE shipment_id = 'SHP-1'")
    _refused(net, make_ctx(net), "swap_asset", SWAP, "on hold", "shipment_held")


def test_unknown_exception_rolls_the_swap_back(net: Store, make_ctx) -> None:
    _refused(
        net,
        make_ctx(net, "automation"),
        "swap_asset",
        {**SWAP, "exception_id": "EXC-9"},
        "unknown exception",
        "unknown_exception",
    )


def test_seeded_network_swap_then_reroute(empty_store: Store, make_ctx) -> None:
    store = seeded_network(empty_store)
    fault = truth(store, "asset_fault")
    sid, old = fault["shipment_id"], fault["subject"]
    ctx = make_ctx(store, "automation")
    found = call_tool(ctx, "find_compatible_assets", {"shipment_id": sid})
    assert found.assets, found.excluded
    pick = found.assets[0]
    assert [a.meeting_at for a in found.assets] == sorted(a.meeting_at for a in found.assets)
    old_asset = store.row("SELECT status, health FROM assets WHERE asset_id = ?", [old])
    swap = call_tool(
        ctx,
        "swap_asset",
        {"shipment_id": sid, "new_asset_id": pick.asset_id, "reason": f"{old} reports a fault"},
    )
    assert (swap.new_eta, swap.meeting_at) == (pick.delivery_eta, pick.meeting_at)
    row = store.row("SELECT asset_id, eta FROM shipments WHERE shipment_id = ?", [sid])
    assert row == {"asset_id": pick.asset_id, "eta": pick.delivery_eta}
    assert (
        store.scalar("SELECT status FROM assets WHERE asset_id = ?", [pick.asset_id])
        == "in_service"
    )
    assert store.row("SELECT status, health FROM assets WHERE asset_id = ?", [old]) == old_asset
    pallets = store.scalar(
        "SELECT count(*) FROM containers WHERE shipment_id = ? AND kind ="
        " 'pallet' AND parent_id IS NULL",
        [sid],
    )
    assert len(swap.containers) >= pallets > 0
    depots = call_tool(ctx, "find_cold_depots", {"shipment_id": sid}).depots
    good = next(d for d in depots if d.budget_holds)
    rerouted = call_tool(
        ctx,
        "reroute_shipment",
        {"shipment_id": sid, "depot_id": good.depot_id, "reason": "hold cold until the swap"},
    )
    assert rerouted.new_eta == good.delivery_eta
    assert [s.location_id for s in rerouted.stops][-2:] == [good.depot_id, fault_dest(store, sid)]
    assert store.scalar("SELECT count(*) FROM plan_changes WHERE shipment_id = ?", [sid]) == 2


def fault_dest(store: Store, sid: str) -> str:
    return store.scalar("SELECT destination_id FROM shipments WHERE shipment_id = ?", [sid])


@pytest.mark.parametrize(
    ("name", "kind", "risk", "roles"),
    [
        ("find_cold_depots", "READ", "read", {"ops_manager", "automation", "auditor"}),
        ("find_compatible_assets", "READ", "read", {"ops_manager", "automation", "auditor"}),
        ("reschedule_options", "READ", "read",
         {"ops_manager", "automation", "auditor", "contact_center"}),
        ("reroute_shipment", "WRITE", "permissive", {"ops_manager", "automation"}),
        ("swap_asset", "WRITE", "permissive", {"ops_manager", "automation"}),
        ("reschedule_delivery", "WRITE", "permissive",
         {"ops_manager", "automation", "contact_center"}),
    ],
)  # fmt: skip
def test_tool_registration(name: str, kind: str, risk: str, roles: set[str]) -> None:
    import tools.reschedule  # noqa: F401
    from tools.base import REGISTRY

    spec = REGISTRY[name]
    assert (spec.kind.value, spec.risk.value, set(spec.roles)) == (kind, risk, roles)
    assert all(f.description for f in spec.args_model.model_fields.values())
    assert spec.description and "\n\n" not in spec.description
