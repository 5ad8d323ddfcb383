"""Benchmark: LLM calls and tokens per exception (target: the hybrid makes 10x fewer calls).

Starts a local OpenAI-compatible stub (``bench/_stub_llm.py``: scripted tool calls, usage
estimated as characters / 4) and takes the seeded scale-1 network (reused from
``/tmp/proofline-bench``), with ``--novel`` exceptions added to its ``exceptions`` table of a
kind the decision table has no rule for (``packaging_damage``: a carrier's note about a crushed,
wet outer case), so that some cases need judgement. On two copies of that record it runs:

(a) the hybrid design: ``run_triage`` with ``brain="llm"`` pointed at the stub — the rules decide
    every case they fit, and the model is asked only about the others;
(b) the baseline: a plain tool-calling loop that asks the model about every open exception —
    the same triage prompt, the same tools bound (``langchain-openai``), each tool call through
    the guard and ``call_tool``, its result fed back, until the model stops calling tools.

It reports LLM calls and tokens per exception handled for both. The ratio depends on how many
cases no rule fits: (b) makes about 2 calls per exception, (a) one per novel exception. Figures
are printed and appended as JSON to ``bench/results/llm_economy-<timestamp>.json``.

    .venv/bin/python bench/llm_economy.py
    .venv/bin/python bench/llm_economy.py --novel 0     # the hybrid then makes no call at all
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    CACHE,
    carry_out,
    close_runtime,
    console,
    describe,
    machine,
    network,
    open_runtime,
    print_table,
    save,
    working_copy,
)
from bench._stub_llm import StubLLM  # noqa: E402

TARGET_RATIO = 10.0
NOVEL_KIND = "packaging_damage"
NOTE = "Outer case crushed and wet on arrival at the cross-dock; inner cartons look dry"


def add_novel(path: Path, count: int) -> list[str]:
    """Open ``count`` exceptions of a kind the decision table lacks, on in-transit shipments."""
    from record.sensing import exception_id
    from record.store import Store

    with Store(path) as store:
        now = store.get_meta("network_now")
        ships = store.execute(
            "SELECT shipment_id FROM shipments WHERE status = 'in_transit'"
            " ORDER BY hash(shipment_id, 'novel') LIMIT ?",
            [count],
        ).fetchall()
        rows = [
            (exception_id(NOVEL_KIND, sid), NOVEL_KIND, "medium", sid, sid, now,
             json.dumps({"carrier_note": NOTE, "reported_by": "carrier"}), now)
            for (sid,) in ships
        ]  # fmt: skip
        with store.transaction() as cur:
            cur.executemany(
                "INSERT INTO exceptions (exception_id, kind, severity, subject, shipment_id,"
                " detected_at, evidence, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
                rows,
            )
    return [r[0] for r in rows]


def _runtime(path: Path, url: str) -> Any:
    return open_runtime(path, brain="llm", llm_base_url=url, llm_model="stub", llm_max_retries=0)


def run_hybrid(path: Path, stub: StubLLM) -> dict[str, Any]:
    """(a) ``run_triage`` with the LLM brain: the model only where no rule fits."""
    from agent.service import run_triage

    rt = _runtime(path, stub.base_url)
    stub.reset()
    started = time.perf_counter()
    summary = run_triage(rt, "llm")
    seconds = time.perf_counter() - started
    close_runtime(rt)
    usage = summary.get("usage", {})
    return {
        "exceptions": summary["exceptions"],
        "calls": usage.get("calls", 0),
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "stub": stub.reset(),
        "seconds": seconds,
        "actions": summary["actions"],
    }


def _ask_until_done(rt: Any, model: Any, case: dict[str, Any], usage: Counter[str]) -> None:
    """The plain tool-calling loop for one exception."""
    from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

    from agent.brains.base import Proposal
    from agent.prompts import load_prompt, untrusted

    ctx, eid = rt.context("agent:llm-loop", "automation"), case["exception_id"]
    messages: list[Any] = [
        SystemMessage(load_prompt("triage").text),
        HumanMessage(untrusted("exception", json.dumps(case, default=str))),
    ]
    for step in range(rt.settings.llm_max_steps):
        reply = model.invoke(messages)
        meta = reply.usage_metadata or {}
        usage.update(calls=1, prompt_tokens=meta.get("input_tokens", 0),
                     completion_tokens=meta.get("output_tokens", 0))  # fmt: skip
        messages.append(reply)
        if not reply.tool_calls:
            return
        for call in reply.tool_calls:
            proposal = Proposal(call["name"], dict(call["args"]), "proposed by the model", eid)
            status, detail = carry_out(rt, ctx, proposal, key=f"loop:{eid}:{step}", origin="loop")
            usage[f"{call['name']}:{status}"] += 1
            text = untrusted(f"tool:{call['name']}", f"{status}: {detail}")
            messages.append(ToolMessage(text, tool_call_id=call["id"] or ""))


def run_plain_loop(path: Path, stub: StubLLM) -> dict[str, Any]:
    """(b) Ask the model about every open exception, looping until it stops calling tools."""
    from langchain_openai import ChatOpenAI

    from agent.brains.llm import openai_tool_schemas
    from agent.graphs._triage_nodes import TriageNodes

    rt = _runtime(path, stub.base_url)
    settings = rt.settings
    model = ChatOpenAI(
        model=settings.llm_model, base_url=settings.llm_base_url, api_key=settings.llm_api_key,
        timeout=settings.llm_timeout_s, max_retries=0,
    ).bind_tools(openai_tool_schemas("automation"))  # fmt: skip
    stub.reset()
    started = time.perf_counter()
    cases = TriageNodes(rt).sense({"run_id": "loop", "brain": "llm"})["cases"]
    usage: Counter[str] = Counter()
    for case in cases:
        _ask_until_done(rt, model, case, usage)
    seconds = time.perf_counter() - started
    close_runtime(rt)
    counts = {k: usage.pop(k, 0) for k in ("calls", "prompt_tokens", "completion_tokens")}
    return {"exceptions": len(cases), **counts, "stub": stub.reset(), "seconds": seconds,
            "actions": dict(usage)}  # fmt: skip


def _per(run: dict[str, Any], field: str) -> float:
    return run[field] / max(run["exceptions"], 1)


def _ratio(loop: float, hybrid: float) -> float | None:
    return round(loop / hybrid, 1) if hybrid else None


def _report(r: dict[str, Any]) -> None:
    hybrid, loop = r["hybrid"], r["loop"]
    console.print(
        f"LLM economy on the scale-1 network with {r['novel']} exceptions no rule fits, "
        f"against a local stub — {describe(r['machine'])}"
    )
    rows = [["hybrid: rules first, model only when unsure", hybrid],
            ["baseline: model asked about every exception", loop]]  # fmt: skip
    print_table(
        "LLM calls and tokens per exception handled",
        ["design", "exceptions", "LLM calls", "calls/exc", "prompt tok", "completion tok",
         "tokens/exc", "seconds"],
        [
            [name, x["exceptions"], x["calls"], f"{_per(x, 'calls'):.3f}", x["prompt_tokens"],
             x["completion_tokens"],
             f"{(x['prompt_tokens'] + x['completion_tokens']) / max(x['exceptions'], 1):.0f}",
             f"{x['seconds']:.1f}"]
            for name, x in rows
        ],
    )  # fmt: skip
    ratio = r["calls_ratio"]
    verdict = "met" if r["within_target"] else "MISSED"
    shown = "∞ (the hybrid made no call)" if ratio is None else f"{ratio}x"
    console.print(
        f"the baseline makes {shown} the hybrid's LLM calls and {r['tokens_ratio'] or '∞'}x its "
        f"tokens (target {TARGET_RATIO:.0f}x fewer calls: {verdict}); the stub counted "
        f"{hybrid['stub']['requests']} and {loop['stub']['requests']} requests. The ratio "
        f"follows the share of cases no rule fits ({r['novel']} of {hybrid['exceptions']})."
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Prepare the record, run both designs against the stub, print and append the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="network scale")
    parser.add_argument("--novel", type=int, default=3, help="exceptions no rule fits")
    parser.add_argument("--cache", type=Path, default=CACHE, help="folder of seeded networks")
    args = parser.parse_args(argv)
    template, _ = network(args.scale, args.cache)
    with tempfile.TemporaryDirectory(prefix="proofline-llm-") as tmp, StubLLM() as stub:
        hybrid_db = working_copy(template, Path(tmp), "hybrid")
        add_novel(hybrid_db, args.novel)
        loop_db = working_copy(hybrid_db, Path(tmp), "loop")
        hybrid = run_hybrid(hybrid_db, stub)
        loop = run_plain_loop(loop_db, stub)
    ratio = _ratio(loop["calls"], hybrid["calls"])
    tokens = _ratio(
        loop["prompt_tokens"] + loop["completion_tokens"],
        hybrid["prompt_tokens"] + hybrid["completion_tokens"],
    )
    record = {
        "scale": args.scale, "novel": args.novel, "hybrid": hybrid, "loop": loop,
        "hybrid_calls_per_exception": round(_per(hybrid, "calls"), 4),
        "loop_calls_per_exception": round(_per(loop, "calls"), 4),
        "calls_ratio": ratio, "tokens_ratio": tokens, "target_ratio": TARGET_RATIO,
        "within_target": ratio is None or ratio >= TARGET_RATIO, "machine": machine(),
    }  # fmt: skip
    _report(record)
    save("llm_economy", record)
    return record


if __name__ == "__main__":
    main()
