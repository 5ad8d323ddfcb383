"""Sensing: set-based SQL over the record that finds every exception kind, with its evidence.

Each kind is one or two set-based SQL queries (``serial_unknown``, ``pi_mismatch`` and the
two-shipment ``serial_duplicate`` share one pass over the shipments' unit data, see
``record/_sense_sql.py``); no Python loops over data rows. An exception
is identified by its kind and subject: ``exception_id = "EXC-" + sha256(f"{kind}:{subject}")[:12]``.

Subject convention (``synth_truth`` uses the same):

=====================  ==============================================  ===========================
kind                   subject                                         shipment_id
=====================  ==============================================  ===========================
serial_unknown         the shipment                                    the shipment
serial_duplicate       the unit key ``gtin.serial`` (any EPC scanned)  lowest undelivered shipment
                                                                       declaring it, or the scan's
pi_mismatch            the shipment                                    the shipment
aggregation_mismatch   the container (SSCC or case ``gtin.serial``);   the container's shipment
                       for a child in two parents, the latest parent
expired_or_recalled    the shipment                                    the shipment
data_missing           the shipment                                    the shipment
temp_excursion_risk    the shipment                                    the shipment
temp_excursion         the shipment                                    the shipment
asset_fault            the asset                                       lowest in-transit shipment
late_risk              the shipment                                    the shipment
custody_gap            the shipment                                    the shipment
=====================  ==============================================  ===========================

Rules:

- ``serial_unknown``: a unit in ``shipment_units`` with no ``units`` row, or ``commissioned_at``
  NULL.
- ``serial_duplicate``: one GTIN + serial declared on two undelivered shipments, or observed
  (ObjectEvent OBSERVE) at two places faster than the lane between them allows (direct lane
  minutes in either direction, else road km at 65 km/h).
- ``pi_mismatch``: declared lot or expiry differs from the commissioned one.
- ``aggregation_mismatch``: children in the record (units + child containers) differ from
  ``declared_children``, or a child is in two parents (AggregationEvent ADD without DELETE).
- ``expired_or_recalled``: an undelivered shipment carries a recalled lot, an expired lot, or a
  lot expiring before the ETA plus the product's minimum remaining shelf life.
- ``data_missing``: an undelivered shipment without TI, without TS, or with units lacking lot or
  expiry.
- ``temp_excursion``: minutes out of range = the sum, over readings out of range, of the time to
  the next reading, against the strictest stability budget of the products on board. CRT
  shipments use the USP <659> band 15-30 °C and are also flagged when the mean kinetic
  temperature (ΔH/R = 10,000 K) of the trace exceeds 25 °C.
- ``temp_excursion_risk``: an in-transit shipment whose last reading is in range but whose
  least-squares trend over the last 60 minutes (at least 8 readings) reaches a limit within the
  horizon (default 120 minutes).
- ``asset_fault``: an asset loaded with an in-transit shipment whose health is not ``ok`` or
  whose telemetry is older than 30 minutes.
- ``late_risk``: an undelivered shipment whose ETA is after the promised window's end.
- ``custody_gap``: delivered without ePOD; or in transit, not received, and more than 120 minutes
  past the later of departure + lane minutes and its ETA.

Severity:

=====================  =====================================================================
kind                   severity
=====================  =====================================================================
serial_unknown         critical (possible illegitimate product)
serial_duplicate       critical (possible counterfeit or cloned label)
pi_mismatch            high
aggregation_mismatch   medium (count), high (child in two parents)
expired_or_recalled    critical (recalled or expired), high (short-dated)
data_missing           high once released or moving, else medium
temp_excursion         critical (budget spent), high (< 25 % left, or CRT MKT > 25 °C), medium
temp_excursion_risk    high (limit within 30 minutes), else medium
asset_fault            high (alarm, fault, stale telemetry), medium (low battery)
late_risk              high (120 minutes late or more), else medium
custody_gap            high (shipped, not received), medium (no ePOD)
=====================  =====================================================================
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from record._sense_sql import MKT_DH_R, QUERIES
from record._sense_units import CHECK_UNITS, UNIT_REASONS, scope_sql
from record.clock import SystemClock, utc_naive
from record.errors import InputError
from record.models import EXCEPTION_KINDS, ExceptionCase
from record.store import Cursor, Store

__all__ = [
    "UNIT_REASONS",
    "UnitProblem",
    "check_units",
    "exception_id",
    "mean_kinetic_temperature",
    "record_exceptions",
    "sense",
]

_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_WORKERS = 2


class UnitProblem(BaseModel):
    """One unit that fails the release checks, with every reason (see ``UNIT_REASONS``)."""

    model_config = ConfigDict(frozen=True)

    unit: str = Field(description='unit key "gtin.serial"')
    gtin: str
    serial: str
    shipment_id: str | None = None
    container_id: str | None = Field(None, description="case it is in (or declared in)")
    reasons: list[str]
    details: dict[str, Any] = Field(default_factory=dict)


def exception_id(kind: str, subject: str) -> str:
    """The stable id of an exception: ``EXC-`` and 12 hex digits of sha256(kind:subject)."""
    return "EXC-" + hashlib.sha256(f"{kind}:{subject}".encode()).hexdigest()[:12]


def mean_kinetic_temperature(temps_c: Sequence[float], delta_h_over_r: float = MKT_DH_R) -> float:
    """USP <1079.2> mean kinetic temperature (°C) of equally spaced readings."""
    if not temps_c:
        raise InputError("mean kinetic temperature needs at least one reading")
    mean = sum(math.exp(-delta_h_over_r / (t + 273.15)) for t in temps_c) / len(temps_c)
    return delta_h_over_r / -math.log(mean) - 273.15


def _now(store: Store, now: datetime | None) -> datetime:
    if now is not None:
        return utc_naive(now)
    meta = store.get_meta("network_now")
    return datetime.fromisoformat(meta) if meta else SystemClock().now()


def _kinds(kinds: Iterable[str] | None) -> set[str]:
    if kinds is None:
        return set(EXCEPTION_KINDS)
    wanted = set(kinds)
    unknown = sorted(wanted - set(EXCEPTION_KINDS))
    if unknown:
        raise InputError(
            f"unknown exception kind(s) {unknown}; known: {', '.join(EXCEPTION_KINDS)}"
        )
    return wanted


def _merge(cases: list[ExceptionCase]) -> list[ExceptionCase]:
    merged: dict[tuple[str, str], ExceptionCase] = {}
    for case in cases:
        key = (case.kind, case.subject)
        if key in merged:  # two findings about one subject (e.g. both duplicate variants)
            first = merged[key]
            severity = min(first.severity, case.severity, key=_SEVERITY_RANK.__getitem__)
            findings = first.evidence.get("findings", [first.evidence]) + [case.evidence]
            case = first.model_copy(
                update={"severity": severity, "evidence": {"findings": findings}}
            )
        merged[key] = case
    return sorted(merged.values(), key=lambda c: (_SEVERITY_RANK[c.severity], c.kind, c.subject))


def _run(cur: Cursor, sql: str, at: datetime, horizon_min: int) -> list[tuple]:
    given = {"now": at, "horizon": horizon_min}
    params = {k: v for k, v in given.items() if f"${k}" in sql}
    return cur.execute(sql, params).fetchall()


def _gather(store: Store, queries: list[str], at: datetime, horizon_min: int) -> list[tuple]:
    """Run the queries, on two threads unless the caller is inside a transaction.

    DuckDB runs each query on all cores, but parsing, planning and the last steps of a query are
    single-threaded; two queries at once fill those gaps. Worker threads have their own cursors,
    which cannot see a transaction's uncommitted writes, hence the fallback.
    """
    if store.in_transaction() or len(queries) < 2:
        cur = store.cursor()
        return [row for sql in queries for row in _run(cur, sql, at, horizon_min)]
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="sense") as pool:
        parts = pool.map(lambda sql: _run(store.cursor(), sql, at, horizon_min), queries)
        return [row for part in parts for row in part]


def sense(
    store: Store,
    *,
    now: datetime | None = None,
    kinds: Iterable[str] | None = None,
    horizon_min: int = 120,
) -> list[ExceptionCase]:
    """Find every exception in the record, most severe first.

    Args:
        store: the record.
        now: the moment to sense at (default: meta ``network_now``, else the system clock).
        kinds: restrict to these kinds (default: all of ``EXCEPTION_KINDS``).
        horizon_min: how far ahead ``temp_excursion_risk`` projects the trend.

    Raises:
        InputError: for a kind not in ``EXCEPTION_KINDS``.
    """
    wanted, at = _kinds(kinds), _now(store, now)
    queries = [sql for produces, sql in QUERIES if produces & wanted]
    cases = []
    for kind, subject, shipment, severity, evidence in _gather(store, queries, at, horizon_min):
        if kind in wanted:
            cases.append(
                ExceptionCase(
                    exception_id=exception_id(kind, subject),
                    kind=kind,
                    severity=severity,
                    subject=subject,
                    shipment_id=shipment,
                    detected_at=at,
                    evidence=evidence,
                )
            )
    return _merge(cases)


_UPSERT_COUNTS = """
SELECT count(*) FILTER (WHERE e.exception_id IS NULL),
       count(*) FILTER (WHERE e.status <> 'resolved' AND (e.severity <> n.severity
           OR e.evidence::VARCHAR <> n.evidence OR e.shipment_id IS DISTINCT FROM n.shipment_id)),
       count(*)
FROM _exc_in n LEFT JOIN exceptions e USING (exception_id)
"""
_UPDATE = """
UPDATE exceptions SET severity = n.severity, evidence = n.evidence, shipment_id = n.shipment_id,
       updated_at = $now
FROM _exc_in n
WHERE exceptions.exception_id = n.exception_id AND exceptions.status <> 'resolved'
  AND (exceptions.severity <> n.severity OR exceptions.evidence::VARCHAR <> n.evidence
       OR exceptions.shipment_id IS DISTINCT FROM n.shipment_id)
"""
_INSERT = """
INSERT INTO exceptions (exception_id, kind, severity, subject, shipment_id, detected_at, evidence,
                        status, updated_at)
SELECT n.exception_id, n.kind, n.severity, n.subject, n.shipment_id, $now, n.evidence, 'open', $now
FROM _exc_in n ANTI JOIN exceptions e ON e.exception_id = n.exception_id
"""


def record_exceptions(
    store: Store, cases: Iterable[ExceptionCase], now: datetime | None = None
) -> dict[str, int]:
    """Upsert sensed cases into ``exceptions`` in one transaction.

    New cases open; known ones that are not resolved get the fresh evidence and severity (their
    status and first detection stay); resolved ones are left alone. Returns the counts ``new``,
    ``updated`` and ``unchanged`` (resolved ones count as unchanged).
    """
    at = _now(store, now)
    rows: dict[str, tuple] = {}
    for c in cases:
        eid = c.exception_id or exception_id(c.kind, c.subject)
        blob = json.dumps(c.evidence, sort_keys=True, default=str)
        rows[eid] = (eid, c.kind, c.severity, c.subject, c.shipment_id, blob)
    cols = ("exception_id", "kind", "severity", "subject", "shipment_id", "evidence")
    lists = [list(col) for col in zip(*rows.values(), strict=True)] if rows else [[]] * len(cols)

    def work(cur: Cursor) -> dict[str, int]:
        picks = ", ".join(f"unnest(${i + 1})::VARCHAR AS {c}" for i, c in enumerate(cols))
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _exc_in AS SELECT {picks}", lists)
        new, updated, total = cur.execute(_UPSERT_COUNTS).fetchone() or (0, 0, 0)
        cur.execute(_UPDATE, {"now": at})
        cur.execute(_INSERT, {"now": at})
        cur.execute("DROP TABLE _exc_in")
        return {"new": new, "updated": updated, "unchanged": total - new - updated}

    return store.write(work)


def check_units(
    store: Store,
    *,
    shipment_id: str | None = None,
    container_id: str | None = None,
    now: datetime | None = None,
) -> list[UnitProblem]:
    """Check every unit of a shipment, or under a container (through cases under a pallet).

    One SQL pass over the declared unit data and the units physically in scope: commissioning
    present and matching lot/expiry, unit status, aggregation counts, lot status and shelf life,
    duplicates on other shipments. Returns only units with problems, ordered by GTIN, serial.

    Raises:
        InputError: unless exactly one of ``shipment_id`` and ``container_id`` is given.
    """
    if (shipment_id is None) == (container_id is None):
        raise InputError("check_units needs exactly one of shipment_id or container_id")
    scope = "shipment" if shipment_id is not None else "container"
    subject = shipment_id or container_id
    ids, ships = store.execute(scope_sql(scope), {"subject": subject}).fetchone() or ([], [])
    if scope == "shipment":
        ships = [shipment_id]
    params = {
        "ids": ids or [],
        "ships": ships or [],
        "whole": scope == "shipment",
        "now": _now(store, now),
    }
    cur = store.execute(CHECK_UNITS, params)
    names = [d[0] for d in cur.description or []]
    problems = []
    for row in cur.fetchall():
        rec = dict(zip(names, row, strict=True))
        gtin, serial = rec.pop("gtin"), rec.pop("serial")
        problems.append(
            UnitProblem(
                unit=f"{gtin}.{serial}",
                gtin=gtin,
                serial=serial,
                shipment_id=rec.pop("shipment_id"),
                container_id=rec.pop("container_id"),
                reasons=rec.pop("reasons"),
                details=rec,
            )
        )
    return problems
