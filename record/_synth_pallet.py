"""Synthetic network, part 8: one big SSCC pallet on a new shipment (benchmarks, gate tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from record._synth_catalog import sscc
from record.errors import NotFoundError
from record.store import Cursor, Store

__all__ = ["build_pallet"]


def _pick(cur: Cursor) -> tuple:
    row = cur.execute("""
        SELECT (SELECT min(location_id) FROM locations WHERE kind = 'dc'), d.location_id,
               d.partner_gln, l.gtin, l.lot, l.expiry, '5' || substr(l.gtin, 2, 12)
        FROM locations d, lots l JOIN products p ON p.gtin = l.gtin
        WHERE d.kind = 'hospital' AND p.temp_class = 'refrigerated' AND l.status = 'released'
        ORDER BY d.location_id, l.gtin, l.lot LIMIT 1
    """).fetchone()
    if row is None or row[0] is None:
        raise NotFoundError(
            "no DC, hospital and released refrigerated lot to build a pallet from; seed first"
        )
    lane = cur.execute(
        "SELECT minutes FROM lanes WHERE from_id = ? AND to_id = ?", [row[0], row[1]]
    ).fetchone()
    return (*row, lane[0] if lane else 240)


def _case_gtin(body13: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body13)))
    return body13 + str((10 - total % 10) % 10)


def build_pallet(
    store: Store, *, units: int = 10_000, case_size: int = 100, now: datetime | None = None
) -> tuple[str, str]:
    """Add a planned shipment carrying one SSCC pallet of ``units`` units in cases.

    Cases, units (commissioned, ``packed``) and the shipment's unit data are consistent, so the
    pallet passes every check until a test patches it. Returns ``(shipment_id, sscc)``.
    """
    now = now or datetime.fromisoformat(store.get_meta("network_now") or "2026-11-23T06:00:00")

    def work(cur: Cursor) -> tuple[str, str]:
        origin, dest, dest_gln, gtin, lot, expiry, case_body, minutes = _pick(cur)
        n = int(cur.execute("SELECT count(*) FROM shipments").fetchone()[0])  # type: ignore[index]
        sid = f"SHP-{9001 + n}"
        pallet = sscc("0861999", 100_000 + n)
        depart = now + timedelta(hours=6)
        eta = depart + timedelta(minutes=minutes)
        cur.execute(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            [f"ORD-{sid}", dest_gln, dest, f"PO-{sid}", now],
        )
        cur.execute(
            "INSERT INTO shipments (shipment_id, order_id, origin_id, destination_id, status, "
            "planned_departure, eta, promised_start, promised_end, ti_document, ts_attested, "
            "updated_at) VALUES (?, ?, ?, ?, 'planned', ?, ?, ?, ?, ?, TRUE, ?)",
            [
                sid,
                f"ORD-{sid}",
                origin,
                dest,
                depart,
                eta,
                eta - timedelta(hours=2),
                eta + timedelta(hours=2),
                f"TI-{sid}",
                now,
            ],
        )
        n_cases = -(-units // case_size)
        cur.execute(
            "INSERT INTO containers VALUES (?, 'pallet', NULL, ?, ?, ?)",
            [pallet, n_cases, sid, now],
        )
        case_gtin = _case_gtin(case_body)
        cur.execute(
            f"""
            INSERT INTO containers
            SELECT '{case_gtin}.' || 'P{n}-' || lpad(i::VARCHAR, 5, '0'), 'case', ?,
                   least(?, ? - i * ?), ?, ? FROM range(?) t(i)
        """,
            [pallet, case_size, units, case_size, sid, now, n_cases],
        )
        cur.execute(
            f"""
            INSERT INTO units
            SELECT ?, 'P{n}U' || lpad(i::VARCHAR, 7, '0'), ?, ?, 'packed',
                   '{case_gtin}.' || 'P{n}-' || lpad((i // ?)::VARCHAR, 5, '0'), ?, ?
            FROM range(?) t(i)
        """,
            [gtin, lot, expiry, case_size, origin, now - timedelta(days=30), units],
        )
        cur.execute(
            """
            INSERT INTO shipment_units
            SELECT ?, gtin, serial, lot, expiry, container_id FROM units
            WHERE container_id IN (SELECT container_id FROM containers WHERE parent_id = ?)
        """,
            [sid, pallet],
        )
        return sid, pallet

    return store.write(work)
