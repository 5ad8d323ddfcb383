"""``proofline demo``: seed the demo network if needed, run a full triage with the rules brain,
and show what a shift lead wants to see."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from agent import service
from agent._cli_common import DbOption, console
from agent.cli_agent import runtime_for
from record import audit, synth

__all__ = ["demo"]

_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def demo(db: DbOption = None) -> None:
    """Seed the demo network if the database is empty, triage it, and report."""
    started = time.perf_counter()
    rt = runtime_for(db, "rules")
    if not rt.store.scalar("SELECT count(*) FROM shipments"):
        console.print(f"[bold]Seeding the demo network into {rt.store.path}[/] (scale 1, seed 7)…")
        summary = synth.generate(rt.store, scale=1.0, seed=7)
        console.print(
            f"  {summary.shipments} shipments, {summary.units:,} serialized units, "
            f"{summary.readings:,} temperature readings, {len(summary.injected)} exception kinds injected"
        )
        rt = runtime_for(db, "rules")  # the clock follows the seeded network
    console.print(
        f"[bold]Triage[/] with the rules brain at {rt.clock.now():%Y-%m-%d %H:%M} UTC (network time)…"
    )
    run = service.run_triage(rt, "rules")
    details = service.triage_details(rt, run["run_id"])
    _exceptions(details)
    _approvals(rt)
    _messages(rt)
    status = audit.verify(rt.store)
    console.print(f"[{'green' if status.ok else 'bold red'}]{status.describe()}[/]")
    console.print(
        f"{run['exceptions']} exceptions: {run['done']} actions taken, {run['queued']} "
        f"waiting for approval, {run['refused']} refused — in {time.perf_counter() - started:.1f} s"
    )


def _exceptions(details: dict[str, Any]) -> None:
    """Per kind: why the policy acts, then each exception with its evidence and what was done."""
    outcomes: dict[str, list[str]] = defaultdict(list)
    for o in details.get("outcomes", []):
        mark = {
            "done": "[green]✓[/]",
            "queued": "[yellow]⏸ approval[/]",
            "refused": "[red]✗[/]",
            "failed": "[red]✗[/]",
        }[o["status"]]
        outcomes[o["exception_id"]].append(f"{mark} {o['tool']}")
    why = {p["exception_id"]: p["why"].split(": ", 1)[-1] for p in details.get("plans", [])}
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in details.get("cases", []):
        by_kind[case["kind"]].append(case)
    console.rule("Exceptions by kind, and what was done")
    for kind in sorted(by_kind):
        cases = sorted(by_kind[kind], key=lambda c: _ORDER[c["severity"]])
        console.print(
            f"[bold]{kind}[/] ({len(cases)}) — [dim]{why.get(cases[0]['exception_id'], '')}[/]"
        )
        for case in cases:
            acted = ", ".join(outcomes.get(case["exception_id"], [])) or "nothing"
            console.print(
                f"  {case['severity']:<8} {case.get('shipment_id') or case['subject']:<9} {acted}"
            )
            console.print(f"           [dim]{_brief(case['evidence'])}[/]", highlight=False)


def _brief(evidence: dict[str, Any], items: int = 4) -> str:
    parts = []
    for key, value in evidence.items():
        if isinstance(value, list | dict):
            value = f"{len(value)} items"
        parts.append(f"{key}={value}")
        if len(parts) == items:
            break
    return "; ".join(parts)


def _approvals(rt: Any) -> None:
    rows = rt.store.rows(
        "SELECT approval_id, tool, args, reason FROM approvals WHERE status = 'pending' ORDER BY created_at"
    )
    console.rule(
        f"Waiting for approval ({len(rows)}): proofline approve ID | proofline reject ID --reason …"
    )
    for r in rows:
        args = json.loads(r["args"])
        target = args.get("depot_id") or args.get("new_asset_id") or args.get("template") or ""
        console.print(f"  {r['approval_id']}  {r['tool']} {args.get('shipment_id', '')} → {target}")
        console.print(f"      [dim]{(r['reason'] or '').split(' — ')[-1]}[/]")


def _messages(rt: Any) -> None:
    rows = rt.store.rows(
        "SELECT shipment_id, channel, address, template, status FROM messages ORDER BY created_at"
    )
    console.rule(f"Customer messages ({len(rows)})")
    for r in rows:
        console.print(
            f"  {r['shipment_id']:<9} {r['template']:<20} {r['channel']:<5} {r['status']:<6} to contact on file"
        )
