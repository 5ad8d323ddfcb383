"""recall_impact and recall_lot: hand-counted on the small network, end to end on a seeded one."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from record import audit
from record.store import Store
from tests.tools.test_actions import snapshot
from tests.tools.test_read import (
    DC,
    HOSP,
    HOSP_CO,
    NOW,
    P1,
    P2,
    PHARM,
    PHARM_CO,
    PLANT,
    Net,
    build_template,
    open_copy,
)
from tools import recall  # noqa: F401  (registers the tools)
from tools.base import call_tool
from tools.errors import IdempotencyConflict, PermissionDenied, ToolError

RECALL = {"gtin": P1, "lot": "L1", "reason": "Particulate matter found", "recall_class": "II"}


@pytest.fixture(scope="module")
def net_template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def net(net_template: Path, tmp_path: Path) -> Iterator[Net]:
    store = open_copy(net_template, tmp_path)
    yield Net(store)
    store.close()


def impact(store: Store, make_ctx, role: str = "ops_manager", **args):
    return call_tool(make_ctx(store, role, now=NOW), "recall_impact", args)


def recall_lot(store: Store, make_ctx, args: dict = RECALL, **kw):
    return call_tool(make_ctx(store, now=NOW), "recall_lot", args, **kw)


# --- recall_impact ---------------------------------------------------------------------------


def test_recall_impact_matches_the_hand_count(net, make_ctx):
    found = impact(net.store, make_ctx, "auditor", gtin=P1, lot="L1")
    # U1-U5 packed (S1), U7-U8 shipped (S2), U10-U11 received (S3), U12 dispensed, U13-U14 at DC
    assert found.units == 12 and found.units_declared_only == 0
    assert found.units_by_status == {"packed": 5, "shipped": 2, "received": 2, "dispensed": 1,
                                     "commissioned": 2}  # fmt: skip
    assert (found.containers, found.containers_by_kind) == (7, {"case": 4, "pallet": 3})
    assert found.shipments_by_status == {"released": 1, "in_transit": 1, "delivered": 1}
    assert [(s["shipment_id"], s["units"]) for s in found.shipment_list] == [
        ("S1", 5), ("S2", 2), ("S3", 2)]  # fmt: skip
    places = {p["location_id"]: (p["units"], p["destination"]) for p in found.location_list}
    assert places == {PLANT: (5, False), DC: (4, False), PHARM: (2, True), HOSP: (0, True)}
    assert found.locations == 4 and found.customers == 2
    customers = {c["customer"]: [k["contact_id"] for k in c["contacts"]]
                 for c in found.customer_list}  # fmt: skip
    assert customers == {PHARM_CO: ["A1", "A2"], HOSP_CO: ["H1"]}
    assert (found.contacts, found.contacts_with_consent) == (3, 2)
    assert found.product.startswith("Insulin") and found.lot_status == "released"


def test_recall_impact_of_another_lot_and_capped_lists(net, make_ctx):
    found = impact(net.store, make_ctx, gtin=P1, lot="L2", limit=1)
    assert found.units == 2 and found.shipments == 2  # U6 on S1, U9 on S2
    assert len(found.shipment_list) == 1 and len(found.container_ids) == 1
    assert found.containers == 4


def test_recall_impact_counts_units_declared_but_never_commissioned(net, make_ctx):
    net.store.execute(
        "INSERT INTO shipment_units VALUES ('S4', ?, 'GHOST', 'L3', NULL, NULL)", [P2]
    )
    found = impact(net.store, make_ctx, gtin=P2, lot="L3")
    assert (found.units, found.units_declared_only, found.shipments) == (1, 1, 1)


@pytest.mark.parametrize(
    ("gtin", "lot", "message"),
    [(P1[:-1] + "0", "L1", f"check digit is 0, expected {P1[-1]}"),
     (P1, "L9", "has no lot 'L9' on record; its lots include L1, L2"),
     ("00012345678905", "L1", "no product with GTIN 00012345678905")],
)  # fmt: skip
def test_recall_impact_names_what_is_unknown(net, make_ctx, gtin, lot, message):
    with pytest.raises(ToolError, match=message):
        impact(net.store, make_ctx, gtin=gtin, lot=lot)


def test_recall_impact_is_not_for_the_contact_center(net, make_ctx):
    with pytest.raises(PermissionDenied):
        impact(net.store, make_ctx, "contact_center", gtin=P1, lot="L1")


# --- recall_lot ------------------------------------------------------------------------------


def test_recall_lot_holds_quarantines_and_drafts_notices(net, make_ctx):
    done = recall_lot(net.store, make_ctx, {**RECALL, "exception_id": "E2"}, idempotency_key="r1")
    store = net.store
    assert store.scalar("SELECT status FROM lots WHERE gtin = ? AND lot = 'L1'", [P1]) == "recalled"
    statuses = dict(store.execute("SELECT shipment_id, status FROM shipments").fetchall())
    assert statuses == {"S1": "held", "S2": "held", "S3": "delivered", "S4": "planned"}
    units = dict(store.execute("SELECT serial, status FROM units WHERE gtin = ?", [P1]).fetchall())
    assert [u for u, s in units.items() if s == "quarantined"] == [
        f"U{n}" for n in (1, 2, 3, 4, 5, 7, 8, 10, 11, 13, 14)]  # fmt: skip
    assert (units["U12"], units["U6"], units["U9"]) == ("dispensed", "packed", "shipped")
    holds = store.rows("SELECT shipment_id, source, ref_id, previous_status FROM shipment_holds"
                       " ORDER BY shipment_id")  # fmt: skip
    assert holds == [{"shipment_id": "S1", "source": "recall", "ref_id": done.recall_id,
                      "previous_status": "released"},
                     {"shipment_id": "S2", "source": "recall", "ref_id": done.recall_id,
                      "previous_status": "in_transit"}]  # fmt: skip
    notices = store.rows("SELECT contact_id, shipment_ids, status, body FROM notice_drafts"
                         " ORDER BY contact_id")  # fmt: skip
    assert [(n["contact_id"], n["shipment_ids"], n["status"]) for n in notices] == [
        ("A1", ["S1", "S3"], "draft"), ("H1", ["S2"], "draft")]  # fmt: skip
    assert "Class II" in notices[0]["body"] and "lot L1" in notices[0]["body"]
    assert store.scalar("SELECT count(*) FROM messages") == 0  # drafted, never sent
    assert (done.units_quarantined, done.units_not_moved) == (11, {"dispensed": 1})
    assert (done.shipments_held, done.held_shipment_ids) == (2, ["S1", "S2"])
    assert (done.shipments_delivered, done.notices_drafted, done.contacts_without_consent) == (
        1, 2, 1)  # fmt: skip
    assert json.loads(store.scalar("SELECT counts FROM recalls"))["units_quarantined"] == 11
    assert store.scalar("SELECT status FROM exceptions WHERE exception_id = 'E2'") == "acted"
    [entry] = audit.entries(store, action="recall_lot")
    assert (entry.inputs["gtin"], entry.inputs["lot"], entry.idempotency_key) == (P1, "L1", "r1")
    assert entry.result["recall_id"] == done.recall_id


def test_recall_lot_replays_and_refuses_a_second_recall(net, make_ctx):
    first = recall_lot(net.store, make_ctx, idempotency_key="r1")
    after = snapshot(net.store)
    assert recall_lot(net.store, make_ctx, idempotency_key="r1") == first
    assert snapshot(net.store) == after
    with pytest.raises(IdempotencyConflict):
        recall_lot(net.store, make_ctx, {**RECALL, "recall_class": "I"}, idempotency_key="r1")
    with pytest.raises(ToolError, match=f"already recalled \\({first.recall_id}"):
        recall_lot(net.store, make_ctx, idempotency_key="r2")
    assert snapshot(net.store) == after


def test_recall_of_a_lot_on_a_held_shipment_records_why_it_is_held(net, make_ctx):
    call_tool(
        make_ctx(net.store, now=NOW), "hold_shipment", {"shipment_id": "S1", "reason": "wait"}
    )
    done = recall_lot(net.store, make_ctx)
    assert (done.shipments_held, done.shipments_already_stopped) == (1, 1)
    sources = net.store.execute("SELECT source FROM shipment_holds WHERE shipment_id = 'S1'"
                                " ORDER BY held_at, source").fetchall()  # fmt: skip
    assert sources == [("hold_shipment",), ("recall",)]


@pytest.mark.parametrize(
    ("args", "message"),
    [({**RECALL, "lot": "NOPE"}, "has no lot 'NOPE'"),
     ({**RECALL, "gtin": "00012345678905"}, "no product with GTIN"),
     ({**RECALL, "gtin": P1[:-1] + "0"}, "check digit"),
     ({**RECALL, "exception_id": "E404"}, "unknown exception")],
)  # fmt: skip
def test_recall_lot_refusals_change_nothing(net, make_ctx, args, message):
    before = snapshot(net.store)
    with pytest.raises(ToolError, match=message):
        recall_lot(net.store, make_ctx, args)
    assert snapshot(net.store) == before
    assert audit.entries(net.store, action="recall_lot.refused")[0].result["error"]


@pytest.mark.parametrize("role", ["auditor", "contact_center"])
def test_recall_lot_is_refused_to_roles_that_may_not_stop_product(net, make_ctx, role):
    before = snapshot(net.store)
    with pytest.raises(PermissionDenied):
        call_tool(make_ctx(net.store, role), "recall_lot", RECALL)
    assert snapshot(net.store) == before
    assert audit.entries(net.store, action="recall_lot.refused")[0].role == role


# --- end to end on a seeded network ----------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Store:
    synth = pytest.importorskip("record.synth")
    store = Store(tmp_path_factory.mktemp("synth") / "net.duckdb")
    synth.generate(store, scale=0.05, seed=7)
    yield store
    store.close()


def _hand_count(store: Store, gtin: str, lot: str) -> tuple[int, set[str], set[str]]:
    """Units, containers and shipments of a lot, walked in Python over plain rows."""
    parent = dict(store.execute("SELECT container_id, parent_id FROM containers").fetchall())
    ship = dict(store.execute("SELECT container_id, shipment_id FROM containers").fetchall())
    units = store.execute("SELECT serial, container_id FROM units WHERE gtin = ? AND lot = ?",
                          [gtin, lot]).fetchall()  # fmt: skip
    boxes: set[str] = set()
    for _, box in units:
        while box is not None:
            boxes.add(box)
            box = parent.get(box)
    shipments = {ship[b] for b in boxes if ship.get(b)}
    declared = store.execute("SELECT shipment_id FROM shipment_units su WHERE gtin = ? AND"
                             " (lot = ? OR serial IN (SELECT serial FROM units WHERE gtin = ?"
                             " AND lot = ?))", [gtin, lot, gtin, lot]).fetchall()  # fmt: skip
    return len(units), boxes, shipments | {s for (s,) in declared}


def test_recall_on_a_seeded_network(seeded, make_ctx):
    gtin, lot = seeded.execute(
        "SELECT su.gtin, su.lot FROM shipment_units su JOIN shipments s USING (shipment_id)"
        " WHERE s.status IN ('planned', 'in_transit') GROUP BY ALL"
        " ORDER BY count(DISTINCT shipment_id) DESC, 1, 2 LIMIT 1").fetchone()  # fmt: skip
    units, boxes, shipments = _hand_count(seeded, gtin, lot)
    found = impact(seeded, make_ctx, gtin=gtin, lot=lot, limit=1000)
    assert (found.units, found.containers, found.shipments) == (units, len(boxes), len(shipments))
    assert set(found.container_ids) == boxes
    done = recall_lot(seeded, make_ctx, {**RECALL, "gtin": gtin, "lot": lot})
    after = Counter(s for (s,) in seeded.execute(
        "SELECT status FROM shipments WHERE list_contains(?, shipment_id)", [sorted(shipments)]
    ).fetchall())  # fmt: skip
    assert not set(after) & {"planned", "released", "in_transit"}
    assert after["held"] >= done.shipments_held > 0
    left = seeded.scalar(
        "SELECT count(*) FROM units WHERE gtin = ? AND lot = ? AND status IN"
        " ('commissioned', 'packed', 'shipped', 'received')",
        [gtin, lot],
    )
    assert left == 0 and done.units_quarantined > 0
    drafted = seeded.scalar("SELECT count(*) FROM notice_drafts WHERE ref_id = ?", [done.recall_id])
    assert drafted == done.notices_drafted == found.contacts_with_consent
    assert audit.verify(seeded).ok
