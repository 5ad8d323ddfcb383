"""Lot recalls: what a GTIN + lot touched (recall_impact), and acting on it (recall_lot).

The affected set is one set of CTEs (``_SCOPE``): the lot's serialized units (as commissioned, or
as declared on a shipment), every container they are packed in up to the pallet, every shipment
carrying them, the places holding them and the customers they went to.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from record.audit import canonical_json
from record.errors import IdentifierError
from record.identifiers import validate_gtin
from record.store import Cursor
from tools.actions import IN_STOCK, STOCK_STATUSES, note_exception, rows, set_unit_status
from tools.base import Kind, Risk, Role, ToolContext, tool
from tools.errors import ToolError

__all__ = [
    "RecallImpact",
    "RecallImpactArgs",
    "RecallLotArgs",
    "RecallResult",
    "recall_impact",
    "recall_lot",
]

READERS: tuple[Role, ...] = ("ops_manager", "automation", "auditor")
MOVING = "('planned', 'released', 'in_transit')"

# Parameters: $gtin, $lot. Unit keys that are also containers (cases) count as containers.
_SCOPE = """WITH RECURSIVE
lot_units AS (
    SELECT gtin, serial, status, container_id, location_id, rowid AS rid FROM units
    WHERE gtin = $gtin AND lot = $lot),
leftover AS MATERIALIZED (  -- declared in the lot on a shipment, commissioned otherwise or never
    SELECT DISTINCT gtin, serial FROM shipment_units WHERE gtin = $gtin AND lot = $lot
    AND serial NOT IN (SELECT serial FROM lot_units)),
items AS MATERIALIZED (
    SELECT i.*, FALSE AS ghost FROM lot_units i
    UNION ALL
    SELECT d.gtin, d.serial, u.status, u.container_id, u.location_id, u.rowid, u.gtin IS NULL
    FROM leftover d LEFT JOIN units u ON u.gtin = d.gtin AND u.serial = d.serial),
item_units AS (
    SELECT * FROM items WHERE NOT ghost AND gtin || '.' || serial NOT IN (
        SELECT container_id FROM containers WHERE starts_with(container_id, $gtin))),
up(leaf, container_id) AS (
    SELECT DISTINCT container_id, container_id FROM item_units WHERE container_id IS NOT NULL
    UNION SELECT up.leaf, c.parent_id FROM up JOIN containers c ON c.container_id = up.container_id
    WHERE c.parent_id IS NOT NULL),
boxes AS (
    SELECT DISTINCT c.container_id, c.kind FROM up JOIN containers c USING (container_id)),
hit AS MATERIALIZED (
    SELECT s.shipment_id, s.status, s.origin_id, s.destination_id, s.eta, s.delivered_at,
           count(DISTINCT (us.gtin, us.serial)) AS units
    FROM (SELECT iu.gtin, iu.serial, c.shipment_id FROM item_units iu
          JOIN up ON up.leaf = iu.container_id
          JOIN containers c ON c.container_id = up.container_id WHERE c.shipment_id IS NOT NULL
          UNION SELECT su.gtin, su.serial, su.shipment_id
          FROM shipment_units su JOIN items USING (gtin, serial)) us
    JOIN shipments s USING (shipment_id) GROUP BY ALL),
dest AS MATERIALIZED (
    SELECT DISTINCT h.destination_id AS location_id, l.partner_gln,
           coalesce(l.partner_gln, h.destination_id) AS customer
    FROM hit h LEFT JOIN locations l ON l.location_id = h.destination_id),
reach AS MATERIALIZED (
    SELECT DISTINCT ON (c.contact_id) c.*, d.customer FROM contacts c JOIN dest d
    ON c.location_id = d.location_id OR c.partner_gln = d.partner_gln)
"""
_IMPACT = """SELECT * FROM
(SELECT count(*) FILTER (WHERE NOT ghost) AS units,
        histogram(status) FILTER (WHERE NOT ghost) AS units_by_status,
        count(*) FILTER (WHERE ghost) AS units_declared_only FROM items),
(SELECT count(*) AS containers, histogram(kind) AS containers_by_kind,
        list(container_id ORDER BY container_id)[1:$cap] AS container_ids FROM boxes),
(SELECT count(*) AS shipments, histogram(status) AS shipments_by_status,
        list(struct_pack(shipment_id, status, origin_id, destination_id, eta, delivered_at, units)
             ORDER BY status = 'delivered', shipment_id)[1:$cap] AS shipment_list FROM hit),
(SELECT count(*) AS locations,
        list(struct_pack(location_id, name := l.name, kind := l.kind, units := p.units,
             destination := p.destination) ORDER BY p.units DESC, location_id)[1:$cap]
        AS location_list
 FROM (SELECT location_id, sum(n)::INTEGER AS units, bool_or(d) AS destination FROM (
          SELECT location_id, count(*) AS n, FALSE AS d FROM item_units
          WHERE location_id IS NOT NULL AND status NOT IN ('dispensed', 'decommissioned')
          GROUP BY 1 UNION ALL SELECT location_id, 0, TRUE FROM dest) GROUP BY 1) p
 LEFT JOIN locations l USING (location_id)),
(SELECT count(*) AS customers,
        list(struct_pack(customer, name := p.name, role := p.role, locations, contacts)
             ORDER BY customer)[1:$cap] AS customer_list
 FROM (SELECT customer, any_value(partner_gln) AS gln, list(location_id ORDER BY location_id)
       AS locations FROM dest GROUP BY 1) cu
 LEFT JOIN partners p ON p.gln = cu.gln
 LEFT JOIN (SELECT customer, list(struct_pack(contact_id, name, channel, consent)
            ORDER BY contact_id) AS contacts FROM reach GROUP BY 1) rc USING (customer)),
(SELECT count(*) AS contacts, count(*) FILTER (WHERE consent) AS contacts_with_consent FROM reach)
"""


class RecallImpactArgs(BaseModel):
    """The GTIN and lot to trace."""

    gtin: str = Field(description="GTIN of the product (8, 12, 13 or 14 digits).")
    lot: str = Field(min_length=1, max_length=20, description="Lot (batch) number.")
    limit: int = Field(default=50, ge=1, le=1000, description="Most items in each list.")


class RecallImpact(BaseModel):
    """Everything a lot touches: counts plus capped lists."""

    gtin: str = Field(description="GTIN-14.")
    lot: str = Field(description="The lot.")
    product: str | None = Field(default=None, description="Product name.")
    lot_status: str = Field(description="released, recalled or quarantined.")
    units: int = Field(description="Serialized units of the lot on record.")
    units_by_status: dict[str, int] = Field(description="Units counted by status.")
    units_declared_only: int = Field(description="Declared on shipments but never commissioned.")
    containers: int = Field(description="Cases and pallets holding them.")
    containers_by_kind: dict[str, int] = Field(description="Containers counted by kind.")
    container_ids: list[str] = Field(description="Container ids (capped).")
    shipments: int = Field(description="Shipments carrying them.")
    shipments_by_status: dict[str, int] = Field(description="Shipments counted by status.")
    shipment_list: list[dict[str, Any]] = Field(
        description="Shipments, moving ones first (capped)."
    )
    locations: int = Field(description="Places holding them or receiving them.")
    location_list: list[dict[str, Any]] = Field(description="Places with units held (capped).")
    customers: int = Field(description="Destination partners (or places) they went to.")
    customer_list: list[dict[str, Any]] = Field(description="Customers with contacts (capped).")
    contacts: int = Field(description="Contacts at those customers.")
    contacts_with_consent: int = Field(description="Contacts that can be sent a notice.")


def _lot(cur: Cursor, gtin_text: str, lot: str) -> tuple[str, dict[str, Any]]:
    """The GTIN-14 and the lot's row; ToolError naming what is wrong when either is unknown."""
    try:
        gtin = validate_gtin(gtin_text)
    except IdentifierError as exc:
        raise ToolError(str(exc), code="bad_gtin") from None
    found = rows(cur,
        "SELECT l.status, l.expiry, p.name, p.ndc FROM lots l LEFT JOIN products p USING (gtin)"
        " WHERE l.gtin = ? AND l.lot = ?", [gtin, lot])  # fmt: skip
    if found:
        return gtin, found[0]
    known = rows(cur, "SELECT lot FROM lots WHERE gtin = ? ORDER BY lot LIMIT 10", [gtin])
    if not known:
        raise ToolError(f"no product with GTIN {gtin} has lots on record; check the GTIN",
                        code="unknown_gtin")  # fmt: skip
    listed = ", ".join(r["lot"] for r in known)
    raise ToolError(f"GTIN {gtin} has no lot {lot!r} on record; its lots include {listed}",
                    code="unknown_lot")  # fmt: skip


def _impact(cur: Cursor, gtin: str, lot: str, cap: int) -> dict[str, Any]:
    found = rows(cur, _SCOPE + _IMPACT, {"gtin": gtin, "lot": lot, "cap": cap})[0]
    for key in ("units_by_status", "containers_by_kind", "shipments_by_status"):
        found[key] = {k: int(v) for k, v in (found[key] or {}).items()}
    for key in ("container_ids", "shipment_list", "location_list", "customer_list"):
        found[key] = found[key] or []
    return found


@tool(kind=Kind.READ, risk=Risk.READ, roles=READERS)
def recall_impact(ctx: ToolContext, args: RecallImpactArgs) -> RecallImpact:
    """Show everything a GTIN + lot touches: units, containers, shipments, places and customers.

    Counts come with capped lists; customers come with their contacts and consent. Use it before
    recall_lot, and to answer "who has lot X?".
    """
    cur = ctx.cursor()
    gtin, lot = _lot(cur, args.gtin, args.lot)
    found = _impact(cur, gtin, args.lot, args.limit)
    return RecallImpact(gtin=gtin, lot=args.lot, product=lot["name"], lot_status=lot["status"],
                        **found)  # fmt: skip


# --- recall_lot ------------------------------------------------------------------------------


class RecallLotArgs(BaseModel):
    """The lot to recall, why, and its FDA class."""

    gtin: str = Field(description="GTIN of the product (8, 12, 13 or 14 digits).")
    lot: str = Field(min_length=1, max_length=20, description="Lot (batch) number to recall.")
    reason: str = Field(
        min_length=3, max_length=500, description="Why the lot is recalled (goes into notices)."
    )
    recall_class: Literal["I", "II", "III"] = Field(
        description="FDA recall class: I (serious harm likely), II (temporary or reversible "
        "harm), III (harm unlikely)."
    )
    exception_id: str | None = Field(
        default=None, description="The exception this responds to; it is marked acted."
    )


class RecallResult(BaseModel):
    """What the recall changed."""

    recall_id: str = Field(description="The recall recorded.")
    gtin: str = Field(description="GTIN-14.")
    lot: str = Field(description="The lot, now recalled.")
    units_quarantined: int = Field(description="Units moved to quarantined.")
    units_not_moved: dict[str, int] = Field(description="Other units by status (left as is).")
    shipments_held: int = Field(description="Shipments put on hold (planned/released/in transit).")
    held_shipment_ids: list[str] = Field(description="Those shipments (capped at 100).")
    shipments_already_stopped: int = Field(description="Affected shipments already held.")
    shipments_delivered: int = Field(description="Affected shipments already delivered.")
    notices_drafted: int = Field(description="Customer notices drafted, awaiting approval.")
    contacts_without_consent: int = Field(description="Contacts with no consent: not drafted.")


# What the recall changes: rowids of units in stock (stable inside the transaction) and the
# shipments to stop (planned, released or in transit; already held ones get the recall's reason).
_TARGETS = f"""SELECT
    (SELECT list(rid) FROM item_units WHERE status IN {IN_STOCK}) AS rids,
    (SELECT list(shipment_id) FROM hit WHERE status IN {MOVING[:-1]}, 'held')) AS stop"""
_HOLDS = """INSERT INTO shipment_holds
SELECT 'HOLD-' || substr(md5($rid || shipment_id), 1, 12), shipment_id, 'recall', $rid, $why,
       status, $now, $actor, $exc
FROM shipments WHERE list_contains($stop::VARCHAR[], shipment_id)"""
_NOTICES = """INSERT INTO notice_drafts
SELECT 'NTC-' || substr(md5($rid || r.contact_id), 1, 12), 'recall_notice', $rid, r.contact_id,
    r.channel, r.address, r.location_id, r.partner_gln, s.ids,
    'Recall notice (FDA Class ' || $class || '): ' || $product || ' (NDC ' || $ndc || '), lot '
    || $lot || '. Reason: ' || $why || '. Stop distribution, quarantine every unit of this lot '
    || 'you hold and do not dispense it. Shipments concerned: ' || array_to_string(s.ids, ', ')
    || '. We will contact you about returns.', 'draft', $now, NULL, NULL
FROM reach r JOIN (
    SELECT d.customer, list(DISTINCT h.shipment_id ORDER BY h.shipment_id) AS ids
    FROM hit h JOIN dest d ON d.location_id = h.destination_id GROUP BY 1) s USING (customer)
WHERE r.consent"""


def _apply(cur: Cursor, p: dict[str, Any]) -> None:
    """The recall's writes: one scope query for the targets, then set-based statements."""
    cur.execute("UPDATE lots SET status = 'recalled' WHERE gtin = $gtin AND lot = $lot",
                {"gtin": p["gtin"], "lot": p["lot"]})  # fmt: skip
    targets = rows(cur, _SCOPE + _TARGETS, {"gtin": p["gtin"], "lot": p["lot"]})[0]
    stop = targets["stop"] or []
    cur.execute(_HOLDS, {k: p[k] for k in ("rid", "why", "now", "actor", "exc")} | {"stop": stop})
    cur.execute(
        f"UPDATE shipments SET status = 'held', updated_at = $now WHERE status IN {MOVING}"
        " AND list_contains($stop::VARCHAR[], shipment_id)",
        {"now": p["now"], "stop": stop},
    )
    set_unit_status(cur, targets["rids"], "quarantined")
    cur.execute(_SCOPE + _NOTICES, {k: p[k] for k in (
        "gtin", "lot", "rid", "why", "now", "class", "product", "ndc")})  # fmt: skip


@tool(kind=Kind.WRITE, risk=Risk.RESTRICTIVE, roles=("ops_manager", "automation"))
def recall_lot(ctx: ToolContext, args: RecallLotArgs) -> RecallResult:
    """Recall a lot: mark it recalled, hold its shipments, quarantine its stock, draft notices.

    Shipments not yet delivered are held; units not dispensed are quarantined; one notice per
    consenting contact of every customer it went to is drafted for approval (never sent here).
    All in one transaction; an unknown GTIN or lot changes nothing.
    """
    cur, now = ctx.cursor(), ctx.clock.now()
    gtin, lot = _lot(cur, args.gtin, args.lot)
    done = rows(cur, "SELECT recall_id, initiated_at FROM recalls WHERE gtin = ? AND lot = ?",
                [gtin, args.lot])  # fmt: skip
    if done:
        raise ToolError(f"lot {args.lot} of {gtin} was already recalled ({done[0]['recall_id']}, "
                        f"{done[0]['initiated_at']}); see recall_impact for its state",
                        code="already_recalled")  # fmt: skip
    before = _impact(cur, gtin, args.lot, 100)
    rid = f"RCL-{gtin}-{args.lot}"
    params = {"gtin": gtin, "lot": args.lot, "rid": rid, "why": args.reason, "now": now,
              "actor": ctx.actor, "exc": args.exception_id, "class": args.recall_class,
              "product": lot["name"] or gtin, "ndc": lot["ndc"] or "n/a"}  # fmt: skip
    note_exception(cur, args.exception_id, "acted", f"lot recalled: {rid}", now)
    _apply(cur, params)
    by_unit, by_ship = before["units_by_status"], before["shipments_by_status"]
    moving = [s["shipment_id"] for s in before["shipment_list"] if s["status"] in MOVING]
    result = RecallResult(
        recall_id=rid, gtin=gtin, lot=args.lot,
        units_quarantined=sum(by_unit.get(s, 0) for s in STOCK_STATUSES),
        units_not_moved={k: v for k, v in by_unit.items() if k not in STOCK_STATUSES},
        shipments_held=sum(by_ship.get(s, 0) for s in ("planned", "released", "in_transit")),
        held_shipment_ids=moving, shipments_already_stopped=by_ship.get("held", 0),
        shipments_delivered=by_ship.get("delivered", 0),
        notices_drafted=before["contacts_with_consent"],
        contacts_without_consent=before["contacts"] - before["contacts_with_consent"],
    )  # fmt: skip
    _record(cur, params, args, result)
    return result


def _record(cur: Cursor, p: dict[str, Any], args: RecallLotArgs, result: RecallResult) -> None:
    counts = result.model_dump(exclude={"recall_id", "gtin", "lot", "held_shipment_ids"})
    cur.execute("INSERT INTO recalls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [p["rid"], p["gtin"], p["lot"], args.recall_class, args.reason, p["now"],
                 p["actor"], p["exc"], canonical_json(counts)])  # fmt: skip
    cur.execute("INSERT INTO quarantines VALUES (?, 'recall', ?, ?, ?, ?, TRUE, ?, ?, ?)",
                ["QUA-" + p["rid"], p["rid"], args.reason,
                 canonical_json({"gtin": p["gtin"], "lot": p["lot"]}), result.units_quarantined,
                 p["now"], p["actor"], p["exc"]])  # fmt: skip
