"""The reschedule graph for the contact center:
free text → structured request → feasibility → apply → confirmation message → outcome.

Infeasible requests get the nearest feasible options; ambiguous ones one clarifying question.
Nothing changes silently: every path ends in an outcome the agent can read back to the customer.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.brains.base import ChatTurn, Proposal
from agent.brains.messaging import consenting_contact
from agent.brains.parsing import WindowError, find_shipments, parse_date_window
from agent.prompts import untrusted
from agent.runtime import Runtime
from tools.base import ToolContext, call_tool
from tools.errors import ToolError

__all__ = ["RescheduleInput", "RescheduleState", "build_reschedule_graph"]


class RescheduleInput(TypedDict, total=False):
    """A contact-center request."""

    text: str
    actor: str
    role: str
    brain: str
    """rules (default) or llm: who turns the text into a structured request."""


class RescheduleState(RescheduleInput, total=False):
    """The request as it is understood and handled."""

    shipment_id: str
    window: dict[str, str]
    """Requested window: start, end (ISO), phrase, exact."""
    status: Literal["applied", "options", "clarify", "refused"]
    message: str
    options: list[dict[str, Any]]
    result: dict[str, Any]
    confirmation: dict[str, Any] | None


def _key(state: RescheduleState, step: str) -> str:
    digest = hashlib.sha256(
        f"{state['text']}|{state.get('shipment_id')}|{state.get('window')}".encode()
    )
    return f"reschedule:{digest.hexdigest()[:20]}:{step}"


class _Nodes:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def _ctx(self, state: RescheduleState) -> ToolContext:
        return self.rt.context(state["actor"], state["role"])  # type: ignore[arg-type]

    def understand(self, state: RescheduleState) -> dict[str, Any]:
        """Text → shipment and window: the model extracts when configured; the text decides."""
        if state.get("brain") == "llm":
            found = self._llm_understand(state)
            if found is not None:
                return found
        return self._rules_understand(state)

    def _llm_understand(self, state: RescheduleState) -> dict[str, Any] | None:
        ctx = self._ctx(state)
        brain = self.rt.brain("llm")
        ask = ChatTurn("user", f"Current time (UTC): {self.rt.clock.now():%Y-%m-%d %H:%M, %A}.\n"
                       + untrusted("contact_center_request", state["text"]))  # fmt: skip
        decision = brain.extract("reschedule", [ask], ctx)  # type: ignore[attr-defined]
        if decision.brain != "llm":
            return None  # the model is unavailable: the rules parser takes over
        call = next((p for p in decision.proposals if p.tool.startswith("reschedule_")), None)
        if call is None:
            return _clarify(decision.reply or "Which delivery and which day should it be?")
        sid = str(call.args.get("shipment_id", ""))
        if sid not in find_shipments(
            state["text"]
        ):  # the model may only use what the customer wrote
            return _clarify(
                "Which delivery is it? Please give the shipment number (it looks like SHP-1042)."
            )
        try:
            start = datetime.fromisoformat(
                str(call.args.get("window_start") or call.args["preferred_date"])
            )
            end = (
                datetime.fromisoformat(str(call.args["window_end"]))
                if call.args.get("window_end")
                else start
            )
        except (KeyError, ValueError):
            return None
        exact = call.tool == "reschedule_delivery" and end > start
        return {"shipment_id": sid, "window": {"start": start.isoformat(), "end": end.isoformat(),
                                               "phrase": "as read by the model", "exact": exact}}  # fmt: skip

    def _rules_understand(self, state: RescheduleState) -> dict[str, Any]:
        ships = find_shipments(state["text"])
        if not ships:
            return _clarify(
                "Which delivery is it? Please give the shipment number (it looks like SHP-1042)."
            )
        if len(ships) > 1:
            return _clarify(f"The request names {' and '.join(ships)}; which one should move?")
        row = self.rt.store.row(
            "SELECT promised_start, promised_end, status FROM shipments WHERE shipment_id = ?",
            [ships[0]],
        )
        if row is None:
            return _clarify(f"I cannot find shipment {ships[0]}; please check the number.")
        try:
            window = parse_date_window(
                state["text"],
                self.rt.clock.now(),
                current=(row["promised_start"], row["promised_end"])
                if row["promised_start"]
                else None,
            )
        except WindowError as exc:
            return {**_clarify(str(exc)), "shipment_id": ships[0]}
        return {
            "shipment_id": ships[0],
            "window": {
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
                "phrase": window.phrase,
                "exact": window.exact,
            },
        }

    def decide(self, state: RescheduleState) -> dict[str, Any]:
        ctx, window = self._ctx(state), state["window"]
        if not window["exact"]:
            return self._offer(ctx, state, "Which time suits you on that day?")
        proposal = Proposal(
            "reschedule_delivery",
            {
                "shipment_id": state["shipment_id"],
                "window_start": window["start"],
                "window_end": window["end"],
                "reason": f"customer request via contact center: {window['phrase']}",
                "requested_by": state["actor"],
            },
            "contact-center reschedule request",
        )
        verdict = self.rt.guard.check(ctx, proposal, mode="reschedule")
        if verdict.action == "run":
            try:
                result = call_tool(
                    ctx,
                    "reschedule_delivery",
                    proposal.args,
                    idempotency_key=_key(state, "apply"),
                    reason=proposal.reason,
                )
            except ToolError as exc:
                return self._offer(ctx, state, str(exc))
            return {"status": "applied", "result": result.model_dump(mode="json")}
        return self._offer(ctx, state, verdict.reason)

    def _offer(self, ctx: ToolContext, state: RescheduleState, why: str) -> dict[str, Any]:
        day = state["window"]["start"][:10]
        try:
            found = call_tool(
                ctx,
                "reschedule_options",
                {"shipment_id": state["shipment_id"], "preferred_date": day, "max_results": 3},
            )
        except ToolError as exc:
            return {"status": "refused", "message": str(exc)}
        options = found.model_dump(mode="json")["options"]
        if not options:
            call_tool(
                ctx,
                "escalate",
                {
                    "subject": state["shipment_id"],
                    "to": "customer_service",
                    "severity": "medium",
                    "summary": f"Customer asked to reschedule and no feasible window exists: {why}",
                    "evidence": {"request": state["text"][:500], "window": state["window"]},
                },
                idempotency_key=_key(state, "escalate"),
                reason="no feasible reschedule window",
            )
            return {
                "status": "refused",
                "options": [],
                "message": f"{why} No feasible window was found "
                "in the next days; an operations manager will call the customer back.",
            }
        listed = "; ".join(
            f"{o['start'][:16].replace('T', ' ')}–{o['end'][11:16]}" for o in options
        )
        return {
            "status": "options",
            "options": options,
            "message": f"That window is not possible ({why}). Nearest options: {listed}.",
        }

    def confirm(self, state: RescheduleState) -> dict[str, Any]:
        ctx = self._ctx(state)
        promised = state["result"]["promised"]
        text = (
            f"Done: {state['shipment_id']} is rescheduled to "
            f"{promised['start'][:16].replace('T', ' ')}–{promised['end'][11:16]}."
        )
        contact = consenting_contact(ctx, state["shipment_id"])
        if contact is None:
            return {
                "message": text
                + " No customer contact with consent is on file, so no confirmation was sent.",
                "confirmation": None,
            }
        try:
            sent = call_tool(
                ctx,
                "send_customer_message",
                {
                    "template": "reschedule_confirmation",
                    "contact_id": contact,
                    "shipment_id": state["shipment_id"],
                },
                idempotency_key=_key(state, "confirm"),
                reason="reschedule confirmation",
            )
        except ToolError as exc:
            return {
                "message": text + f" The confirmation could not be sent: {exc}",
                "confirmation": None,
            }
        return {
            "message": text + " A confirmation was sent to the customer.",
            "confirmation": sent.model_dump(mode="json"),
        }


def _clarify(question: str) -> dict[str, Any]:
    return {"status": "clarify", "message": question}


def _after_understand(state: RescheduleState) -> Literal["decide", "__end__"]:
    return "__end__" if state.get("status") == "clarify" else "decide"


def _after_decide(state: RescheduleState) -> Literal["confirm", "__end__"]:
    return "confirm" if state.get("status") == "applied" else "__end__"


def build_reschedule_graph(runtime: Runtime) -> CompiledStateGraph:
    """Wire the reschedule graph over ``runtime``."""
    nodes = _Nodes(runtime)
    builder = StateGraph(RescheduleState, input_schema=RescheduleInput)
    builder.add_node("understand", nodes.understand)
    builder.add_node("decide", nodes.decide)
    builder.add_node("confirm", nodes.confirm)
    builder.add_edge(START, "understand")
    builder.add_conditional_edges("understand", _after_understand)
    builder.add_conditional_edges("decide", _after_decide)
    builder.add_edge("confirm", END)
    return builder.compile(checkpointer=runtime.checkpointer, name="reschedule")
