"""Verification tools: read a barcode, verify a product identifier, gate and release a shipment.

- ``parse_barcode`` reads a GS1 element string, Digital Link, EPC URN or bare GTIN.
- ``verify_product_identifier`` checks GTIN + serial + lot + expiry against the record's
  commissioning data when it holds the manufacturer's data for that GTIN, and through the
  verification gateway (GS1 Lightweight Messaging) otherwise — and always for saleable returns
  and suspect investigations. Every outcome is recorded in ``verifications``; a responder that
  cannot be reached or answers garbage gives a recorded, audited ``could_not_verify`` (a
  non-pass, never an error and never a pass), so the attempt and its cause stay in the record.
- ``verify_shipment`` is the release gate: one set-based SQL statement over every unit of the
  shipment (commissioning, lot/expiry, unit and lot status, shelf life, aggregation, duplicates,
  TI/TS and label completeness) that stores a ``shipment_gates`` row with a fingerprint
  (computed in the same SQL) of exactly the data it checked.
- ``release_shipment`` releases only on the latest gate having passed on data that still hashes
  to the same fingerprint, with no hold or open investigation since.

The HTTP verification request runs inside the tool's transaction (call_tool opens it before the
tool runs). That is bounded (timeout x attempts of the gateway) and does not block other writers:
DuckDB's concurrency is optimistic, and the tool writes only its own new ``verifications`` row.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from record.audit import canonical_json
from record.errors import IdentifierError
from record.identifiers import (
    ProductIdentifier,
    digital_link,
    validate_gtin,
    validate_lot,
    validate_serial,
)
from record.identifiers import (
    parse_barcode as read_barcode,
)
from record.store import Cursor
from tools._common import load_shipment, mark_exception, new_id
from tools.base import Kind, Risk, Role, ToolContext, tool
from tools.errors import ToolError
from tools.gateways import (
    RecordVerificationResponder,
    VerificationGateway,
    VerificationRequest,
    check_identifier,
)

__all__ = [
    "GATE_MAX_AGE",
    "GateFailure",
    "ParseBarcodeArgs",
    "ParseBarcodeResult",
    "ReleaseShipmentArgs",
    "ReleaseShipmentResult",
    "VerifyProductIdentifierArgs",
    "VerifyProductIdentifierResult",
    "VerifyShipmentArgs",
    "VerifyShipmentResult",
    "parse_barcode",
    "release_shipment",
    "shipment_fingerprint",
    "verify_product_identifier",
    "verify_shipment",
]

GATE_MAX_AGE = timedelta(hours=24)  # a gate older than this no longer releases
_READ_ROLES: tuple[Role, ...] = ("ops_manager", "automation", "auditor", "contact_center")
_VERIFY_ROLES: tuple[Role, ...] = ("ops_manager", "automation")
_ALWAYS_GATEWAY = frozenset({"saleable_return", "suspect_investigation"})
Context = Literal[
    "dispenser_verification",
    "saleable_return",
    "suspect_investigation",
    "receiving",
    "trading_partner_request",
]


def _tool_error(exc: IdentifierError) -> ToolError:
    return ToolError(str(exc), code=f"invalid_{exc.field or 'identifier'}")


# --- parse_barcode -----------------------------------------------------------------------


class ParseBarcodeArgs(BaseModel):
    """Arguments of parse_barcode."""

    barcode: str = Field(
        min_length=1,
        max_length=1000,
        description="scanned payload: GS1 element string (with ]d2 / GS or (01)... HRI), "
        "GS1 Digital Link URI, EPC URN, or a bare GTIN",
    )


class ParseBarcodeResult(BaseModel):
    """The identifiers in a barcode."""

    kind: str = Field(
        description="unit (GTIN+serial), logistic_unit (SSCC), trade_item, "
        "lot (GTIN+lot) or location"
    )
    key: str | None = Field(description="record key: gtin.serial, SSCC or location")
    gtin: str | None = Field(description="GTIN-14, AI (01)")
    serial: str | None = Field(description="serial, AI (21)")
    lot: str | None = Field(description="lot, AI (10)")
    expiry: date | None = Field(description="expiry, AI (17)")
    sscc: str | None = Field(description="SSCC, AI (00)")
    gln: str | None = Field(description="GLN from AIs 410-417")
    ndc: str | None = Field(description="10-digit NDC when the GTIN is in the US NDC range")
    digital_link: str | None = Field(description="canonical GS1 Digital Link")
    in_record: bool = Field(description="the unit or container is in the record")


def _kind(pi: ProductIdentifier) -> str:
    if pi.gtin and pi.serial:
        return "unit"
    if pi.sscc:
        return "logistic_unit"
    if pi.gtin:
        return "lot" if pi.lot else "trade_item"
    return "location"


@tool(kind=Kind.READ, risk=Risk.READ, roles=_READ_ROLES)
def parse_barcode(ctx: ToolContext, args: ParseBarcodeArgs) -> ParseBarcodeResult:
    """Read a GS1 barcode payload, Digital Link or EPC URN into its identifiers.

    Check digits, lengths, character sets and dates are validated; an error names the field and
    the rule (e.g. "GTIN 00312345678901: check digit is 1, expected 6").
    """
    try:
        pi = read_barcode(args.barcode)
    except IdentifierError as exc:
        raise _tool_error(exc) from None
    in_record = bool(pi.key) and bool(
        ctx.store.scalar(
            "SELECT (SELECT count(*) FROM units WHERE gtin = $g AND serial = $s)"
            " + (SELECT count(*) FROM containers WHERE container_id = $k)",
            {"g": pi.gtin or "", "s": pi.serial or "", "k": pi.key},
        )
    )
    fields = ("gtin", "serial", "lot", "expiry", "sscc", "gln", "ndc")
    return ParseBarcodeResult(
        kind=_kind(pi), key=pi.key, digital_link=_link(pi), in_record=in_record,
        **{name: getattr(pi, name) for name in fields},
    )  # fmt: skip


def _link(pi: ProductIdentifier) -> str | None:
    """The canonical Digital Link, when the identifiers have exactly one primary key."""
    try:
        return digital_link(pi)
    except IdentifierError:
        return None


# --- verify_product_identifier -----------------------------------------------------------


class VerifyProductIdentifierArgs(BaseModel):
    """Arguments of verify_product_identifier: a barcode, or GTIN + serial (+ lot, expiry)."""

    barcode: str | None = Field(
        None, max_length=1000, description="scanned 2D DataMatrix payload or Digital Link"
    )
    gtin: str | None = Field(None, description="GTIN (8-14 digits) when no barcode is given")
    serial: str | None = Field(None, description="serial number, AI (21)")
    lot: str | None = Field(None, description="lot as printed, AI (10)")
    expiry: date | None = Field(None, description="expiry as printed, AI (17)")
    context: Context = Field(
        description="why: dispenser_verification, saleable_return, "
        "suspect_investigation, receiving, trading_partner_request"
    )
    shipment_id: str | None = Field(None, description="shipment the unit came with, if any")

    @model_validator(mode="after")
    def _needs_identifier(self) -> VerifyProductIdentifierArgs:
        if not self.barcode and not (self.gtin and self.serial):
            raise ValueError("give a barcode, or gtin and serial")
        return self


class VerifyProductIdentifierResult(BaseModel):
    """The outcome of one verification (also stored in ``verifications``)."""

    verification_id: str = Field(description="row in verifications")
    verified: bool = Field(description="true only when the identifier was positively verified")
    status: str = Field(description="verified, not_verified or could_not_verify")
    reasons: list[str] = Field(description="GS1 LMS reason codes, e.g. No_match_Lot, Recalled")
    responder: str = Field(description="'record' or the responder URL")
    responder_gln: str | None = Field(description="GLN of the responder, when given")
    correlation_id: str = Field(description="corrUUID of the request")
    checked: str = Field(description="local (record's commissioning data) or gateway")
    gtin: str = Field(description="GTIN-14")
    serial: str = Field(description="serial")
    lot: str | None = Field(description="lot checked")
    expiry: date | None = Field(description="expiry checked")
    detail: str | None = Field(description="what did not match, or why it could not verify")
    next_step: str = Field(description="what to do with the product now")
    context: str = Field(description="the verification context")
    shipment_id: str | None = Field(description="shipment the unit came with")
    requester_gln: str | None = Field(description="our GLN as sent to the responder")
    verified_at: datetime = Field(description="when (UTC)")


def _identifier(args: VerifyProductIdentifierArgs) -> tuple[str, str, str | None, date | None]:
    """GTIN, serial, lot and expiry from the barcode and/or the typed fields (which must agree)."""
    try:
        pi = read_barcode(args.barcode) if args.barcode else ProductIdentifier()
        typed: dict[str, Any] = {
            "gtin": validate_gtin(args.gtin) if args.gtin else None,
            "serial": validate_serial(args.serial) if args.serial else None,
            "lot": validate_lot(args.lot) if args.lot else None,
            "expiry": args.expiry,
        }
    except IdentifierError as exc:
        raise _tool_error(exc) from None
    scanned = {"gtin": pi.gtin, "serial": pi.serial, "lot": pi.lot, "expiry": pi.expiry}
    clash = [k for k, v in typed.items() if v is not None and scanned[k] not in (None, v)]
    if clash:
        raise ToolError(
            f"the barcode and the typed {', '.join(clash)} disagree; verify what is "
            "printed on the package",
            code="conflicting_identifier",
        )
    merged: dict[str, Any] = {k: scanned[k] or typed[k] for k in typed}
    missing = [k for k, v in merged.items() if not v]
    if missing:
        raise ToolError(
            f"the product identifier lacks {', '.join(missing)}: DSCSA verification needs GTIN "
            "(01), serial (21), lot (10) and expiry (17); scan the 2D DataMatrix or type them",
            code="incomplete_identifier",
        )
    return merged["gtin"], merged["serial"], merged["lot"], merged["expiry"]


def _has_manufacturer_data(cur: Cursor, gtin: str) -> bool:
    sql = "SELECT 1 FROM units WHERE gtin = ? AND commissioned_at IS NOT NULL LIMIT 1"
    return cur.execute(sql, [gtin]).fetchone() is not None


def _next_step(status: str) -> str:
    if status == "verified":
        return "verified: the product may proceed (saleable returns may be resold)"
    if status == "not_verified":
        return (
            "do not distribute or resell: quarantine the unit and open an investigation "
            "(suspect product)"
        )
    return (
        "treat as not verified: keep the product out of saleable stock and verify again "
        "later; manufacturers must answer within 24 hours"
    )


@tool(kind=Kind.WRITE, risk=Risk.READ, roles=_VERIFY_ROLES)
def verify_product_identifier(
    ctx: ToolContext, args: VerifyProductIdentifierArgs
) -> VerifyProductIdentifierResult:
    """Verify GTIN + serial + lot + expiry and record it; an unreachable responder never passes.

    Checked against the record's commissioning data when it holds the manufacturer's data for
    the GTIN; otherwise — and always for saleable returns and suspect investigations — asked of
    the manufacturer's verification service (GS1 Lightweight Messaging). A responder that cannot
    be reached gives status could_not_verify: never a pass.
    """
    gtin, serial, lot, expiry = _identifier(args)
    if args.shipment_id:
        load_shipment(ctx, args.shipment_id)
    cur, now = ctx.cursor(), ctx.clock.now()
    request = VerificationRequest(gtin, serial, lot, expiry, context=args.context)
    local = args.context not in _ALWAYS_GATEWAY and _has_manufacturer_data(cur, gtin)
    if local:
        reasons, detail = check_identifier(cur, gtin, serial, lot, expiry, now.date())
        status = "not_verified" if reasons else "verified"
        responder, gln, requester = "record", None, None
    else:
        gateway: VerificationGateway = ctx.gateways.verification or RecordVerificationResponder(
            ctx.store, clock=ctx.clock
        )
        reply = gateway.verify(request)
        reasons, detail, status = list(reply.reasons), reply.detail, reply.status
        responder, gln, requester = reply.responder, reply.responder_gln, reply.requester_gln
    result = VerifyProductIdentifierResult(
        verification_id=new_id("VER"), verified=status == "verified", status=status,
        reasons=reasons, responder=responder, responder_gln=gln,
        correlation_id=request.correlation_id, checked="local" if local else "gateway",
        gtin=gtin, serial=serial, lot=lot, expiry=expiry, detail=detail,
        next_step=_next_step(status), context=args.context, shipment_id=args.shipment_id,
        requester_gln=requester, verified_at=now,
    )  # fmt: skip
    row = result.model_dump(exclude={"checked", "next_step"})
    row |= {"reasons": canonical_json(reasons), "actor": ctx.actor}
    cur.execute(
        f"INSERT INTO verifications ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    return result


# --- the release gate --------------------------------------------------------------------

# The data the gate checks, for one shipment ($sid). `ui` is one row per declared unit with its
# commissioning record, lot, product, container and duplicates on other open shipments; `cc` the
# containers of the shipment with declared and found children. `fp` fingerprints all of it: per
# part the row count, XOR and sum of 64-bit row hashes (order-free, ~10x cheaper than hashing
# the sorted text), md5'd together. DuckDB's hash() may change between DuckDB versions: a gate
# from before an upgrade then no longer matches, and release asks for a new gate (fails safe).
_INPUT = """
tree(container_id) AS (
    SELECT container_id FROM containers WHERE shipment_id = $sid
    UNION
    SELECT c.container_id FROM containers c JOIN tree t ON c.parent_id = t.container_id
),
sh AS (
    SELECT shipment_id, destination_id, ti_document, ts_attested,
           coalesce(promised_end, eta) AS deliver_by
    FROM shipments WHERE shipment_id = $sid
),
mine AS (SELECT * FROM shipment_units WHERE shipment_id = $sid),
dup AS (
    SELECT o.gtin, o.serial, count(*) AS n
    FROM shipment_units o JOIN shipments s ON s.shipment_id = o.shipment_id
    SEMI JOIN mine m ON m.gtin = o.gtin AND m.serial = o.serial
    WHERE o.shipment_id <> $sid AND s.status IN ('planned', 'held', 'released', 'in_transit')
    GROUP BY o.gtin, o.serial
),
ui AS MATERIALIZED (
    SELECT m.gtin || '.' || m.serial AS key, m.gtin, m.serial, m.lot AS d_lot,
           m.expiry AS d_expiry, m.container_id AS d_container, u.commissioned_at,
           u.lot AS c_lot, u.expiry AS c_expiry, u.status AS u_status,
           u.container_id AS c_container,
           l.lot IS NOT NULL AS lot_known, l.status AS lot_status, l.expiry AS lot_expiry,
           coalesce(p.min_shelf_life_days, 0) AS min_days,
           t.container_id IS NOT NULL AS in_tree, coalesce(d.n, 0) AS other_open
    FROM mine m
    LEFT JOIN units u ON u.gtin = m.gtin AND u.serial = m.serial
    LEFT JOIN lots l ON l.gtin = m.gtin AND l.lot = coalesce(u.lot, m.lot)
    LEFT JOIN products p ON p.gtin = m.gtin
    LEFT JOIN tree t ON t.container_id = coalesce(m.container_id, u.container_id)
    LEFT JOIN dup d ON d.gtin = m.gtin AND d.serial = m.serial
),
packed AS (
    SELECT container_id, count(*) AS n FROM units SEMI JOIN tree USING (container_id) GROUP BY ALL
),
cc AS (
    SELECT c.container_id, c.parent_id, c.declared_children,
           coalesce(pu.n, 0) + coalesce(pk.n, 0) AS found,
           coalesce(pu.n, 0) - coalesce(pd.n, 0) AS not_declared
    FROM containers c SEMI JOIN tree USING (container_id)
    LEFT JOIN packed pu USING (container_id)
    LEFT JOIN (SELECT parent_id AS container_id, count(*) AS n FROM containers
               SEMI JOIN tree t ON t.container_id = parent_id GROUP BY ALL) pk USING (container_id)
    LEFT JOIN (SELECT c_container AS container_id, count(*) AS n FROM ui GROUP BY ALL) pd
           USING (container_id)
),
undeclared AS (
    SELECT u.gtin || '.' || u.serial AS key, u.container_id FROM units u
    SEMI JOIN (SELECT container_id FROM cc WHERE not_declared > 0) x USING (container_id)
    ANTI JOIN mine m ON m.gtin = u.gtin AND m.serial = u.serial
),
fp AS (
    SELECT md5(concat_ws('|',
        (SELECT hash(shipment_id, destination_id, ti_document, ts_attested, deliver_by) FROM sh),
        (SELECT concat_ws(':', count(*), bit_xor(h), sum(h::HUGEINT)) FROM (
            SELECT hash(key, d_lot, d_expiry, d_container, commissioned_at, c_lot, c_expiry,
                        u_status, c_container, lot_known, lot_status, lot_expiry, min_days,
                        in_tree, other_open) AS h FROM ui)),
        (SELECT concat_ws(':', count(*), bit_xor(h), sum(h::HUGEINT)) FROM (
            SELECT hash(container_id, parent_id, declared_children, found, not_declared) AS h
            FROM cc)))) AS fingerprint
)"""

# Every failure: (subject, reason, detail). $now and $today anchor expiry when no date is promised.
_FAILS = """,
ux AS (SELECT *, coalesce(c_expiry, lot_expiry, d_expiry) AS eff_expiry FROM ui),
fails AS MATERIALIZED (
    SELECT key AS subject, 'serial_unknown' AS reason,
           'no commissioning record for this GTIN + serial' AS detail
    FROM ui WHERE commissioned_at IS NULL
    UNION ALL SELECT key, 'lot_mismatch', format('declared lot {}, commissioned lot {}',
           d_lot, coalesce(c_lot, '(none)')) FROM ui
    WHERE commissioned_at IS NOT NULL AND d_lot IS NOT NULL AND d_lot IS DISTINCT FROM c_lot
    UNION ALL SELECT key, 'expiry_mismatch', format('declared expiry {}, commissioned expiry {}',
           d_expiry, coalesce(c_expiry::VARCHAR, '(none)')) FROM ui
    WHERE commissioned_at IS NOT NULL AND d_expiry IS NOT NULL
      AND d_expiry IS DISTINCT FROM c_expiry
    UNION ALL SELECT key, 'label_incomplete', concat_ws(' and ',
           CASE WHEN d_lot IS NULL THEN 'lot missing' END,
           CASE WHEN d_expiry IS NULL THEN 'expiry missing' END) FROM ui
    WHERE d_lot IS NULL OR d_expiry IS NULL
    UNION ALL SELECT key, 'unit_' || u_status, format('unit status is {}', u_status) FROM ui
    WHERE u_status IN ('suspect', 'quarantined', 'decommissioned', 'dispensed')
    UNION ALL SELECT key, 'lot_' || lot_status, format('lot {} is {}', coalesce(c_lot, d_lot),
           lot_status) FROM ui WHERE lot_status IN ('recalled', 'quarantined')
    UNION ALL SELECT key, 'lot_unknown', format('lot {} is not in the lot master',
           coalesce(c_lot, d_lot)) FROM ui
    WHERE NOT lot_known AND coalesce(c_lot, d_lot) IS NOT NULL
    UNION ALL SELECT key, CASE WHEN eff_expiry < $today THEN 'expired' ELSE 'short_dated' END,
           format('expires {}; needs {} days of shelf life after delivery by {}', eff_expiry,
                  min_days, CAST(coalesce(sh.deliver_by, $now) AS DATE))
    FROM ux, sh WHERE eff_expiry < $today
       OR eff_expiry < CAST(coalesce(sh.deliver_by, $now) AS DATE) + min_days
    UNION ALL SELECT key, 'container_mismatch', format('declared in {}, packed in {}',
           d_container, coalesce(c_container, '(none)')) FROM ui
    WHERE commissioned_at IS NOT NULL AND d_container IS NOT NULL
      AND d_container IS DISTINCT FROM c_container
    UNION ALL SELECT key, 'container_not_on_shipment',
           format('container {} is not on this shipment',
                  coalesce(d_container, c_container, '(none)')) FROM ui
    WHERE NOT in_tree AND EXISTS (SELECT 1 FROM tree)
    UNION ALL SELECT key, 'serial_duplicate',
           format('also on {} other open shipment(s)', other_open) FROM ui WHERE other_open > 0
    UNION ALL SELECT key, 'unit_not_declared',
           format('packed in {} but not in the transaction data', container_id) FROM undeclared
    UNION ALL SELECT container_id, 'container_count_mismatch',
           format('declares {} children, holds {}', declared_children, found) FROM cc
    WHERE declared_children IS NOT NULL AND declared_children <> found
    UNION ALL SELECT shipment_id, 'ti_missing', 'no transaction information (TI) document' FROM sh
    WHERE coalesce(trim(ti_document), '') = ''
    UNION ALL SELECT shipment_id, 'ts_missing', 'transaction statement (TS) not attested' FROM sh
    WHERE NOT ts_attested
    UNION ALL SELECT $sid, 'no_units', 'the shipment declares no units'
    WHERE NOT EXISTS (SELECT 1 FROM ui)
)"""

_GATE_SQL = f"""WITH RECURSIVE {_INPUT}{_FAILS}
SELECT (SELECT count(*) FROM ui) AS units_checked,
       (SELECT count(*) FROM tree) AS containers_checked,
       (SELECT count(*) FROM fails) AS failure_count,
       (SELECT list({{'reason': reason, 'n': n}} ORDER BY reason)
          FROM (SELECT reason, count(*) AS n FROM fails GROUP BY reason)) AS counts,
       (SELECT list({{'subject': subject, 'reason': reason, 'detail': detail}}
                    ORDER BY reason, subject)
          FROM (SELECT * FROM fails ORDER BY reason, subject LIMIT $cap)) AS sample,
       (SELECT fingerprint FROM fp) AS fingerprint"""

_FINGERPRINT_SQL = f"WITH RECURSIVE {_INPUT}\nSELECT fingerprint FROM fp"


def shipment_fingerprint(cur: Cursor, shipment_id: str) -> str:
    """The fingerprint of the data the gate checks for ``shipment_id`` (computed in SQL)."""
    return str(cur.execute(_FINGERPRINT_SQL, {"sid": shipment_id}).fetchall()[0][0])


class VerifyShipmentArgs(BaseModel):
    """Arguments of verify_shipment."""

    shipment_id: str = Field(description="shipment to gate, e.g. SHP-1042")
    max_listed: int = Field(
        100, ge=1, le=500, description="list at most this many failures (all are counted)"
    )


class GateFailure(BaseModel):
    """One failed check."""

    subject: str = Field(description="unit key gtin.serial, container id or shipment id")
    reason: str = Field(description="e.g. serial_unknown, lot_recalled, ti_missing")
    detail: str = Field(description="what was found")


class VerifyShipmentResult(BaseModel):
    """The release gate's verdict (also stored in ``shipment_gates``)."""

    gate_id: str = Field(description="row in shipment_gates")
    shipment_id: str = Field(description="shipment checked")
    passed: bool = Field(description="every check passed: release_shipment may proceed")
    units_checked: int = Field(description="declared units checked")
    containers_checked: int = Field(description="containers on the shipment checked")
    failure_count: int = Field(description="failed checks in all")
    counts_by_reason: dict[str, int] = Field(description="failed checks by reason")
    failures: list[GateFailure] = Field(description="the first failures, by reason")
    failures_truncated: bool = Field(description="more failures exist than are listed")
    fingerprint: str = Field(description="md5 of the data checked")
    checked_at: datetime = Field(description="when the gate ran (UTC)")


@tool(kind=Kind.WRITE, risk=Risk.READ, roles=_VERIFY_ROLES)
def verify_shipment(ctx: ToolContext, args: VerifyShipmentArgs) -> VerifyShipmentResult:
    """Release gate: check every unit, container, lot and TI/TS of a shipment; record the verdict.

    Every declared unit is checked against its commissioning record (serial known, lot and
    expiry match, status not suspect/quarantined/decommissioned/dispensed), its lot (not recalled
    or quarantined, enough shelf life at delivery), its container (aggregation and declared
    counts consistent, not on another open shipment), and the shipment's TI document, TS
    attestation and label fields. release_shipment needs a passing gate on unchanged data.
    """
    shipment = load_shipment(ctx, args.shipment_id)
    cur, now = ctx.cursor(), ctx.clock.now()
    params = {"sid": shipment.shipment_id, "now": now, "today": now.date(), "cap": args.max_listed}
    units, containers, total, counts, sample, fingerprint = cur.execute(
        _GATE_SQL, params
    ).fetchall()[0]
    by_reason = {c["reason"]: int(c["n"]) for c in counts or []}
    failures = [GateFailure(**f) for f in sample or []]
    result = VerifyShipmentResult(
        gate_id=new_id("GATE"), shipment_id=shipment.shipment_id, passed=total == 0,
        units_checked=units, containers_checked=containers, failure_count=total,
        counts_by_reason=by_reason, failures=failures, failures_truncated=total > len(failures),
        fingerprint=fingerprint, checked_at=now,
    )  # fmt: skip
    head = cur.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchall()[0][0]
    cur.execute(
        "INSERT INTO shipment_gates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [result.gate_id, result.shipment_id, result.passed, now, fingerprint, units, containers,
         total, canonical_json(by_reason), canonical_json([f.model_dump() for f in failures]),
         head, ctx.actor],
    )  # fmt: skip
    return result


# --- release -----------------------------------------------------------------------------


class ReleaseShipmentArgs(BaseModel):
    """Arguments of release_shipment."""

    shipment_id: str = Field(description="shipment to release, e.g. SHP-1042")
    exception_id: str | None = Field(None, description="the exception this release responds to")


class ReleaseShipmentResult(BaseModel):
    """The released shipment."""

    shipment_id: str = Field(description="shipment released")
    status: str = Field(description="status now: released")
    previous_status: str = Field(description="status before")
    changed: bool = Field(description="false when it was already released")
    gate_id: str | None = Field(description="the passing gate the release relied on")
    released_at: datetime = Field(description="when (UTC)")


def _latest_gate(cur: Cursor, shipment_id: str) -> dict[str, Any] | None:
    found = cur.execute(
        "SELECT gate_id, passed, checked_at, data_fingerprint, failure_count, counts_by_reason,"
        " audit_seq FROM shipment_gates WHERE shipment_id = ?"
        " ORDER BY audit_seq DESC, checked_at DESC LIMIT 1",
        [shipment_id],
    ).fetchone()
    names = ("gate_id", "passed", "checked_at", "fingerprint", "failures", "counts", "audit_seq")
    return dict(zip(names, found, strict=True)) if found else None


def _open_investigations(cur: Cursor, shipment_id: str) -> list[str]:
    """Open investigations on the shipment, when the investigations table exists (tools.actions)."""
    columns = {
        r[0]
        for r in cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'investigations'"
        ).fetchall()
    }
    if not {"investigation_id", "shipment_id", "status"} <= columns:
        return []
    rows = cur.execute(
        "SELECT investigation_id FROM investigations WHERE shipment_id = ?"
        " AND coalesce(status, 'open') NOT IN ('closed', 'resolved', 'cleared')",
        [shipment_id],
    ).fetchall()
    return [r[0] for r in rows]


def _check_gate(ctx: ToolContext, cur: Cursor, shipment_id: str, status: str) -> str:
    """Raise unless the latest gate passed on the current data; return its id."""
    sid, now = shipment_id, ctx.clock.now()
    gate = _latest_gate(cur, sid)
    if gate is None:
        raise ToolError(
            f"{sid} has not been verified; run verify_shipment first", code="not_verified"
        )
    if not gate["passed"]:
        raise ToolError(
            f"{sid}'s latest gate ({gate['gate_id']}) failed {gate['failures']} "
            f"check(s): {gate['counts']}; fix them and run verify_shipment again",
            code="gate_failed",
        )
    if now - gate["checked_at"] > GATE_MAX_AGE:
        raise ToolError(
            f"{sid}'s gate ran at {gate['checked_at']:%Y-%m-%d %H:%M}, more than "
            f"{GATE_MAX_AGE} ago; run verify_shipment again",
            code="not_verified",
        )
    hold_seq, updated_at = cur.execute(
        "SELECT (SELECT max(seq) FROM audit_log WHERE action = 'hold_shipment' AND subject = $s),"
        " (SELECT updated_at FROM shipments WHERE shipment_id = $s)",
        {"s": sid},
    ).fetchall()[0]
    held_since = (hold_seq or 0) > gate["audit_seq"] or (updated_at or now) > gate["checked_at"]
    if status == "held" and held_since:
        raise ToolError(
            f"{sid} was put on hold after its last gate; run verify_shipment again "
            "before releasing it",
            code="not_verified",
        )
    if shipment_fingerprint(cur, sid) != gate["fingerprint"]:
        raise ToolError(
            f"{sid}'s units, lots, containers or transaction data changed since gate "
            f"{gate['gate_id']} passed; run verify_shipment again",
            code="data_changed_since_verification",
        )
    return str(gate["gate_id"])


@tool(kind=Kind.WRITE, risk=Risk.PERMISSIVE, roles=_VERIFY_ROLES)
def release_shipment(ctx: ToolContext, args: ReleaseShipmentArgs) -> ReleaseShipmentResult:
    """Release a planned or held shipment — only after verify_shipment passed on the current data.

    Refused when there is no gate (not_verified), the latest gate failed (gate_failed), the data
    changed since it passed (data_changed_since_verification), the shipment was held after it or
    the gate is over 24 h old (not_verified), or an investigation on the shipment is open.
    """
    shipment = load_shipment(ctx, args.shipment_id)
    cur, now, sid = ctx.cursor(), ctx.clock.now(), shipment.shipment_id
    if shipment.status in ("in_transit", "delivered", "quarantined"):
        raise ToolError(
            f"{sid} is {shipment.status}; only planned or held shipments are released",
            code="not_releasable",
        )
    gate_id = None
    if shipment.status != "released":
        gate_id = _check_gate(ctx, cur, sid, shipment.status)
        open_cases = _open_investigations(cur, sid)
        if open_cases:
            raise ToolError(
                f"{sid} is under investigation ({', '.join(open_cases)}); close the "
                "investigation before releasing",
                code="under_investigation",
            )
        cur.execute(
            "UPDATE shipments SET status = 'released', updated_at = ? WHERE shipment_id = ?",
            [now, sid],
        )
    note = f"released {sid} on gate {gate_id}" if gate_id else f"{sid} was already released"
    mark_exception(cur, args.exception_id, "acted", note, now)
    return ReleaseShipmentResult(
        shipment_id=sid, status="released", previous_status=shipment.status,
        changed=shipment.status != "released", gate_id=gate_id, released_at=now,
    )  # fmt: skip
