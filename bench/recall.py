"""Benchmark: recall_impact on a large network (target: under 1 s at scale 20, ~1M units).

Seeds a scale-20 synthetic network with ``record.synth.generate`` (or reuses ``--db`` when that
file already holds one), then times ``recall_impact`` through ``call_tool`` for a few lots and
reports the median of ``--repeats`` runs per lot. The baseline computes the core of the answer
(units, containers, shipments, destination contacts; not the per-place and per-customer lists)
the way a script would without set-based SQL: fetch the rows and walk units → cases → pallets →
shipments in Python; each lot's counts are checked against it. Figures are printed and appended
as JSON to ``bench/results/recall-<timestamp>.json``.

    .venv/bin/python bench/recall.py                       # seed scale 20 in a temp file
    .venv/bin/python bench/recall.py --db big.duckdb       # seed once into big.duckdb, reuse later
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from record.clock import FixedClock  # noqa: E402
from record.store import Store  # noqa: E402
from tools import recall  # noqa: E402, F401  (registers recall_impact)
from tools.base import ToolContext, call_tool  # noqa: E402

TARGET_MS = 1000.0


def _open(path: str | None, scale: float) -> tuple[Store, float]:
    """The store to measure, seeded when empty; returns it and the seconds seeding took."""
    if path is None:
        path = str(Path(tempfile.mkdtemp(prefix="proofline-bench-")) / "recall.duckdb")
    store = Store(path)
    if store.scalar("SELECT count(*) FROM shipments"):
        return store, 0.0
    from record.synth import generate

    started = time.perf_counter()
    generate(store, scale=scale, seed=7)
    return store, time.perf_counter() - started


def _lots(store: Store, count: int) -> list[tuple[str, str]]:
    """The lots carried by the most shipments, then deterministic others (a spread of sizes)."""
    busiest = store.execute(
        "SELECT gtin, lot FROM shipment_units GROUP BY ALL"
        " ORDER BY count(DISTINCT shipment_id) DESC, gtin, lot LIMIT ?",
        [max(1, count // 2)],
    ).fetchall()
    others = store.execute(
        "SELECT gtin, lot FROM lots ORDER BY hash(gtin || lot) LIMIT ?", [count]
    ).fetchall()
    return list(dict.fromkeys([*busiest, *others]))[:count]


def _baseline(store: Store, gtin: str, lot: str) -> dict[str, int]:
    """Rows fetched, then walked in Python: what a script without set-based SQL would do."""
    cur = store.cursor()
    parent = dict(cur.execute("SELECT container_id, parent_id FROM containers").fetchall())
    ship = dict(cur.execute("SELECT container_id, shipment_id FROM containers").fetchall())
    units = cur.execute(
        "SELECT serial, container_id FROM units WHERE gtin = ? AND lot = ?", [gtin, lot]
    ).fetchall()
    boxes: set[str] = set()
    for _, box in units:
        while box is not None and box not in boxes:
            boxes.add(box)
            box = parent.get(box)
    shipments = {ship[b] for b in boxes if ship.get(b)}
    for (sid,) in cur.execute(
        "SELECT shipment_id FROM shipment_units WHERE gtin = ? AND lot = ?", [gtin, lot]
    ).fetchall():
        shipments.add(sid)
    dest = {
        d
        for s, d in cur.execute("SELECT shipment_id, destination_id FROM shipments").fetchall()
        if s in shipments
    }
    contacts = [c for c, loc in cur.execute("SELECT contact_id, location_id FROM contacts")
                .fetchall() if loc in dest]  # fmt: skip
    return {"units": len(units), "containers": len(boxes), "shipments": len(shipments),
            "contacts": len(contacts)}  # fmt: skip


def _time(fn: Any, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(), "duckdb": duckdb.__version__,
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }  # fmt: skip


def run(store: Store, lots: int, repeats: int) -> list[dict[str, Any]]:
    """Time recall_impact (median of ``repeats``) and the baseline (one run) for each lot."""
    now = datetime.fromisoformat(store.get_meta("network_now") or "2026-11-23T06:00:00")
    ctx = ToolContext(store=store, actor="bench", role="auditor", clock=FixedClock(now))
    figures = []
    for gtin, lot in _lots(store, lots):

        def impact(gtin: str = gtin, lot: str = lot) -> Any:
            return call_tool(ctx, "recall_impact", {"gtin": gtin, "lot": lot})

        impact()  # warm the caches the way a running server would be
        ms, found = _time(impact, repeats)
        base_ms, base = _time(lambda g=gtin, lo=lot: _baseline(store, g, lo), 1)
        same = (base["units"], base["containers"], base["shipments"]) == (
            found.units, found.containers, found.shipments)  # fmt: skip
        figures.append({"gtin": gtin, "lot": lot, "median_ms": round(ms, 1),
                        "baseline_ms": round(base_ms, 1), "speedup": round(base_ms / ms, 1),
                        "units": found.units, "containers": found.containers,
                        "shipments": found.shipments, "customers": found.customers,
                        "agrees_with_baseline": same})  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> int:
    """Seed or open the network, measure, print, append the JSON results; 1 if over target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="DuckDB file to reuse (seeded there when empty)")
    parser.add_argument("--scale", type=float, default=20.0, help="synthetic network scale")
    parser.add_argument("--lots", type=int, default=5, help="lots to measure")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per lot")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="results folder")
    args = parser.parse_args(argv)
    store, seeded_s = _open(args.db, args.scale)
    units = store.scalar("SELECT count(*) FROM units")
    figures = run(store, args.lots, args.repeats)
    worst = max(f["median_ms"] for f in figures)
    print(f"recall_impact on {units:,} units ({store.path}); seeded in {seeded_s:.1f} s")
    for f in figures:
        print(
            f"  {f['gtin']} {f['lot']:<10} {f['median_ms']:8.1f} ms  baseline "
            f"{f['baseline_ms']:8.1f} ms  x{f['speedup']:<6} units {f['units']:>6} "
            f"shipments {f['shipments']:>4}  {'agrees' if f['agrees_with_baseline'] else 'DIFFERS'}"
        )
    print(
        f"worst median {worst:.1f} ms (target {TARGET_MS:.0f} ms): "
        f"{'OK' if worst <= TARGET_MS else 'OVER TARGET'}; machine {_machine()}"
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {"benchmark": "recall_impact", "at": stamp, "units": units, "seed_seconds":
              round(seeded_s, 1), "target_ms": TARGET_MS, "worst_median_ms": worst,
              "machine": _machine(), "lots": figures}  # fmt: skip
    with (out / f"recall-{stamp}.json").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    store.close()
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
