"""Benchmark: how sensing and triage cost grow with the record (scales 1, 5 and 20).

For each scale it takes the seeded network (reused from ``/tmp/proofline-bench`` when it is there
on the current schema, else seeded once and kept), then

- times ``sense()`` over the whole record (all kinds, best of ``--runs``, read-only), and
- times ``run_triage`` with the rules brain on a copy in which a fixed sample of ``--per-kind``
  exceptions of every kind stays open (the others are marked resolved before the run, so the
  same mix is triaged at every scale; at scale 1 that is all of them). Sensing inside the run
  still covers the whole record. The full run is projected as the measured run plus the
  per-exception cost (the run after its sense node, divided by the cases) times the exceptions
  left out; ``--per-kind 0`` triages everything instead (scale 20 then takes minutes).

The baseline is the smallest scale: each row shows its cost as a multiple of scale 1's, next to
the record's growth. It prints a table and draws ``bench/growth.png`` (log-log, seconds against
serialized units), and appends JSON to ``bench/results/growth-<timestamp>.json``.

    .venv/bin/python bench/growth.py
    .venv/bin/python bench/growth.py --scales 1 5 --per-kind 0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    CACHE,
    ROOT,
    close_runtime,
    console,
    cpu_seconds,
    describe,
    machine,
    network,
    open_runtime,
    print_table,
    save,
    working_copy,
)
from bench.triage import Meter, instrument  # noqa: E402

CHART = ROOT / "bench" / "growth.png"
_RESOLVE_OUTSIDE_SAMPLE = """
UPDATE exceptions SET status = 'resolved', resolution = 'bench: outside the growth sample'
WHERE status = 'open' AND exception_id NOT IN (
    SELECT exception_id FROM (
        SELECT exception_id, row_number() OVER (PARTITION BY kind ORDER BY exception_id) AS n
        FROM exceptions WHERE status = 'open')
    WHERE n <= $per_kind)
"""


def measure_sensing(path: Path, runs: int) -> dict[str, Any]:
    """Size of the record and the best ``sense()`` time over it."""
    from record.sensing import sense
    from record.store import Store

    with Store(path, read_only=True) as store:
        best, cases = float("inf"), []
        for _ in range(runs):
            started = time.perf_counter()
            cases = sense(store)
            best = min(best, time.perf_counter() - started)
        size = store.row(
            "SELECT (SELECT count(*) FROM units) AS units,"
            " (SELECT count(*) FROM sensor_readings) AS readings,"
            " (SELECT count(*) FROM shipments) AS shipments"
        )
    return {**(size or {}), "sense_s": best, "exceptions": len(cases)}


def _keep_sample(path: Path, per_kind: int) -> None:
    from record import sensing
    from record.store import Store

    with Store(path) as store:
        sensing.record_exceptions(store, sensing.sense(store))  # at the network's "now"
        if per_kind:
            store.execute(_RESOLVE_OUTSIDE_SAMPLE, {"per_kind": per_kind})


def _triage_once(template: Path, folder: Path, per_kind: int) -> dict[str, Any]:
    from agent.service import run_triage

    work = working_copy(template, folder, "growth")
    _keep_sample(work, per_kind)
    rt, meter = open_runtime(work, brain="rules"), Meter()
    with instrument(rt, meter):
        started, cpu = time.perf_counter(), cpu_seconds()
        summary = run_triage(rt, "rules")
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    close_runtime(rt)
    return {"triaged": summary["exceptions"], "triage_s": seconds, "triage_cpu_s": cpu,
            "triage_sense_node_s": meter.nodes.get("sense", 0.0)}  # fmt: skip


def measure_triage(
    template: Path, folder: Path, per_kind: int, total: int, repeats: int
) -> dict[str, Any]:
    """``run_triage`` on the sample (best of ``repeats`` fresh copies); the full run projected."""
    runs = [_triage_once(template, folder, per_kind) for _ in range(max(1, repeats))]
    best = min(runs, key=lambda r: r["triage_s"])
    each = (best["triage_s"] - best["triage_sense_node_s"]) / max(best["triaged"], 1)
    return {
        **best,
        "triage_runs_s": [round(r["triage_s"], 2) for r in runs],
        "triage_ms_per_exception": 1000 * each,
        "triage_full_s": best["triage_s"] + each * max(total - best["triaged"], 0),
        "triage_full_projected": total > best["triaged"],
    }


def chart(rows: dict[str, dict[str, Any]], out: Path) -> None:
    """Seconds against units, log-log: sensing, the triage sample, the projected full triage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    units = [r["units"] for r in rows.values()]
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=100)
    series = (
        ("sense_s", "sensing, whole record", "o-"),
        ("triage_s", "triage of the fixed sample (incl. sensing)", "s-"),
        ("triage_full_s", "triage of every exception (projected beyond scale 1)", "^--"),
    )
    for key, label, style in series:
        ax.plot(units, [r[key] for r in rows.values()], style, label=label)
    for scale, r in rows.items():
        ax.annotate(f"scale {scale}\n{r['exceptions']} exc.", (r["units"], r["triage_full_s"]),
                    textcoords="offset points", xytext=(4, 6), fontsize=8)  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="serialized units in the record",
           ylabel="seconds", title="Proofline: cost against the size of the record")  # fmt: skip
    ax.set_xlim(min(units) / 1.5, max(units) * 2.2)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def _report(rows: dict[str, dict[str, Any]], info: dict[str, Any]) -> None:
    base = next(iter(rows.values()))
    console.print(f"cost growth — {describe(info)}")
    print_table(
        "Sensing and triage against the size of the record (x = multiple of the smallest scale)",
        ["scale", "units", "x", "exceptions", "sense s", "x", "triaged", "triage s (CPU)",
         "ms/exception", "x", "all exceptions s"],
        [
            [s, f"{r['units']:,}", f"{r['units'] / base['units']:.1f}", r["exceptions"],
             f"{r['sense_s']:.2f}", f"{r['sense_s'] / base['sense_s']:.1f}", r["triaged"],
             f"{r['triage_s']:.1f} ({r['triage_cpu_s']:.1f})", f"{r['triage_ms_per_exception']:.0f}",
             f"{r['triage_ms_per_exception'] / base['triage_ms_per_exception']:.1f}",
             f"{r['triage_full_s']:.0f}" + (" (projected)" if r["triage_full_projected"] else "")]
            for s, r in rows.items()
        ],
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure every scale, print the table, draw the chart and append the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 5.0, 20.0])
    parser.add_argument("--per-kind", type=int, default=3, help="open exceptions per kind (0: all)")
    parser.add_argument("--runs", type=int, default=3, help="sense() runs per scale (best of)")
    parser.add_argument("--repeats", type=int, default=2, help="triage runs per scale (best of)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="folder of seeded networks")
    parser.add_argument("--chart", type=Path, default=CHART, help="PNG to draw")
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="proofline-growth-") as tmp:
        for scale in sorted(args.scales):
            template, seeded_s = network(scale, args.cache)
            row = {"seed_s": seeded_s, **measure_sensing(template, args.runs)}
            row |= measure_triage(
                template, Path(tmp), args.per_kind, row["exceptions"], args.repeats
            )
            rows[f"{scale:g}"] = row
    info = machine()
    _report(rows, info)
    chart(rows, args.chart)
    console.print(f"chart: {args.chart}")
    record = {"per_kind": args.per_kind, "scales": rows, "chart": args.chart.name, "machine": info}
    save("growth", record)
    return record


if __name__ == "__main__":
    main()
