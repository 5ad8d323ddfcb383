"""Benchmark: sensing at growing scale against a per-row Python baseline, and the unit check on a
10,000-unit SSCC pallet.

Seeds synthetic networks at scales 1, 5 and 20 (``--quick``: 1 and 5) into DuckDB files in a
temporary folder, timing each seed. At each scale it times ``sense()`` (all kinds, best of
``--runs``) and ``sense()`` on four kinds (temperature minutes out of range with MKT, late_risk,
pi_mismatch, serial_unknown); it times a per-row Python baseline on the same four
kinds: fetch the rows, then group, sort and compare them in plain Python loops (also at scale 20
unless ``--estimate-20``, which extrapolates it linearly from scale 5). The baseline must find
exactly what ``sense()`` finds. At the largest scale it adds one SSCC pallet of 10,000 units
(``record.synth.build_pallet``) and times ``check_units`` on it (median of ``--pallet-runs``).
Process CPU time is reported next to wall time: on a shared machine the difference is waiting.
Figures are printed (rich) and appended as JSON to ``bench/results/sense-<timestamp>.json``.

    .venv/bin/python bench/sense.py            # scales 1, 5, 20
    .venv/bin/python bench/sense.py --quick    # scales 1 and 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from record import synth  # noqa: E402
from record.sensing import check_units, sense  # noqa: E402
from record.store import Store  # noqa: E402

SAME_KINDS = ("temp_excursion", "late_risk", "pi_mismatch", "serial_unknown")
TARGETS = {"sense_s_at_20": 2.0, "ratio_at_20": 30.0, "pallet_ms": 100.0, "seed_s_at_20": 90.0}
console = Console(width=150)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, process CPU seconds, result)."""
    c0, t0 = _cpu(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, _cpu() - c0, out


def _best(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    results = [_timed(fn) for _ in range(runs)]
    return min(results, key=lambda r: r[0])


# -- the per-row Python baseline -----------------------------------------------------------


def _fetch(store: Store) -> dict[str, list[tuple]]:
    cur = store.cursor()
    q = {
        "readings": "SELECT shipment_id, ts, temp_c FROM sensor_readings "
        "WHERE shipment_id IS NOT NULL",
        "shipment_units": "SELECT shipment_id, gtin, serial, lot, expiry FROM shipment_units",
        "units": "SELECT gtin, serial, lot, expiry, commissioned_at FROM units",
        "products": "SELECT gtin, temp_class, temp_min_c, temp_max_c, stability_budget_min "
        "FROM products",
        "shipments": "SELECT shipment_id, status, eta, promised_end FROM shipments",
    }
    return {name: cur.execute(sql).fetchall() for name, sql in q.items()}


def _py_temperature(data: dict[str, list[tuple]], now: datetime) -> set[str]:
    products = {p[0]: p for p in data["products"]}
    limits: dict[str, list] = {}
    for sid, gtin, *_ in data["shipment_units"]:
        _, cls, lo, hi, budget = products[gtin]
        cur = limits.setdefault(sid, [lo, hi, budget, True])
        cur[0], cur[1], cur[2] = max(cur[0], lo), min(cur[1], hi), min(cur[2], budget)
        cur[3] = cur[3] and cls == "crt"
    traces: dict[str, list[tuple]] = defaultdict(list)
    for sid, ts, temp in data["readings"]:
        if ts <= now and sid in limits:
            traces[sid].append((ts, temp))
    flagged = set()
    for sid, trace in traces.items():
        lo, hi, _budget, crt = limits[sid]
        if crt:
            lo, hi = 15.0, 30.0
        trace.sort()
        minutes, out_any, acc = 0.0, False, 0.0
        for i, (ts, temp) in enumerate(trace):
            acc += math.exp(-10_000 / (temp + 273.15))
            if temp < lo or temp > hi:
                out_any = True
                if i + 1 < len(trace):
                    minutes += (trace[i + 1][0] - ts).total_seconds() / 60
        mkt = 10_000 / -math.log(acc / len(trace)) - 273.15
        if out_any or (crt and mkt > 25):
            flagged.add(sid)
    return flagged


def _py_units(data: dict[str, list[tuple]]) -> tuple[set[str], set[str]]:
    units = {(g, s): (lot, exp, at) for g, s, lot, exp, at in data["units"]}
    unknown, mismatch = set(), set()
    for sid, gtin, serial, lot, expiry in data["shipment_units"]:
        rec = units.get((gtin, serial))
        if rec is None or rec[2] is None:
            unknown.add(sid)
        elif (lot is not None and lot != rec[0]) or (expiry is not None and expiry != rec[1]):
            mismatch.add(sid)
    return unknown, mismatch


def baseline(store: Store, now: datetime) -> set[tuple[str, str]]:
    """The four kinds, the per-row way: fetch everything, loop in Python."""
    data = _fetch(store)
    found = {("temp_excursion", s) for s in _py_temperature(data, now)}
    open_ = ("planned", "held", "released", "in_transit")
    found |= {
        ("late_risk", sid)
        for sid, status, eta, end in data["shipments"]
        if status in open_ and eta is not None and end is not None and eta > end
    }
    unknown, mismatch = _py_units(data)
    return found | {("serial_unknown", s) for s in unknown} | {("pi_mismatch", s) for s in mismatch}


# -- one scale ------------------------------------------------------------------------------


def seed(path: Path, scale: float, progress: Progress) -> dict[str, Any]:
    task = progress.add_task(f"seeding scale {scale:g}", total=1.0)
    with Store(path) as store:
        wall, cpu, summary = _timed(
            lambda: synth.generate(
                store, scale=scale, progress=lambda s, f: progress.update(task, completed=f)
            )
        )
    progress.remove_task(task)
    return {
        "seed_s": wall,
        "seed_cpu_s": cpu,
        "units": summary.units,
        "readings": summary.readings,
        "shipments": summary.shipments,
        "events": summary.events,
    }


def measure(path: Path, scale: float, runs: int, with_baseline: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with Store(path, read_only=True) as store:
        now = datetime.fromisoformat(store.get_meta("network_now") or "")
        truth = {(r["kind"], r["subject"]) for r in store.rows("SELECT * FROM synth_truth")}
        wall, cpu, cases = _best(lambda: sense(store), runs)
        found = {(c.kind, c.subject) for c in cases}
        out |= {
            "sense_s": wall,
            "sense_cpu_s": cpu,
            "cases": len(cases),
            "recall": len(found & truth) / len(truth),
            "precision": len(found & truth) / len(found),
        }
        wall, cpu, same = _best(lambda: sense(store, kinds=SAME_KINDS), runs)
        out |= {"sense_same_kinds_s": wall, "sense_same_kinds_cpu_s": cpu}
        if with_baseline:
            wall, cpu, base = _best(lambda: baseline(store, now), 1)
            mine = {(c.kind, c.subject) for c in same}
            if base != mine:
                raise SystemExit(f"baseline disagrees with sense(): {sorted(base ^ mine)[:10]}")
            out |= {
                "baseline_s": wall,
                "baseline_cpu_s": cpu,
                "ratio_same_kinds": wall / out["sense_same_kinds_s"],
                "ratio_overall": wall / out["sense_s"],
            }
    return out


def pallet(path: Path, runs: int) -> dict[str, Any]:
    with Store(path) as store:
        shipment_id, sscc = synth.build_pallet(store, units=10_000, case_size=100)
        walls, cpus = [], []
        for _ in range(runs):
            wall, cpu, problems = _timed(lambda: check_units(store, container_id=sscc))
            walls.append(wall)
            cpus.append(cpu)
            assert problems == [], problems[:3]
        by_shipment = statistics.median(
            _timed(lambda: check_units(store, shipment_id=shipment_id))[0] for _ in range(runs)
        )
    return {
        "pallet_units": 10_000,
        "pallet_ms": statistics.median(walls) * 1000,
        "pallet_cpu_ms": statistics.median(cpus) * 1000,
        "pallet_by_shipment_ms": by_shipment * 1000,
    }


# -- report ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _f(value: Any, fmt: str = "{:.3f}") -> str:
    return "—" if value is None else fmt.format(value)


def report(rows: dict[float, dict[str, Any]], extra: dict[str, Any], info: dict[str, Any]) -> None:
    table = Table(title="Sensing: set-based SQL against a per-row Python baseline")
    for col in (
        "scale",
        "units",
        "readings",
        "seed s",
        "sense s (cpu)",
        "4 kinds s",
        "baseline s",
        "× same kinds",
        "× overall",
        "recall/precision",
    ):
        table.add_column(col, justify="right")
    for scale, r in rows.items():
        est = " est." if r.get("baseline_estimated") else ""
        table.add_row(
            f"{scale:g}",
            f"{r['units']:,}",
            f"{r['readings']:,}",
            _f(r["seed_s"], "{:.1f}"),
            f"{r['sense_s']:.3f} ({r['sense_cpu_s']:.2f})",
            _f(r["sense_same_kinds_s"]),
            _f(r.get("baseline_s"), "{:.2f}") + est,
            _f(r.get("ratio_same_kinds"), "{:.0f}×") + est,
            _f(r.get("ratio_overall"), "{:.0f}×") + est,
            f"{r['recall']:.2f}/{r['precision']:.2f}",
        )
    console.print(table)
    console.print(
        f"check_units on a 10,000-unit SSCC pallet: median {extra['pallet_ms']:.1f} ms "
        f"(CPU {extra['pallet_cpu_ms']:.1f} ms; "
        f"by shipment {extra['pallet_by_shipment_ms']:.1f} ms)"
    )
    console.print(f"machine: {info}")
    for name, verdict in extra.get("targets", {}).items():
        console.print(f"target {name}: {verdict}")


def _targets(rows: dict[float, dict[str, Any]], extra: dict[str, Any]) -> dict[str, str]:
    verdicts = {}
    top = rows.get(20.0)
    checks = [("pallet_ms", extra["pallet_ms"], "<=")]
    if top:
        checks += [("sense_s_at_20", top["sense_s"], "<="), ("seed_s_at_20", top["seed_s"], "<=")]
        if top.get("ratio_same_kinds"):
            checks.append(("ratio_at_20", top["ratio_same_kinds"], ">="))
    for name, value, op in checks:
        ok = value <= TARGETS[name] if op == "<=" else value >= TARGETS[name]
        verdicts[name] = f"{value:.3f} {op} {TARGETS[name]} -> {'met' if ok else 'MISSED'}"
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="scales 1 and 5 only")
    parser.add_argument("--runs", type=int, default=3, help="sense() runs per scale (best of)")
    parser.add_argument("--pallet-runs", type=int, default=9, help="check_units runs (median)")
    parser.add_argument(
        "--estimate-20", action="store_true", help="extrapolate the baseline at 20 from 5"
    )
    args = parser.parse_args()
    scales = (1.0, 5.0) if args.quick else (1.0, 5.0, 20.0)
    info = machine()
    rows: dict[float, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-sense-") as tmp,
        Progress(console=console) as bar,
    ):
        for scale in scales:
            path = Path(tmp) / f"scale-{scale:g}.duckdb"
            rows[scale] = seed(path, scale, bar)
            rows[scale] |= measure(path, scale, args.runs, scale <= 5 or not args.estimate_20)
        extra = pallet(Path(tmp) / f"scale-{scales[-1]:g}.duckdb", args.pallet_runs)
    if 20.0 in rows and "baseline_s" not in rows[20.0]:  # linear in rows: scale 5 times 4
        r5, r20 = rows[5.0], rows[20.0]
        r20["baseline_s"] = r5["baseline_s"] * 4
        r20["ratio_same_kinds"] = r20["baseline_s"] / r20["sense_same_kinds_s"]
        r20["ratio_overall"] = r20["baseline_s"] / r20["sense_s"]
        r20["baseline_estimated"] = True
    extra["targets"] = _targets(rows, extra)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report(rows, extra, info)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"sense-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "sense",
        "at": stamp,
        "machine": info,
        "scales": {f"{k:g}": v for k, v in rows.items()},
        **extra,
    }
    out.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    console.print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
