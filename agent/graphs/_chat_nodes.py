"""The work of the chat graph's nodes: think (brain) and act (guard, tools, approvals)."""

from __future__ import annotations

import json
from typing import Any

from langgraph.types import interrupt

from agent import approvals
from agent.brains.base import ChatTurn, Proposal
from agent.graphs.state import ChatState
from agent.runtime import Runtime
from tools.base import ToolContext, call_tool
from tools.errors import ToolError

__all__ = ["ChatNodes", "turns"]


def turns(history: list[dict[str, Any]]) -> list[ChatTurn]:
    """Rebuild ChatTurn objects from state dicts."""
    return [ChatTurn(**t) for t in history]


class ChatNodes:
    """Bound to a runtime and a brain name."""

    def __init__(self, runtime: Runtime, brain: str) -> None:
        self.rt, self.brain_name = runtime, brain

    def _ctx(self, state: ChatState) -> ToolContext:
        ctx = self.rt.context(state["actor"], state["role"])  # type: ignore[arg-type]
        provenance = state.get("provenance") or {}
        ctx.model, ctx.prompt_version = provenance.get("model"), provenance.get("prompt_version")
        return ctx

    def receive(self, state: ChatState) -> dict[str, Any]:
        """Start a turn: the person's message joins the history."""
        turn = ChatTurn("user", state["message"])
        return {
            "history": [vars(turn)],
            "steps": 0,
            "malformed_strikes": 0,
            "reply": "",
            "events": [{"type": "message", "role": "user", "content": state["message"]}],
        }

    def think(self, state: ChatState) -> dict[str, Any]:
        """Ask the brain; malformed tool calls go back once as errors, then escalate."""
        brain = self.rt.brain(self.brain_name)
        decision = brain.chat(turns(state["history"]), self._ctx(state))
        calls = [
            {"name": p.tool, "args": p.args, "id": p.call_id or f"call_{i}"}
            for i, p in enumerate(decision.proposals)
        ]
        invalid = [
            {
                "name": b["name"],
                "args": b["args"],
                "id": b["id"],
                "error": b["error"],
                "type": "invalid_tool_call",
            }
            for b in decision.malformed
        ]
        assistant = ChatTurn(
            "assistant", decision.reply, tool_calls=calls, invalid_tool_calls=invalid
        )
        update: dict[str, Any] = {
            "history": [vars(assistant)],
            "steps": state.get("steps", 0) + 1,
            "brain_used": decision.brain,
            "provenance": {"model": decision.model, "prompt_version": decision.prompt_version},
            "pending": [
                dict(p.as_dict(), call_id=c["id"])
                for p, c in zip(decision.proposals, calls, strict=True)
            ],
            "events": state.get("events", [])
            + [{"type": "note", "content": n} for n in decision.notes],
        }
        update["retry"] = False
        if decision.malformed:
            malformed = self._malformed(state, decision.malformed)
            update.update({**malformed, "history": update["history"] + malformed["history"]})
        elif not decision.proposals:
            update["reply"] = decision.reply
            update["events"].append(
                {"type": "reply", "content": decision.reply, "brain": decision.brain}
            )
        return update

    def _malformed(self, state: ChatState, bad: list[dict[str, Any]]) -> dict[str, Any]:
        strikes = state.get("malformed_strikes", 0) + 1
        errors = [
            ChatTurn(
                "tool",
                f"error: arguments for {b['name']} did not parse ({b['error']}); "
                "send valid JSON matching the tool's schema",
                tool_call_id=b["id"],
                name=b["name"],
            )
            for b in bad
        ]
        update: dict[str, Any] = {
            "malformed_strikes": strikes,
            "history": [vars(e) for e in errors],
            "retry": strikes < 2,
        }
        if strikes >= 2:
            update["pending"] = [
                Proposal(
                    "escalate",
                    {
                        "subject": "chat",
                        "summary": "The model sent malformed tool arguments twice",
                        "to": "duty_manager",
                        "evidence": {"calls": bad},
                        "severity": "medium",
                    },
                    "malformed tool calls twice",
                    call_id="escalation",
                ).as_dict()
            ]
        return update

    def act(self, state: ChatState) -> dict[str, Any]:
        """Run the pending proposals through the guard; permissive ones wait for a person."""
        ctx, history, events = self._ctx(state), [], []
        for i, raw in enumerate(state.get("pending", [])):
            proposal = Proposal.from_dict(raw)
            events.append({"type": "tool_call", "tool": proposal.tool, "args": proposal.args})
            content = self._run_one(ctx, state, proposal, f"{state['steps']}:{i}", events)
            history.append(
                vars(ChatTurn("tool", content, tool_call_id=proposal.call_id, name=proposal.tool))
            )
        return {"history": history, "events": state.get("events", []) + events, "pending": []}

    def _run_one(
        self,
        ctx: ToolContext,
        state: ChatState,
        proposal: Proposal,
        step: str,
        events: list[dict[str, Any]],
    ) -> str:
        verdict = self.rt.guard.check(ctx, proposal, mode="chat")
        if verdict.action == "refuse":
            events.append({"type": "refused", "tool": proposal.tool, "reason": verdict.reason})
            return f"refused: {verdict.reason}"
        thread = _thread_id(state)
        if verdict.action == "approve":
            return self._await_approval(ctx, proposal, verdict.reason, thread, step, events)
        try:
            result = call_tool(
                ctx,
                proposal.tool,
                proposal.args,
                idempotency_key=f"chat:{thread}:{step}",
                reason=proposal.reason,
            )
        except ToolError as exc:
            events.append({"type": "tool_error", "tool": proposal.tool, "error": str(exc)})
            return f"error: {exc}"
        dumped = result.model_dump(mode="json")
        events.append({"type": "tool_result", "tool": proposal.tool, "result": dumped})
        return json.dumps(dumped, default=str)

    def _await_approval(
        self,
        ctx: ToolContext,
        proposal: Proposal,
        why: str,
        thread: str,
        step: str,
        events: list[dict[str, Any]],
    ) -> str:
        approval_id = approvals.queue(
            ctx, proposal, origin=f"chat:{thread}:{step}", why=why, thread_id=thread
        )
        answer = interrupt(
            {
                "type": "approval_request",
                "approval_id": approval_id,
                "tool": proposal.tool,
                "args": proposal.args,
                "why": why,
            }
        )
        decider = self.rt.context(answer["actor"], answer["role"])
        try:
            row = approvals.decide(
                decider,
                approval_id,
                approve=answer["decision"] == "approve",
                reason=answer.get("reason"),
            )
        except ToolError as exc:
            events.append({"type": "tool_error", "tool": proposal.tool, "error": str(exc)})
            return f"error: {exc}"
        events.append(
            {
                "type": "approval",
                "approval_id": approval_id,
                "status": row["status"],
                "result": row.get("result"),
                "tool": proposal.tool,
            }
        )
        if row["status"] == "rejected":
            return f"rejected by {row['decided_by']}: {row.get('decision_reason') or 'no reason given'}"
        return json.dumps(row.get("result"), default=str)


def _thread_id(state: ChatState) -> str:
    from langgraph.config import get_config

    return str(get_config()["configurable"]["thread_id"])
