"""Synthetic network, part 3: routes, shipments, order lines and the assets that carry them.

Routes are planned in Python (a few thousand at most). Each route is a line haul (plant to a DC
or cross-dock), a distribution run (a DC or cross-dock to one to four pharmacies and hospitals of
its region) or a home delivery (a DC to a patient, passive shipper). Its phase relative to "now"
decides the shipments' status: completed (delivered), active (in transit) or planned (planned,
held, released, sometimes quarantined). Every delivery time respects the receiver's hours; the
promised window contains the ETA with room either side, so normal data is never late.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from record._synth_catalog import SETPOINTS, LotSpec, ProductSpec, sscc
from record._synth_geo import LocationSpec, Network, lane_for, road_km

__all__ = ["AssetSpec", "LineSpec", "Plan", "RouteSpec", "ShipmentSpec", "plan_routes"]

_DWELL_MIN = 20
_ROUTE_TYPES = ("linehaul", "dist", "linehaul", "dist", "home", "dist", "linehaul", "dist")
_PHASES = ("completed", "active", "planned", "completed", "active", "completed", "planned")
_ASSET_KINDS = {
    ("linehaul", True): "reefer_trailer",
    ("linehaul", False): "van",
    ("dist", True): "reefer_truck",
    ("dist", False): "van",
    ("home", True): "passive_shipper",
}
_ASSET_SHAPE = {  # kind -> (id prefix, min °C, max °C, capacity in pallets)
    "reefer_trailer": ("TR", -30.0, 30.0, 26),
    "reefer_truck": ("RT", -25.0, 25.0, 12),
    "van": ("VAN", 15.0, 25.0, 8),
    "passive_shipper": ("PSV", 2.0, 8.0, 1),
}


@dataclass
class LineSpec:
    """One order line: a lot of a product, packed in cases on one SSCC pallet."""

    gtin: str
    lot: str
    n_cases: int
    case_size: int
    sscc: str
    packed_at: datetime


@dataclass
class ShipmentSpec:
    """One shipment (one stop of a route)."""

    shipment_id: str
    route_id: str
    seq: int
    origin: LocationSpec
    dest: LocationSpec
    temp_class: str
    status: str
    planned_departure: datetime
    eta: datetime
    promised: tuple[datetime, datetime]
    departed_at: datetime | None = None
    delivered_at: datetime | None = None
    asset_id: str = ""
    notes: str | None = None
    lines: list[LineSpec] = field(default_factory=list)


@dataclass
class RouteSpec:
    """A route: one asset, one origin, its stops in order."""

    route_id: str
    origin: LocationSpec
    departs_at: datetime
    phase: str
    temp_class: str
    kind: str
    shipments: list[ShipmentSpec] = field(default_factory=list)
    asset_id: str = ""

    @property
    def ends_at(self) -> datetime:
        """When the last stop is reached (delivered, or expected)."""
        last = self.shipments[-1]
        return last.delivered_at or last.eta


@dataclass
class AssetSpec:
    """A vehicle or passive shipper, with the routes it runs."""

    asset_id: str
    kind: str
    temp_class: str
    setpoint: float
    tmin: float
    tmax: float
    capacity: int
    home_id: str
    routes: list[RouteSpec] = field(default_factory=list)
    status: str = "available"
    health: str = "ok"
    battery_pct: float | None = None
    reports_until: datetime | None = None  # telemetry stops here (maintenance)


@dataclass
class Plan:
    """Everything route planning produced."""

    routes: list[RouteSpec]
    shipments: list[ShipmentSpec]
    assets: list[AssetSpec]


def _floor(t: datetime, minutes: int) -> datetime:
    t = t.replace(second=0, microsecond=0)
    return t - timedelta(minutes=(t.hour * 60 + t.minute) % minutes)


def _ceil(t: datetime, minutes: int) -> datetime:
    f = _floor(t, minutes)
    return f if f == t else f + timedelta(minutes=minutes)


def _at(day: datetime, tod: time) -> datetime:
    return day.replace(hour=tod.hour, minute=tod.minute, second=0, microsecond=0)


def _open_ok(loc: LocationSpec, eta: datetime) -> bool:
    if loc.hours is None:
        return True
    opens, closes = (_at(eta, t) for t in loc.hours)
    return eta.weekday() in loc.open_days and opens + timedelta(
        minutes=15
    ) <= eta <= closes - timedelta(minutes=45)


def _window(rng: random.Random, loc: LocationSpec, eta: datetime) -> tuple[datetime, datetime]:
    if loc.hours is None:
        start = _floor(eta - timedelta(minutes=rng.randrange(60, 180)), 30)
        return start, _ceil(eta + timedelta(minutes=rng.randrange(60, 180)), 30)
    opens, closes = (_at(eta, t) for t in loc.hours)
    start = max(opens, _floor(eta - timedelta(minutes=rng.randrange(30, 120)), 15))
    return start, min(closes, _ceil(eta + timedelta(minutes=rng.randrange(60, 180)), 15))


class _Planner:
    def __init__(
        self,
        rng: random.Random,
        net: Network,
        products: list[ProductSpec],
        lots: list[LotSpec],
        now: datetime,
    ) -> None:
        self.rng, self.net, self.now = rng, net, now
        self.lots: dict[str, list[LotSpec]] = {}
        for lot in lots:
            self.lots.setdefault(lot.gtin, []).append(lot)
        self.products = products
        self.routes: list[RouteSpec] = []
        self.shipments: list[ShipmentSpec] = []
        self.assets: list[AssetSpec] = []
        self._sscc_refs: dict[str, int] = {}
        self.hubs = net.of_kind("dc", "cross_dock")
        self._hub_cache: dict[tuple[str, str], LocationSpec] = {}
        self._region_cache: dict[tuple[str, str], list[LocationSpec]] = {}

    # -- stops -------------------------------------------------------------------------------

    def _hub_for(self, loc: LocationSpec, cls: str) -> LocationSpec:
        key = (loc.location_id, cls)
        if key not in self._hub_cache:
            able = [h for h in self.hubs if cls in h.classes]
            self._hub_cache[key] = min(able, key=lambda h: (road_km(h, loc), h.location_id))
        return self._hub_cache[key]

    def _region(self, hub: LocationSpec, cls: str) -> list[LocationSpec]:
        key = (hub.location_id, cls)
        if key not in self._region_cache:
            self._region_cache[key] = [
                r
                for r in self.net.of_kind("pharmacy", "hospital")
                if cls in r.classes and self._hub_for(r, cls) is hub
            ]
        return self._region_cache[key]

    def _stops(self, kind: str) -> tuple[LocationSpec, list[LocationSpec], str] | None:
        rng, net = self.rng, self.net
        if kind == "linehaul":
            plant = rng.choice(net.of_kind("plant"))
            made = sorted({p.temp_class for p in self.products if p.plant_id == plant.location_id})
            cls = rng.choice(made)
            dests = [h for h in self.hubs if cls in h.classes]
            return plant, [rng.choice(dests)], cls
        if kind == "home":
            home = rng.choice(net.of_kind("patient_home"))
            return self._hub_for(home, "refrigerated"), [home], "refrigerated"
        first = rng.choice(net.of_kind("pharmacy", "hospital"))
        cls = rng.choices(
            first.classes,
            weights=[{"crt": 5, "refrigerated": 4, "frozen": 2}[c] for c in first.classes],
        )[0]
        hub = self._hub_for(first, cls)
        region = [r for r in self._region(hub, cls) if r is not first]
        stops = [first, *rng.sample(region, min(len(region), rng.randint(1, 3)))]
        ordered, here = [], hub
        while stops:
            nxt = min(stops, key=lambda s: (road_km(here, s), s.location_id))
            stops.remove(nxt)
            ordered.append(nxt)
            here = nxt
        return hub, ordered, cls

    # -- timing ------------------------------------------------------------------------------

    def _etas(self, origin: LocationSpec, stops: list[LocationSpec], depart: datetime) -> list:
        etas, here, t = [], origin, depart
        for i, stop in enumerate(stops):
            t = t + timedelta(
                minutes=lane_for(self.net, here, stop).minutes + (_DWELL_MIN if i else 0)
            )
            etas.append(t)
            here = stop
        return etas

    def _first_eta(self, phase: str, first: LocationSpec, leg1: int) -> datetime | None:
        """A delivery time at the first stop inside its hours, consistent with the phase."""
        rng, now = self.rng, self.now
        opens, closes = first.hours or (time(0), time(23, 59))
        if phase == "active":
            lo = max(now + timedelta(minutes=15), _at(now, opens) + timedelta(minutes=15))
            hi = min(now + timedelta(minutes=leg1 - 10), _at(now, closes) - timedelta(minutes=45))
            if hi <= lo or now.weekday() not in first.open_days:
                return None
            return lo + timedelta(
                minutes=rng.randrange(0, int((hi - lo).total_seconds() // 60) + 1)
            )
        offsets = range(-10, 0) if phase == "completed" else range(0, 5)
        days = [d for d in offsets if (now + timedelta(days=d)).weekday() in first.open_days]
        day = now + timedelta(days=rng.choice(days))
        lo = _at(day, opens) + timedelta(minutes=15)
        span = int((_at(day, closes) - timedelta(minutes=45) - lo).total_seconds() // 60)
        if first.hours:
            span = min(span, 240)  # morning drops leave room for the later stops
        return lo + timedelta(minutes=rng.randrange(0, max(1, span)))

    def _valid(self, phase: str, depart: datetime, etas: list) -> bool:
        now = self.now
        if phase == "completed":
            return etas[-1] + timedelta(minutes=60) < now and depart > now - timedelta(days=12)
        if phase == "active":
            return depart < now - timedelta(minutes=5) and etas[0] > now + timedelta(minutes=15)
        return depart > now + timedelta(minutes=30)

    def _schedule(self, phase: str, origin: LocationSpec, stops: list) -> tuple | None:
        """``(departure, stops kept, ETAs)``; later stops outside their hours are dropped."""
        leg1 = lane_for(self.net, origin, stops[0]).minutes
        for _ in range(6):
            first = self._first_eta(phase, stops[0], leg1)
            if first is None:
                return None
            depart = _floor(first - timedelta(minutes=leg1), 5)
            etas = self._etas(origin, stops, depart)
            keep = 0
            while keep < len(stops) and _open_ok(stops[keep], etas[keep]):
                keep += 1
            if keep and self._valid(phase, depart, etas[:keep]):
                return depart, stops[:keep], etas[:keep]
        return None

    # -- shipments, lines, assets -------------------------------------------------------------

    def _planned_status(self, depart: datetime) -> str:
        r = self.rng.random()
        if r < 0.04:
            return "quarantined"
        if r < 0.12:
            return "held"
        if depart - self.now < timedelta(hours=12) and r < 0.75:
            return "released"
        return "planned"

    def _lines(self, route: RouteSpec) -> list[LineSpec]:
        rng, kind, cls = self.rng, route.kind, route.temp_class
        pool = [p for p in self.products if p.temp_class == cls]
        n_lines, cases = (1, (1, 1)) if kind == "home" else (rng.randint(1, 3), (1, 4))
        if kind == "linehaul":
            pool = [p for p in pool if p.plant_id == route.origin.location_id]
            n_lines, cases = rng.randint(2, 3), (6, 18)
        prefix = self.net.prefixes[route.origin.partner_gln]
        packed = min(
            route.departs_at - timedelta(minutes=rng.randrange(120, 1200)),
            self.now - timedelta(minutes=rng.randrange(30, 600)),
        )
        lines = []
        for p in rng.sample(pool, min(n_lines, len(pool))):
            ref = self._sscc_refs.get(prefix, 0) + 1
            self._sscc_refs[prefix] = ref
            lot = rng.choice(self.lots[p.gtin])
            lines.append(
                LineSpec(
                    p.gtin,
                    lot.lot,
                    rng.randint(*cases),
                    p.case_size,
                    sscc(prefix, ref),
                    packed.replace(second=0, microsecond=0),
                )
            )
        return lines

    def _shipments(self, route: RouteSpec, stops: list, etas: list) -> None:
        rng, phase = self.rng, route.phase
        for seq, (stop, eta) in enumerate(zip(stops, etas, strict=True), 1):
            ship = ShipmentSpec(
                shipment_id=f"SHP-{1001 + len(self.shipments)}",
                route_id=route.route_id,
                seq=seq,
                origin=route.origin,
                dest=stop,
                temp_class=route.temp_class,
                status={"completed": "delivered", "active": "in_transit"}.get(phase)
                or self._planned_status(route.departs_at),
                planned_departure=route.departs_at,
                eta=eta,
                promised=_window(rng, stop, eta),
                departed_at=route.departs_at if phase != "planned" else None,
                notes=rng.choice(_NOTES) if rng.random() < 0.08 else None,
            )
            if phase == "completed":
                ship.delivered_at = eta + timedelta(minutes=rng.randrange(2, 12))
            ship.lines = self._lines(route)
            route.shipments.append(ship)
            self.shipments.append(ship)

    def _new_asset(self, kind: str, cls: str, home: str) -> AssetSpec:
        prefix, tmin, tmax, capacity = _ASSET_SHAPE[kind]
        n = 1 + sum(1 for a in self.assets if a.kind == kind)
        battery = round(self.rng.uniform(55, 100), 1)
        asset = AssetSpec(
            f"{prefix}-{n:03d}",
            kind,
            cls,
            SETPOINTS[cls],
            tmin,
            tmax,
            capacity,
            home,
            battery_pct=battery,
        )
        self.assets.append(asset)
        return asset

    def _assign(self, route: RouteSpec) -> None:
        kind = _ASSET_KINDS[(route.kind, route.temp_class != "crt")]
        pad = timedelta(minutes=60)
        start, end = route.departs_at - pad, route.ends_at + pad
        for asset in self.assets:
            if (
                asset.kind == kind
                and asset.temp_class == route.temp_class
                and all(end <= r.departs_at - pad or start >= r.ends_at + pad for r in asset.routes)
            ):
                break
        else:
            asset = self._new_asset(kind, route.temp_class, route.origin.location_id)
        asset.routes.append(route)
        route.asset_id = asset.asset_id
        for ship in route.shipments:
            ship.asset_id = asset.asset_id
        if route.phase == "active":
            asset.status = "in_service"

    def route(self, kind: str, phase: str) -> bool:
        for wanted in (phase, "planned") if phase != "planned" else (phase,):
            for _ in range(8):
                picked = self._stops(kind)
                if picked is None:
                    continue
                origin, stops, cls = picked
                found = self._schedule(wanted, origin, stops)
                if found is None:
                    continue
                depart, stops, etas = found
                route = RouteSpec(f"R{len(self.routes) + 1}", origin, depart, wanted, cls, kind)
                self._shipments(route, stops, etas)
                self.routes.append(route)
                self._assign(route)
                return True
        return False

    def idle_assets(self, target: int) -> None:
        shapes = (
            ("reefer_truck", "refrigerated"),
            ("reefer_trailer", "frozen"),
            ("van", "crt"),
            ("reefer_truck", "frozen"),
        )
        hubs = self.hubs
        i = 0
        while len(self.assets) < target or i < 2:
            kind, cls = shapes[i % len(shapes)]
            asset = self._new_asset(kind, cls, hubs[i % len(hubs)].location_id)
            if i % 12 == 1:
                asset.status, asset.health = "maintenance", "fault"
                asset.reports_until = self.now - timedelta(hours=self.rng.randrange(30, 120))
            i += 1


_NOTES = (
    "Deliver to the pharmacy counter, ask for the pharmacist on duty.",
    "Dock 3 only. Call 15 minutes ahead.",
    "Loading dock closes early on Fridays.",
    "Use the rear entrance; front is customer-only.",
    "Receiver requests temperature printout with delivery.",
)


def plan_routes(
    rng: random.Random,
    net: Network,
    products: list[ProductSpec],
    lots: list[LotSpec],
    now: datetime,
    *,
    shipments: int,
    assets: int,
) -> Plan:
    """Plan routes until there are at least ``shipments`` shipments, then top up idle assets."""
    planner = _Planner(rng, net, products, lots, now)
    turns: dict[str, int] = {}
    i = 0
    while len(planner.shipments) < shipments:
        kind = _ROUTE_TYPES[i % len(_ROUTE_TYPES)]
        turn = turns.get(kind, 0)
        turns[kind] = turn + 1
        planner.route(kind, _PHASES[turn % len(_PHASES)])
        i += 1
    planner.idle_assets(assets)
    return Plan(planner.routes, planner.shipments, planner.assets)
