"""Planning tools: cold depots and reroutes, compatible assets and swaps.

``find_cold_depots`` and ``find_compatible_assets`` list candidates; ``reroute_shipment`` and
``swap_asset`` change the plan after re-checking every condition themselves with the same code
that lists the candidates (a candidate a model or a person names is never taken on trust).
Every change lands in ``plan_changes`` (before and after) in the tool's transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from record.audit import canonical_json
from record.store import Cursor
from tools._common import load_shipment, mark_exception, new_id
from tools.base import Kind, Risk, Role, ToolContext, tool
from tools.errors import ToolError
from tools.routing import (
    HANDOFF_MIN,
    BudgetSummary,
    Leg,
    Situation,
    fetch,
    legs_to,
    node_for,
    reach,
    reach_all,
    require_open,
    shortest_leg,
    situation,
)

__all__ = [
    "DEPOT_DWELL_MIN",
    "HANDOFF_MIN",
    "AssetOption",
    "FindAssetsArgs",
    "FindAssetsResult",
    "SwapArgs",
    "SwapResult",
    "DepotOption",
    "FindColdDepotsArgs",
    "FindColdDepotsResult",
    "RerouteArgs",
    "RerouteResult",
    "StopOut",
    "find_cold_depots",
    "find_compatible_assets",
    "record_plan_change",
    "reroute_shipment",
    "swap_asset",
]

DEPOT_DWELL_MIN = 30  # handling at a depot between arriving and leaving again
DEPOT_KINDS = ("dc", "cross_dock")
READ_ROLES: tuple[Role, ...] = ("ops_manager", "automation", "auditor")
PLAN_ROLES: tuple[Role, ...] = ("ops_manager", "automation")


class StopOut(BaseModel):
    """One stop of a route."""

    seq: int = Field(description="position on the route, 1 first")
    location_id: str = Field(description="the stop's location (GLN)")
    shipment_id: str | None = Field(default=None, description="the shipment the stop serves")
    eta: datetime | None = Field(default=None, description="planned arrival, UTC")


class DepotOption(BaseModel):
    """A cold-capable depot the shipment could be rerouted through."""

    depot_id: str = Field(description="the depot's location id (GLN)")
    name: str = Field(description="the depot's name")
    kind: str = Field(description="dc or cross_dock")
    cold_classes: list[str] = Field(description="temperature classes the depot can store")
    minutes_to_depot: int = Field(description="driving minutes from the current position")
    eta_at_depot: datetime = Field(description="arrival at the depot, UTC")
    minutes_to_destination: int = Field(description="driving minutes from depot to destination")
    delivery_eta: datetime = Field(description="delivery at the destination via the depot, UTC")
    keeps_window: bool = Field(description="delivery no later than the promised window's end")
    budget_at_depot_min: float | None = Field(
        description="stability budget left on arrival at the depot (None: no budget applies)"
    )
    budget_holds: bool = Field(description="the budget lasts until the depot")
    extra_km: float | None = Field(description="km added against the direct route (cost proxy)")
    path: list[str] = Field(description="locations passed on the way to the depot")


class FindColdDepotsArgs(BaseModel):
    """Arguments of find_cold_depots."""

    shipment_id: str = Field(description="the shipment, e.g. SHP-1042")
    max_results: int = Field(default=5, ge=1, le=50, description="how many depots to list at most")


class FindColdDepotsResult(BaseModel):
    """Cold-capable depots for a shipment, best first."""

    shipment_id: str = Field(description="the shipment")
    temp_classes: list[str] = Field(description="temperature classes of its products")
    position: str = Field(description="the last location the shipment was at")
    heading_to: str | None = Field(description="the next location, when between two")
    position_basis: str = Field(description="how the position is known")
    direct_eta: datetime | None = Field(description="delivery ETA without a reroute, UTC")
    promised_end: datetime | None = Field(description="end of the promised window, UTC")
    budget: BudgetSummary = Field(description="stability budget of the strictest product")
    depots: list[DepotOption] = Field(description="candidates, best first")


def _minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def _depot_option(
    sit: Situation, depot: dict[str, Any], to_depot: Leg, onward: Leg, direct: Leg | None
) -> DepotOption:
    eta_depot = sit.start + _minutes(to_depot.minutes)
    delivery = eta_depot + _minutes(DEPOT_DWELL_MIN + onward.minutes)
    budget = sit.budget_after(eta_depot)
    extra = None if direct is None else round(to_depot.km + onward.km - direct.km, 1)
    return DepotOption(
        depot_id=depot["location_id"], name=depot["name"], kind=depot["kind"],
        cold_classes=list(depot["cold_classes"]), minutes_to_depot=to_depot.minutes,
        eta_at_depot=eta_depot, minutes_to_destination=onward.minutes, delivery_eta=delivery,
        keeps_window=sit.keeps_window(delivery),
        budget_at_depot_min=None if budget is None else round(budget, 1),
        budget_holds=budget is None or budget >= 0, extra_km=extra, path=list(to_depot.path),
    )  # fmt: skip


def _direct(sit: Situation) -> Leg | None:
    return reach(sit.graph, sit.position, sit.shipment.destination_id)


@tool(kind=Kind.READ, risk=Risk.READ, roles=READ_ROLES)
def find_cold_depots(ctx: ToolContext, args: FindColdDepotsArgs) -> FindColdDepotsResult:
    """List depots (DCs, cross-docks) that can store the shipment's temperature class.

    Each comes with the ETA to the depot from where the shipment is now, the delivery ETA via
    the depot against the promised window, the stability budget left on arrival at the depot on
    the current temperature trend, and the extra km. Depots where the budget lasts come first,
    then those that keep the promised window, then the nearest.
    """
    cur, shipment = ctx.cursor(), load_shipment(ctx, args.shipment_id)
    require_open(shipment, "find depots for", closed=("delivered",))
    sit = situation(cur, shipment, ctx.clock.now())
    depots = fetch(
        cur,
        "SELECT location_id, name, kind, cold_classes FROM locations WHERE kind IN ('dc',"
        " 'cross_dock') AND list_has_all(cold_classes, ?) AND location_id <> ?",
        [list(sit.temp_classes), sit.shipment.destination_id],
    )
    outward = reach_all(sit.graph, sit.position)
    onward = legs_to(sit.graph, sit.shipment.destination_id)
    direct = _direct(sit)
    options = [
        _depot_option(sit, d, outward[d["location_id"]], onward[d["location_id"]], direct)
        for d in depots
        if d["location_id"] in outward and d["location_id"] in onward
    ]
    options.sort(key=lambda o: (not o.budget_holds, not o.keeps_window, o.eta_at_depot))
    return FindColdDepotsResult(
        shipment_id=sit.shipment.shipment_id, temp_classes=list(sit.temp_classes),
        position=sit.position.location_id, heading_to=sit.position.heading_to,
        position_basis=sit.position.basis, promised_end=sit.shipment.promised_end,
        direct_eta=None if direct is None else sit.start + _minutes(direct.minutes),
        budget=sit.budget(), depots=options[: args.max_results],
    )  # fmt: skip


# -- reroute ------------------------------------------------------------------------------------


class RerouteArgs(BaseModel):
    """Arguments of reroute_shipment."""

    shipment_id: str = Field(description="the shipment to reroute, e.g. SHP-1042")
    depot_id: str = Field(description="location id (GLN) of the cold-capable depot to go through")
    reason: str = Field(min_length=3, description="why, for the record (e.g. reefer alarm)")
    exception_id: str | None = Field(
        default=None, description="the exception this responds to, if any"
    )


class RerouteResult(BaseModel):
    """The new plan after a reroute."""

    shipment_id: str = Field(description="the shipment")
    depot_id: str = Field(description="the depot now on its route")
    route_id: str = Field(description="the route that was changed")
    eta_at_depot: datetime = Field(description="arrival at the depot, UTC")
    previous_eta: datetime | None = Field(description="delivery ETA before the reroute, UTC")
    new_eta: datetime = Field(description="delivery ETA via the depot, UTC")
    keeps_window: bool = Field(description="the new ETA is within the promised window's end")
    budget_left_on_arrival_min: float | None = Field(
        description="stability budget left on arrival at the depot (None: no budget applies)"
    )
    stops: list[StopOut] = Field(description="the route's stops after the change")
    not_retimed: list[str] = Field(
        description="other shipments with later stops on the route whose ETAs were not changed"
    )
    change_id: str = Field(description="the plan_changes row that records the change")


def record_plan_change(
    cur: Cursor, ctx: ToolContext, *, shipment_id: str, tool_name: str, before: dict[str, Any],
    after: dict[str, Any], reason: str, exception_id: str | None = None,
    requested_by: str | None = None,
) -> str:  # fmt: skip
    """Insert a ``plan_changes`` row (in the caller's transaction) and return its id."""
    change_id = new_id("PLC")
    cur.execute(
        "INSERT INTO plan_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [change_id, shipment_id, tool_name, canonical_json(before), canonical_json(after),
         reason, requested_by, ctx.actor, exception_id, ctx.clock.now()],
    )  # fmt: skip
    return change_id


def _stops(cur: Cursor, route_id: str | None) -> list[StopOut]:
    if route_id is None:
        return []
    rows = fetch(cur, "SELECT * FROM stops WHERE route_id = ? ORDER BY seq", [route_id])
    return [StopOut.model_validate(r) for r in rows]


def _depot_row(cur: Cursor, depot_id: str, sit: Situation) -> dict[str, Any]:
    """The depot's row, or the reason it cannot take the shipment."""
    found = fetch(cur, "SELECT * FROM locations WHERE location_id = ?", [depot_id])
    sid, depot = sit.shipment.shipment_id, (found or [{}])[0]
    missing = [c for c in sit.temp_classes if c not in depot.get("cold_classes", [])]
    holds = ", ".join(depot.get("cold_classes") or []) or "no temperature class"
    problems = [
        (not found, "unknown_location",
         f"unknown location {depot_id!r}: use a depot id from find_cold_depots"),
        (depot_id == sit.shipment.destination_id, "depot_is_destination",
         f"{depot_id} is the destination of {sid}; choose a depot on the way"),
        (depot.get("kind") not in DEPOT_KINDS, "not_a_depot",
         f"{depot.get('name')} ({depot_id}) is a {depot.get('kind')}, not a depot; choose a dc"
         " or cross_dock from find_cold_depots"),
        (bool(missing), "depot_cannot_hold",
         f"depot {depot.get('name')} ({depot_id}) cannot hold {', '.join(missing)} product: it"
         f" stores {holds}; shipment {sid} needs {', '.join(sit.temp_classes)}. Choose a depot"
         " from find_cold_depots"),
    ]  # fmt: skip
    for broken, code, message in problems:
        if broken:
            raise ToolError(message, code=code)
    return depot


def _legs(sit: Situation, depot_id: str) -> tuple[Leg, Leg]:
    here, dest = sit.position.location_id, sit.shipment.destination_id
    to_depot = reach(sit.graph, sit.position, depot_id)
    onward = shortest_leg(sit.graph, depot_id, dest)
    if to_depot is None or onward is None:
        gap = f"from {here} to {depot_id}" if to_depot is None else f"from {depot_id} to {dest}"
        raise ToolError(f"depot {depot_id} is unreachable: no lanes lead {gap}; choose a depot"
                        " from find_cold_depots", code="unreachable")  # fmt: skip
    return to_depot, onward


def _check_budget(sit: Situation, option: DepotOption) -> None:
    if option.budget_holds:
        return
    worst = sit.stability.strictest(option.minutes_to_depot)
    left = sit.stability.remaining_after(0) or 0.0
    raise ToolError(
        f"the stability budget of {worst.name if worst else 'a product'} would run out before"
        f" reaching {option.depot_id}: {left:.0f} min left now, the depot is"
        f" {option.minutes_to_depot} min away and the product would be"
        f" {-(option.budget_at_depot_min or 0):.0f} min over budget on arrival; choose a nearer"
        " depot, swap the asset, or quarantine", code="budget_exhausted",
    )  # fmt: skip


def _ensure_route(cur: Cursor, sit: Situation) -> str:
    """The shipment's route, created (from its origin) when it has none."""
    ship = sit.shipment
    if ship.route_id:
        return ship.route_id
    route_id = new_id("RTE")
    status = "active" if ship.status == "in_transit" else "planned"
    departs = ship.departed_at or ship.planned_departure or sit.now
    cur.execute("INSERT INTO routes VALUES (?, ?, ?, ?, ?)",
                [route_id, ship.asset_id, ship.origin_id, departs, status])  # fmt: skip
    cur.execute("UPDATE shipments SET route_id = ? WHERE shipment_id = ?",
                [route_id, ship.shipment_id])  # fmt: skip
    return route_id


def _insert_depot_stop(cur: Cursor, sit: Situation, route_id: str, option: DepotOption) -> None:
    """Insert the depot before the shipment's destination stop (appending both if it has none)."""
    sid, dest = sit.shipment.shipment_id, sit.shipment.destination_id
    found = cur.execute(
        "SELECT seq FROM stops WHERE route_id = ? AND location_id = ? AND (shipment_id = ? OR"
        " shipment_id IS NULL) ORDER BY shipment_id IS NULL, seq LIMIT 1", [route_id, dest, sid],
    ).fetchone()  # fmt: skip
    if found is None:
        last = cur.execute("SELECT coalesce(max(seq), 0) FROM stops WHERE route_id = ?",
                           [route_id]).fetchone()  # fmt: skip
        seq = (last[0] if last else 0) + 1
        cur.execute("INSERT INTO stops VALUES (?, ?, ?, ?, ?)",
                    [route_id, seq + 1, dest, sid, option.delivery_eta])  # fmt: skip
    else:
        seq = found[0]
        cur.execute("UPDATE stops SET seq = seq + 1 WHERE route_id = ? AND seq >= ?",
                    [route_id, seq])  # fmt: skip
        cur.execute("UPDATE stops SET eta = ? WHERE route_id = ? AND seq = ?",
                    [option.delivery_eta, route_id, seq + 1])  # fmt: skip
    cur.execute("INSERT INTO stops VALUES (?, ?, ?, ?, ?)",
                [route_id, seq, option.depot_id, sid, option.eta_at_depot])  # fmt: skip


@tool(kind=Kind.WRITE, risk=Risk.PERMISSIVE, roles=PLAN_ROLES)
def reroute_shipment(ctx: ToolContext, args: RerouteArgs) -> RerouteResult:
    """Reroute a shipment through a cold-capable depot before its destination.

    Re-checks everything itself: the shipment may move (not delivered, quarantined or held), the
    depot stores the products' temperature class, lanes reach it and lead on to the
    destination, and the stability budget lasts until the depot. Then inserts the depot stop
    before the destination, updates the ETA and records the plan change.
    """
    cur, now = ctx.cursor(), ctx.clock.now()
    ship = load_shipment(ctx, args.shipment_id)
    require_open(ship, "reroute")
    sit = situation(cur, ship, now)
    depot = _depot_row(cur, args.depot_id, sit)
    before = _stops(cur, ship.route_id)
    if any(s.location_id == args.depot_id and s.shipment_id == ship.shipment_id for s in before):
        raise ToolError(f"shipment {ship.shipment_id} is already routed via {args.depot_id};"
                        " nothing changed", code="already_routed")  # fmt: skip
    option = _depot_option(sit, depot, *_legs(sit, args.depot_id), _direct(sit))
    _check_budget(sit, option)
    route_id = _ensure_route(cur, sit)
    _insert_depot_stop(cur, sit, route_id, option)
    cur.execute("UPDATE shipments SET eta = ?, updated_at = ? WHERE shipment_id = ?",
                [option.delivery_eta, now, ship.shipment_id])  # fmt: skip
    stops = _stops(cur, route_id)
    change_id = record_plan_change(
        cur, ctx, shipment_id=ship.shipment_id, tool_name="reroute_shipment",
        before={"eta": ship.eta, "route_id": ship.route_id, "stops": before},
        after={"eta": option.delivery_eta, "route_id": route_id, "stops": stops},
        reason=args.reason, exception_id=args.exception_id,
    )  # fmt: skip
    mark_exception(cur, args.exception_id, "acted", f"rerouted via {args.depot_id}: {args.reason}",
                   now)  # fmt: skip
    seq = next(s.seq for s in stops if s.location_id == args.depot_id)
    later = {s.shipment_id for s in stops if s.seq > seq and s.shipment_id}
    return RerouteResult(
        shipment_id=ship.shipment_id, depot_id=args.depot_id, route_id=route_id,
        eta_at_depot=option.eta_at_depot, previous_eta=ship.eta, new_eta=option.delivery_eta,
        keeps_window=option.keeps_window, budget_left_on_arrival_min=option.budget_at_depot_min,
        stops=stops, change_id=change_id, not_retimed=sorted(later - {ship.shipment_id}),
    )  # fmt: skip


# -- compatible assets and swaps ----------------------------------------------------------------

_ASSETS_SQL = """
SELECT a.*, a.capacity_pallets - coalesce(l.load, 0) AS free_pallets
FROM assets a LEFT JOIN (
    SELECT s.asset_id, sum(greatest(1, coalesce(c.n, 0))) AS load
    FROM shipments s LEFT JOIN (
        SELECT shipment_id, count(*) AS n FROM containers WHERE kind = 'pallet' GROUP BY 1
    ) c ON c.shipment_id = s.shipment_id
    WHERE s.asset_id IS NOT NULL AND s.status <> 'delivered' AND s.shipment_id <> $sid
    GROUP BY 1
) l ON l.asset_id = a.asset_id
"""


class AssetOption(BaseModel):
    """An asset that can take over the shipment's load."""

    asset_id: str = Field(description="the asset")
    kind: str = Field(description="reefer_truck, reefer_trailer, van or passive_shipper")
    temp_min_c: float = Field(description="coldest it can hold, °C")
    temp_max_c: float = Field(description="warmest it can hold, °C")
    setpoint_c: float = Field(description="setpoint to use for this load, °C")
    free_pallets: int = Field(description="free pallet places")
    location_id: str = Field(description="where the asset is now")
    meeting_location_id: str = Field(description="where the load changes asset")
    minutes_to_meet: int = Field(description="the asset's driving minutes to the meeting point")
    meeting_at: datetime = Field(description="when asset and load are both there, UTC")
    delivery_eta: datetime = Field(description="delivery ETA after the handoff, UTC")
    keeps_window: bool = Field(description="delivery no later than the promised window's end")
    budget_at_handoff_min: float | None = Field(
        description="stability budget left when the handoff is done (None: no budget applies)"
    )


class FindAssetsArgs(BaseModel):
    """Arguments of find_compatible_assets."""

    shipment_id: str = Field(description="the shipment whose load needs another asset")
    max_results: int = Field(default=5, ge=1, le=50, description="how many assets to list at most")


class FindAssetsResult(BaseModel):
    """Assets that can take over a shipment's load, earliest meeting first."""

    shipment_id: str = Field(description="the shipment")
    position: str = Field(description="the last location the shipment was at")
    heading_to: str | None = Field(description="the next location, when between two")
    pallets_needed: int = Field(description="pallet places the load needs")
    setpoint_band_c: list[float] = Field(description="setpoints that suit every product, °C")
    budget: BudgetSummary = Field(description="stability budget of the strictest product")
    assets: list[AssetOption] = Field(description="candidates, earliest meeting first")
    excluded: dict[str, int] = Field(description="assets left out, counted by reason code")


@dataclass(frozen=True)
class _Meet:
    """A possible meeting point: the load gets there in ``minutes``; assets come by ``legs``."""

    node: str
    minutes: int
    legs: dict[str, Leg]  # from every location to ``node``
    onward: Leg  # ``node`` to the destination


@dataclass(frozen=True)
class _Load:
    """What the load needs from an asset: the setpoint band, pallet places, meeting points."""

    band: tuple[float, float]
    pallets: int
    meets: tuple[_Meet, ...]


def _load(cur: Cursor, sit: Situation) -> _Load:
    """The setpoint band is the products' common range narrowed by a margin of a quarter of its
    width, at most 1 °C each side (2–8 °C gives 3–7 °C), since a reefer swings about its setpoint.
    The load meets the new asset at the node it reaches first (or, between nodes, turns back to).
    """
    low = max(p["temp_min_c"] for p in sit.products)
    high = min(p["temp_max_c"] for p in sit.products)
    sid, dest = sit.shipment.shipment_id, sit.shipment.destination_id
    if low > high:
        raise ToolError(f"the products on {sid} need ranges with no temperature in common;"
                        " split the shipment", code="products_incompatible")  # fmt: skip
    meets = []
    for node, minutes, _km in sit.position.anchors():
        onward = shortest_leg(sit.graph, node, dest)
        if onward is not None and node != dest:  # meeting at the destination: just deliver
            meets.append(_Meet(node, minutes, legs_to(sit.graph, node), onward))
    if not meets:
        raise ToolError(f"no meeting point for {sid}: no lanes lead from"
                        f" {sit.position.location_id} to {dest} other than arriving there",
                        code="unreachable")  # fmt: skip
    found = cur.execute("SELECT count(*) FROM containers WHERE shipment_id = ? AND kind ="
                        " 'pallet'", [sid]).fetchone()  # fmt: skip
    margin = min(1.0, (high - low) / 4)
    return _Load((low + margin, high - margin), max(1, found[0] if found else 0), tuple(meets))


def _meeting(sit: Situation, load: _Load, asset: dict[str, Any]) -> tuple[_Meet, Leg] | None:
    """The meeting point where asset and load are together soonest, with the asset's leg."""
    node = node_for(sit.graph, asset["location_id"])
    found = [(m, m.legs[node]) for m in load.meets if node in m.legs]
    return min(found, key=lambda f: max(f[0].minutes, f[1].minutes), default=None)


def _temperature_problem(asset: dict[str, Any], band: tuple[float, float]) -> str | None:
    lo, hi = asset["temp_min_c"], asset["temp_max_c"]
    if lo <= band[1] and hi >= band[0]:
        return None
    side = f"too warm (coldest {lo:g} °C)" if lo > band[1] else f"too cold (warmest {hi:g} °C)"
    return (f"asset {asset['asset_id']} is {side}: it holds {lo:g} to {hi:g} °C and the load"
            f" needs a setpoint within {band[0]:g} to {band[1]:g} °C")  # fmt: skip


def _asset_problem(sit: Situation, asset: dict[str, Any], load: _Load) -> tuple[str, str] | None:
    """The first reason the asset cannot take the load, as (code, message), or None."""
    aid, meeting = asset["asset_id"], _meeting(sit, load, asset)
    warm_cold = _temperature_problem(asset, load.band)
    problems = [
        (aid == sit.shipment.asset_id, "same_asset",
         f"asset {aid} already carries {sit.shipment.shipment_id}"),
        (asset["status"] != "available", "asset_unavailable",
         f"asset {aid} is {asset['status']}, not available"),
        (asset["health"] != "ok", "asset_unhealthy",
         f"asset {aid} reports {asset['health']}; it must be ok"),
        (warm_cold is not None, "asset_temperature", warm_cold or ""),
        (asset["free_pallets"] < load.pallets, "asset_full",
         f"asset {aid} has {asset['free_pallets']} free pallet places; the load needs"
         f" {load.pallets}"),
        (meeting is None, "unreachable",
         f"asset {aid} at {asset['location_id']} has no lanes to the load"),
    ]  # fmt: skip
    for broken, code, message in problems:
        if broken:
            return code, message
    assert meeting is not None
    meet, leg = meeting
    budget = sit.budget_after(sit.now + _minutes(max(meet.minutes, leg.minutes) + HANDOFF_MIN))
    if budget is not None and budget < 0:
        return "budget_exhausted", (
            f"asset {aid} is {leg.minutes} min away from the meeting point {meet.node}; with"
            f" {HANDOFF_MIN} min for the handoff the stability budget would be {-budget:.0f} min"
            " overspent before the load is back in range")  # fmt: skip
    return None


def _asset_option(sit: Situation, asset: dict[str, Any], load: _Load) -> AssetOption:
    meet, leg = _meeting(sit, load, asset) or (None, None)
    assert meet is not None and leg is not None
    at = sit.now + _minutes(max(meet.minutes, leg.minutes))
    delivery = max(at + _minutes(HANDOFF_MIN), sit.start) + _minutes(meet.onward.minutes)
    lo, hi = max(asset["temp_min_c"], load.band[0]), min(asset["temp_max_c"], load.band[1])
    budget = sit.budget_after(at + _minutes(HANDOFF_MIN))
    return AssetOption(
        asset_id=asset["asset_id"], kind=asset["kind"], temp_min_c=asset["temp_min_c"],
        temp_max_c=asset["temp_max_c"], setpoint_c=round(min(max(sum(load.band) / 2, lo), hi), 1),
        free_pallets=asset["free_pallets"], location_id=asset["location_id"],
        meeting_location_id=meet.node, minutes_to_meet=leg.minutes, meeting_at=at,
        delivery_eta=delivery, keeps_window=sit.keeps_window(delivery),
        budget_at_handoff_min=None if budget is None else round(budget, 1),
    )  # fmt: skip


@tool(kind=Kind.READ, risk=Risk.READ, roles=READ_ROLES)
def find_compatible_assets(ctx: ToolContext, args: FindAssetsArgs) -> FindAssetsResult:
    """List available, healthy assets that can take over the shipment's load on its way.

    An asset qualifies when its achievable range reaches a setpoint inside every product's range
    (with a margin), it has enough free pallet places, lanes bring it to the load, and the
    stability budget lasts until the handoff is done. Earliest meeting first.
    """
    cur, shipment = ctx.cursor(), load_shipment(ctx, args.shipment_id)
    require_open(shipment, "find assets for", closed=("delivered",))
    sit = situation(cur, shipment, ctx.clock.now())
    load = _load(cur, sit)
    options, excluded = [], Counter[str]()
    sql = _ASSETS_SQL + " ORDER BY a.asset_id"
    for asset in fetch(cur, sql, {"sid": sit.shipment.shipment_id}):
        problem = _asset_problem(sit, asset, load)
        if problem:
            excluded[problem[0]] += 1
        else:
            options.append(_asset_option(sit, asset, load))
    options.sort(key=lambda o: (o.meeting_at, o.asset_id))
    return FindAssetsResult(
        shipment_id=sit.shipment.shipment_id, position=sit.position.location_id,
        heading_to=sit.position.heading_to, pallets_needed=load.pallets,
        setpoint_band_c=[round(b, 2) for b in load.band], budget=sit.budget(),
        assets=options[: args.max_results], excluded=dict(excluded),
    )  # fmt: skip


class SwapArgs(BaseModel):
    """Arguments of swap_asset."""

    shipment_id: str = Field(description="the shipment whose load moves to another asset")
    new_asset_id: str = Field(description="the asset to take over (from find_compatible_assets)")
    reason: str = Field(min_length=3, description="why, for the record (e.g. reefer alarm)")
    exception_id: str | None = Field(
        default=None, description="the exception this responds to, if any"
    )


class SwapResult(BaseModel):
    """The plan after an asset swap."""

    shipment_id: str = Field(description="the shipment")
    old_asset_id: str | None = Field(description="the asset it leaves (status unchanged)")
    new_asset_id: str = Field(description="the asset that takes over (now in_service)")
    setpoint_c: float = Field(description="setpoint set on the new asset, °C")
    handoff_id: str = Field(description="the handoff_plans row")
    meeting_location_id: str = Field(description="where the load changes asset")
    meeting_at: datetime = Field(description="when the new asset arrives there, UTC")
    containers: list[str] = Field(description="the SSCCs (top-level containers) to move")
    route_id: str = Field(description="the new asset's route for this shipment")
    previous_eta: datetime | None = Field(description="delivery ETA before the swap, UTC")
    new_eta: datetime = Field(description="delivery ETA after the swap, UTC")
    keeps_window: bool = Field(description="the new ETA is within the promised window's end")
    budget_left_at_handoff_min: float | None = Field(
        description="stability budget left when the handoff is done (None: no budget applies)"
    )
    change_id: str = Field(description="the plan_changes row that records the change")


def _top_containers(cur: Cursor, shipment_id: str) -> list[str]:
    rows = cur.execute(
        "SELECT container_id FROM containers c WHERE shipment_id = $s AND (parent_id IS NULL OR"
        " parent_id NOT IN (SELECT container_id FROM containers WHERE shipment_id = $s))"
        " ORDER BY kind <> 'pallet', container_id",
        {"s": shipment_id},
    ).fetchall()
    return [r[0] for r in rows]


def _apply_swap(
    cur: Cursor, ctx: ToolContext, sit: Situation, opt: AssetOption, args: SwapArgs
) -> tuple[str, str, list[str]]:
    ship, now, meet = sit.shipment, sit.now, opt.meeting_location_id
    handoff_id, route_id = new_id("HOF"), new_id("RTE")
    containers = _top_containers(cur, ship.shipment_id)
    cur.execute(
        "INSERT INTO handoff_plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?, ?)",
        [handoff_id, ship.shipment_id, ship.asset_id, opt.asset_id, meet, opt.meeting_at,
         containers, route_id, args.reason, args.exception_id, now],
    )  # fmt: skip
    departs = opt.meeting_at + _minutes(HANDOFF_MIN)
    status = "active" if ship.status == "in_transit" else "planned"
    cur.execute("INSERT INTO routes VALUES (?, ?, ?, ?, ?)",
                [route_id, opt.asset_id, meet, departs, status])  # fmt: skip
    cur.execute("DELETE FROM stops WHERE route_id = ? AND shipment_id = ?",
                [ship.route_id, ship.shipment_id])  # fmt: skip
    cur.execute("INSERT INTO stops VALUES (?, 1, ?, ?, ?)",
                [route_id, ship.destination_id, ship.shipment_id, opt.delivery_eta])  # fmt: skip
    cur.execute(
        "UPDATE shipments SET asset_id = ?, route_id = ?, eta = ?, updated_at = ?"
        " WHERE shipment_id = ?", [opt.asset_id, route_id, opt.delivery_eta, now, ship.shipment_id],
    )  # fmt: skip
    cur.execute("UPDATE assets SET status = 'in_service', setpoint_c = ? WHERE asset_id = ?",
                [opt.setpoint_c, opt.asset_id])  # fmt: skip
    return handoff_id, route_id, containers


def _checked_asset(cur: Cursor, sit: Situation, asset_id: str) -> AssetOption:
    """Re-check the named asset with the same rules as find_compatible_assets."""
    found = fetch(cur, _ASSETS_SQL + " WHERE a.asset_id = $aid",
                  {"sid": sit.shipment.shipment_id, "aid": asset_id})  # fmt: skip
    if not found:
        raise ToolError(f"unknown asset {asset_id!r}: use an asset id from"
                        " find_compatible_assets", code="unknown_asset")  # fmt: skip
    load = _load(cur, sit)
    problem = _asset_problem(sit, found[0], load)
    if problem:
        raise ToolError(f"cannot swap {sit.shipment.shipment_id} to {problem[1]}; choose an"
                        " asset from find_compatible_assets", code=problem[0])  # fmt: skip
    return _asset_option(sit, found[0], load)


@tool(kind=Kind.WRITE, risk=Risk.PERMISSIVE, roles=PLAN_ROLES)
def swap_asset(ctx: ToolContext, args: SwapArgs) -> SwapResult:
    """Move a shipment's load to another asset, meeting on its way.

    Re-checks every condition of find_compatible_assets for the named asset (available, healthy,
    holds the products' range, free pallet places, reachable, budget lasts). Then plans the
    handoff (meeting point, time, SSCCs to move), gives the shipment a new route on the new asset
    (now in_service, setpoint set), updates the ETA and records the plan change. The old asset's
    status and health are left as they are; other shipments on it are not moved.
    """
    cur, now = ctx.cursor(), ctx.clock.now()
    shipment = load_shipment(ctx, args.shipment_id)
    require_open(shipment, "swap the asset of")
    sit = situation(cur, shipment, now)
    opt = _checked_asset(cur, sit, args.new_asset_id)
    before = {"asset_id": shipment.asset_id, "route_id": shipment.route_id, "eta": shipment.eta,
              "stops": _stops(cur, shipment.route_id)}  # fmt: skip
    handoff_id, route_id, containers = _apply_swap(cur, ctx, sit, opt, args)
    after = {"asset_id": opt.asset_id, "route_id": route_id, "eta": opt.delivery_eta,
             "handoff_id": handoff_id}  # fmt: skip
    change_id = record_plan_change(
        cur, ctx, shipment_id=shipment.shipment_id, tool_name="swap_asset", before=before,
        after=after, reason=args.reason, exception_id=args.exception_id,
    )  # fmt: skip
    note = f"load moves to {opt.asset_id} at {opt.meeting_location_id}: {args.reason}"
    mark_exception(cur, args.exception_id, "acted", note, now)
    return SwapResult(
        shipment_id=shipment.shipment_id, old_asset_id=shipment.asset_id,
        new_asset_id=opt.asset_id, setpoint_c=opt.setpoint_c, handoff_id=handoff_id,
        meeting_location_id=opt.meeting_location_id, meeting_at=opt.meeting_at,
        containers=containers, route_id=route_id, previous_eta=shipment.eta,
        new_eta=opt.delivery_eta, keeps_window=opt.keeps_window,
        budget_left_at_handoff_min=opt.budget_at_handoff_min, change_id=change_id,
    )  # fmt: skip
