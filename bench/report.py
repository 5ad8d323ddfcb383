"""Write ``bench/RESULTS.md`` from the newest results file of each benchmark in ``bench/results/``.

Each benchmark gets a line in the summary (figure, target, met or missed, when) and a short
section; the cost-growth chart ``bench/growth.png`` is embedded. A benchmark without results is
listed as not run; one this script does not know (e.g. a new ``server_load``) is shown by its
scalar fields and any target verdicts it records.

    .venv/bin/python bench/report.py [--elapsed-s 412]   # make bench passes its wall time
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import RESULTS, ROOT, describe, machine  # noqa: E402

OUT = ROOT / "bench" / "RESULTS.md"
KNOWN = ("sense", "gate", "recall", "triage", "llm_economy", "server_load", "growth")
_VERDICT = re.compile(r"([-\d.]+)\s*(<=|>=)\s*([-\d.]+)\s*->\s*(\w+)")
Row = list[str]


def newest(name: str, folder: Path = RESULTS) -> tuple[Path, dict[str, Any]] | None:
    """The newest results file of ``name`` and its record (the last JSON object in it)."""
    files = sorted(folder.glob(f"{name}-*.json"))
    for path in reversed(files):
        text = path.read_text(encoding="utf-8").strip()
        try:
            return path, json.loads(text)
        except json.JSONDecodeError:
            lines = [ln for ln in text.splitlines() if ln.strip()]
            try:
                return path, json.loads(lines[-1])
            except (json.JSONDecodeError, IndexError):
                continue
    return None


def _when(path: Path) -> str:
    stamp = _stamp(path)
    return stamp.strftime("%Y-%m-%d %H:%M UTC") if stamp.year > 1 else path.stem


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def _table(headers: list[str], rows: list[Row]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -- one renderer per benchmark: (summary rows [figure, value, target, verdict], details) ---


def _sense(r: dict[str, Any]) -> tuple[list[Row], str]:
    labels = {"sense_s_at_20": "sensing at scale 20 (s)", "ratio_at_20": "× per-row baseline at 20",
              "pallet_ms": "check_units, 10,000-unit pallet (ms)", "seed_s_at_20": "seeding scale 20 (s)"}  # fmt: skip
    summary = []
    for name, text in r.get("targets", {}).items():
        m = _VERDICT.search(str(text))
        value, op, target, verdict = m.groups() if m else (str(text), "", "", "")
        summary.append([labels.get(name, name), value, f"{op} {target}", _met(verdict == "met")])
    rows = [
        [s, f"{x.get('units', 0):,}", f"{x.get('seed_s', 0):.1f}", f"{x.get('sense_s', 0):.3f}",
         f"{x['baseline_s']:.2f}" if x.get("baseline_s") else "—",
         f"{x['ratio_same_kinds']:.0f}×" + (" (est.)" if x.get("baseline_estimated") else "")
         if x.get("ratio_same_kinds") else "—", x.get("cases", "—")]
        for s, x in r.get("scales", {}).items()
    ]  # fmt: skip
    detail = _table(["scale", "units", "seed s", "sense s", "per-row baseline s (4 kinds)",
                     "× (same kinds)", "exceptions"], rows)  # fmt: skip
    return summary, detail + f"\n\n10,000-unit pallet: {r.get('pallet_ms', 0):.1f} ms median."


def _gate(r: dict[str, Any]) -> tuple[list[Row], str]:
    summary = [["release gate on a full pallet (ms, median)", f"{r['gate_median_ms']:.1f}",
                f"<= {r['target_ms']:.0f}", _met(r.get("within_target"))]]  # fmt: skip
    detail = (
        f"`verify_shipment` via `call_tool` on {r['units']:,} units in {r['containers']} "
        f"containers: median {r['gate_median_ms']:.1f} ms; Python loop over fetched rows "
        f"{r['baseline_median_ms']:.1f} ms ({r['speedup']}× the gate)."
    )
    return summary, detail


def _recall(r: dict[str, Any]) -> tuple[list[Row], str]:
    summary = [["recall_impact at scale 20 (ms, worst lot median)", f"{r['worst_median_ms']:.1f}",
                f"<= {r['target_ms']:.0f}", _met(r["worst_median_ms"] <= r["target_ms"])]]  # fmt: skip
    rows = [[f"{x['gtin']} {x['lot']}", x["units"], x["shipments"], x["median_ms"],
             x["baseline_ms"], f"{x['speedup']}×", "yes" if x["agrees_with_baseline"] else "NO"]
            for x in r.get("lots", [])]  # fmt: skip
    head = f"On {r['units']:,} units.\n\n"
    return summary, head + _table(
        ["lot", "units", "shipments", "ms (median)", "baseline ms", "×", "agrees"], rows
    )


def _triage(r: dict[str, Any]) -> tuple[list[Row], str]:
    c, g = r["comparison"], r["graph"]
    summary = [["triage throughput, rules brain (exceptions/s)", f"{r['per_s']:.1f}",
                f">= {r['target_per_s']:.0f}", _met(r["within_target"])]]  # fmt: skip
    nodes = ", ".join(f"{n} {s:.1f} s" for n, s in g["nodes"].items())
    kinds = sorted(g["per_kind"].items(), key=lambda kv: -kv[1]["seconds"])
    rows = [[k, v["exceptions"], f"{v['seconds']:.1f}",
             f"{1000 * v['seconds'] / v['exceptions']:.0f}" if v["exceptions"] else "—"]
            for k, v in kinds]  # fmt: skip
    detail = (
        f"`run_triage` on the scale-{r['scale']:g} network patched to {r['exceptions']} "
        f"exceptions: {r['seconds']:.1f} s wall ({g['cpu_seconds']:.1f} s CPU), {r['per_s']:.1f} "
        f"exceptions/s. Nodes: {nodes}. Baseline (a loop without the graph, 1 exception in "
        f"{r['loop']['every']}): {c['loop_ms_per_exception']} ms per exception against the "
        f"graph's {c['graph_ms_per_exception']} ms (graph/loop {c['graph_over_loop']} in wall time, "
        f"{c.get('graph_over_loop_cpu', '—')} in CPU time; on the very same exceptions decide + "
        f"guard + act took {c.get('same_cases_graph_ms', '—')} ms each in the graph and "
        f"{c.get('same_cases_loop_ms', '—')} ms in the loop); outcomes "
        f"{'agree' if c['outcomes_agree'] else 'differ: ' + json.dumps(c['differences'])}. "
        f"Audit: {g['audit_entries']} entries, chain {'intact' if g['audit_chain_ok'] else 'BROKEN'}."
        f" Slowest tool calls in the act node: {_slowest(g.get('per_tool', {}))}."
        "\n\n" + _table(["kind", "exceptions", "seconds", "ms/exception"], rows)
    )
    return summary, detail


def _slowest(tools: dict[str, dict[str, float]], top: int = 4) -> str:
    ranked = sorted(tools.items(), key=lambda kv: -kv[1]["seconds"])[:top]
    return (
        ", ".join(
            f"{k} {v['calls']}× {1000 * v['seconds'] / max(v['calls'], 1):.0f} ms"
            for k, v in ranked
        )
        or "—"
    )


def _llm(r: dict[str, Any]) -> tuple[list[Row], str]:
    ratio = r["calls_ratio"]
    summary = [["LLM calls, plain loop ÷ hybrid", "∞" if ratio is None else f"{ratio}×",
                f">= {r['target_ratio']:.0f}×", _met(r["within_target"])]]  # fmt: skip
    rows = [[name, x["exceptions"], x["calls"], f"{x['calls'] / max(x['exceptions'], 1):.3f}",
             x["prompt_tokens"] + x["completion_tokens"]]
            for name, x in (("hybrid (rules first)", r["hybrid"]), ("plain tool loop", r["loop"]))]  # fmt: skip
    detail = (
        f"Against a local OpenAI-compatible stub, on the scale-{r['scale']:g} network with "
        f"{r['novel']} exceptions of a kind no rule covers (tokens estimated as characters/4).\n\n"
        + _table(["design", "exceptions", "LLM calls", "calls/exception", "tokens"], rows)
    )
    return summary, detail


def _growth(r: dict[str, Any]) -> tuple[list[Row], str]:
    scales = r["scales"]
    joined = lambda key, fmt: " / ".join(fmt.format(x[key]) for x in scales.values())  # noqa: E731
    label = "/".join(scales)
    summary = [
        [f"sensing at scales {label} (s)", joined("sense_s", "{:.2f}"), "—", "—"],
        [f"triage per exception at scales {label} (ms)",
         joined("triage_ms_per_exception", "{:.0f}"), "—", "—"],
    ]  # fmt: skip
    rows = [[s, f"{x['units']:,}", x["exceptions"], f"{x['sense_s']:.2f}", x["triaged"],
             f"{x['triage_s']:.1f}" + (f" ({x['triage_cpu_s']:.1f})" if "triage_cpu_s" in x else ""),
             f"{x['triage_ms_per_exception']:.0f}",
             f"{x['triage_full_s']:.0f}" + (" (projected)" if x["triage_full_projected"] else "")]
            for s, x in scales.items()]  # fmt: skip
    detail = (
        f"Triage runs on a fixed sample of {r['per_kind']} open exceptions per kind at every "
        "scale (sensing inside the run still covers the whole record); the full run is projected "
        "from the per-exception cost.\n\n"
        + _table(
            [
                "scale",
                "units",
                "exceptions",
                "sense s",
                "triaged",
                "triage s (CPU s)",
                "ms/exception",
                "all exceptions s",
            ],
            rows,
        )  # fmt: skip
        + f"\n\n![cost growth]({r.get('chart', 'growth.png')})"
    )
    return summary, detail


def _generic(r: dict[str, Any]) -> tuple[list[Row], str]:
    summary = []
    for name, text in (r.get("targets") or {}).items():
        m = _VERDICT.search(str(text))
        if m:
            summary.append(
                [name, m.group(1), f"{m.group(2)} {m.group(3)}", _met(m.group(4) == "met")]
            )
    if "within_target" in r and not summary:
        summary.append(["(recorded verdict)", "", "", _met(bool(r["within_target"]))])
    scalars = [[k, v] for k, v in r.items() if isinstance(v, int | float | str) and k != "at"]
    return summary, _table(["field", "value"], scalars)


RENDER: dict[str, Callable[[dict[str, Any]], tuple[list[Row], str]]] = {
    "sense": _sense, "gate": _gate, "recall": _recall, "triage": _triage,
    "llm_economy": _llm, "growth": _growth,
}  # fmt: skip


def _section(
    name: str, path: Path, record: dict[str, Any], since: datetime | None
) -> tuple[list[Row], str]:
    when = _when(path)
    if since is not None and _stamp(path) < since:
        when += " (an earlier run)"
    try:
        rows, detail = RENDER.get(name, _generic)(record)
    except (KeyError, TypeError, ValueError) as exc:  # a changed format: say so, go on
        rows, detail = [], f"(could not read {path.name}: {type(exc).__name__} {exc})"
    rows = [[name, *row, when] for row in rows] or [[name, "see below", "", "", "", when]]
    return rows, f"## {name}\n\nFrom `{path.relative_to(ROOT)}` ({when}).\n\n{detail}"


def _stamp(path: Path) -> datetime:
    try:
        return datetime.strptime(path.stem.rsplit("-", 1)[-1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def build(elapsed_s: float | None = None, folder: Path = RESULTS) -> str:
    """The Markdown of RESULTS.md; results older than ``elapsed_s`` are marked as earlier."""
    since = datetime.now(UTC) - timedelta(seconds=elapsed_s + 5) if elapsed_s else None
    names = list(KNOWN) + sorted(
        {p.stem.rsplit("-", 1)[0] for p in folder.glob("*-*.json")} - set(KNOWN)
    )
    summary: list[Row] = []
    sections: list[str] = []
    for name in names:
        found = newest(name, folder)
        if found is None:
            summary.append([name, "not run", "", "", "", ""])
            continue
        rows, section = _section(name, *found, since)
        summary += rows
        sections.append(section)
    return _document(summary, sections, elapsed_s)


def _document(summary: list[Row], sections: list[str], elapsed_s: float | None) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    took = f" `make bench` took {elapsed_s:.0f} s up to this report." if elapsed_s else ""
    head = [
        "# Benchmark results",
        "",
        f"Generated {now} by `bench/report.py` from the newest file of each benchmark in "
        f"`bench/results/`.{took} Machine: {describe(machine())}. The machine is shared: wall "
        "times include waiting for the CPU (the load average is recorded with each result).",
        "",
        _table(["benchmark", "figure", "value", "target", "verdict", "measured"], summary),
    ]
    return "\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--elapsed-s", type=float, help="wall time of make bench so far")
    parser.add_argument("--out", type=Path, default=OUT, help="Markdown file to write")
    args = parser.parse_args(argv)
    args.out.write_text(build(args.elapsed_s), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
