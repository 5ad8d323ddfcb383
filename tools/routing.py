"""Routing and stability computations shared by the planning tools (no tools registered here).

* The lane graph: a ``networkx.DiGraph`` over ``lanes`` (edge weight ``minutes``, plus ``km``),
  built once per distinct lanes table and cached on a cheap fingerprint of it.
* Where a shipment is now (:func:`current_position`: a node, or between two nodes of its path),
  how fast it reaches any location from there (:func:`reach`, :func:`reach_all`), and when it
  can leave (:func:`departure_time`).
* What is left of its stability budget (:func:`stability`): minutes out of range so far from
  ``sensor_readings``, and how fast the budget burns from here on given the current trend.
* :func:`situation` gathers all of it once per tool call.

All functions take a cursor, so WRITE tools can call them inside their transaction.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import networkx as nx
from pydantic import BaseModel, Field

from record.models import Shipment
from record.store import Cursor
from tools.errors import ToolError

__all__ = [
    "BudgetSummary",
    "CLOSED_STATUSES",
    "HANDOFF_MIN",
    "Leg",
    "Position",
    "ProductBudget",
    "Situation",
    "Stability",
    "current_position",
    "departure_time",
    "fetch",
    "lane_graph",
    "legs_from",
    "legs_to",
    "minutes_between",
    "node_for",
    "reach",
    "reach_all",
    "require_open",
    "shipment_products",
    "shortest_leg",
    "situation",
    "stability",
]

# Statuses in which a shipment's plan may not be changed by a permissive action.
CLOSED_STATUSES = {
    "delivered": "it was already delivered",
    "quarantined": "it is quarantined; a quality decision must come first",
    "held": "it is on hold (for example for an investigation); release it first",
}
HANDOFF_MIN = 30  # moving a load from one asset to another at a meeting point
TREND_WINDOW_MIN = 60  # readings used for the temperature trend
TREND_HORIZON_MIN = 120  # how far ahead a trend is extrapolated (beyond: noise, not a trend)
TREND_MIN_READINGS = 3
_CACHE_SIZE = 8
_GRAPHS: OrderedDict[tuple[Any, ...], nx.DiGraph] = OrderedDict()


def fetch(
    cur: Cursor, sql: str, params: list[Any] | dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run ``sql`` on ``cur`` and return the rows as dicts."""
    result = cur.execute(sql, params if params is not None else [])
    names = [d[0] for d in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def minutes_between(start: datetime, end: datetime) -> float:
    """Minutes from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return (end - start).total_seconds() / 60.0


def require_open(shipment: Shipment, doing: str, closed: tuple[str, ...] = ()) -> None:
    """Refuse a plan change on a delivered, quarantined or held shipment (or ``closed`` ones)."""
    why = CLOSED_STATUSES.get(shipment.status)
    if why and (not closed or shipment.status in closed):
        raise ToolError(
            f"cannot {doing} shipment {shipment.shipment_id}: {why}",
            code=f"shipment_{shipment.status}",
        )


# -- the lane graph ---------------------------------------------------------------------------


def _fingerprint(cur: Cursor) -> tuple[Any, ...]:
    found = cur.execute(
        "SELECT count(*), coalesce(sum(minutes), 0), coalesce(bit_xor(hash(from_id, to_id, km,"
        " minutes)), 0) FROM lanes"
    ).fetchone()
    return tuple(found or ())


def lane_graph(cur: Cursor) -> nx.DiGraph:
    """The road graph from ``lanes``: nodes are location ids, edges carry ``minutes`` and ``km``.

    The graph is frozen (shared through a small cache keyed on a fingerprint of the lanes
    table: row count, minute total and an order-independent hash of every row).
    """
    key = _fingerprint(cur)
    graph = _GRAPHS.get(key)
    if graph is not None:
        _GRAPHS.move_to_end(key)
        return graph
    graph = nx.DiGraph()
    for src, dst, km, minutes in cur.execute(
        "SELECT from_id, to_id, km, minutes FROM lanes"
    ).fetchall():
        graph.add_edge(src, dst, minutes=int(minutes), km=float(km))
    nx.freeze(graph)
    _GRAPHS[key] = graph
    while len(_GRAPHS) > _CACHE_SIZE:
        _GRAPHS.popitem(last=False)
    return graph


@dataclass(frozen=True)
class Leg:
    """The fastest way between two locations: total minutes, km along it, and the path."""

    minutes: int
    km: float
    path: tuple[str, ...]


def _leg(graph: nx.DiGraph, minutes: float, path: list[str]) -> Leg:
    km = sum(graph.edges[a, b]["km"] for a, b in zip(path, path[1:], strict=False))
    return Leg(minutes=int(minutes), km=round(km, 3), path=tuple(path))


def shortest_leg(graph: nx.DiGraph, src: str, dst: str) -> Leg | None:
    """The shortest-time leg from ``src`` to ``dst``, or None when no lanes connect them."""
    if src == dst:
        return Leg(0, 0.0, (src,))
    if src not in graph or dst not in graph:
        return None
    try:
        minutes, path = nx.single_source_dijkstra(graph, src, dst, weight="minutes")
    except nx.NetworkXNoPath:
        return None
    return _leg(graph, minutes, path)


def legs_from(graph: nx.DiGraph, src: str) -> dict[str, Leg]:
    """Shortest-time legs from ``src`` to every location it reaches (itself included)."""
    if src not in graph:
        return {src: Leg(0, 0.0, (src,))}
    dist, paths = nx.single_source_dijkstra(graph, src, weight="minutes")
    return {node: _leg(graph, dist[node], paths[node]) for node in dist}


def legs_to(graph: nx.DiGraph, dst: str) -> dict[str, Leg]:
    """Shortest-time legs from every location that reaches ``dst`` (itself included)."""
    if dst not in graph:
        return {dst: Leg(0, 0.0, (dst,))}
    dist, paths = nx.single_source_dijkstra(graph.reverse(copy=False), dst, weight="minutes")
    return {node: _leg(graph, dist[node], paths[node][::-1]) for node in dist}


# -- where the shipment is --------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a shipment is: the last lane-graph node it was at, how we know, and progress.

    A shipment between two nodes is ``minutes_since`` past ``location_id`` on the lane to
    ``heading_to``, which it reaches in ``minutes_to_next``.
    """

    location_id: str
    basis: str  # asset_telemetry | custody_event | origin | destination
    as_of: datetime | None = None
    heading_to: str | None = None
    minutes_to_next: int = 0
    minutes_since: int = 0
    lane_km: float = 0.0

    def anchors(self) -> tuple[tuple[str, int, float], ...]:
        """Nodes the shipment can reach first, with minutes and km: on to the next, or back."""
        if self.heading_to is None:
            return ((self.location_id, 0, 0.0),)
        lane = max(1, self.minutes_to_next + self.minutes_since)
        return (
            (self.heading_to, self.minutes_to_next, self.lane_km * self.minutes_to_next / lane),
            (self.location_id, self.minutes_since, self.lane_km * self.minutes_since / lane),
        )


def node_for(graph: nx.DiGraph, location_id: str | None) -> str | None:
    """``location_id`` as a graph node (a "gln.extension" read point falls back to its GLN)."""
    if not location_id:
        return None
    if location_id in graph:
        return location_id
    base = location_id.split(".", 1)[0]
    return base if base in graph else None


def _progress(graph: nx.DiGraph, pos: Position, dest: str, left_at: datetime | None,
              now: datetime) -> Position:  # fmt: skip
    """Advance ``pos`` along the fastest path to ``dest`` by the minutes since ``left_at``.

    A vehicle overdue on its path is taken to be arriving at the destination now.
    """
    leg = shortest_leg(graph, pos.location_id, dest)
    elapsed = 0.0 if left_at is None else minutes_between(left_at, now)
    if leg is None or len(leg.path) < 2 or elapsed <= 0:
        return pos
    for a, b in zip(leg.path, leg.path[1:], strict=False):
        lane, km = graph.edges[a, b]["minutes"], graph.edges[a, b]["km"]
        if elapsed < lane or b == dest:
            since = min(int(elapsed), lane)
            return replace(pos, location_id=a, heading_to=b, minutes_to_next=lane - since,
                           minutes_since=since, lane_km=km)  # fmt: skip
        elapsed -= lane
    return pos  # not reached: the loop returns at the destination


def _observed(cur: Cursor, shipment: Shipment, graph: nx.DiGraph) -> list[tuple[Position, Any]]:
    """Observed positions of a shipment in transit, each with when it left there (if known)."""
    seen: list[tuple[Position, Any]] = []
    asset = fetch(cur, "SELECT location_id, last_telemetry_at FROM assets WHERE asset_id = ?",
                  [shipment.asset_id])  # fmt: skip
    node = node_for(graph, asset[0]["location_id"]) if asset else None
    if node:
        left = shipment.departed_at if node == shipment.origin_id else None
        seen.append((Position(node, "asset_telemetry", asset[0]["last_telemetry_at"]), left))
    events = fetch(
        cur,
        "SELECT read_point, event_time FROM custody_events WHERE shipment_id = ?"
        " AND read_point IS NOT NULL ORDER BY event_time DESC LIMIT 20",
        [shipment.shipment_id],
    )
    for event in events:
        node = node_for(graph, event["read_point"])
        if node:
            seen.append((Position(node, "custody_event", event["event_time"]), event["event_time"]))
            break
    return seen


def current_position(cur: Cursor, shipment: Shipment, graph: nx.DiGraph, now: datetime) -> Position:
    """Where the shipment is now, relative to the lane graph.

    A shipment that has not left is at its origin and a delivered one at its destination. For
    one in transit we take the newer of two observations: the carrying asset's telemetry
    position (``assets.location_id`` as of ``last_telemetry_at``; a vehicle reports far more
    often than goods are scanned) and the read point of the shipment's last custody event (a
    scan proves where the goods were, whichever vehicle carries them); with neither, its
    origin. An observation that is not a graph node cannot be routed from and is skipped.
    The shipment is then moved along its fastest path to the destination by the time since it
    left that node (the departure for the origin, the scan time for a read point; an asset seen
    at another node is taken to be there now), so it may be between two nodes.
    """
    if shipment.status == "delivered":
        return Position(shipment.destination_id, "destination", shipment.delivered_at)
    if shipment.status != "in_transit":
        return Position(shipment.origin_id, "origin")
    seen = _observed(cur, shipment, graph)
    pos, left = max(seen, key=lambda s: s[0].as_of or datetime.min) if seen else (
        Position(shipment.origin_id, "origin"), shipment.departed_at)  # fmt: skip
    return _progress(graph, pos, shipment.destination_id, left, now)


def reach(graph: nx.DiGraph, pos: Position, target: str) -> Leg | None:
    """The fastest leg from the shipment's position to ``target`` (on, or back, when between
    nodes); its path starts at the node it passes first."""
    best: Leg | None = None
    for node, minutes, km in pos.anchors():
        leg = shortest_leg(graph, node, target)
        if leg and (best is None or minutes + leg.minutes < best.minutes):
            best = Leg(minutes + leg.minutes, round(km + leg.km, 3), leg.path)
    return best


def reach_all(graph: nx.DiGraph, pos: Position) -> dict[str, Leg]:
    """:func:`reach` for every location the shipment can reach."""
    best: dict[str, Leg] = {}
    for node, minutes, km in pos.anchors():
        for target, leg in legs_from(graph, node).items():
            if target not in best or minutes + leg.minutes < best[target].minutes:
                best[target] = Leg(minutes + leg.minutes, round(km + leg.km, 3), leg.path)
    return best


def departure_time(shipment: Shipment, now: datetime) -> datetime:
    """When the shipment can move from its current position: now, or its planned departure."""
    if shipment.status == "in_transit" or shipment.planned_departure is None:
        return now
    return max(now, shipment.planned_departure)


# -- products and stability -------------------------------------------------------------------


def shipment_products(cur: Cursor, shipment_id: str) -> list[dict[str, Any]]:
    """The distinct products declared on the shipment (from ``shipment_units``)."""
    return fetch(
        cur,
        "SELECT DISTINCT p.gtin, p.name, p.temp_class, p.temp_min_c, p.temp_max_c,"
        " p.stability_budget_min, p.min_shelf_life_days FROM shipment_units su"
        " JOIN products p ON p.gtin = su.gtin WHERE su.shipment_id = ? ORDER BY p.gtin",
        [shipment_id],
    )


@dataclass(frozen=True)
class ProductBudget:
    """One product's stability budget on a shipment.

    ``minutes_until_out`` is 0 when the last reading is out of the product's range (the budget
    burns at one minute per minute from now), the minutes until the current trend leaves the
    range, or None when the trend stays inside it.
    """

    gtin: str
    name: str
    temp_class: str
    budget_min: int
    used_min: float
    minutes_until_out: float | None

    @property
    def remaining_min(self) -> float:
        """Budget left now."""
        return self.budget_min - self.used_min

    def remaining_after(self, minutes: float) -> float:
        """Budget left ``minutes`` from now if nothing changes the trend."""
        if self.minutes_until_out is None:
            return self.remaining_min
        return self.remaining_min - max(0.0, minutes - self.minutes_until_out)


@dataclass(frozen=True)
class Stability:
    """The stability budgets of a shipment's temperature-sensitive products."""

    products: tuple[ProductBudget, ...]
    last_temp_c: float | None = None
    last_reading_at: datetime | None = None
    slope_c_per_min: float | None = None

    @property
    def applies(self) -> bool:
        """Whether any product on the shipment has a budget to watch."""
        return bool(self.products)

    @property
    def burning_now(self) -> bool:
        """Whether the last reading is out of range for some product."""
        return any(p.minutes_until_out == 0 for p in self.products)

    def remaining_after(self, minutes: float) -> float | None:
        """The smallest budget left ``minutes`` from now (None when no product has one)."""
        if not self.products:
            return None
        return min(p.remaining_after(minutes) for p in self.products)

    def strictest(self, minutes: float = 0.0) -> ProductBudget | None:
        """The product with the least budget left ``minutes`` from now."""
        if not self.products:
            return None
        return min(self.products, key=lambda p: p.remaining_after(minutes))

    def minutes_until_exhausted(self) -> float | None:
        """Minutes from now until some product's budget is spent (None: not on this trend)."""
        ends = [
            max(0.0, p.minutes_until_out) + max(0.0, p.remaining_min)
            for p in self.products
            if p.minutes_until_out is not None
        ]
        spent = [0.0 for p in self.products if p.remaining_min <= 0]
        return min(ends + spent) if ends or spent else None


_BUDGET_SQL = """
WITH r AS (
    SELECT ts, temp_c, lead(ts) OVER (ORDER BY ts) AS next_ts
    FROM sensor_readings WHERE shipment_id = $sid AND ts <= $now
)
SELECT p.gtin, p.name, p.temp_class, p.temp_min_c, p.temp_max_c, p.stability_budget_min,
       coalesce(sum(CASE WHEN r.temp_c < p.temp_min_c OR r.temp_c > p.temp_max_c
                         THEN date_diff('second', r.ts, coalesce(r.next_ts, $now)) END), 0)
           / 60.0 AS used_min
FROM (SELECT DISTINCT p.* FROM shipment_units su JOIN products p ON p.gtin = su.gtin
      WHERE su.shipment_id = $sid
        AND (p.temp_class <> 'crt' OR p.stability_budget_min > 0)) p
LEFT JOIN r ON TRUE
GROUP BY ALL ORDER BY p.gtin
"""

_TREND_SQL = """
SELECT arg_max(temp_c, ts) AS last_temp, max(ts) AS last_ts,
       regr_slope(temp_c, epoch(ts) / 60.0) FILTER (WHERE ts >= $since) AS slope,
       count(*) FILTER (WHERE ts >= $since) AS recent
FROM sensor_readings WHERE shipment_id = $sid AND ts <= $now
"""


def _until_out(row: dict[str, Any], last: float | None, slope: float | None) -> float | None:
    if last is None:
        return None
    if last < row["temp_min_c"] or last > row["temp_max_c"]:
        return 0.0
    if slope is None or slope == 0 or math.isnan(slope):
        return None
    edge = row["temp_max_c"] if slope > 0 else row["temp_min_c"]
    minutes = (edge - last) / slope
    return minutes if minutes <= TREND_HORIZON_MIN else None


def stability(cur: Cursor, shipment_id: str, now: datetime) -> Stability:
    """The stability budget of every temperature-sensitive product on the shipment.

    Time out of range is summed over the shipment's readings as a step function: each reading
    holds until the next one, and the last one until ``now`` (a silent sensor whose last word
    was "too warm" is taken to still be too warm). A product counts when its class is
    refrigerated or frozen, or it carries a budget; its own min/max range is the test. The
    trend is the least-squares slope over the last hour's readings (at least three), trusted to
    leave the range only within ``TREND_HORIZON_MIN``.
    """
    params: dict[str, Any] = {"sid": shipment_id, "now": now}
    budgets = fetch(cur, _BUDGET_SQL, params)
    since = now - timedelta(minutes=TREND_WINDOW_MIN)
    trend = fetch(cur, _TREND_SQL, {**params, "since": since})
    last = trend[0]["last_temp"] if trend else None
    slope = trend[0]["slope"] if trend and trend[0]["recent"] >= TREND_MIN_READINGS else None
    products = tuple(
        ProductBudget(
            gtin=row["gtin"],
            name=row["name"],
            temp_class=row["temp_class"],
            budget_min=int(row["stability_budget_min"]),
            used_min=round(float(row["used_min"]), 2),
            minutes_until_out=_until_out(row, last, slope),
        )
        for row in budgets
    )
    return Stability(
        products=products,
        last_temp_c=last,
        last_reading_at=trend[0]["last_ts"] if trend else None,
        slope_c_per_min=None if slope is None or math.isnan(slope) else slope,
    )


# -- a shipment's situation, gathered once per call -------------------------------------------


class BudgetSummary(BaseModel):
    """The stability budget of the strictest product on a shipment, as tools report it."""

    applies: bool = Field(description="whether any product on the shipment has a budget to watch")
    gtin: str | None = Field(default=None, description="the strictest product (least budget left)")
    product: str | None = Field(default=None, description="its name")
    budget_min: int | None = Field(
        default=None, description="its whole-distribution budget, minutes"
    )
    used_min: float | None = Field(default=None, description="minutes out of range so far")
    remaining_min: float | None = Field(
        default=None, description="minutes out of range still allowed"
    )
    burning_now: bool = Field(default=False, description="the last reading is out of range")
    minutes_until_exhausted: float | None = Field(
        default=None,
        description="minutes until a budget is spent on the current trend (None: never)",
    )
    last_temp_c: float | None = Field(default=None, description="the last reading, °C")


@dataclass(frozen=True)
class Situation:
    """What every planning computation needs to know about a shipment, read once."""

    shipment: Shipment
    now: datetime
    graph: nx.DiGraph
    position: Position
    start: datetime  # when it can move from ``position``
    products: tuple[dict[str, Any], ...]
    stability: Stability

    @property
    def temp_classes(self) -> tuple[str, ...]:
        """The temperature classes of the products on the shipment."""
        return tuple(sorted({p["temp_class"] for p in self.products}))

    def budget_after(self, moment: datetime) -> float | None:
        """The smallest budget left at ``moment`` on the current trend (None: no budget)."""
        return self.stability.remaining_after(max(0.0, minutes_between(self.now, moment)))

    def keeps_window(self, delivery: datetime) -> bool:
        """Whether a delivery at ``delivery`` is inside the promised window's end."""
        end = self.shipment.promised_end
        return end is None or delivery <= end

    def budget(self) -> BudgetSummary:
        """The strictest product's budget now."""
        stab, worst = self.stability, self.stability.strictest()
        if worst is None:
            return BudgetSummary(applies=False, last_temp_c=stab.last_temp_c)
        return BudgetSummary(
            applies=True,
            gtin=worst.gtin,
            product=worst.name,
            budget_min=worst.budget_min,
            used_min=worst.used_min,
            remaining_min=round(worst.remaining_min, 1),
            burning_now=stab.burning_now,
            minutes_until_exhausted=stab.minutes_until_exhausted(),
            last_temp_c=stab.last_temp_c,
        )


def _planned_handoff(cur: Cursor, shipment: Shipment, now: datetime) -> Position | None:
    """The meeting point of a planned asset swap whose handoff is not over yet, if any."""
    found = fetch(
        cur,
        "SELECT meeting_location_id, planned_at FROM handoff_plans WHERE shipment_id = ?"
        " AND status = 'planned' AND planned_at + to_minutes(?) > ? ORDER BY created_at DESC"
        " LIMIT 1", [shipment.shipment_id, HANDOFF_MIN, now],
    )  # fmt: skip
    if not found:
        return None
    return Position(found[0]["meeting_location_id"], "handoff_plan", found[0]["planned_at"])


def situation(cur: Cursor, shipment: Shipment, now: datetime) -> Situation:
    """Gather the shipment's position, departure, products and stability budget.

    While a planned asset swap is pending, the load is at (or on its way to) the meeting point
    and leaves it when the handoff is done.

    Raises:
        ToolError: the shipment declares no units, so its products (and their temperature
            class) are unknown.
    """
    products = tuple(shipment_products(cur, shipment.shipment_id))
    if not products:
        raise ToolError(
            f"shipment {shipment.shipment_id} declares no units, so its products and their"
            " temperature class are unknown; load its transaction data first",
            code="no_products",
        )
    graph = lane_graph(cur)
    start = departure_time(shipment, now)
    position = _planned_handoff(cur, shipment, now)
    if position is not None and position.as_of is not None:
        start = max(start, position.as_of + timedelta(minutes=HANDOFF_MIN))
    return Situation(
        shipment=shipment,
        now=now,
        graph=graph,
        position=position or current_position(cur, shipment, graph, now),
        start=start,
        products=products,
        stability=stability(cur, shipment.shipment_id, now),
    )
