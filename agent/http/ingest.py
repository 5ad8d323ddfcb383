"""Event ingestion over HTTP: temperature readings and barcode scans, set-based.

A batch is validated whole (ranges, clock, known assets/shipments), then written with one
``INSERT … SELECT unnest(…)`` and its audit entry in one transaction. Batches are serialized per
database (``lock``), so the SQL dedupe (see ``record/sql/009_keys.sql``) is race-free.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from agent.http.errors import FieldsError
from agent.http.models import ReadingCreate, ScanCreate
from record import audit
from record.clock import utc_naive
from record.errors import IdentifierError
from record.identifiers import parse_barcode
from record.store import Cursor, Store

__all__ = ["FUTURE_SLACK", "ingest_readings", "ingest_scans"]

FUTURE_SLACK = timedelta(minutes=5)
_MAX_PROBLEMS = 50
_SCAN_NS = uuid.UUID("6f1c2a4e-9b7d-4c3e-8a51-2d6e0f9b3c17")
_DISPOSITION = {"receiving": "in_progress", "shipping": "in_transit", "inspecting": "in_progress"}

_INSERT_READINGS = """
INSERT INTO sensor_readings (asset_id, shipment_id, ts, temp_c, source)
WITH batch AS (
    SELECT idx, asset_id, shipment_id, make_timestamp(ts_us) AS ts, temp_c FROM _readings_batch),
fresh AS (
    SELECT DISTINCT ON (asset_id, shipment_id, ts) * FROM batch
    ORDER BY asset_id, shipment_id, ts, idx),
stored AS (
    SELECT asset_id, shipment_id, ts FROM sensor_readings
    WHERE ts BETWEEN $lo AND $hi AND list_contains($assets, asset_id))
SELECT f.asset_id, f.shipment_id, f.ts, f.temp_c, 'telemetry' FROM fresh f
WHERE NOT EXISTS (
    SELECT 1 FROM stored s WHERE s.asset_id = f.asset_id AND s.ts = f.ts
      AND s.shipment_id IS NOT DISTINCT FROM f.shipment_id)
"""
_EPOCH, _EPOCH_UTC = datetime(1970, 1, 1), datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, UTC (naive values are UTC already)."""
    return (moment - (_EPOCH if moment.tzinfo is None else _EPOCH_UTC)) // _US


def _unknown(cur: Cursor, table: str, column: str, values: set[str]) -> set[str]:
    found = cur.execute(
        f"SELECT v FROM unnest(?::VARCHAR[]) t(v) ANTI JOIN {table} x ON x.{column} = t.v",
        [sorted(values)],
    ).fetchall()
    return {v for (v,) in found}


def _reading_problems(
    cur: Cursor, readings: list[ReadingCreate], stamps: list[int], now: datetime
) -> dict[str, str]:
    problems: dict[str, str] = {}
    latest = _micros(now + FUTURE_SLACK)
    assets = _unknown(cur, "assets", "asset_id", {r.asset_id for r in readings})
    ships = _unknown(
        cur, "shipments", "shipment_id", {r.shipment_id for r in readings if r.shipment_id}
    )
    if not assets and not ships and max(stamps) <= latest:
        return problems
    for i, (r, ts) in enumerate(zip(readings, stamps, strict=True)):
        if len(problems) >= _MAX_PROBLEMS:
            break
        if ts > latest:
            problems[f"readings.{i}.ts"] = (
                f"{utc_naive(r.ts):%Y-%m-%d %H:%M:%S} is more than 5 minutes after the server "
                f"clock ({now:%Y-%m-%d %H:%M:%S} UTC); check the device clock"
            )
        if r.asset_id in assets:
            problems[f"readings.{i}.asset_id"] = f"unknown asset {r.asset_id!r}"
        if r.shipment_id in ships:
            problems[f"readings.{i}.shipment_id"] = f"unknown shipment {r.shipment_id!r}"
    return problems


def ingest_readings(
    store: Store,
    readings: list[ReadingCreate],
    *,
    now: datetime,
    actor: str,
    role: str,
    lock: threading.Lock,
) -> dict[str, int]:
    """Store a batch of readings, skipping ones already stored; return the counts.

    The batch goes to DuckDB as NumPy columns (no per-value conversion), deduped and inserted
    by one statement.

    Raises:
        FieldsError: a reading is in the future, or names an unknown asset or shipment
            (nothing is stored).
    """
    stamps = [_micros(r.ts) for r in readings]
    assets = sorted({r.asset_id for r in readings})
    lo, hi = _EPOCH + min(stamps) * _US, _EPOCH + max(stamps) * _US
    batch = {
        "idx": np.arange(len(readings), dtype=np.int64),
        "asset_id": np.array([r.asset_id for r in readings], dtype=object),
        "shipment_id": np.array([r.shipment_id for r in readings], dtype=object),
        "ts_us": np.array(stamps, dtype=np.int64),
        "temp_c": np.array([r.temp_c for r in readings], dtype=np.float64),
    }

    def _write(cur: Cursor) -> int:
        problems = _reading_problems(cur, readings, stamps, now)
        if problems:
            raise FieldsError(f"{len(problems)} readings refused; nothing was stored", problems)
        cur.register("_readings_batch", batch)
        try:
            found = cur.execute(_INSERT_READINGS, {"lo": lo, "hi": hi, "assets": assets})
            stored = int(found.fetchone()[0])  # type: ignore[index]
        finally:
            cur.unregister("_readings_batch")
        cur.execute(
            "UPDATE assets SET last_telemetry_at = greatest(coalesce(last_telemetry_at, ?), ?)"
            " WHERE list_contains(?, asset_id)",
            [hi, hi, assets],
        )
        audit.append(
            cur,
            actor=actor,
            role=role,
            ts=now,
            action="ingest.readings",
            subject=assets[0] if len(assets) == 1 else f"{len(assets)} assets",
            inputs={"readings": len(readings), "assets": assets[:50], "from": lo, "to": hi},
            result={"stored": stored, "duplicates": len(readings) - stored},
        )
        return stored

    with lock:
        stored = store.write(_write)
    return {"received": len(readings), "stored": stored, "duplicates": len(readings) - stored}


def _scan_key(scan: ScanCreate) -> str:
    found = parse_barcode(scan.barcode)
    if found.key is None or not ((found.gtin and found.serial) or found.sscc):
        raise IdentifierError(
            f"{scan.barcode[:60]!r} names no single item: scan the 2D DataMatrix (GTIN + "
            "serial, AI 01 + 21) or the pallet's SSCC (AI 00)",
            field="barcode",
        )
    return found.key


def _parse_scans(scans: list[ScanCreate], known: set[str], now: datetime) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i, scan in enumerate(scans):
        at = utc_naive(scan.at)
        item: dict[str, Any] = {"index": i, "status": "invalid"}
        try:
            item["key"] = _scan_key(scan)
        except IdentifierError as exc:
            items.append({**item, "reason": str(exc)})
            continue
        if scan.location_id not in known:
            item["reason"] = f"unknown location {scan.location_id!r}: give the location's GLN"
        elif at > now + FUTURE_SLACK:
            item["reason"] = f"{at:%Y-%m-%d %H:%M:%S} is more than 5 minutes in the future"
        else:
            name = f"{item['key']}|{scan.location_id}|{at.isoformat()}|{scan.event}"
            item.update(
                status="stored", event_id=f"urn:uuid:{uuid.uuid5(_SCAN_NS, name)}", at=at, scan=scan
            )
        items.append(item)
    return items


_INSERT_SCANS = """
INSERT INTO custody_events (event_id, event_type, action, biz_step, disposition, event_time,
    tz_offset, epcs, read_point, biz_location, shipment_id, origin, raw)
WITH batch AS (
    SELECT unnest($id) AS event_id, unnest($key) AS key, unnest($step) AS biz_step,
           unnest($disp) AS disposition, unnest($at) AS event_time, unnest($loc) AS location_id,
           unnest($raw) AS raw)
SELECT DISTINCT ON (b.event_id) b.event_id, 'ObjectEvent', 'OBSERVE', b.biz_step, b.disposition,
       b.event_time, '+00:00', [b.key], b.location_id, b.location_id,
       coalesce(c.shipment_id, p.shipment_id), 'scan', b.raw::JSON
FROM batch b
LEFT JOIN containers c ON c.container_id = b.key
LEFT JOIN units u ON u.gtin || '.' || u.serial = b.key
LEFT JOIN containers p ON p.container_id = u.container_id
WHERE b.event_id NOT IN (SELECT event_id FROM custody_events)
RETURNING event_id
"""


def ingest_scans(
    store: Store,
    scans: list[ScanCreate],
    *,
    now: datetime,
    actor: str,
    role: str,
    lock: threading.Lock,
) -> dict[str, Any]:
    """Store valid scans as custody events (origin ``scan``); report every item's fate."""

    def _write(cur: Cursor) -> list[dict[str, Any]]:
        locations = {s.location_id for s in scans}
        items = _parse_scans(
            scans, locations - _unknown(cur, "locations", "location_id", locations), now
        )
        valid = [i for i in items if i["status"] == "stored"]
        inserted: set[str] = set()
        if valid:
            rows = cur.execute(
                _INSERT_SCANS,
                {
                    "id": [i["event_id"] for i in valid],
                    "key": [i["key"] for i in valid],
                    "step": [i["scan"].event for i in valid],
                    "at": [i["at"] for i in valid],
                    "disp": [_DISPOSITION[i["scan"].event] for i in valid],
                    "loc": [i["scan"].location_id for i in valid],
                    "raw": [i["scan"].model_dump_json() for i in valid],
                },
            ).fetchall()
            inserted = {r[0] for r in rows}
        for item in valid:  # already stored, or a repeat within this batch
            if item["event_id"] not in inserted:
                item["status"] = "duplicate"
            inserted.discard(item["event_id"])
        audit.append(
            cur,
            actor=actor,
            role=role,
            ts=now,
            action="ingest.scans",
            subject=f"{len(scans)} scans",
            inputs={"scans": len(scans)},
            result=_counts(items),
        )
        return items

    with lock:
        items = store.write(_write)
    keep = ("index", "status", "key", "event_id", "reason")
    public = [{k: v for k, v in i.items() if k in keep} for i in items]
    return {"received": len(scans), **_counts(items), "items": public}


def _counts(items: list[dict[str, Any]]) -> dict[str, int]:
    def n(status: str) -> int:
        return sum(i["status"] == status for i in items)

    return {"stored": n("stored"), "duplicates": n("duplicate"), "invalid": n("invalid")}
