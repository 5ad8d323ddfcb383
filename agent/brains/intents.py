"""The rules brain's chat: a deterministic parser for the common requests of operations managers.

Each recognised request is an intent that plans tool calls one step at a time from the results
so far (so the same history always gives the same next step), then renders a reply. Several
requests in one message are handled in order. What it cannot understand, it says, with what it can.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.brains import replies
from agent.brains.base import ChatTurn, Decision, Proposal
from agent.brains.parsing import (
    WindowError,
    find_approval_ids,
    find_identifiers,
    find_routes,
    find_shipments,
    parse_date_window,
)
from tools.base import ToolContext

__all__ = ["HELP", "Intent", "answer", "parse_intents"]

HELP = (
    'I can: list what is at risk ("what is at risk?"), give a shipment\'s status ("status of SHP-1042"), '
    'say why it is held ("why is SHP-1042 on hold?"), show a custody trail ("custody trail of <serial or SSCC>"), '
    'show temperatures ("temperature of SHP-1042"), hold a shipment, reroute it to a cold depot, '
    'swap its reefer ("swap the reefer on SHP-1042" or "… on route R7"), reschedule it '
    '("reschedule SHP-1042 to Friday 2-4pm"), verify and release it, list approvals, and '
    'approve or reject one ("approve APR-…", "reject APR-… because …").'
)

Step = Proposal | str  # a tool call to make next, or the final text of this intent
Result = dict[str, Any] | str  # a tool's JSON result, or its error/refusal text


@dataclass
class Intent:
    """A recognised request: ``plan(results)`` gives the next step from the results so far."""

    name: str
    plan: Callable[[list[Result]], Step]


def _call(tool: str, why: str, **args: Any) -> Proposal:
    return Proposal(tool, {k: v for k, v in args.items() if v is not None}, why)


def _failed(result: Result) -> str | None:
    return result if isinstance(result, str) else None


# -- intent planners -------------------------------------------------------------------------


def _at_risk(_: str, ctx: ToolContext) -> Intent:
    def plan(results: list[Result]) -> Step:
        if not results:
            return _call("list_exceptions", "what is at risk", status="unresolved", limit=50)
        return _failed(results[0]) or replies.at_risk(results[0])  # type: ignore[arg-type]

    return Intent("at_risk", plan)


def _status(shipment: str) -> Intent:
    def plan(results: list[Result]) -> Step:
        if not results:
            return _call("get_shipment", "shipment status", shipment_id=shipment)
        return _failed(results[0]) or replies.status(results[0])  # type: ignore[arg-type]

    return Intent("status", plan)


def _why_held(shipment: str) -> Intent:
    def plan(results: list[Result]) -> Step:
        if not results:
            return _call("get_shipment", "why is it held", shipment_id=shipment)
        return _failed(results[0]) or replies.why_held(results[0])  # type: ignore[arg-type]

    return Intent("why_held", plan)


def _trail(identifier: str) -> Intent:
    def plan(results: list[Result]) -> Step:
        if not results:
            return _call("custody_trail", "custody trail", identifier=identifier)
        return _failed(results[0]) or replies.trail(results[0])  # type: ignore[arg-type]

    return Intent("custody_trail", plan)


def _temperature(shipment: str) -> Intent:
    def plan(results: list[Result]) -> Step:
        if not results:
            return _call("temperature_history", "temperature", shipment_id=shipment, max_points=24)
        return _failed(results[0]) or replies.temperature(results[0])  # type: ignore[arg-type]

    return Intent("temperature", plan)


def _hold(shipment: str, reason: str) -> Intent:
    def plan(results: list[Result]) -> Step:
        if not results:
            return _call("hold_shipment", reason, shipment_id=shipment, reason=reason)
        return _failed(results[0]) or f"{shipment} is on hold ({reason})."

    return Intent("hold", plan)


def _two_step(
    name: str,
    finder: str,
    key: str,
    target: str,
    action: str,
    shipment: str,
    render: Callable[[dict[str, Any]], str],
    chosen: str | None = None,
) -> Intent:
    """find candidates → act on the best (or the one named) → report."""

    def plan(results: list[Result]) -> Step:
        if chosen is None and not results:
            return _call(finder, name, shipment_id=shipment)
        if chosen is None and (err := _failed(results[0])):
            return err
        first: dict[str, Any] = results[0] if isinstance(results[0], dict) else {}
        best: dict[str, Any] = next(iter(first.get(key, [])), {})
        option = chosen or best.get(target)
        if not option:
            return f"No candidate for {shipment}: nothing in the record can take it. I can escalate it."
        done = results[0 if chosen else 1 :]
        if not done:
            return _call(
                action,
                name,
                shipment_id=shipment,
                reason=f"{name} requested in chat",
                **{"depot_id" if action == "reroute_shipment" else "new_asset_id": option},
            )
        return _failed(done[0]) or render(done[0])  # type: ignore[arg-type]

    return Intent(name, plan)


def _reschedule(shipment: str, text: str, ctx: ToolContext) -> Intent:
    current = ctx.store.row(
        "SELECT promised_start, promised_end FROM shipments WHERE shipment_id = ?", [shipment]
    )
    window = parse_date_window(
        text,
        ctx.clock.now(),
        current=(current["promised_start"], current["promised_end"])
        if current and current["promised_start"]
        else None,
    )

    def plan(results: list[Result]) -> Step:
        if not results:
            return _call(
                "reschedule_delivery",
                "reschedule requested in chat",
                shipment_id=shipment,
                window_start=window.start.isoformat(),
                window_end=window.end.isoformat(),
                reason="requested in chat",
                requested_by=ctx.actor,
            )
        return _failed(results[0]) or replies.rescheduled(results[0])  # type: ignore[arg-type]

    return Intent("reschedule", plan)


def _release(shipment: str) -> Intent:
    def plan(results: list[Result]) -> Step:
        if not results:
            return _call("verify_shipment", "release requested: gate first", shipment_id=shipment)
        if err := _failed(results[0]):
            return err
        if not results[0].get("passed"):  # type: ignore[union-attr]
            return replies.gate_failed(shipment, results[0])  # type: ignore[arg-type]
        if len(results) == 1:
            return _call(
                "release_shipment",
                "release requested in chat",
                shipment_id=shipment,
                reason="released after a passing gate",
            )
        return _failed(results[1]) or f"{shipment} passed the release gate and is released."

    return Intent("release", plan)


# -- parsing -----------------------------------------------------------------------------------

_VERBS = "what|why|status|show|hold|swap|reroute|release|reschedule|approve|reject|list"
_CLAUSES = re.compile(
    r"(?:[.;!?]+(?=\s|$)\s*|\n+\s*"  # sentence ends (not the dot inside gtin.serial)
    r"|\s+(?:and then|and also|also|then|y luego|además)\s+|,\s*and\s+"  # explicit joints
    rf"|\s+and\s+(?=(?:{_VERBS})\b))",  # "… and why is …"
    re.I,
)


def _shipment_for_route(ctx: ToolContext, route: str) -> str | None:
    row = ctx.store.row(
        "SELECT shipment_id FROM shipments WHERE route_id = ? AND status IN ('in_transit', 'released', 'planned')"
        " ORDER BY shipment_id LIMIT 1",
        [route],
    )
    return row["shipment_id"] if row else None


_REASON = re.compile(r"\b(?:because|since|due to)\b|:", re.I)
_QUOTED = re.compile(
    r"(^|\s)>|\b(?:e-?mail|message|note|text) (?:below|follows|attached)\b|\bwrote:|^from:|\bforwarded\b",
    re.I | re.M,
)


def _own_words(message: str) -> str:
    """The person's own words: pasted or quoted text (an e-mail, a note) is data, not a request."""
    found = _QUOTED.search(message)
    return message[: found.start()] if found else message


def _one(clause: str, ctx: ToolContext) -> Intent | str | None:
    head, *why = _REASON.split(clause, maxsplit=1)  # "hold X because <reason>": the reason is data
    if (
        re.search(r"\b(hold|stop)\b", head, re.I)
        and find_shipments(head)
        and not re.search(r"\bwhy\b", head, re.I)
    ):
        reason = why[0].strip() if why else "held by an operations manager"
        return _hold(find_shipments(head)[0], reason or "held by an operations manager")
    low = clause.lower()
    ships = find_shipments(clause)
    routes = find_routes(clause)
    if re.search(r"\b(approve|reject|deny|decline)\b", low):
        return _approval_intent(clause, ctx)
    if re.search(r"(pending )?approvals?\b|waiting for (me|approval)", low):
        return Intent("approvals", lambda results: replies.approvals(ctx))
    if re.search(r"\b(swap|replace|change)\b.*\b(reefer|asset|truck|trailer)\b", low):
        ship = ships[0] if ships else (_shipment_for_route(ctx, routes[0]) if routes else None)
        if not ship:
            return 'Which shipment or route? e.g. "swap the reefer on SHP-1042" or "… on route R7".'
        return _two_step(
            "swap",
            "find_compatible_assets",
            "assets",
            "asset_id",
            "swap_asset",
            ship,
            replies.swapped,
        )
    if re.search(r"\b(reroute|re-route|divert|redirect)\b", low):
        if not ships:
            return 'Which shipment should I reroute? e.g. "reroute SHP-1042".'
        depot = re.search(r"\b(\d{13})\b", clause)
        return _two_step(
            "reroute",
            "find_cold_depots",
            "depots",
            "depot_id",
            "reroute_shipment",
            ships[0],
            replies.rerouted,
            depot.group(1) if depot else None,
        )
    if re.search(r"\b(reschedul\w*|move|postpone|deliver|reprogram\w*|cambiar)\b", low) and ships:
        return _reschedule(ships[0], clause, ctx)
    if re.search(r"\brelease\b", low) and ships:
        return _release(ships[0])
    if (
        re.search(r"\b(put|place)?\s*(on )?hold\b|\bstop\b", low)
        and ships
        and not re.search(r"\bwhy\b", low)
    ):
        reason = re.split(r"\bbecause\b|\bdue to\b|:", clause, maxsplit=1)
        return _hold(
            ships[0], reason[1].strip() if len(reason) > 1 else "held by an operations manager"
        )
    if re.search(r"\bwhy\b", low) and ships:
        return _why_held(ships[0])
    if re.search(r"custody|trail|chain|trace|where has|history of", low):
        ids = find_identifiers(clause) or ships
        return (
            _trail(ids[0])
            if ids
            else 'Which serial, SSCC or barcode? e.g. "custody trail of 106141412345678908".'
        )
    if re.search(r"\btemp|temperature|cold|warm|reading", low) and ships:
        return _temperature(ships[0])
    if re.search(
        r"at risk|risk|exceptions?|problems?|issues?|what.*(wrong|open)|alerts?|morning", low
    ):
        return _at_risk(clause, ctx)
    if ships:
        return _status(ships[0])
    if ids := find_identifiers(clause):
        return _trail(ids[0])
    return None


def _approval_intent(clause: str, ctx: ToolContext) -> Intent | str:
    from agent import approvals
    from record.errors import ProoflineError

    ids = find_approval_ids(clause)
    if not ids:
        return 'Which approval? Give its id, e.g. "approve APR-3f2a9c1e0b"; "approvals" lists them.'
    approve = not re.search(r"\b(reject|deny|decline)\b", clause, re.I)
    reason = re.split(r"\bbecause\b|\breason\b|:", clause, maxsplit=1)

    def plan(results: list[Result]) -> Step:
        try:
            row = approvals.decide(
                ctx, ids[0], approve=approve, reason=reason[1].strip() if len(reason) > 1 else None
            )
        except ProoflineError as exc:
            return f"Could not {'approve' if approve else 'reject'} {ids[0]}: {exc}"
        return replies.decided(row)

    return Intent("approve" if approve else "reject", plan)


def parse_intents(message: str, ctx: ToolContext) -> list[Intent | str]:
    """Intents in the message, in order; a string is a question back or a problem to report."""
    found: list[Intent | str] = []
    for clause in filter(None, (c.strip() for c in _CLAUSES.split(_own_words(message)))):
        try:
            intent = _one(clause, ctx)
        except WindowError as exc:
            intent = str(exc)
        if intent is not None:
            found.append(intent)
    return found


def _split(history: list[ChatTurn]) -> tuple[str, list[Result]]:
    last_user = max(i for i, t in enumerate(history) if t.role == "user")
    results: list[Result] = []
    for turn in history[last_user + 1 :]:
        if turn.role == "tool":
            try:
                results.append(json.loads(turn.content))
            except ValueError:
                results.append(turn.content)
    return history[last_user].content, results


def answer(history: list[ChatTurn], ctx: ToolContext) -> Decision:
    """The next step of the conversation: one tool call, or the reply."""
    message, results = _split(history)
    intents = parse_intents(message, ctx)
    if not intents:
        return Decision(reply=f'I did not understand "{message.strip()[:120]}". {HELP}')
    texts, pending = [], list(results)
    for intent in intents:
        if isinstance(intent, str):
            texts.append(intent)
            continue
        mine: list[Result] = []
        while True:
            step = intent.plan(mine)
            if isinstance(step, str):
                texts.append(step)
                break
            if not pending:
                return Decision(proposals=[step], reply="", done=False)
            mine.append(pending.pop(0))
    return Decision(reply="\n\n".join(texts))
