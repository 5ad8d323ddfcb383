"""The work of the triage graph's nodes (the graph module only wires them)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from agent.approvals import queue
from agent.brains.base import Brain, Decision, Proposal
from agent.brains.rules import escalation_for
from agent.graphs.state import TriageState
from agent.runtime import Runtime
from record import audit
from record.audit import canonical_json
from tools.base import Role, ToolContext, call_tool
from tools.errors import ToolError

__all__ = ["TriageNodes"]

ACTOR_ROLE: Role = "automation"


class TriageNodes:
    """Bound to a runtime; each method is one node."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def _ctx(self, state: TriageState, brain: Brain | None = None) -> ToolContext:
        return self.rt.context(f"agent:{state['brain']}", ACTOR_ROLE, brain)

    def sense(self, state: TriageState) -> dict[str, Any]:
        """Sense the record, store new exceptions, and load every open one."""
        from record import sensing

        now = self.rt.clock.now()
        sensing.record_exceptions(self.rt.store, sensing.sense(self.rt.store, now=now), now)
        rows = self.rt.store.rows(
            "SELECT * FROM exceptions WHERE status = 'open' ORDER BY"
            " CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,"
            " kind, subject"
        )
        for row in rows:
            row["evidence"] = json.loads(row["evidence"])
        return {"cases": json.loads(canonical_json(rows))}

    def decide(self, state: TriageState) -> dict[str, Any]:
        """Ask the brain about each case: rules first; the model only where no rule fits."""
        brain = self.rt.brain(state["brain"])
        rules_ctx = self._ctx(state)
        plans, usage = [], Counter[str]()
        for case in state["cases"]:
            decision: Decision = self.rt.rules.decide_case(case, rules_ctx)
            if brain is not self.rt.rules and any("needs_judgement" in n for n in decision.notes):
                asked = brain.decide_case(case, self._ctx(state, brain))
                if asked.malformed or not asked.proposals:  # nothing usable from the model
                    decision.notes += [*asked.notes, "the model gave no usable tool call"]
                    decision.usage.add(asked.usage)
                else:
                    decision = asked
                    for p in decision.proposals:  # tie the model's proposals to this exception
                        if "exception_id" in _args_schema(p.tool):
                            p.args.setdefault("exception_id", case["exception_id"])
            if not decision.proposals:  # every exception ends in an action or on a person's desk
                decision.proposals.append(escalation_for(case, "No decision could be reached"))
            usage.update(
                calls=decision.usage.calls,
                prompt_tokens=decision.usage.prompt_tokens,
                completion_tokens=decision.usage.completion_tokens,
            )
            plans.append(
                {
                    "exception_id": case["exception_id"],
                    "kind": case["kind"],
                    "subject": case["subject"],
                    "shipment_id": case.get("shipment_id"),
                    "why": decision.reply,
                    "brain": decision.brain,
                    "model": decision.model,
                    "prompt_version": decision.prompt_version,
                    "notes": decision.notes,
                    "proposals": [
                        Proposal(p.tool, p.args, p.reason, case["exception_id"]).as_dict()
                        for p in decision.proposals
                    ],
                }
            )
        return {"plans": plans, "usage": dict(usage)}

    def guard(self, state: TriageState) -> dict[str, Any]:
        """Run every proposal past the guard: run now, queue for approval, or refuse."""
        verdicts = []
        for plan in state["plans"]:
            ctx = self._ctx(state)
            ctx.model, ctx.prompt_version = plan.get("model"), plan.get("prompt_version")
            for raw in plan["proposals"]:
                verdict = self.rt.guard.check(ctx, Proposal.from_dict(raw), mode="triage")
                verdicts.append(verdict.as_dict())
        return {"verdicts": verdicts}

    def act(self, state: TriageState) -> dict[str, Any]:
        """Carry out the verdicts; idempotency keys make a resumed run repeat no effect."""
        ctx, outcomes = self._ctx(state), []
        provenance = {
            p["exception_id"]: (p.get("model"), p.get("prompt_version")) for p in state["plans"]
        }
        for i, verdict in enumerate(state["verdicts"]):
            proposal = Proposal.from_dict(verdict)
            ctx.model, ctx.prompt_version = provenance.get(proposal.exception_id, (None, None))
            outcome = {
                "tool": proposal.tool,
                "exception_id": proposal.exception_id,
                "args": proposal.args,
                "reason": verdict["why"],
            }
            if verdict["action"] == "refuse":
                outcomes.append({**outcome, "status": "refused"})
                continue
            if verdict["action"] == "approve":
                approval_id = queue(ctx, proposal, origin=state["run_id"], why=verdict["why"])
                outcomes.append({**outcome, "status": "queued", "approval_id": approval_id})
                continue
            key = f"{state['run_id']}:{i}:{proposal.tool}"
            try:
                result = call_tool(
                    ctx, proposal.tool, proposal.args, idempotency_key=key, reason=proposal.reason
                )
                outcomes.append(
                    {**outcome, "status": "done", "result": result.model_dump(mode="json")}
                )
            except ToolError as exc:
                outcomes.append({**outcome, "status": "failed", "error": str(exc)})
        return {"outcomes": outcomes}

    def summarize(self, state: TriageState) -> dict[str, Any]:
        """Count what happened, close the run and audit it."""
        outcomes = state.get("outcomes", [])
        summary = {
            "run_id": state["run_id"],
            "brain": state["brain"],
            "exceptions": len(state.get("cases", [])),
            "by_kind": dict(Counter(c["kind"] for c in state.get("cases", []))),
            "actions": dict(Counter(f"{o['tool']}:{o['status']}" for o in outcomes)),
            "done": sum(o["status"] == "done" for o in outcomes),
            "queued": sum(o["status"] == "queued" for o in outcomes),
            "refused": sum(o["status"] in ("refused", "failed") for o in outcomes),
            "usage": state.get("usage", {}),
        }
        now = self.rt.clock.now()

        def _close(cur: Any) -> None:
            cur.execute(
                "UPDATE triage_runs SET status = 'finished', finished_at = ?, summary = ? WHERE run_id = ?",
                [now, canonical_json(summary), state["run_id"]],
            )
            audit.append(
                cur,
                actor=f"agent:{state['brain']}",
                role=ACTOR_ROLE,
                ts=now,
                action="triage.run",
                subject=state["run_id"],
                result=summary,
            )

        self.rt.store.write(_close)
        return {"summary": summary}


def _args_schema(tool: str) -> dict[str, Any]:
    from tools.base import REGISTRY

    spec = REGISTRY.get(tool)
    return spec.json_schema().get("properties", {}) if spec else {}
