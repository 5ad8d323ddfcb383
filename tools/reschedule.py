"""Reschedule tools: feasible delivery windows, and moving a promised window.

Feasibility is one pure function, :func:`check_window`, over a plain :class:`WindowConstraints`
gathered from the record by :func:`gather_constraints`. ``reschedule_options`` lists windows that
pass it; ``reschedule_delivery`` re-checks the requested window with it inside its transaction
and, when it fails, refuses with :class:`InfeasibleRequest` carrying the nearest feasible options.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, Field, field_validator, model_validator

from record.clock import utc_naive
from record.models import Shipment
from record.store import Cursor
from tools._common import load_shipment, mark_exception
from tools.base import Kind, Risk, ToolContext, tool
from tools.errors import ToolError
from tools.planning import record_plan_change
from tools.routing import fetch, reach, require_open, situation

__all__ = [
    "MAX_DAYS_AHEAD",
    "MAX_WINDOW_HOURS",
    "SERVICE_MIN",
    "SHAPE_CODES",
    "InfeasibleRequest",
    "RescheduleArgs",
    "RescheduleOptionsArgs",
    "RescheduleOptionsResult",
    "RescheduleResult",
    "Violation",
    "WindowConstraints",
    "WindowOut",
    "candidate_windows",
    "check_window",
    "feasible_windows",
    "gather_constraints",
    "reschedule_delivery",
    "reschedule_options",
]

MAX_WINDOW_HOURS = 8
MAX_DAYS_AHEAD = 60
SERVICE_MIN = 30  # the truck must arrive at least this long before the window closes
OPTION_HOURS = 2
SHAPE_CODES = frozenset({"bad_order", "too_long", "in_past", "too_far"})
NAMED_WINDOWS = {
    "morning": ("08:00", "12:00"),
    "afternoon": ("12:00", "17:00"),
    "evening": ("17:00", "21:00"),
}


@dataclass(frozen=True)
class WindowConstraints:
    """Everything that decides whether a delivery window is feasible, as plain data.

    Attributes:
        now: the current time.
        earliest_arrival: now (or the planned departure) plus the travel time to the destination.
        opens_at / closes_at: the destination's receiving hours (None: from / until midnight).
        open_days: the weekdays it receives (0 = Monday).
        daily_capacity: deliveries it can receive per day.
        booked: other shipments delivering there, per day.
        last_delivery_day: the last day that leaves every lot its minimum remaining shelf life.
        budget_deadline: when the stability budget runs out on the current trend (None: it
            does not, or the shipment is not in transit with a budgeted product).
    """

    now: datetime
    earliest_arrival: datetime
    opens_at: time | None = None
    closes_at: time | None = None
    open_days: frozenset[int] = frozenset(range(7))
    daily_capacity: int = 50
    booked: Mapping[date, int] = field(default_factory=dict)
    last_delivery_day: date | None = None
    budget_deadline: datetime | None = None


@dataclass(frozen=True)
class Violation:
    """One constraint a window breaks: a short code and a sentence a person can act on."""

    code: str
    message: str


def _ts(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _day_bounds(c: WindowConstraints, day: date) -> tuple[datetime, datetime]:
    """The receiving hours of ``day`` as datetimes (closing at midnight when not given)."""
    start = datetime.combine(day, c.opens_at or time(0))
    if c.closes_at:
        return start, datetime.combine(day, c.closes_at)
    return start, datetime.combine(day + timedelta(days=1), time(0))


def _found(checks: list[tuple[bool, str, str]]) -> list[Violation]:
    return [Violation(code, message) for broken, code, message in checks if broken]


def _shape(c: WindowConstraints, start: datetime, end: datetime) -> list[Violation]:
    """A window must start before it ends, last at most 8 h, not start in the past or too far."""
    hours = (end - start) / timedelta(hours=1)
    horizon = c.now + timedelta(days=MAX_DAYS_AHEAD)
    return _found([
        (start >= end, "bad_order",
         f"the window starts ({_ts(start)}) at or after its end ({_ts(end)})"),
        (hours > MAX_WINDOW_HOURS, "too_long",
         f"the window is {hours:g} h long; windows are at most {MAX_WINDOW_HOURS} h"),
        (start < c.now, "in_past", f"the window starts {_ts(start)}, before now ({_ts(c.now)})"),
        (start > horizon, "too_far",
         f"the window starts more than {MAX_DAYS_AHEAD} days ahead; ask again nearer the date"),
    ])  # fmt: skip


def _place(c: WindowConstraints, start: datetime, end: datetime) -> list[Violation]:
    """Calendar constraints: one day, an open day, inside receiving hours."""
    day = start.date()
    opens, closes = _day_bounds(c, day)
    hours = f"{opens:%H:%M} to {'24:00' if closes.date() > day else f'{closes:%H:%M}'}"
    return _found([
        ((end - timedelta(microseconds=1)).date() != day, "spans_days",
         "the window runs past midnight; choose a window within one day"),
        (day.weekday() not in c.open_days, "closed_day",
         f"the destination does not receive on {day:%A}s ({day.isoformat()})"),
        (start < opens or end > closes, "outside_hours",
         f"the destination receives {hours}; the window is {start:%H:%M} to {end:%H:%M}"),
    ])  # fmt: skip


def _supply(c: WindowConstraints, start: datetime, end: datetime) -> list[Violation]:
    """Constraints of the goods and the dock: arrival, capacity, shelf life, stability budget."""
    day, booked = start.date(), c.booked.get(start.date(), 0)
    delivery = max(start, c.earliest_arrival)
    return _found([
        (c.earliest_arrival + timedelta(minutes=SERVICE_MIN) > end, "before_arrival",
         f"the shipment can arrive at {_ts(c.earliest_arrival)} at the earliest, less than"
         f" {SERVICE_MIN} min before the window ends"),
        (booked >= c.daily_capacity, "capacity_full",
         f"the destination already has {booked} deliveries on {day.isoformat()}, its daily"
         f" capacity is {c.daily_capacity}"),
        (c.last_delivery_day is not None and day > c.last_delivery_day, "shelf_life",
         "a lot on the shipment would have less than its minimum remaining shelf life; deliver"
         f" by {c.last_delivery_day}"),
        (c.budget_deadline is not None and delivery > c.budget_deadline, "stability_budget",
         f"the stability budget runs out at {_ts(c.budget_deadline)} on the current"
         " temperature trend; deliver before then"),
    ])  # fmt: skip


def check_window(c: WindowConstraints, start: datetime, end: datetime) -> list[Violation]:
    """Every constraint the window ``start``-``end`` breaks (empty: the window is feasible).

    A malformed window (see :data:`SHAPE_CODES`) is reported as such and not checked further.
    The delivery is planned for ``max(start, earliest_arrival)``: that moment must fall inside
    the stability budget; the window's day must be open, have dock capacity and leave every
    lot its minimum shelf life; the truck must be able to arrive ``SERVICE_MIN`` before the end.
    """
    shape = _shape(c, start, end)
    if shape:
        return shape
    return _place(c, start, end) + _supply(c, start, end)


def candidate_windows(
    c: WindowConstraints, first: date, last: date, hours: int = OPTION_HOURS
) -> Iterator[tuple[datetime, datetime]]:
    """Windows of ``hours`` on open days from ``first`` to ``last``, tiling receiving hours.

    The day's hours are tiled from opening time; a remainder adds one window ending at closing
    time; hours shorter than ``hours`` give one window covering them.
    """
    step, day = timedelta(hours=hours), first
    while day <= last:
        if day.weekday() in c.open_days:
            opens, closes = _day_bounds(c, day)
            start = opens
            while start + step <= closes:
                yield start, start + step
                start += step
            if opens < start < closes or (start == opens and opens < closes):
                yield max(opens, closes - step), closes
        day += timedelta(days=1)


def feasible_windows(
    c: WindowConstraints, anchor: datetime, days: int, limit: int
) -> list[tuple[datetime, datetime]]:
    """The ``limit`` feasible candidate windows nearest ``anchor`` (ties: the earlier first)."""
    first = max(c.now.date(), anchor.date() - timedelta(days=days))
    last = min(
        anchor.date() + timedelta(days=days), (c.now + timedelta(days=MAX_DAYS_AHEAD)).date()
    )
    good = [w for w in candidate_windows(c, first, last) if not check_window(c, *w)]
    good.sort(key=lambda w: (abs(w[0] - anchor), w[0]))
    return good[:limit]


# -- gathering the constraints from the record --------------------------------------------------


def _booked(cur: Cursor, shipment: Shipment, now: datetime) -> dict[date, int]:
    rows = cur.execute(
        "SELECT CAST(coalesce(delivered_at, promised_start, eta) AS DATE) AS day, count(*)"
        " FROM shipments WHERE destination_id = ? AND shipment_id <> ? AND status <>"
        " 'quarantined' AND coalesce(delivered_at, promised_start, eta) >= ? GROUP BY ALL",
        [shipment.destination_id, shipment.shipment_id, datetime.combine(now.date(), time(0))],
    ).fetchall()
    return {day: int(n) for day, n in rows if day is not None}


def _last_delivery_day(cur: Cursor, shipment_id: str) -> date | None:
    found = cur.execute(
        "SELECT min(least(coalesce(l.expiry, su.expiry), coalesce(su.expiry, l.expiry))"
        " - p.min_shelf_life_days) FROM shipment_units su JOIN products p ON p.gtin = su.gtin"
        " LEFT JOIN lots l ON l.gtin = su.gtin AND l.lot = su.lot WHERE su.shipment_id = ?",
        [shipment_id],
    ).fetchone()
    return found[0] if found else None


def gather_constraints(cur: Cursor, shipment: Shipment, now: datetime) -> WindowConstraints:
    """Read everything :func:`check_window` needs about the shipment from the record.

    The earliest arrival is the departure (now, or the planned departure) plus the fastest
    travel from where the shipment is, or the record's ETA when that is later (the carrier's
    word, or other stops on the route first).

    Raises:
        ToolError: the destination is unknown, or no lanes lead there from the shipment's
            position (no arrival time can be promised).
    """
    sit = situation(cur, shipment, now)
    dest = fetch(cur, "SELECT * FROM locations WHERE location_id = ?", [shipment.destination_id])
    if not dest:
        raise ToolError(
            f"the destination {shipment.destination_id} of {shipment.shipment_id} is"
            " not in the record",
            code="unknown_location",
        )
    leg = reach(sit.graph, sit.position, shipment.destination_id)
    if leg is None:
        raise ToolError(
            f"no lanes lead from {sit.position.location_id} to"
            f" {shipment.destination_id}; no arrival can be promised",
            code="unreachable",
        )
    burn = sit.stability.minutes_until_exhausted() if shipment.status == "in_transit" else None
    loc = dest[0]
    arrival = sit.start + timedelta(minutes=leg.minutes)
    return WindowConstraints(
        now=now,
        earliest_arrival=max(arrival, _eta_floor(shipment) or arrival),
        opens_at=loc["opens_at"],
        closes_at=loc["closes_at"],
        open_days=frozenset(loc["open_days"]),
        daily_capacity=loc["daily_capacity"],
        booked=_booked(cur, shipment, now),
        last_delivery_day=_last_delivery_day(cur, shipment.shipment_id),
        budget_deadline=None if burn is None else now + timedelta(minutes=burn),
    )


# -- the tools ----------------------------------------------------------------------------------


class WindowOut(BaseModel):
    """A delivery window."""

    start: datetime = Field(description="window start, UTC")
    end: datetime = Field(description="window end, UTC")


class RejectedWindow(WindowOut):
    """A window near the request that is not feasible, and why."""

    violations: list[str] = Field(description="each constraint it breaks, as a sentence")
    codes: list[str] = Field(description="the same, as short codes")


class InfeasibleRequest(ToolError):
    """The requested window breaks constraints; ``options`` are the nearest feasible windows."""

    def __init__(self, message: str, options: list[WindowOut], violations: list[Violation]):
        super().__init__(message, code="infeasible_window")
        self.options = options
        self.violations = violations


def _eta_floor(shipment: Shipment) -> datetime | None:
    """The record's ETA as a floor on arrival: a carrier's late ETA (outside the promised window)
    is respected; an ETA inside the window is where a reschedule put it, not a physical limit."""
    eta, start, end = shipment.eta, shipment.promised_start, shipment.promised_end
    if eta is None or (start is not None and end is not None and start <= eta <= end):
        return None
    return eta


def _parse_window(text: str) -> tuple[time, time]:
    named = NAMED_WINDOWS.get(text.strip().lower())
    parts = named or tuple(re.split(r"\s*-\s*", text.strip()))
    try:
        start, end = (time.fromisoformat(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"window {text!r} is not HH:MM-HH:MM or one of {', '.join(NAMED_WINDOWS)}"
        ) from None
    if start >= end:
        raise ValueError(f"window {text!r} ends before it starts")
    return start, end


class RescheduleOptionsArgs(BaseModel):
    """Arguments of reschedule_options."""

    shipment_id: str = Field(description="the shipment, e.g. SHP-1042")
    preferred_date: date | None = Field(default=None, description="the day the customer prefers")
    preferred_window: str | None = Field(
        default=None,
        description="preferred hours, 'HH:MM-HH:MM' (UTC) or morning/afternoon/evening",
    )
    days: int = Field(default=7, ge=1, le=MAX_DAYS_AHEAD, description="days either side to search")
    max_results: int = Field(default=5, ge=1, le=20, description="how many windows to list at most")

    @field_validator("preferred_window")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_window(value)
        return value


class RescheduleOptionsResult(BaseModel):
    """Feasible delivery windows, nearest the preference first."""

    shipment_id: str = Field(description="the shipment")
    destination_id: str = Field(description="where it is delivered")
    earliest_arrival: datetime = Field(description="earliest possible arrival, UTC")
    promised: WindowOut | None = Field(description="the window promised now")
    last_delivery_day: date | None = Field(description="last day allowed by shelf life")
    budget_deadline: datetime | None = Field(description="when the stability budget runs out")
    options: list[WindowOut] = Field(description="feasible windows, nearest the preference first")
    rejected: list[RejectedWindow] = Field(description="nearby windows that are not feasible")


def _anchor(args: RescheduleOptionsArgs, c: WindowConstraints) -> tuple[datetime, WindowOut | None]:
    """The preferred moment, and the exact preferred window when both date and hours are given."""
    day = args.preferred_date or c.earliest_arrival.date()
    if args.preferred_window:
        start, end = _parse_window(args.preferred_window)
        wanted = WindowOut(start=datetime.combine(day, start), end=datetime.combine(day, end))
        return wanted.start, wanted if args.preferred_date else None
    if args.preferred_date:
        return datetime.combine(day, c.opens_at or time(0)), None
    return c.earliest_arrival, None


def _rejected(
    c: WindowConstraints, anchor: datetime, wanted: WindowOut | None, limit: int
) -> list[RejectedWindow]:
    near = list(candidate_windows(c, anchor.date(), anchor.date()))
    if wanted is not None:
        near.insert(0, (wanted.start, wanted.end))
    out: list[RejectedWindow] = []
    for start, end in sorted(set(near), key=lambda w: (abs(w[0] - anchor), w[0])):
        bad = check_window(c, start, end)
        if bad and len(out) < limit:
            out.append(
                RejectedWindow(
                    start=start,
                    end=end,
                    violations=[v.message for v in bad],
                    codes=[v.code for v in bad],
                )
            )
    return out


@tool(
    kind=Kind.READ, risk=Risk.READ, roles=("ops_manager", "automation", "auditor", "contact_center")
)
def reschedule_options(ctx: ToolContext, args: RescheduleOptionsArgs) -> RescheduleOptionsResult:
    """List feasible delivery windows for a shipment, nearest the customer's preference first.

    Windows are two hours within the destination's receiving hours and days, after the earliest
    possible arrival, within its daily dock capacity, before any lot falls under its minimum
    remaining shelf life and, for a cold shipment in transit whose temperature is out of range,
    before the stability budget runs out. Also says why nearby windows are not feasible.
    """
    shipment = load_shipment(ctx, args.shipment_id)
    require_open(shipment, "reschedule")
    c = gather_constraints(ctx.cursor(), shipment, ctx.clock.now())
    anchor, wanted = _anchor(args, c)
    options = feasible_windows(c, anchor, args.days, args.max_results)
    promised = None
    if shipment.promised_start and shipment.promised_end:
        promised = WindowOut(start=shipment.promised_start, end=shipment.promised_end)
    return RescheduleOptionsResult(
        shipment_id=shipment.shipment_id,
        destination_id=shipment.destination_id,
        earliest_arrival=c.earliest_arrival,
        promised=promised,
        last_delivery_day=c.last_delivery_day,
        budget_deadline=c.budget_deadline,
        options=[WindowOut(start=s, end=e) for s, e in options],
        rejected=_rejected(c, anchor, wanted, args.max_results),
    )


class RescheduleArgs(BaseModel):
    """Arguments of reschedule_delivery."""

    shipment_id: str = Field(description="the shipment, e.g. SHP-1042")
    window_start: datetime = Field(description="new window start (UTC if no zone is given)")
    window_end: datetime = Field(description="new window end (UTC if no zone is given)")
    reason: str = Field(min_length=3, description="why the window moves, for the record")
    requested_by: str = Field(min_length=1, description="who asked (customer contact or user)")
    exception_id: str | None = Field(
        default=None, description="the exception this responds to, if any"
    )

    @model_validator(mode="after")
    def _utc(self) -> RescheduleArgs:
        self.window_start, self.window_end = (
            utc_naive(self.window_start),
            utc_naive(self.window_end),
        )
        return self


class RescheduleResult(BaseModel):
    """The promised window after a reschedule."""

    shipment_id: str = Field(description="the shipment")
    previous: WindowOut | None = Field(description="the window promised before")
    promised: WindowOut = Field(description="the window promised now")
    eta: datetime = Field(description="the delivery ETA now, UTC")
    change_id: str = Field(description="the plan_changes row that records the change")


def _refuse_window(c: WindowConstraints, args: RescheduleArgs, bad: list[Violation]) -> None:
    what = "; ".join(v.message for v in bad)
    if any(v.code in SHAPE_CODES for v in bad):
        raise ToolError(f"cannot use that window: {what}", code="invalid_window")
    found = feasible_windows(c, args.window_start, 7, 5)
    options = [WindowOut(start=s, end=e) for s, e in found]
    listed = ", ".join(f"{s:%a %Y-%m-%d %H:%M}-{e:%H:%M}" for s, e in found) or "none in 7 days"
    raise InfeasibleRequest(
        f"the window {args.window_start:%Y-%m-%d %H:%M}-"
        f"{args.window_end:%H:%M} is not feasible: {what}. Nearest feasible"
        f" windows: {listed}",
        options,
        bad,
    )


@tool(kind=Kind.WRITE, risk=Risk.PERMISSIVE, roles=("ops_manager", "contact_center", "automation"))
def reschedule_delivery(ctx: ToolContext, args: RescheduleArgs) -> RescheduleResult:
    """Move a shipment's promised delivery window after re-checking that it is feasible.

    The window is checked here with the same rules as reschedule_options (receiving hours and
    days, arrival, dock capacity, shelf life, stability budget). An infeasible window is refused
    with the constraints it breaks and the nearest feasible windows; nothing changes.
    """
    cur, now = ctx.cursor(), ctx.clock.now()
    shipment = load_shipment(ctx, args.shipment_id)
    require_open(shipment, "reschedule")
    start, end = args.window_start, args.window_end
    if (shipment.promised_start, shipment.promised_end) == (start, end):
        raise ToolError(
            f"{shipment.shipment_id} is already promised for that window; nothing changed",
            code="no_change",
        )
    c = gather_constraints(cur, shipment, now)
    bad = check_window(c, start, end)
    if bad:
        _refuse_window(c, args, bad)
    eta = shipment.eta
    if eta is None or not max(start, c.earliest_arrival) <= eta <= end:
        eta = max(start, c.earliest_arrival)
    _apply(cur, shipment, start, end, eta, now)
    previous = None
    if shipment.promised_start and shipment.promised_end:
        previous = WindowOut(start=shipment.promised_start, end=shipment.promised_end)
    change_id = record_plan_change(
        cur,
        ctx,
        shipment_id=shipment.shipment_id,
        tool_name="reschedule_delivery",
        before={"promised": previous, "eta": shipment.eta},
        after={"promised": {"start": start, "end": end}, "eta": eta},
        reason=args.reason,
        exception_id=args.exception_id,
        requested_by=args.requested_by,
    )
    mark_exception(
        cur,
        args.exception_id,
        "acted",
        f"rescheduled to {start:%Y-%m-%d %H:%M}-{end:%H:%M}: {args.reason}",
        now,
    )
    return RescheduleResult(
        shipment_id=shipment.shipment_id,
        previous=previous,
        promised=WindowOut(start=start, end=end),
        eta=eta,
        change_id=change_id,
    )


def _apply(
    cur: Cursor, shipment: Shipment, start: datetime, end: datetime, eta: datetime, now: datetime
) -> None:
    cur.execute(
        "UPDATE shipments SET promised_start = ?, promised_end = ?, eta = ?, updated_at = ?"
        " WHERE shipment_id = ?",
        [start, end, eta, now, shipment.shipment_id],
    )
    if shipment.route_id:
        cur.execute(
            "UPDATE stops SET eta = ? WHERE route_id = ? AND shipment_id = ? AND location_id = ?",
            [eta, shipment.route_id, shipment.shipment_id, shipment.destination_id],
        )
