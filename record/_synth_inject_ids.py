"""Synthetic network, part 7: injected identity, data and lot exceptions.

``serial_unknown``, ``serial_duplicate``, ``pi_mismatch``, ``aggregation_mismatch``,
``data_missing`` and ``expired_or_recalled``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

from record._synth_truth import UNDELIVERED, Injector, Row

__all__ = ["ID_STEPS"]


def _active(r: Row) -> bool:
    return r["status"] in UNDELIVERED


def _keys(units: list[Row]) -> list[str]:
    return [f"{u['gtin']}.{u['serial']}" for u in units]


def _serial_unknown(inj: Injector, i: int) -> None:
    s = inj.ship(_active)
    if s is None:
        return
    sid = s["shipment_id"]
    units = inj.units_of(sid, 2)
    if i % 2 == 0:
        keys = _keys(units)
        inj.unit_ops.extend((u["gtin"], u["serial"]) for u in units)
        events = [f"EV-COM-{units[0]['gtin']}-{units[0]['lot']}-{k}" for k in range(3)]
        inj.cur.execute(
            "UPDATE custody_events SET epcs = list_filter(epcs, lambda x: NOT list_contains(?, x)) "
            "WHERE list_contains(?, event_id)",
            [keys, events],
        )
        variant = "uncommissioned"
    else:
        base, keys = units[0], []
        for _ in range(2):
            serial = f"{inj.rng.randrange(10**10, 10**11)}"
            keys.append(f"{base['gtin']}.{serial}")
            inj.cur.execute(
                "INSERT INTO shipment_units VALUES (?, ?, ?, ?, ?, ?)",
                [sid, base["gtin"], serial, base["lot"], base["expiry"], base["container_id"]],
            )
        variant = "not_in_record"
    inj.record("serial_unknown", sid, sid, variant=variant, units=keys)


def _farthest(inj: Injector, here: str) -> str:
    h = inj.places[here]

    def dist(loc: Row) -> float:
        dx = (loc["lon"] - h["lon"]) * math.cos(math.radians(h["lat"]))
        return dx * dx + (loc["lat"] - h["lat"]) ** 2

    far = [x for x in inj.places.values() if x["kind"] in ("pharmacy", "hospital", "dc")]
    return str(max(far, key=lambda x: (dist(x), x["location_id"]))["location_id"])


def _impossible_travel(inj: Injector, i: int) -> None:
    s = inj.ship(lambda r: r["status"] == "delivered")
    if s is None:
        return
    sid, here = s["shipment_id"], s["destination_id"]
    there = _farthest(inj, here)
    key = _keys(inj.units_of(sid, 1))[0]
    t1 = s["delivered_at"] + timedelta(minutes=20)
    for n, (step, disp, at, place, ship) in enumerate(
        (
            ("receiving", "in_progress", t1, here, sid),
            ("inspecting", "active", t1 + timedelta(minutes=12), there, None),
        )
    ):
        inj.cur.execute(
            "INSERT INTO custody_events (event_id, event_type, action, biz_step, disposition, "
            "event_time, epcs, read_point, biz_location, shipment_id, origin) "
            "VALUES (?, 'ObjectEvent', 'OBSERVE', ?, ?, ?, [?], ?, ?, ?, 'scan')",
            [f"EV-SCN-{sid}-{i}{n}", step, disp, at, key, place, place, ship],
        )
    inj.record(
        "serial_duplicate",
        key,
        sid,
        variant="impossible_travel",
        places=[here, there],
        minutes_apart=12,
    )


def _serial_duplicate(inj: Injector, i: int) -> None:
    if i % 2 == 1:
        _impossible_travel(inj, i)
        return
    a = inj.ship(_active)
    b = inj.ship(lambda r: r["status"] in ("planned", "held", "released"))
    if a is None or b is None:
        return
    unit = inj.units_of(a["shipment_id"], 1)[0]
    case = inj.units_of(b["shipment_id"], 1)[0]["container_id"]
    inj.cur.execute(
        "INSERT INTO shipment_units VALUES (?, ?, ?, ?, ?, ?)",
        [b["shipment_id"], unit["gtin"], unit["serial"], unit["lot"], unit["expiry"], case],
    )
    ships = sorted([a["shipment_id"], b["shipment_id"]])
    inj.record(
        "serial_duplicate", _keys([unit])[0], ships[0], variant="two_shipments", shipments=ships
    )


def _pi_mismatch(inj: Injector, i: int) -> None:
    s = inj.ship(lambda r: r["status"] != "delivered")
    if s is None:
        return
    units = inj.units_of(s["shipment_id"], 3)
    op = "lot_x" if i % 2 == 0 else "expiry_plus"
    inj.su_ops.extend((s["shipment_id"], u["gtin"], u["serial"], op) for u in units)
    inj.record(
        "pi_mismatch",
        s["shipment_id"],
        s["shipment_id"],
        field=op.split("_")[0],
        units=_keys(units),
    )


def _aggregation(inj: Injector, i: int) -> None:
    variant = ("case_count", "pallet_count", "two_parents")[i % 3]
    s = inj.ship(lambda r: True)
    if s is None:
        return
    case = inj.units_of(s["shipment_id"], 1)[0]["container_id"]
    if variant == "two_parents":
        other = inj.ship(lambda r: True)
        if other is None:
            return
        child = _keys(inj.units_of(other["shipment_id"], 1))[0]
        inj.cur.execute(
            "INSERT INTO custody_events (event_id, event_type, action, biz_step, disposition, "
            "event_time, epcs, parent_id, read_point, biz_location, shipment_id, origin) "
            "SELECT ?, 'AggregationEvent', 'ADD', 'packing', 'in_progress', ?, [?], ?, "
            "read_point, biz_location, ?, 'synth' FROM custody_events WHERE event_id = ?",
            [
                f"EV-PCK-{case}-X{i}",
                inj.now - timedelta(hours=1),
                child,
                case,
                s["shipment_id"],
                f"EV-PCK-{case}",
            ],
        )
        inj.record("aggregation_mismatch", case, s["shipment_id"], variant=variant, child=child)
        return
    target = case
    if variant == "pallet_count":
        target = inj.rows("SELECT parent_id FROM containers WHERE container_id = ?", [case])[0][
            "parent_id"
        ]
    inj.cur.execute(
        "UPDATE containers SET declared_children = declared_children + ? WHERE container_id = ?",
        [2 if variant == "case_count" else 1, target],
    )
    inj.record("aggregation_mismatch", target, s["shipment_id"], variant=variant)


def _data_missing(inj: Injector, i: int) -> None:
    variant = ("no_ti", "no_ts", "no_lot", "no_expiry")[i % 4]
    header = variant in ("no_ti", "no_ts")
    s = inj.ship((lambda r: r["status"] in ("planned", "held")) if header else _active)
    if s is None:
        return
    sid = s["shipment_id"]
    if header:
        change = "ti_document = NULL" if variant == "no_ti" else "ts_attested = FALSE"
        inj.cur.execute(f"UPDATE shipments SET {change} WHERE shipment_id = ?", [sid])
    else:
        op = "lot_null" if variant == "no_lot" else "expiry_null"
        inj.su_ops.extend((sid, u["gtin"], u["serial"], op) for u in inj.units_of(sid, 2))
    inj.record("data_missing", sid, sid, variant=variant)


def _expired(inj: Injector, i: int) -> None:
    lots = [r for r in inj.lots if (r["gtin"], r["lot"]) not in inj.used_lots]
    free = [r for r in lots if not set(r["ships"]) & inj.used] or lots
    if not free:
        return
    pick = inj.rng.choice(sorted(free, key=lambda r: len(r["ships"]))[:8])
    inj.used.update(pick["ships"])
    inj.used_lots.add((pick["gtin"], pick["lot"]))
    if i % 2 == 0:
        inj.cur.execute(
            "UPDATE lots SET status = 'recalled' WHERE gtin = ? AND lot = ?",
            [pick["gtin"], pick["lot"]],
        )
        reason = "recalled"
    else:
        new = pick["first_eta"] + timedelta(days=pick["shelf"] - 5)
        inj.lot_ops.append((pick["gtin"], pick["lot"], pick["expiry"], new))
        reason = "short_dated"
    for sid in pick["ships"]:
        inj.record(
            "expired_or_recalled", sid, sid, reason=reason, lot=f"{pick['gtin']}.{pick['lot']}"
        )


ID_STEPS: tuple[Callable[[Injector, int], None], ...] = (
    _serial_unknown,
    _serial_duplicate,
    _pi_mismatch,
    _aggregation,
    _data_missing,
    _expired,
)
