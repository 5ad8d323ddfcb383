"""Benchmark: triage throughput with the rules brain (target: 200 exceptions/s, audit included).

Takes the seeded scale-5 network (reused from ``/tmp/proofline-bench``, seeded once), copies it,
and patches the copy with SQL so that sensing finds at least ``--min-exceptions`` (500): late
ETAs, missing transaction statements, ePODs missing on delivered shipments and a few recalled
lots, on top of the injected cases of every kind. Then it times ``agent.service.run_triage``
end to end (sense, decide, guard, act or queue, audit, summary, message delivery), with each
graph node timed, and the time each exception kind costs across decide, guard and act.

The baseline, on a second copy of the same patched record, is the loop a script would write
without the graph: sense once, then for each exception ask the rules brain, pass each proposal
through the guard and run it through ``call_tool`` (one transaction per tool call, with its audit
entry) or queue it — no LangGraph, no checkpoints. To keep the run short it handles one exception
in ``--baseline-every`` (4), taken in the graph's order so the mix of kinds is kept; the two are
compared per exception after sensing, and on the very same exceptions, and their outcomes on those
exceptions are compared (the loop acts before it decides the next case, so a later case can see
an earlier one's effect; the graph decides every case first). The ratio shows what the graph's
orchestration and checkpoints cost over the work itself. Figures are printed and appended as JSON
to ``bench/results/triage-<timestamp>.json``.

    .venv/bin/python bench/triage.py
    .venv/bin/python bench/triage.py --scale 1 --min-exceptions 0   # quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    CACHE,
    carry_out,
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

TARGET_PER_S = 200.0
OPEN = "('planned', 'released', 'in_transit', 'held')"
PATCHES = (
    # late_risk: the ETA is three hours past the promised window on a third of open shipments
    f"UPDATE shipments SET eta = promised_end + INTERVAL 3 HOUR WHERE status IN {OPEN}"
    " AND promised_end IS NOT NULL AND hash(shipment_id, 'late') % 3 = 0",
    # data_missing: no transaction statement on a third of the shipments not yet moving
    "UPDATE shipments SET ts_attested = false WHERE status IN ('planned', 'released')"
    " AND hash(shipment_id, 'ts') % 3 = 0",
    # custody_gap: a fifth of the delivered shipments lose their ePOD
    "DELETE FROM epod WHERE shipment_id IN (SELECT shipment_id FROM shipments"
    " WHERE status = 'delivered' AND hash(shipment_id, 'epod') % 5 = 0)",
    # expired_or_recalled: three lots carried by open shipments are recalled
    "UPDATE lots SET status = 'recalled' WHERE (gtin, lot) IN (SELECT (gtin, lot) FROM"
    f" (SELECT DISTINCT u.gtin, u.lot FROM shipment_units u JOIN shipments s USING (shipment_id)"
    f" WHERE s.status IN {OPEN}) ORDER BY hash(gtin, lot) LIMIT 3)",
)


# -- the workload ---------------------------------------------------------------------------


def prepare(template: Path, folder: Path, minimum: int) -> tuple[Path, Counter[str]]:
    """Copy the network, patch it, and check that sensing finds at least ``minimum`` cases."""
    from record.sensing import sense
    from record.store import Store

    path = working_copy(template, folder, "patched")
    with Store(path) as store:
        with store.transaction() as cur:
            for sql in PATCHES:
                cur.execute(sql)
        kinds = Counter(case.kind for case in sense(store))
    if sum(kinds.values()) < minimum:
        raise SystemExit(f"the patched record has {sum(kinds.values())} exceptions, not {minimum}")
    return path, kinds


# -- instrumentation ------------------------------------------------------------------------


@contextmanager
def _wrapped(owner: Any, name: str, around: Callable[..., Any]) -> Iterator[None]:
    """Replace ``owner.name`` by ``around(original)`` for the duration of the block."""
    original = getattr(owner, name)
    setattr(owner, name, around(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


class Meter:
    """Seconds per graph node, and per exception across decide, guard and act."""

    def __init__(self) -> None:
        self.nodes: dict[str, float] = {}
        self.nodes_cpu: dict[str, float] = {}
        self.per_exception: dict[str, float] = defaultdict(float)
        self.per_tool: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def node(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Wrap a node method so its seconds go to ``name``."""

        def around(fn: Callable[..., Any]) -> Callable[..., Any]:
            def timed_node(nodes: Any, state: Any) -> Any:
                started, cpu = time.perf_counter(), cpu_seconds()
                try:
                    return fn(nodes, state)
                finally:
                    self.nodes[name] = self.nodes.get(name, 0.0) + time.perf_counter() - started
                    self.nodes_cpu[name] = self.nodes_cpu.get(name, 0.0) + cpu_seconds() - cpu

            return timed_node

        return around

    def charge(self, key: Callable[..., str | None]) -> Callable[[Callable[..., Any]], Any]:
        """Wrap a callable so its seconds go to the exception ``key(*args, **kwargs)`` names."""

        def around(fn: Callable[..., Any]) -> Callable[..., Any]:
            def charged(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.per_exception[key(*args, **kwargs) or "(none)"] += (
                        time.perf_counter() - started
                    )

            return charged

        return around

    def tool(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``call_tool`` so its calls and seconds are counted per tool."""

        def counted(ctx: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(ctx, name, *args, **kwargs)
            finally:
                self.per_tool[name][0] += 1
                self.per_tool[name][1] += time.perf_counter() - started

        return counted


def _tool_exception(ctx: Any, name: str, args: Any, **_: Any) -> str | None:
    return args.get("exception_id") if isinstance(args, dict) else None


def _proposal_exception(ctx: Any, proposal: Any, **_: Any) -> str | None:
    return proposal.exception_id


@contextmanager
def instrument(rt: Any, meter: Meter) -> Iterator[None]:
    """Time the graph's nodes, and charge brain, guard and tool calls to their exceptions."""
    from agent.graphs import _triage_nodes as nodes_module
    from agent.graphs._triage_nodes import TriageNodes

    with ExitStack() as stack:
        stack.enter_context(
            _wrapped(rt.rules, "decide_case", meter.charge(lambda case, ctx: case["exception_id"]))
        )
        stack.enter_context(_wrapped(rt.guard, "check", meter.charge(_proposal_exception)))
        by_call = meter.charge(_tool_exception)
        stack.enter_context(_wrapped(nodes_module, "call_tool", lambda fn: by_call(meter.tool(fn))))
        stack.enter_context(_wrapped(nodes_module, "queue", meter.charge(_proposal_exception)))
        for name in ("sense", "decide", "guard", "act", "summarize"):
            stack.enter_context(_wrapped(TriageNodes, name, meter.node(name)))
        yield


# -- the two runs ---------------------------------------------------------------------------


def run_graph(path: Path) -> dict[str, Any]:
    """``run_triage`` end to end with the rules brain, nodes and exceptions timed."""
    from agent.service import run_triage, triage_details
    from record import audit

    rt, meter = open_runtime(path, brain="rules"), Meter()
    with instrument(rt, meter):
        cpu0, started = cpu_seconds(), time.perf_counter()
        summary = run_triage(rt, "rules")
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
    kinds = dict(rt.store.execute("SELECT exception_id, kind FROM exceptions").fetchall())
    chain = audit.verify(rt.store)
    outcomes = triage_details(rt, summary["run_id"]).get("outcomes", [])
    close_runtime(rt)
    per_kind: dict[str, dict[str, float]] = defaultdict(lambda: {"exceptions": 0, "seconds": 0.0})
    for eid, seconds in meter.per_exception.items():
        per_kind[kinds.get(eid, "(run)")]["seconds"] += seconds
    for kind, count in summary["by_kind"].items():
        per_kind[kind]["exceptions"] = count
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "exceptions": summary["exceptions"],
        "actions": summary["actions"],
        "nodes": meter.nodes,
        "sense_cpu_seconds": meter.nodes_cpu.get("sense", 0.0),
        "per_kind": dict(per_kind),
        "per_tool": {
            k: {"calls": n, "seconds": round(t, 3)} for k, (n, t) in meter.per_tool.items()
        },
        "audit_entries": chain.entries,
        "audit_chain_ok": chain.ok,
        "outcomes": [(o["exception_id"], f"{o['tool']}:{o['status']}") for o in outcomes],
        "per_exception": dict(meter.per_exception),
    }


def run_loop(path: Path, every: int) -> dict[str, Any]:
    """The baseline: sense once, then decide, guard and act exception by exception.

    With ``every`` > 1 only every ``every``-th exception (in the graph's order: severity, kind,
    subject) is handled, to keep the benchmark short; compare milliseconds per exception.
    """
    from agent.brains.base import Proposal
    from agent.graphs._triage_nodes import TriageNodes
    from agent.service import deliver_messages
    from record import audit

    rt = open_runtime(path, brain="rules")
    ctx, outcomes = rt.context("agent:rules", "automation"), []
    cpu0, started = cpu_seconds(), time.perf_counter()
    cases = TriageNodes(rt).sense({"run_id": "RUN-loop", "brain": "rules"})["cases"][::every]
    sensed, sensed_cpu = time.perf_counter() - started, cpu_seconds() - cpu0
    per_exception: dict[str, float] = {}
    for case in cases:
        eid, began = case["exception_id"], time.perf_counter()
        for i, p in enumerate(rt.rules.decide_case(case, ctx).proposals):
            proposal = Proposal(p.tool, p.args, p.reason, eid)
            status, _ = carry_out(rt, ctx, proposal, key=f"{eid}:{i}", origin="RUN-loop")
            outcomes.append((eid, f"{p.tool}:{status}"))
        per_exception[eid] = time.perf_counter() - began
    result = dict(Counter(o for _, o in outcomes))
    rt.store.write(
        lambda cur: audit.append(
            cur, actor="agent:rules", role="automation", ts=rt.clock.now(),
            action="triage.run", subject="RUN-loop", result=result,
        )
    )  # fmt: skip
    deliver_messages(rt)
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
    close_runtime(rt)
    return {"seconds": wall, "cpu_seconds": cpu, "sense_seconds": sensed,
            "sense_cpu_seconds": sensed_cpu, "every": every, "exceptions": len(cases),
            "actions": result, "outcomes": outcomes, "per_exception": per_exception}  # fmt: skip


# -- report ---------------------------------------------------------------------------------


def _ms_each(run: dict[str, Any], seconds: str, sense_s: float) -> float:
    """Milliseconds per exception after sensing (decide, guard, act, audit, summary, delivery)."""
    return 1000 * (run[seconds] - sense_s) / max(run["exceptions"], 1)


def compare(graph: dict[str, Any], loop: dict[str, Any]) -> dict[str, Any]:
    """The ratio per exception, and whether both reached the same outcomes on the same cases."""
    mine = {eid for eid, _ in loop["outcomes"]}
    ours = Counter(o for eid, o in graph["outcomes"] if eid in mine)
    theirs = Counter(o for _, o in loop["outcomes"])
    graph_ms = _ms_each(graph, "seconds", graph["nodes"].get("sense", 0.0))
    loop_ms = _ms_each(loop, "seconds", loop["sense_seconds"])
    graph_cpu = _ms_each(graph, "cpu_seconds", graph["sense_cpu_seconds"])
    loop_cpu = _ms_each(loop, "cpu_seconds", loop["sense_cpu_seconds"])
    same = loop["per_exception"]
    return {
        "same_cases_graph_ms": round(
            1000 * sum(graph["per_exception"].get(e, 0.0) for e in same) / max(len(same), 1), 1
        ),
        "same_cases_loop_ms": round(1000 * sum(same.values()) / max(len(same), 1), 1),
        "graph_ms_per_exception": round(graph_ms, 1),
        "loop_ms_per_exception": round(loop_ms, 1),
        "graph_over_loop": round(graph_ms / loop_ms, 3),
        "graph_over_loop_cpu": round(graph_cpu / loop_cpu, 3),
        "outcomes_agree": ours == theirs,
        "differences": {
            k: [ours[k], theirs[k]] for k in sorted(set(ours) | set(theirs)) if ours[k] != theirs[k]
        },
    }


def _report(r: dict[str, Any]) -> None:
    graph, loop, c = r["graph"], r["loop"], r["comparison"]
    console.print(
        f"triage with the rules brain on the scale-{r['scale']:g} network patched to "
        f"{graph['exceptions']} exceptions — {describe(r['machine'])}"
    )
    print_table(
        "Triage end to end (sense + decide + guard + act + audit + delivery)",
        ["run", "exceptions", "seconds", "CPU s", "exceptions/s", "ms/exception after sensing"],
        [
            ["run_triage (LangGraph, checkpoints)", graph["exceptions"], f"{graph['seconds']:.1f}",
             f"{graph['cpu_seconds']:.1f}", f"{r['per_s']:.1f}", c["graph_ms_per_exception"]],
            [f"baseline loop, no graph (1 in {loop['every']})", loop["exceptions"],
             f"{loop['seconds']:.1f}", f"{loop['cpu_seconds']:.1f}",
             f"{loop['exceptions'] / loop['seconds']:.1f}", c["loop_ms_per_exception"]],
        ],
    )  # fmt: skip
    stages = {
        **graph["nodes"],
        "outside the nodes": graph["seconds"] - sum(graph["nodes"].values()),
    }
    print_table(
        "Graph nodes (outside: LangGraph, checkpoints, run row, message delivery)",
        ["node", "seconds", "share"],
        [[n, f"{s:.2f}", f"{s / graph['seconds']:.0%}"] for n, s in stages.items()],
    )
    tools = sorted(graph["per_tool"].items(), key=lambda kv: -kv[1]["seconds"])
    print_table(
        "Tool calls in the act node (each its own transaction with its audit entry)",
        ["tool", "calls", "seconds", "ms/call"],
        [[k, v["calls"], f"{v['seconds']:.2f}", f"{1000 * v['seconds'] / v['calls']:.0f}"]
         for k, v in tools],
    )  # fmt: skip
    kinds = sorted(graph["per_kind"].items(), key=lambda kv: -kv[1]["seconds"])
    print_table(
        "Cost per exception kind (decide + guard + act)",
        ["kind", "exceptions", "seconds", "ms/exception"],
        [
            [k, v["exceptions"], f"{v['seconds']:.2f}",
             f"{1000 * v['seconds'] / v['exceptions']:.0f}" if v["exceptions"] else "—"]
            for k, v in kinds
        ],
    )  # fmt: skip
    console.print(
        f"baseline: the same sensing, rules brain, guard and call_tool (one transaction with its "
        f"audit entry per tool call), exception by exception, without LangGraph or checkpoints, "
        f"on a copy of the same patched record; it handles 1 exception in {loop['every']} (in "
        f"the graph's order) to save time, so the comparison is per exception after sensing."
    )
    verdict = "met" if r["within_target"] else "MISSED"
    agree = "agree" if c["outcomes_agree"] else f"differ {json.dumps(c['differences'])}"
    console.print(
        f"throughput {r['per_s']:.1f} exceptions/s (target {TARGET_PER_S:.0f}/s: {verdict}); "
        f"per exception the graph costs {c['graph_over_loop']:.2f}x the baseline loop's wall "
        f"time and {c['graph_over_loop_cpu']:.2f}x its CPU time (= orchestration and "
        f"checkpoints); on the very same exceptions, decide + guard + act took "
        f"{c['same_cases_graph_ms']} ms each in the graph and {c['same_cases_loop_ms']} ms in "
        f"the loop; {graph['audit_entries']} audit entries, chain "
        f"{'intact' if graph['audit_chain_ok'] else 'BROKEN'}; outcomes on the loop's cases "
        f"{agree} (the loop acts before deciding the next case, the graph decides all first)"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Prepare the workload, run the graph and the baseline, print and append the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=5.0, help="network scale to patch")
    parser.add_argument("--min-exceptions", type=int, default=500, help="workload size at least")
    parser.add_argument(
        "--baseline-every", type=int, default=4, help="baseline on 1 exception in N (1: all)"
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="folder of seeded networks")
    args = parser.parse_args(argv)
    template, seeded_s = network(args.scale, args.cache)
    with tempfile.TemporaryDirectory(prefix="proofline-triage-") as tmp:
        patched, kinds = prepare(template, Path(tmp), args.min_exceptions)
        baseline_copy = working_copy(patched, Path(tmp), "loop")
        graph = run_graph(patched)
        loop = run_loop(baseline_copy, max(1, args.baseline_every))
    per_s = graph["exceptions"] / graph["seconds"]
    record = {
        "scale": args.scale, "seed_seconds": round(seeded_s, 1), "sensed_kinds": dict(kinds),
        "exceptions": graph["exceptions"], "seconds": round(graph["seconds"], 2),
        "per_s": round(per_s, 2), "target_per_s": TARGET_PER_S,
        "within_target": per_s >= TARGET_PER_S, "comparison": compare(graph, loop),
        "graph": graph, "loop": loop, "machine": machine(),
    }  # fmt: skip
    _report(record)
    for run in (graph, loop):  # per-exception figures were for the comparison only
        run.pop("outcomes")
        run.pop("per_exception")
    save("triage", record)
    return record


if __name__ == "__main__":
    main()
