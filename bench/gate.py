"""Benchmark: the release gate (verify_shipment) on a full pallet (target: 10,000 units in 100 ms).

Builds one SSCC pallet of 50 cases x 200 serialized units (10,000 units) on one shipment in a
temporary DuckDB file, then times ``verify_shipment`` through ``call_tool`` — role check,
transaction, the one set-based SQL statement, the gate row, the audit entry — as the median of
``--runs`` runs. The baseline does the same checks the way a script would without set-based SQL:
fetch the rows (shipment units, units, lots, products, containers, other open shipments) and
check each unit in a Python loop; optionally (``--naive-runs``) also a script that looks each
unit, lot and duplicate up with its own query. The gate and the baseline must agree on a pallet
with injected faults. Figures are printed and appended as JSON to
``bench/results/gate-<timestamp>.json``.

    .venv/bin/python bench/gate.py                  # 7 runs of the gate, 3 of the baseline
    .venv/bin/python bench/gate.py --runs 15 --cases 100 --per-case 100
    .venv/bin/python bench/gate.py --naive-runs 1   # add the query-per-lookup script (~2 min)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from record.clock import FixedClock  # noqa: E402
from record.identifiers import gs1_check_digit  # noqa: E402
from record.store import Store  # noqa: E402
from tools import verification  # noqa: E402, F401  (registers verify_shipment)
from tools.base import ToolContext, call_tool  # noqa: E402

TARGET_MS = 100.0
NOW = datetime(2026, 11, 23, 6, 0)
GTIN = "00312345678906"
SID = "SHP-PALLET"
_OPEN = ("planned", "held", "released", "in_transit")
_BAD_UNIT = ("suspect", "quarantined", "decommissioned", "dispensed")


def build(store: Store, cases: int, per_case: int) -> None:
    """One pallet of ``cases`` x ``per_case`` commissioned, declared units on shipment SID."""
    sscc = "00614141" + "000000001"
    sscc += str(gs1_check_digit(sscc))
    cur = store.cursor()
    cur.execute(
        "INSERT INTO products (gtin, name, min_shelf_life_days) VALUES (?, 'Drug', 90)", [GTIN]
    )
    cur.execute("INSERT INTO lots VALUES (?, 'LOT1', DATE '2027-06-30', 'released')", [GTIN])
    cur.execute(
        "INSERT INTO shipments (shipment_id, origin_id, destination_id, promised_end, ti_document,"
        " ts_attested) VALUES (?, '0614141000005', '0614141000012', ?, 'TI-1', true)",
        [SID, NOW + timedelta(days=1)],
    )
    cur.execute(
        "INSERT INTO containers VALUES (?, 'pallet', NULL, ?, ?, ?)", [sscc, cases, SID, NOW]
    )
    params = {"g": GTIN, "p": per_case, "n": cases, "now": NOW}
    cur.execute(
        "INSERT INTO containers SELECT $g || '.C' || i, 'case', $s, $p, NULL, $now"
        " FROM range($n) t(i)",
        params | {"s": sscc},
    )
    cur.execute(
        "INSERT INTO units SELECT $g, 'S' || i, 'LOT1', DATE '2027-06-30', 'packed',"
        " $g || '.C' || (i // $p), NULL, $now FROM range($n * $p) t(i)",
        params,
    )
    cur.execute(
        "INSERT INTO shipment_units SELECT ?, gtin, serial, lot, expiry, container_id FROM units",
        [SID],
    )


def inject_faults(store: Store) -> None:
    """A few realistic faults, to check that the gate and the baseline agree."""
    for sql in (
        "UPDATE shipment_units SET lot = 'LOT9' WHERE serial = 'S10'",
        "UPDATE units SET status = 'suspect' WHERE serial = 'S20'",
        "UPDATE shipment_units SET expiry = NULL WHERE serial = 'S30'",
        "DELETE FROM shipment_units WHERE serial = 'S40'",
        "DELETE FROM units WHERE serial = 'S50'",
    ):
        store.execute(sql)


# --- the baseline: fetch rows, check each unit in Python -------------------------------------


def _fetch(store: Store) -> dict[str, Any]:
    cur = store.cursor()
    q = lambda sql, *p: cur.execute(sql, list(p)).fetchall()  # noqa: E731
    declared = q(
        "SELECT gtin, serial, lot, expiry, container_id FROM shipment_units WHERE shipment_id = ?",
        SID,
    )
    gtins = sorted({row[0] for row in declared})
    return {
        "shipment": q(
            "SELECT ti_document, ts_attested, coalesce(promised_end, eta)"
            " FROM shipments WHERE shipment_id = ?",
            SID,
        )[0],
        "declared": declared,
        "units": {
            (r[0], r[1]): r[2:]
            for r in q(
                "SELECT gtin, serial, lot, expiry, status, container_id, commissioned_at FROM units"
                " WHERE list_contains(?, gtin)",
                gtins,
            )
        },
        "lots": {(r[0], r[1]): r[2:] for r in q("SELECT gtin, lot, status, expiry FROM lots")},
        "products": dict(q("SELECT gtin, min_shelf_life_days FROM products")),
        "containers": q(
            "SELECT container_id, parent_id, declared_children, shipment_id FROM containers"
        ),
        "open": Counter(
            (r[0], r[1])
            for r in q(
                "SELECT o.gtin, o.serial FROM shipment_units o JOIN shipments s USING (shipment_id)"
                " WHERE o.shipment_id <> ? AND list_contains(?, s.status)",
                SID,
                list(_OPEN),
            )
        ),
    }


def _unit_reasons(d: dict[str, Any], row: tuple, tree: set[str], today: date) -> list[str]:
    gtin, serial, lot, expiry, container = row
    unit = d["units"].get((gtin, serial))
    out = []
    if unit is None or unit[4] is None:
        out.append("serial_unknown")
    c_lot, c_expiry, status, c_container = unit[:4] if unit else (None, None, None, None)
    if unit and unit[4] is not None:
        out += ["lot_mismatch"] * (lot is not None and lot != c_lot)
        out += ["expiry_mismatch"] * (expiry is not None and expiry != c_expiry)
        out += ["container_mismatch"] * (container is not None and container != c_container)
    out += ["label_incomplete"] * (lot is None or expiry is None)
    out += [f"unit_{status}"] * (status in _BAD_UNIT)
    lot_row = d["lots"].get((gtin, c_lot or lot))
    if lot_row is None and (c_lot or lot):
        out.append("lot_unknown")
    if lot_row and lot_row[0] in ("recalled", "quarantined"):
        out.append(f"lot_{lot_row[0]}")
    eff = c_expiry or (lot_row[1] if lot_row else None) or expiry
    deliver_by = (d["shipment"][2] or NOW).date()
    if eff is not None and eff < today:
        out.append("expired")
    elif eff is not None and eff < deliver_by + timedelta(days=d["products"].get(gtin) or 0):
        out.append("short_dated")
    out += ["container_not_on_shipment"] * bool(tree and (container or c_container) not in tree)
    out += ["serial_duplicate"] * (d["open"][(gtin, serial)] > 0)
    return out


class _Lookup(dict):
    """Answers each key with its own query, as a script holding a cursor per row does."""

    def __init__(self, fetch: Callable[[Any], Any]) -> None:
        super().__init__()
        self._fetch = fetch

    def get(self, key: Any, default: Any = None) -> Any:
        found = self._fetch(key)
        return default if found is None else found

    def __getitem__(self, key: Any) -> Any:
        return self._fetch(key)


def _per_row(store: Store, d: dict[str, Any]) -> dict[str, Any]:
    cur = store.cursor()

    def one(sql: str, *params: Any) -> Any:
        return cur.execute(sql, list(params)).fetchone()

    return d | {
        "units": _Lookup(lambda k: one(
            "SELECT lot, expiry, status, container_id, commissioned_at FROM units"
            " WHERE gtin = ? AND serial = ?", *k)),
        "lots": _Lookup(lambda k: one("SELECT status, expiry FROM lots WHERE gtin = ? AND lot = ?",
                                      *k)),
        "open": _Lookup(lambda k: one(
            "SELECT count(*) FROM shipment_units o JOIN shipments s USING (shipment_id)"
            " WHERE o.gtin = ? AND o.serial = ? AND o.shipment_id <> ?"
            " AND list_contains(?, s.status)", *k, SID, list(_OPEN))[0]),
    }  # fmt: skip


def baseline(store: Store, *, per_row_queries: bool = False) -> Counter[str]:
    """The gate's checks, unit by unit in Python; returns failures by reason.

    Args:
        store: the record.
        per_row_queries: look each unit, lot and duplicate up with its own query (a naive
            script) instead of fetching the rows first.
    """
    d = _fetch(store)
    lookups = _per_row(store, d) if per_row_queries else d
    children: dict[str | None, list[str]] = {}
    for cid, parent, _, _ in d["containers"]:
        children.setdefault(parent, []).append(cid)
    tree, stack = set(), [c[0] for c in d["containers"] if c[3] == SID]
    while stack:
        cid = stack.pop()
        if cid not in tree:
            tree.add(cid)
            stack += children.get(cid, [])
    counts: Counter[str] = Counter()
    for row in d["declared"]:
        counts.update(_unit_reasons(lookups, row, tree, NOW.date()))
    declared = {(r[0], r[1]) for r in d["declared"]}
    packed = Counter(u[3] for u in d["units"].values() if u[3] in tree)
    counts["unit_not_declared"] += sum(
        1 for key, u in d["units"].items() if u[3] in tree and key not in declared
    )
    for cid, _, n, _ in d["containers"]:
        found = packed[cid] + len(children.get(cid, []))
        counts["container_count_mismatch"] += cid in tree and n is not None and n != found
    ti, ts, _ = d["shipment"]
    counts["ti_missing"] += not (ti or "").strip()
    counts["ts_missing"] += not ts
    counts["no_units"] += not d["declared"]
    return +counts


# --- measurement -----------------------------------------------------------------------------


def _median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), times, result


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        names = [
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "os": platform.platform(),
        "load_1min": load,
    }


def _gate(store: Store) -> Any:
    ctx = ToolContext(store=store, actor="bench", role="automation", clock=FixedClock(NOW))
    return call_tool(ctx, "verify_shipment", {"shipment_id": SID})


def _agreement(cases: int, per_case: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="proofline-gate-") as folder:
        store = Store(Path(folder) / "faults.duckdb")
        build(store, cases, per_case)
        inject_faults(store)
        gate = _gate(store)
        expected = dict(baseline(store))
        store.close()
    if gate.counts_by_reason != expected:
        raise SystemExit(f"gate and baseline disagree: {gate.counts_by_reason} != {expected}")
    return gate.counts_by_reason


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="proofline-gate-") as folder:
        store = Store(Path(folder) / "gate.duckdb")
        build(store, args.cases, args.per_case)
        _gate(store)  # warm-up
        gate_ms, gate_times, result = _median_ms(lambda: _gate(store), max(7, args.runs))
        base_ms, base_times, counts = _median_ms(lambda: baseline(store), args.baseline_runs)
        naive_ms, naive_times, naive = (
            _median_ms(lambda: baseline(store, per_row_queries=True), args.naive_runs)
            if args.naive_runs else (None, [], Counter())
        )  # fmt: skip
        store.close()
    if not result.passed or counts or naive:
        raise SystemExit(f"the clean pallet must pass: {result.counts_by_reason} {counts} {naive}")
    return {
        "benchmark": "gate", "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "units": result.units_checked, "containers": result.containers_checked,
        "gate_median_ms": round(gate_ms, 2), "gate_runs_ms": [round(t, 2) for t in gate_times],
        "baseline_median_ms": round(base_ms, 2),
        "baseline_runs_ms": [round(t, 2) for t in base_times],
        "naive_median_ms": naive_ms and round(naive_ms, 2),
        "naive_runs_ms": [round(t, 2) for t in naive_times],
        "speedup": round(base_ms / gate_ms, 1),
        "naive_speedup": naive_ms and round(naive_ms / gate_ms, 1),
        "target_ms": TARGET_MS, "within_target": gate_ms <= TARGET_MS,
        "faults_agree": _agreement(args.cases, args.per_case), "machine": _machine(),
    }  # fmt: skip


def _print(r: dict[str, Any]) -> None:
    m, gate = r["machine"], r["gate_median_ms"]
    verdict = "met" if r["within_target"] else "MISSED"
    print(f"release gate on {r['units']:,} units in {r['containers']} containers — {m['cpu']}, "
          f"{m['cores']} cores, load {m['load_1min']:.2f}, DuckDB {m['duckdb']}, "
          f"Python {m['python']}")  # fmt: skip
    print(f"  verify_shipment via call_tool (median of {len(r['gate_runs_ms'])}): {gate:8.1f} ms"
          f"  (target {TARGET_MS:.0f} ms: {verdict})")  # fmt: skip
    print(f"  Python loop over fetched rows (median of {len(r['baseline_runs_ms'])}): "
          f"{r['baseline_median_ms']:8.1f} ms  = {r['speedup']}x the gate")  # fmt: skip
    if r["naive_median_ms"]:
        print(f"  Python loop, a query per lookup (median of {len(r['naive_runs_ms'])}): "
              f"{r['naive_median_ms']:8.1f} ms  = {r['naive_speedup']}x the gate")  # fmt: skip
    print(f"  gate and baseline agree on injected faults: {r['faults_agree']}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print its figures and append them to bench/results."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of the gate (median)")
    parser.add_argument("--baseline-runs", type=int, default=3, help="runs of the row baseline")
    parser.add_argument("--naive-runs", type=int, default=0,
                        help="runs of the query-per-lookup baseline (~2 min each)")  # fmt: skip
    parser.add_argument("--cases", type=int, default=50, help="cases on the pallet")
    parser.add_argument("--per-case", type=int, default=200, help="units per case")
    report = _measure(parser.parse_args(argv))
    _print(report)
    out = ROOT / "bench" / "results" / f"gate-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(report) + "\n")
    print(f"  appended to {out.relative_to(ROOT)}")
    return report


if __name__ == "__main__":
    main()
