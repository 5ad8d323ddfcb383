"""Synthetic network, part 6: injected cold-chain, asset and timing exceptions.

``asset_fault``, ``temp_excursion_risk``, ``temp_excursion``, ``late_risk`` and ``custody_gap``.
Temperature patches: a linear trend towards a limit over the last 75 minutes (risk), a 30-minute
block out of range (within budget), a block longer than the budget (spent), or CRT held at
28.6 °C for most of the trip (mean kinetic temperature above 25 °C, never outside 15-30 °C).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from record._synth_truth import Injector, Row

__all__ = ["COLD_STEPS"]

_FIVE = timedelta(minutes=5)


def _asset_fault(inj: Injector, i: int) -> None:
    variant = ("alarm", "low_battery", "stale")[i % 3]
    pool = [r for r in inj.loaded if not set(r["ships"]) & inj.used]
    if not pool:
        return
    pick = inj.rng.choice(pool)
    asset, ships = pick["asset_id"], pick["ships"]
    inj.used.update(ships)
    if variant == "stale":
        cutoff = inj.now - timedelta(minutes=inj.rng.randrange(40, 95, 5))
        inj.stale.append((asset, cutoff))
        inj.cur.execute(
            "UPDATE assets SET last_telemetry_at = ? WHERE asset_id = ?", [cutoff, asset]
        )
    else:
        battery = 7.0 if variant == "low_battery" else None
        inj.cur.execute(
            "UPDATE assets SET health = ?, battery_pct = coalesce(?, battery_pct) "
            "WHERE asset_id = ?",
            [variant, battery, asset],
        )
    inj.record("asset_fault", asset, min(ships), variant=variant, shipments=ships)


def _temp_risk(inj: Injector, i: int) -> None:
    s = inj.ship(lambda r: r["status"] == "in_transit" and r["cls"] != "crt" and r["n_reads"] >= 20)
    if s is None:
        return
    down = s["cls"] == "refrigerated" and i % 2 == 1
    limit = s["lo"] if down else s["hi"]
    margin = 0.5 + 0.3 * (i % 3)
    target = limit + margin if down else limit - margin
    t0 = inj.now - timedelta(minutes=75)
    slope = (target - s["setpoint"]) / 75.0
    inj.read_ops.append((s["shipment_id"], t0, inj.now, s["setpoint"], slope, 0.1))
    inj.record(
        "temp_excursion_risk",
        s["shipment_id"],
        s["shipment_id"],
        limit_c=limit,
        slope_c_per_min=round(slope, 4),
    )


def _block(inj: Injector, sid: str, start: datetime, end: datetime, temp: float) -> None:
    inj.read_ops.append((sid, start, end, temp, 0.0, 0.2))


def _excursion_target(inj: Injector, variant: str) -> Row | None:
    moving = ("delivered", "in_transit")
    if variant == "within_budget":
        return inj.ship(
            lambda r: r["cls"] != "crt" and r["n_reads"] >= 48 and r["status"] in moving
        )
    if variant == "budget_spent":
        return inj.ship(
            lambda r: (
                r["cls"] != "crt"
                and r["status"] in moving
                and (r["n_reads"] - 6) * 5 >= r["budget"] + 40
            ),
            order=lambda r: r["budget"],
            top=5,
        )
    return inj.ship(
        lambda r: r["cls"] == "crt" and r["n_reads"] >= 24 and r["status"] in moving,
        order=lambda r: r["status"] != "delivered",
    )


def _temp_excursion(inj: Injector, i: int) -> None:
    variant = ("within_budget", "budget_spent", "crt_mkt")[i % 3]
    s = _excursion_target(inj, variant)
    if s is None:
        return
    sid, first, n = s["shipment_id"], s["first_ts"], s["n_reads"]
    if variant == "within_budget":
        start = first + _FIVE * (n // 3)
        _block(inj, sid, start, start + _FIVE * 5, s["hi"] + 2.5)
        minutes = 30
    elif variant == "budget_spent":
        n_out = s["budget"] // 5 + 8
        start = first + _FIVE * (n - n_out)
        _block(inj, sid, start, start + _FIVE * (n_out - 1), s["hi"] + 3.0)
        minutes = (n_out - 1) * 5
    else:
        _block(inj, sid, first + _FIVE * (n * 3 // 10), first + _FIVE * n, 28.6)
        minutes = 0
    inj.record(
        "temp_excursion",
        sid,
        sid,
        variant=variant,
        minutes_out_of_range=minutes,
        budget_min=s["budget"],
    )


def _late(inj: Injector, i: int) -> None:
    status = "planned" if i % 3 == 2 else "in_transit"
    s = inj.ship(lambda r: r["status"] == status)
    if s is None:
        return
    late, sid = (45, 150, 320)[i % 3], s["shipment_id"]
    inj.cur.execute(
        "UPDATE shipments SET eta = promised_end + to_minutes(?) WHERE shipment_id = ?", [late, sid]
    )
    inj.cur.execute(
        "UPDATE stops SET eta = (SELECT eta FROM shipments WHERE shipment_id = ?) "
        "WHERE shipment_id = ?",
        [sid, sid],
    )
    inj.record("late_risk", sid, sid, minutes_late=late)


def _overdue(inj: Injector, s: Row) -> None:
    sid = s["shipment_id"]
    late = int((s["eta"] - inj.now).total_seconds() // 60) + 120 + inj.rng.randrange(30, 120)
    shift = timedelta(minutes=late - late % 5)
    inj.cur.execute(
        "UPDATE shipments SET departed_at = departed_at - $1, planned_departure = "
        "planned_departure - $1, eta = eta - $1, promised_start = promised_start - $1, "
        "promised_end = promised_end - $1 WHERE shipment_id = $2",
        [shift, sid],
    )
    inj.cur.execute("UPDATE stops SET eta = eta - ? WHERE shipment_id = ?", [shift, sid])
    inj.cur.execute(
        "UPDATE custody_events SET event_time = event_time - ? WHERE event_id = ?",
        [shift, f"EV-SHI-{sid}"],
    )
    if s["on_route"] == 1:
        inj.cur.execute(
            "UPDATE routes SET departs_at = departs_at - ? WHERE route_id = ?",
            [shift, s["route_id"]],
        )
    inj.record(
        "custody_gap", sid, sid, variant="overdue", shifted_min=int(shift.total_seconds() // 60)
    )


def _custody(inj: Injector, i: int) -> None:
    if i % 2 == 0:
        s = inj.ship(lambda r: r["status"] == "delivered")
        if s is not None:
            inj.cur.execute("DELETE FROM epod WHERE shipment_id = ?", [s["shipment_id"]])
            inj.record("custody_gap", s["shipment_id"], s["shipment_id"], variant="no_epod")
        return
    s = inj.ship(lambda r: r["status"] == "in_transit", order=lambda r: r["on_route"], top=10)
    if s is not None:
        _overdue(inj, s)


COLD_STEPS: tuple[Callable[[Injector, int], None], ...] = (
    _asset_fault,
    _temp_risk,
    _temp_excursion,
    _late,
    _custody,
)
