"""Restrictive actions: stop product, investigate it, record custody and delivery, close the loop.

Each tool runs inside the transaction :func:`tools.base.call_tool` opens, so every read and write
goes through ``ctx.cursor()``; a refusal raises :class:`ToolError` and nothing is changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from record.audit import canonical_json
from record.clock import utc_naive
from record.models import Shipment
from record.store import Cursor
from tools._common import insert_custody_event, load_shipment, mark_exception, new_id
from tools.base import Kind, Risk, Role, ToolContext, tool
from tools.errors import ToolError
from tools.read import CONTAINER_TREE

__all__ = [
    "IN_STOCK",
    "STOCK_STATUSES",
    "EpodArgs",
    "EpodResult",
    "EscalateArgs",
    "EscalateResult",
    "HandoffArgs",
    "HandoffResult",
    "HoldResult",
    "HoldShipmentArgs",
    "InvestigationArgs",
    "InvestigationResult",
    "QuarantineArgs",
    "QuarantineResult",
    "ResolveArgs",
    "ResolveResult",
    "escalate",
    "hold_shipment",
    "note_exception",
    "open_investigation",
    "quarantine_units",
    "record_epod",
    "record_handoff",
    "resolve_exception",
    "rows",
    "selection",
    "set_unit_status",
    "stop_shipment",
]

ACTORS: tuple[Role, ...] = ("ops_manager", "automation")
STOCK_STATUSES = ("commissioned", "packed", "shipped", "received")
IN_STOCK = "(" + ", ".join(f"'{s}'" for s in STOCK_STATUSES) + ")"
STOPPABLE = IN_STOCK[:-1] + ", 'quarantined', 'suspect')"  # all but dispensed/decommissioned
_EXCEPTION = Field(default=None, description="The exception this responds to; it is marked acted.")
_REASON = Field(
    min_length=3, max_length=500, description="Why, in plain words (kept in the record)."
)


def rows(cur: Cursor, sql: str, params: Any = None) -> list[dict[str, Any]]:
    """Run a query on the transaction's cursor and return its rows as dicts."""
    found = cur.execute(sql, params) if params is not None else cur.execute(sql)
    names = [d[0] for d in found.description or []]
    return [dict(zip(names, r, strict=True)) for r in found.fetchall()]


def note_exception(
    cur: Cursor, exception_id: str | None, status: str, note: str, now: datetime
) -> None:
    """Mark the exception ``status`` unless it is already resolved (unknown id: ToolError)."""
    if not exception_id:
        return
    found = cur.execute(
        "SELECT status FROM exceptions WHERE exception_id = ?", [exception_id]
    ).fetchone()
    if found is not None and found[0] == "resolved" and status != "resolved":
        return
    mark_exception(cur, exception_id, status, note, now)


def stop_shipment(
    ctx: ToolContext, shp: Shipment, *, reason: str, source: str, ref_id: str | None = None,
    exception_id: str | None = None, always_record: bool = False,
) -> str | None:  # fmt: skip
    """Hold a shipment that is not delivered; return the hold id (None when nothing was written)."""
    stopped = shp.status in ("held", "quarantined")
    if shp.status == "delivered" or (stopped and not always_record):
        return None
    cur, now = ctx.cursor(), ctx.clock.now()
    if not stopped:
        cur.execute(
            "UPDATE shipments SET status = 'held', updated_at = ? WHERE shipment_id = ?",
            [now, shp.shipment_id],
        )
    hold_id = new_id("HOLD")
    values = [hold_id, shp.shipment_id, source, ref_id, reason, shp.status, now, ctx.actor]
    cur.execute(
        "INSERT INTO shipment_holds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [*values, exception_id]
    )
    return hold_id


def _check_exception(ctx: ToolContext, exception_id: str | None) -> None:
    """Refuse an exception id that names nothing (before any write)."""
    if not exception_id:
        return
    query = "SELECT 1 FROM exceptions WHERE exception_id = ?"
    if ctx.cursor().execute(query, [exception_id]).fetchone() is None:
        raise ToolError(
            f"unknown exception {exception_id!r}: list_exceptions shows the ids",
            code="unknown_exception",
        )


# --- hold_shipment ---------------------------------------------------------------------------


class HoldShipmentArgs(BaseModel):
    """The shipment to hold, and why."""

    shipment_id: str = Field(description="Shipment to stop, e.g. SHP-1042.")
    reason: str = _REASON
    exception_id: str | None = _EXCEPTION


class HoldResult(BaseModel):
    """The shipment after the hold."""

    shipment_id: str = Field(description="The shipment.")
    status: str = Field(description="Its status now.")
    previous_status: str = Field(description="Its status before this call.")
    changed: bool = Field(description="False when it was already stopped.")
    hold_id: str | None = Field(default=None, description="The hold recorded, when one was.")
    message: str = Field(description="What happened, in one sentence.")


@tool(kind=Kind.WRITE, risk=Risk.RESTRICTIVE, roles=ACTORS)
def hold_shipment(ctx: ToolContext, args: HoldShipmentArgs) -> HoldResult:
    """Put a shipment on hold so it does not move; always allowed, refused only once delivered.

    Holding an already held (or quarantined) shipment changes nothing and says so.
    """
    _check_exception(ctx, args.exception_id)
    shp = load_shipment(ctx, args.shipment_id)
    if shp.status == "delivered":
        raise ToolError(
            f"{shp.shipment_id} was delivered at {shp.delivered_at}; a delivered shipment cannot "
            "be held — quarantine its units (quarantine_units) or open an investigation instead",
            code="already_delivered",
        )
    hold_id = stop_shipment(
        ctx, shp, reason=args.reason, source="hold_shipment", exception_id=args.exception_id
    )
    status = "held" if hold_id else shp.status
    message = (
        f"{shp.shipment_id} is now held (was {shp.status})"
        if hold_id
        else f"{shp.shipment_id} was already {shp.status}; nothing changed"
    )
    note_exception(
        ctx.cursor(), args.exception_id, "acted", f"held: {args.reason}", ctx.clock.now()
    )
    return HoldResult(
        shipment_id=shp.shipment_id, status=status, previous_status=shp.status,
        changed=hold_id is not None, hold_id=hold_id, message=message,
    )  # fmt: skip


# --- quarantine_units ------------------------------------------------------------------------


class QuarantineArgs(BaseModel):
    """What to quarantine (units, containers and/or a shipment), and why."""

    unit_keys: list[str] = Field(
        default_factory=list, max_length=10000,
        description="Unit keys 'gtin14.serial' (a case key quarantines the case's contents).",
    )  # fmt: skip
    container_ids: list[str] = Field(
        default_factory=list, max_length=1000,
        description="SSCCs or case keys: every unit packed inside, at any depth.",
    )  # fmt: skip
    shipment_id: str | None = Field(default=None, description="Every unit on this shipment.")
    reason: str = _REASON
    non_distributable: bool = Field(
        default=False,
        description="The product must not be distributed: a shipment whose units are then all "
        "quarantined or suspect becomes 'quarantined'.",
    )
    exception_id: str | None = _EXCEPTION


class QuarantineResult(BaseModel):
    """What the quarantine changed."""

    quarantine_id: str = Field(description="The quarantine recorded.")
    units_selected: int = Field(description="Units the selection holds.")
    units_quarantined: int = Field(description="Units moved to quarantined now.")
    units_already_stopped: int = Field(description="Units already quarantined or suspect.")
    units_not_in_stock: int = Field(
        description="Dispensed or decommissioned units, left as they are."
    )
    shipments_quarantined: list[str] = Field(description="Shipments now in status quarantined.")


# The units a selection names: packed in its containers (at any depth; cases are containers, not
# units), declared on its shipment, or named by key. One scan of units; writes then go by rowid,
# which is stable inside the tool's transaction. Parameters: $units, $containers, $shipment_id.
_SELECTED = """WITH RECURSIVE
    tree(container_id) AS (
        SELECT container_id FROM containers
        WHERE list_contains($containers::VARCHAR[], container_id) OR shipment_id = $shipment_id
        UNION SELECT c.container_id FROM containers c JOIN tree t ON c.parent_id = t.container_id),
    keys AS (
        SELECT gtin, serial FROM shipment_units WHERE shipment_id = $shipment_id
        UNION SELECT split_part(k, '.', 1), substr(k, 16) FROM unnest($units::VARCHAR[]) AS x(k)),
    sel AS (
        SELECT u.rowid AS rid, u.gtin, u.serial, u.lot, u.expiry, u.status, u.container_id
        FROM units u
        WHERE (u.container_id IN (SELECT container_id FROM tree)
               AND u.gtin || '.' || u.serial NOT IN (SELECT container_id FROM tree))
           OR (u.gtin, u.serial) IN (SELECT gtin, serial FROM keys))
"""
_COUNTS = f"""SELECT count(*) AS selected,
    count(*) FILTER (WHERE status IN {IN_STOCK}) AS movable,
    count(*) FILTER (WHERE status IN ('quarantined', 'suspect')) AS stopped,
    list(rid) FILTER (WHERE status IN {IN_STOCK}) AS rids,
    list(DISTINCT container_id) FILTER (WHERE container_id IS NOT NULL) AS containers,
    list(gtin || '.' || serial) AS keys
FROM sel"""


def selection(shipment_id: str | None = None, units: list[str] | None = None,
              containers: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Parameters of ``_SELECTED`` for a shipment, unit keys and/or containers."""
    return {"shipment_id": shipment_id, "units": units or [], "containers": containers or []}


def set_unit_status(cur: Cursor, rids: list[int] | None, status: str, **also: Any) -> int:
    """Set ``status`` (and columns in ``also``) on the units with these rowids; return how many."""
    if not rids:
        return 0
    extra = "".join(f", {column} = ${column}" for column in also)
    cur.execute(
        f"UPDATE units SET status = $status{extra} WHERE rowid IN (SELECT unnest($rids::BIGINT[]))",
        {"status": status, "rids": rids, **also},
    )
    return len(rids)


def _split_keys(ctx: ToolContext, keys: list[str], containers: list[str]) -> tuple[list, list]:
    """Unit keys that name units, and containers (case keys move there); unknown ones refused."""
    found = rows(ctx.cursor(),
        "SELECT k, u.gtin IS NOT NULL AS unit, c.container_id IS NOT NULL AS container"
        " FROM unnest($keys::VARCHAR[]) AS x(k) LEFT JOIN units u"
        " ON u.gtin = split_part(k, '.', 1) AND u.serial = substr(k, 16)"
        " LEFT JOIN containers c ON c.container_id = k",
        {"keys": [*keys, *containers]},
    )  # fmt: skip
    kinds = {r["k"]: (r["unit"], r["container"]) for r in found}
    asked = list(dict.fromkeys([*keys, *containers]))
    unknown = [k for k in asked if not any(kinds[k])]
    if unknown:
        shown = ", ".join(unknown[:20]) + (
            f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        )
        raise ToolError(
            f"unknown unit or container ids: {shown}. Units look like 00312345678906.SN1001, "
            "pallets like an 18-digit SSCC; nothing was quarantined",
            code="unknown_units",
        )
    return [k for k in asked if kinds[k] == (True, False)], [k for k in asked if kinds[k][1]]


def _touched_shipments(ctx: ToolContext, shipment_id: str | None, counts: dict) -> set[str]:
    """Shipments the quarantined units travel on: asked for, packed on, or declared on."""
    found = rows(
        ctx.cursor(),
        "WITH RECURSIVE up(id) AS (SELECT unnest($c::VARCHAR[]) UNION SELECT c.parent_id"
        " FROM containers c JOIN up ON c.container_id = up.id WHERE c.parent_id IS NOT NULL)"
        " SELECT shipment_id FROM containers WHERE container_id IN (SELECT id FROM up)"
        " AND shipment_id IS NOT NULL UNION SELECT shipment_id FROM shipment_units"
        " WHERE (gtin, serial) IN (SELECT split_part(k, '.', 1), substr(k, 16)"
        " FROM unnest($k::VARCHAR[]) AS x(k))",
        {"c": counts["containers"] or [], "k": counts["keys"] or []},
    )
    return {r["shipment_id"] for r in found} | ({shipment_id} if shipment_id else set())


def _quarantine_shipments(
    ctx: ToolContext, candidates: set[str], reason: str, ref: str
) -> list[str]:
    """Shipments (not delivered) whose every unit is now quarantined or suspect → quarantined."""
    done = []
    for sid in sorted(candidates):
        shp = load_shipment(ctx, sid)
        left = rows(ctx.cursor(), _SELECTED + "SELECT count(*) AS n, count(*) FILTER (WHERE"
                    " status NOT IN ('quarantined', 'suspect')) AS free FROM sel",
                    selection(sid))[0]  # fmt: skip
        if shp.status in ("delivered", "quarantined") or not left["n"] or left["free"]:
            continue
        stop_shipment(ctx, shp, reason=reason, source="quarantine", ref_id=ref, always_record=True)
        ctx.cursor().execute(
            "UPDATE shipments SET status = 'quarantined' WHERE shipment_id = ?", [sid]
        )
        done.append(sid)
    return done


@tool(kind=Kind.WRITE, risk=Risk.RESTRICTIVE, roles=ACTORS)
def quarantine_units(ctx: ToolContext, args: QuarantineArgs) -> QuarantineResult:
    """Quarantine serialized units: by unit key, by container (everything inside) or by shipment.

    Units in stock move to 'quarantined'; suspect, dispensed and decommissioned ones are left as
    they are. Unknown keys are refused and nothing changes.
    """
    if not (args.unit_keys or args.container_ids or args.shipment_id):
        raise ToolError("say what to quarantine: unit_keys, container_ids or shipment_id",
                        code="nothing_selected")  # fmt: skip
    _check_exception(ctx, args.exception_id)
    if args.shipment_id:
        load_shipment(ctx, args.shipment_id)
    units, containers = _split_keys(ctx, args.unit_keys, args.container_ids)
    cur, now, qid = ctx.cursor(), ctx.clock.now(), new_id("QUA")
    counts = rows(cur, _SELECTED + _COUNTS, selection(args.shipment_id, units, containers))[0]
    if not counts["selected"]:
        raise ToolError("the selection holds no serialized units on record; nothing to quarantine",
                        code="nothing_to_quarantine")  # fmt: skip
    set_unit_status(cur, counts["rids"], "quarantined")
    scope = {"unit_keys": args.unit_keys, "container_ids": args.container_ids,
             "shipment_id": args.shipment_id}  # fmt: skip
    cur.execute(
        "INSERT INTO quarantines VALUES (?, 'quarantine_units', NULL, ?, ?, ?, ?, ?, ?, ?)",
        [qid, args.reason, canonical_json(scope), counts["movable"], args.non_distributable,
         now, ctx.actor, args.exception_id],
    )  # fmt: skip
    shipments: list[str] = []
    if args.non_distributable:
        counts["containers"] = [*containers, *(counts["containers"] or [])]
        candidates = _touched_shipments(ctx, args.shipment_id, counts)
        shipments = _quarantine_shipments(ctx, candidates, args.reason, qid)
    note_exception(cur, args.exception_id, "acted", f"quarantined: {args.reason}", now)
    return QuarantineResult(
        quarantine_id=qid, units_selected=counts["selected"], units_quarantined=counts["movable"],
        units_already_stopped=counts["stopped"],
        units_not_in_stock=counts["selected"] - counts["movable"] - counts["stopped"],
        shipments_quarantined=shipments,
    )  # fmt: skip


# --- open_investigation ----------------------------------------------------------------------

Classification = Literal[
    "counterfeit", "diverted", "stolen", "intentional_adulteration", "unfit",
    "fraudulent_transaction",
]  # fmt: skip


class InvestigationArgs(BaseModel):
    """What is suspect, and the evidence."""

    subject: str = Field(
        description="What is suspect: a unit key 'gtin14.serial', a case key or SSCC (everything "
        "inside), or a shipment id (all its units)."
    )
    shipment_id: str | None = Field(
        default=None,
        description="Shipment it was found on (held unless delivered); default: the subject's.",
    )
    kind: Literal["suspect", "illegitimate"] = Field(
        default="suspect",
        description="'suspect': under investigation; 'illegitimate': determined illegitimate — "
        "FDA Form 3911 and trading-partner notices due within 24 hours of detection.",
    )
    classification: Classification | None = Field(
        default=None, description="Form 3911 type of problem."
    )
    description: str | None = Field(
        default=None, max_length=2000, description="What was found, for the Form 3911 description."
    )
    evidence: dict[str, Any] = Field(
        default_factory=dict,
        description="What proves it: identifiers, verification replies, exception evidence.",
    )
    reporter_gln: str | None = Field(
        default=None,
        description="GLN of the reporting party; default: meta operator_gln or the holder.",
    )
    exception_id: str | None = _EXCEPTION


class InvestigationResult(BaseModel):
    """The investigation opened, with its Form 3911 draft and deadline."""

    investigation_id: str = Field(description="The investigation opened.")
    subject: str = Field(description="What it is about.")
    shipment_id: str | None = Field(default=None, description="The shipment involved.")
    shipment_status: str | None = Field(default=None, description="That shipment's status now.")
    units_marked_suspect: int = Field(description="Units now in status suspect.")
    units_not_in_stock: int = Field(description="Dispensed or decommissioned units, unchanged.")
    fda3911_required: bool = Field(description="Whether Form 3911 must be filed (illegitimate).")
    fda3911_due_at: datetime | None = Field(
        default=None, description="24 h from detection: FDA notice due if found illegitimate."
    )
    fda3911_draft: dict[str, Any] = Field(description="The Form 3911 draft, for a person to file.")


_SUBJECT_SHIPMENT = """WITH RECURSIVE up(id) AS (
    SELECT container_id FROM units WHERE gtin = $gtin AND serial = $serial
    UNION SELECT $key UNION
    SELECT c.parent_id FROM containers c JOIN up ON c.container_id = up.id
    WHERE c.parent_id IS NOT NULL)
SELECT shipment_id FROM shipments WHERE shipment_id IN (
    SELECT shipment_id FROM containers WHERE container_id IN (SELECT id FROM up)
    UNION SELECT shipment_id FROM shipment_units WHERE gtin = $gtin AND serial = $serial)
ORDER BY status = 'delivered', planned_departure DESC NULLS LAST LIMIT 1"""
_PRODUCTS = f"""SELECT c.gtin, p.name, p.ndc, list(DISTINCT c.lot) AS lots,
    list(DISTINCT c.expiry) AS expiry, list(c.serial ORDER BY c.serial)[1:1000] AS serials,
    count(*) AS units, list(c.rid) FILTER (WHERE c.status IN {STOPPABLE}) AS rids,
    list(c.gtin || '.' || c.serial) AS keys
FROM sel c LEFT JOIN products p USING (gtin) GROUP BY ALL ORDER BY c.gtin"""


def _investigation_scope(ctx: ToolContext, args: InvestigationArgs) -> tuple[dict, str | None]:
    """Selection parameters for the subject, and the shipment involved (unknown: ToolError)."""
    cur, key = ctx.cursor(), args.subject.strip()
    gtin, _, serial = key.partition(".")
    params = selection()
    if cur.execute("SELECT 1 FROM shipments WHERE shipment_id = ?", [key]).fetchone():
        params["shipment_id"] = key
    elif cur.execute("SELECT 1 FROM containers WHERE container_id = ?", [key]).fetchone():
        params["containers"] = [key]
    elif cur.execute(
        "SELECT 1 FROM units WHERE gtin = ? AND serial = ?", [gtin, serial]
    ).fetchone():
        params["units"] = [key]
    else:
        raise ToolError(
            f"unknown subject {key!r}: give a unit key like 00312345678906.SN1001, an SSCC or "
            "case key, or a shipment id like SHP-1042",
            code="unknown_subject",
        )
    if args.shipment_id:
        return params, load_shipment(ctx, args.shipment_id).shipment_id
    if params["shipment_id"]:
        return params, key
    found = cur.execute(_SUBJECT_SHIPMENT, {"key": key, "gtin": gtin, "serial": serial}).fetchone()
    return params, found[0] if found else None


def _parties(ctx: ToolContext, shp: Shipment | None, reporter: str | None) -> tuple[Any, list]:
    """The reporter GLN and the immediate trading partners of the shipment."""
    partners = rows(ctx.cursor(),
        "SELECT l.location_id, l.partner_gln AS gln, p.name, p.role, l.location_id = $dest AS dest"
        " FROM locations l LEFT JOIN partners p ON p.gln = l.partner_gln"
        " WHERE l.location_id IN ($origin, $dest) ORDER BY dest",
        {"origin": shp.origin_id if shp else None, "dest": shp.destination_id if shp else None},
    )  # fmt: skip
    operator = ctx.cursor().execute("SELECT value FROM meta WHERE key = 'operator_gln'").fetchone()
    # Whoever holds the product reports: the receiver once delivered, else the shipper.
    delivered = shp is not None and shp.status == "delivered"
    holder = next((p["gln"] for p in partners if p["dest"] == delivered), None)
    reporter = reporter or (operator[0] if operator else None) or holder
    return reporter, [{k: p[k] for k in ("gln", "name", "role", "location_id")} for p in partners]


def _draft_3911(args: InvestigationArgs, products: list[dict], detected: datetime,
                reporter: str | None, partners: list) -> dict[str, Any]:  # fmt: skip
    draft = {
        "form": "FDA 3911", "notification_type": "initial",
        "classification_of_notification": "illegitimate_product" if args.kind == "illegitimate"
        else "suspect_product_under_investigation",
        "type": args.classification, "description": args.description,
        "products": [{"name": p["name"], "ndc": p["ndc"], "gtin": p["gtin"], "lots": p["lots"],
                      "expiry": [str(e) for e in p["expiry"] if e], "units": p["units"],
                      "serials": p["serials"]} for p in products],
        "reporter_gln": reporter, "date_discovered": detected.date().isoformat(),
        "trading_partners_to_notify": partners,
    }  # fmt: skip
    draft["missing_fields"] = [k for k in ("type", "description", "reporter_gln") if not draft[k]]
    return draft


@tool(kind=Kind.WRITE, risk=Risk.RESTRICTIVE, roles=ACTORS)
def open_investigation(ctx: ToolContext, args: InvestigationArgs) -> InvestigationResult:
    """Open a suspect or illegitimate product investigation (DSCSA) with its evidence.

    Marks the units suspect, holds the shipment unless delivered, and drafts the FDA Form 3911
    notice; for illegitimate product it is due to FDA and immediate trading partners within 24
    hours of detection. The draft is not filed: a person reviews and submits it.
    """
    _check_exception(ctx, args.exception_id)
    cur, now, iid = ctx.cursor(), ctx.clock.now(), new_id("INV")
    params, sid = _investigation_scope(ctx, args)
    products = rows(cur, _SELECTED + _PRODUCTS, params)
    suspect = set_unit_status(cur, [r for p in products for r in p["rids"] or []], "suspect")
    shp = load_shipment(ctx, sid) if sid else None
    if shp is not None:
        stop_shipment(ctx, shp, reason=f"{args.kind} product investigation {iid}",
                      source="investigation", ref_id=iid, exception_id=args.exception_id,
                      always_record=True)  # fmt: skip
    found = cur.execute(
        "SELECT detected_at FROM exceptions WHERE exception_id = ?", [args.exception_id]
    ).fetchone()
    detected = found[0] if found else now
    # DSCSA: once product is found illegitimate, FDA and partners are notified within 24 hours of
    # that determination. The draft carries the deadline from detection so the clock is visible
    # while the suspect product is investigated; filing is required only when illegitimate.
    due = detected + timedelta(hours=24)
    required = args.kind == "illegitimate"
    reporter, partners = _parties(ctx, shp, args.reporter_gln)
    draft = _draft_3911(args, products, detected, reporter, partners)
    keys = [k for p in products for k in p["keys"]]
    cur.execute(
        "INSERT INTO investigations VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?,"
        " 'draft', ?)",
        [iid, args.subject, sid, args.kind, args.classification, canonical_json(args.evidence),
         keys, detected, now, ctx.actor, args.exception_id, required, due,
         canonical_json(draft)],
    )  # fmt: skip
    note_exception(cur, args.exception_id, "acted", f"investigation {iid} opened", now)
    status = load_shipment(ctx, sid).status if sid else None
    return InvestigationResult(
        investigation_id=iid, subject=args.subject, shipment_id=sid, shipment_status=status,
        units_marked_suspect=suspect, units_not_in_stock=len(keys) - suspect,
        fda3911_required=required, fda3911_due_at=due, fda3911_draft=draft,
    )  # fmt: skip


# --- record_handoff and record_epod ----------------------------------------------------------

Condition = Literal["good", "damaged", "partial", "temperature_alarm"]
_NOTES = Field(
    default=None,
    max_length=2000,
    description="Free text from the driver or receiver (kept as data).",
)


def _moment(ctx: ToolContext, at: datetime | None) -> datetime:
    """``at`` in naive UTC (default now); a moment in the future is refused."""
    now = ctx.clock.now()
    moment = utc_naive(at) if at else now
    if moment > now:
        raise ToolError(
            f"time {moment.isoformat()} is in the future (now is {now.isoformat()} UTC); "
            "give the time it happened",
            code="future_time",
        )
    return moment


def _epcs(ctx: ToolContext, shp: Shipment, sscc: str | None = None) -> list[str]:
    """The shipment's top-level containers (or one of its containers, or its declared units)."""
    found = rows(ctx.cursor(),
        f"WITH RECURSIVE {CONTAINER_TREE} SELECT c.container_id, c.parent_id IN"
        " (SELECT container_id FROM shipment_tree) AS inner FROM containers c"
        " JOIN shipment_tree USING (container_id) ORDER BY c.container_id",
        {"shipment_id": shp.shipment_id},
    )  # fmt: skip
    if sscc is not None:
        if sscc not in {r["container_id"] for r in found}:
            raise ToolError(f"container {sscc} is not on {shp.shipment_id}; give one of its "
                            "containers or leave sscc empty", code="not_on_shipment")  # fmt: skip
        return [sscc]
    top = [r["container_id"] for r in found if not r["inner"]]
    if top:
        return top
    declared = ctx.cursor().execute(
        "SELECT list(gtin || '.' || serial ORDER BY gtin, serial) FROM shipment_units"
        " WHERE shipment_id = ?", [shp.shipment_id]).fetchone()  # fmt: skip
    if not declared or not declared[0]:
        raise ToolError(f"{shp.shipment_id} has no containers or units on record; record its "
                        "packing before custody events", code="no_contents")  # fmt: skip
    return list(declared[0])


def _hold_reason(ctx: ToolContext, shp: Shipment) -> str:
    found = (
        ctx.cursor()
        .execute(
            "SELECT reason FROM shipment_holds WHERE shipment_id = ? ORDER BY held_at DESC LIMIT 1",
            [shp.shipment_id],
        )
        .fetchone()
    )
    return f"{shp.shipment_id} is {shp.status}" + (f" ({found[0]})" if found else "")


class HandoffArgs(BaseModel):
    """A custody hand-over: who, to whom, where, when."""

    shipment_id: str = Field(description="Shipment handed over.")
    from_party: str = Field(min_length=2, description="Party handing over: GLN or carrier name.")
    to_party: str = Field(min_length=2, description="Party taking custody: GLN or carrier name.")
    location_id: str = Field(description="Where it happened (location GLN).")
    at: datetime | None = Field(default=None, description="When (UTC); default now.")
    sscc: str | None = Field(
        default=None, description="Only this container; default all top-level ones."
    )
    step: Literal["shipping", "departing", "arriving", "receiving"] | None = Field(
        default=None,
        description="CBV bizStep; default shipping at the origin, arriving at the destination, "
        "departing elsewhere.",
    )
    condition: Condition = Field(default="good", description="Condition of the goods at hand-over.")
    notes: str | None = _NOTES
    exception_id: str | None = _EXCEPTION


class HandoffResult(BaseModel):
    """The custody event recorded."""

    event_id: str = Field(description="The custody event recorded.")
    shipment_id: str = Field(description="The shipment.")
    biz_step: str = Field(description="CBV bizStep recorded.")
    disposition: str = Field(description="CBV disposition recorded.")
    epcs: list[str] = Field(description="Containers (or units) the event covers.")
    status: str = Field(description="The shipment's status now.")
    previous_status: str = Field(description="Its status before.")


def _leave_origin(ctx: ToolContext, shp: Shipment, at: datetime) -> str:
    """The origin hands over: only a released shipment may leave; it goes in transit."""
    if shp.status in ("held", "quarantined", "planned"):
        why = _hold_reason(ctx, shp) if shp.status != "planned" else f"{shp.shipment_id} is planned"
        raise ToolError(
            f"{why}: it may not leave {shp.origin_id} until verify_shipment passes and "
            "release_shipment releases it",
            code="not_released",
        )
    if shp.status != "released":
        return shp.status
    cur = ctx.cursor()
    cur.execute(
        "UPDATE shipments SET status = 'in_transit', departed_at = ?, updated_at = ?"
        " WHERE shipment_id = ?",
        [at, ctx.clock.now(), shp.shipment_id],
    )
    packed = rows(cur, _SELECTED + "SELECT list(rid) AS rids FROM sel WHERE status IN"
                  " ('commissioned', 'packed')", selection(shp.shipment_id))[0]  # fmt: skip
    set_unit_status(cur, packed["rids"], "shipped")
    return "in_transit"


@tool(kind=Kind.WRITE, risk=Risk.RESTRICTIVE, roles=ACTORS)
def record_handoff(ctx: ToolContext, args: HandoffArgs) -> HandoffResult:
    """Record a custody hand-over of a shipment (an EPCIS ObjectEvent OBSERVE) at a location.

    At the origin the shipment goes in transit, which is refused unless it was released. Proof of
    delivery at the destination is record_epod, not this tool.
    """
    _check_exception(ctx, args.exception_id)
    shp = load_shipment(ctx, args.shipment_id)
    if shp.status == "delivered":
        raise ToolError(f"{shp.shipment_id} was delivered at {shp.delivered_at}; custody ended "
                        "with its ePOD", code="already_delivered")  # fmt: skip
    if (
        not ctx.cursor()
        .execute("SELECT 1 FROM locations WHERE location_id = ?", [args.location_id])
        .fetchone()
    ):
        raise ToolError(f"unknown location {args.location_id!r}: give the location's GLN",
                        code="unknown_location")  # fmt: skip
    if args.from_party.strip() == args.to_party.strip():
        raise ToolError("from_party and to_party are the same; a hand-over needs two parties",
                        code="same_party")  # fmt: skip
    at = _moment(ctx, args.at)
    at_origin, at_dest = args.location_id == shp.origin_id, args.location_id == shp.destination_id
    step = args.step or ("shipping" if at_origin else "arriving" if at_dest else "departing")
    epcs = _epcs(ctx, shp, args.sscc)
    status = shp.status
    if at_origin and step in ("shipping", "departing"):
        status = _leave_origin(ctx, shp, at)
    disposition = "in_progress" if step == "receiving" else "in_transit"
    raw = {"from_party": args.from_party, "to_party": args.to_party, "condition": args.condition,
           "untrusted_notes": args.notes, "recorded_by": ctx.actor}  # fmt: skip
    event_id = insert_custody_event(
        ctx.cursor(), event_type="ObjectEvent", action="OBSERVE", biz_step=step,
        disposition=disposition, event_time=at, epcs=epcs, shipment_id=shp.shipment_id,
        read_point=args.location_id, source_id=args.from_party, destination_id=args.to_party,
        raw=raw,
    )  # fmt: skip
    note = f"hand-over {args.from_party} → {args.to_party} recorded"
    note_exception(ctx.cursor(), args.exception_id, "acted", note, ctx.clock.now())
    return HandoffResult(
        event_id=event_id, shipment_id=shp.shipment_id, biz_step=step, disposition=disposition,
        epcs=epcs, status=status, previous_status=shp.status,
    )  # fmt: skip


class EpodArgs(BaseModel):
    """The proof of delivery: who signed, when and where."""

    shipment_id: str = Field(description="Shipment delivered.")
    signed_by: str = Field(min_length=2, max_length=200, description="Name of the person signing.")
    at: datetime | None = Field(default=None, description="When it was signed (UTC); default now.")
    location_id: str | None = Field(
        default=None, description="Where (GLN); default the destination."
    )
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude of the signature.")
    lon: float | None = Field(
        default=None, ge=-180, le=180, description="Longitude of the signature."
    )
    condition: Condition = Field(default="good", description="Condition of the goods on receipt.")
    notes: str | None = _NOTES
    exception_id: str | None = _EXCEPTION


class EpodResult(BaseModel):
    """The delivery recorded."""

    shipment_id: str = Field(description="The shipment.")
    status: str = Field(description="Its status now.")
    signed_by: str = Field(description="Who signed.")
    signed_at: datetime = Field(description="When (UTC).")
    location_id: str = Field(description="Where.")
    event_id: str | None = Field(default=None, description="The receiving event recorded.")
    units_received: int = Field(description="Units now received at the destination.")
    changed: bool = Field(description="False when this ePOD was already on record.")


def _same_epod(
    ctx: ToolContext, shp: Shipment, args: EpodArgs, at: datetime, where: str
) -> EpodResult:
    """The ePOD on record when this one is the same (no time given: any time), else refuse."""
    found = rows(ctx.cursor(), "SELECT * FROM epod WHERE shipment_id = ?", [shp.shipment_id])[0]
    asked = (args.signed_by, at if args.at else found["signed_at"], where, args.condition)
    if (found["signed_by"], found["signed_at"], found["location_id"], found["condition"]) != asked:
        raise ToolError(
            f"{shp.shipment_id} already has an ePOD signed by {found['signed_by']} at "
            f"{found['signed_at']}; a second, different ePOD is refused — escalate if it is wrong",
            code="already_delivered",
        )
    return EpodResult(shipment_id=shp.shipment_id, status=shp.status, signed_by=found["signed_by"],
                      signed_at=found["signed_at"], location_id=where, units_received=0,
                      changed=False)  # fmt: skip


def _check_epod(ctx: ToolContext, shp: Shipment, where: str, at: datetime) -> None:
    if where != shp.destination_id:
        names = dict(ctx.cursor().execute(
            "SELECT location_id, name FROM locations WHERE location_id IN (?, ?)",
            [where, shp.destination_id]).fetchall())  # fmt: skip
        raise ToolError(
            f"ePOD at {where} ({names.get(where, 'unknown location')}) but {shp.shipment_id} goes "
            f"to {shp.destination_id} ({names.get(shp.destination_id, '?')}); deliver it there "
            "or reroute it first",
            code="wrong_location",
        )
    if shp.status in ("held", "quarantined", "planned"):
        raise ToolError(
            f"{_hold_reason(ctx, shp)}: its delivery cannot be confirmed; release it "
            "first, or escalate if it was delivered anyway",
            code="not_deliverable",
        )
    if shp.departed_at and at < shp.departed_at:
        raise ToolError(f"signed at {at} is before departure at {shp.departed_at}",
                        code="before_departure")  # fmt: skip


@tool(kind=Kind.WRITE, risk=Risk.RESTRICTIVE, roles=ACTORS)
def record_epod(ctx: ToolContext, args: EpodArgs) -> EpodResult:
    """Record proof of delivery at the destination: the ePOD, a receiving event, status delivered.

    Refused at any place but the destination, for a time in the future, and when a different ePOD
    is already on record (the same ePOD again changes nothing).
    """
    _check_exception(ctx, args.exception_id)
    shp = load_shipment(ctx, args.shipment_id)
    at, where = _moment(ctx, args.at), args.location_id or shp.destination_id
    cur, now = ctx.cursor(), ctx.clock.now()
    if cur.execute("SELECT 1 FROM epod WHERE shipment_id = ?", [shp.shipment_id]).fetchone():
        return _same_epod(ctx, shp, args, at, where)
    _check_epod(ctx, shp, where, at)
    cur.execute("INSERT INTO epod VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [shp.shipment_id, args.signed_by, at, where, args.lat, args.lon, args.condition,
                 args.notes])  # fmt: skip
    event_id = insert_custody_event(
        cur, event_type="ObjectEvent", action="OBSERVE", biz_step="receiving",
        disposition="in_progress", event_time=at, epcs=_epcs(ctx, shp),
        shipment_id=shp.shipment_id, read_point=where, source_id=shp.origin_id,
        destination_id=shp.destination_id,
        raw={"signed_by": args.signed_by, "condition": args.condition,
             "untrusted_notes": args.notes},
    )  # fmt: skip
    cur.execute(
        "UPDATE shipments SET status = 'delivered', delivered_at = coalesce(delivered_at, ?),"
        " updated_at = ? WHERE shipment_id = ?",
        [at, now, shp.shipment_id],
    )
    found = rows(cur, _SELECTED + "SELECT list(rid) AS rids FROM sel WHERE status IN"
                 f" {IN_STOCK}", selection(shp.shipment_id))[0]  # fmt: skip
    received = set_unit_status(cur, found["rids"], "received", location_id=where)
    note_exception(cur, args.exception_id, "acted", f"ePOD signed by {args.signed_by}", now)
    return EpodResult(
        shipment_id=shp.shipment_id, status="delivered", signed_by=args.signed_by, signed_at=at,
        location_id=where, event_id=event_id, units_received=received,
        changed=True,
    )  # fmt: skip


# --- resolve_exception and escalate ----------------------------------------------------------


class ResolveArgs(BaseModel):
    """The exception to close, and how it was resolved."""

    exception_id: str = Field(description="The exception to close.")
    resolution: str = Field(min_length=3, max_length=1000, description="How it was resolved.")


class ResolveResult(BaseModel):
    """The exception after the call."""

    exception_id: str = Field(description="The exception.")
    status: str = Field(description="Its status now.")
    previous_status: str = Field(description="Its status before.")
    changed: bool = Field(description="False when it was already resolved.")


@tool(kind=Kind.WRITE, risk=Risk.RESTRICTIVE, roles=ACTORS)
def resolve_exception(ctx: ToolContext, args: ResolveArgs) -> ResolveResult:
    """Close an exception with its resolution.

    One waiting for approval is refused: approve or reject the proposed action instead.
    """
    found = (
        ctx.cursor()
        .execute("SELECT status FROM exceptions WHERE exception_id = ?", [args.exception_id])
        .fetchone()
    )
    if found is None:
        raise ToolError(f"unknown exception {args.exception_id!r}: list_exceptions shows the ids",
                        code="unknown_exception")  # fmt: skip
    if found[0] == "pending_approval":
        raise ToolError(
            f"exception {args.exception_id} is waiting for approval of a proposed action; "
            "approve or reject that instead of resolving it",
            code="pending_approval",
        )
    if found[0] != "resolved":
        mark_exception(
            ctx.cursor(), args.exception_id, "resolved", args.resolution, ctx.clock.now()
        )
    return ResolveResult(exception_id=args.exception_id, status="resolved",
                         previous_status=found[0], changed=found[0] != "resolved")  # fmt: skip


class EscalateArgs(BaseModel):
    """What a person must look at, with the evidence."""

    subject: str = Field(description="What it is about: shipment, unit, container or asset id.")
    summary: str = Field(min_length=3, max_length=2000, description="What a person must decide.")
    evidence: dict[str, Any] = Field(default_factory=dict, description="The facts behind it.")
    to: Literal[
        "duty_manager", "quality_assurance", "regulatory_affairs", "customer_service",
        "carrier_operations", "security",
    ] = Field(default="duty_manager", description="Who takes it.")  # fmt: skip
    severity: Literal["low", "medium", "high", "critical"] = Field(
        default="high", description="How urgent."
    )
    exception_id: str | None = _EXCEPTION


class EscalateResult(BaseModel):
    """The escalation recorded."""

    escalation_id: str = Field(description="The escalation recorded.")
    to: str = Field(description="Who takes it.")
    status: str = Field(description="open")


@tool(kind=Kind.WRITE, risk=Risk.RESTRICTIVE, roles=(*ACTORS, "contact_center"))
def escalate(ctx: ToolContext, args: EscalateArgs) -> EscalateResult:
    """Hand a case to a person (duty manager, QA, regulatory, ...) with the evidence they need."""
    _check_exception(ctx, args.exception_id)
    eid, now = new_id("ESC"), ctx.clock.now()
    ctx.cursor().execute(
        "INSERT INTO escalations VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
        [eid, args.subject, args.to, args.severity, args.summary, canonical_json(args.evidence),
         args.exception_id, now, ctx.actor],
    )  # fmt: skip
    note_exception(ctx.cursor(), args.exception_id, "acted", f"escalated to {args.to}: {eid}", now)
    return EscalateResult(escalation_id=eid, to=args.to, status="open")
