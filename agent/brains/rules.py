"""The rules brain: the triage decision table (agent/policy/triage.yaml) plus a deterministic
intent parser for chat (agent/brains/intents.py). Embedded, deterministic, no model.
"""

from __future__ import annotations

from typing import Any

from agent.brains.base import ChatTurn, Decision, Proposal
from agent.policy import TriageRule, load_triage_rules, matches, policy_version
from tools.base import ToolContext, call_tool
from tools.errors import ToolError

__all__ = ["RulesBrain", "escalation_for"]


class RulesBrain:
    """Decides triage cases from the policy table and answers chat from the intent parser."""

    name = "rules"

    def __init__(self, rules: tuple[TriageRule, ...] | None = None) -> None:
        self.rules = rules or load_triage_rules()
        self.version = policy_version()

    # -- triage ------------------------------------------------------------------------------

    def rule_for(self, case: dict[str, Any]) -> TriageRule | None:
        """The first rule of the case's kind whose conditions hold on its evidence."""
        facts = _facts(case)
        for rule in self.rules:
            if rule.kind == case["kind"] and matches(rule.when, facts):
                return rule
        return None

    def decide_case(self, case: dict[str, Any], context: ToolContext) -> Decision:
        """Proposals for one exception, in the order the table lists them."""
        decision = Decision(brain=self.name, prompt_version=self.version)
        rejected = _rejected_tools(context, case["exception_id"])
        rule = self.rule_for(case)
        if rule is None:
            decision.notes.append("needs_judgement: no rule in the decision table fits")
            decision.proposals.append(
                _escalate(case, "No triage rule fits this exception", rejected)
            )
            return decision
        for step in rule.do:
            name, params = (step, {}) if isinstance(step, str) else next(iter(step.items()))
            for proposal in _build(name, dict(params or {}), case, rule, context):
                if proposal.tool in rejected:
                    decision.notes.append(f"{proposal.tool} was rejected by a person earlier")
                    continue
                decision.proposals.append(proposal)
        if rejected and not any(p.tool == "escalate" for p in decision.proposals):
            decision.proposals.append(_escalate(case, "A proposed action was rejected", rejected))
        decision.reply = f"{case['kind']} on {case['subject']}: {rule.why}"
        return decision

    # -- chat ----------------------------------------------------------------------------------

    def chat(self, history: list[ChatTurn], context: ToolContext) -> Decision:
        """Answer the latest user message (see agent/brains/intents.py)."""
        from agent.brains.intents import answer

        return answer(history, context)


def _facts(case: dict[str, Any]) -> dict[str, Any]:
    """Evidence as facts: top-level fields, and ``list.field`` value sets for lists of records."""
    evidence = case.get("evidence", {})
    facts: dict[str, Any] = {**evidence, "severity": case.get("severity")}
    for name, value in evidence.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for key in {k for v in value for k in v}:
                facts[f"{name}.{key}"] = {
                    v.get(key) for v in value if isinstance(v.get(key), str | int | float | bool)
                }
    return facts


def _rejected_tools(ctx: ToolContext, exception_id: str) -> set[str]:
    rows = ctx.store.rows(
        "SELECT DISTINCT tool FROM approvals WHERE exception_id = ? AND status = 'rejected'",
        [exception_id],
    )
    return {r["tool"] for r in rows}


def _reason(case: dict[str, Any], rule: TriageRule) -> str:
    return f"{case['kind']} ({case['severity']}) on {case['subject']}: {rule.why}"


def escalation_for(case: dict[str, Any], summary: str) -> Proposal:
    """Hand ``case`` to a person with its evidence (when nothing else can be decided)."""
    return _escalate(case, summary, set())


def _escalate(case: dict[str, Any], summary: str, rejected: set[str]) -> Proposal:
    note = f"{summary}" + (f" (rejected: {', '.join(sorted(rejected))})" if rejected else "")
    return Proposal(
        "escalate",
        {
            "subject": case["subject"],
            "summary": note,
            "to": "duty_manager",
            "evidence": case.get("evidence", {}),
            "exception_id": case["exception_id"],
            "severity": case.get("severity", "medium"),
        },
        note,
        case["exception_id"],
    )


def _build(
    name: str, params: dict[str, Any], case: dict[str, Any], rule: TriageRule, ctx: ToolContext
) -> list[Proposal]:
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValueError(f"triage.yaml names an unknown action {name!r}")
    return builder(params, case, _reason(case, rule), ctx)


def _p(tool: str, case: dict[str, Any], why: str, **args: Any) -> Proposal:
    return Proposal(tool, {**args, "exception_id": case["exception_id"]}, why, case["exception_id"])


def _shipments_of(case: dict[str, Any]) -> list[str]:
    """The case's shipment and every other shipment its evidence names (a duplicated serial,
    a reefer carrying several loads)."""
    named = case.get("evidence", {}).get("shipments") or []
    ids = [
        case.get("shipment_id"),
        *(s if isinstance(s, str) else s.get("shipment_id") for s in named),
    ]
    return list(dict.fromkeys(i for i in ids if i))


def _status(ctx: ToolContext, shipment_id: str) -> str | None:
    return ctx.store.scalar("SELECT status FROM shipments WHERE shipment_id = ?", [shipment_id])


def _hold(params: dict, case: dict, reason: str, ctx: ToolContext) -> list[Proposal]:
    """Hold every shipment involved that is not delivered (delivered ones: quarantine and
    investigation act instead)."""
    return [
        _p("hold_shipment", case, reason, shipment_id=sid, reason=reason)
        for sid in _shipments_of(case)
        if _status(ctx, sid) not in (None, "delivered")
    ]


def _units_of(case: dict[str, Any]) -> list[str]:
    """Unit keys the evidence names (the subject itself for one-serial findings)."""
    evidence = case.get("evidence", {})
    for key in ("units", "unit_keys", "serials"):
        if isinstance(evidence.get(key), list) and evidence[key]:
            keys = [
                u if isinstance(u, str) else u.get("unit") or u.get("key") for u in evidence[key]
            ]
            return [k for k in keys if k]
    subject = str(case.get("subject", ""))
    return [subject] if len(subject) > 15 and subject[:14].isdigit() and subject[14] == "." else []


def _quarantine(params: dict, case: dict, reason: str, ctx: ToolContext) -> list[Proposal]:
    """Quarantine the units the evidence names; units unknown to the record go by their case."""
    units = _units_of(case)
    evidence = case.get("evidence", {})
    truncated = max(evidence.get("count", 0), evidence.get("unit_count", 0)) > len(units)
    args: dict[str, Any] = {
        "reason": reason,
        "non_distributable": bool(params.get("non_distributable")),
    }
    if units and not truncated and not params.get("non_distributable"):
        known = {
            r["k"]
            for r in ctx.store.rows(
                "SELECT gtin || '.' || serial AS k FROM units WHERE list_contains(?, gtin || '.' || serial)",
                [units],
            )
        }
        args["unit_keys"] = sorted(known)
        missing = [u for u in units if u not in known]
        if missing:
            args["container_ids"] = sorted(
                {
                    r["container_id"]
                    for r in ctx.store.rows(
                        "SELECT DISTINCT container_id FROM shipment_units WHERE container_id IS NOT NULL"
                        " AND list_contains(?, gtin || '.' || serial)",
                        [missing],
                    )
                }
            )
        if not args["unit_keys"] and not args.get("container_ids"):
            return []
    elif case.get("shipment_id"):
        args["shipment_id"] = case["shipment_id"]
    else:
        return []
    return [_p("quarantine_units", case, reason, **args)]


def _investigate(params: dict, case: dict, reason: str, ctx: ToolContext) -> list[Proposal]:
    return [
        _p(
            "open_investigation",
            case,
            reason,
            subject=case["subject"],
            shipment_id=case.get("shipment_id"),
            kind=params.get("kind", "suspect"),
            evidence=case.get("evidence", {}),
        )
    ]


def _escalate_step(params: dict, case: dict, reason: str, ctx: ToolContext) -> list[Proposal]:
    return [
        _p(
            "escalate",
            case,
            reason,
            subject=case["subject"],
            summary=f"{params.get('summary', 'Needs a person')}: {reason}",
            to=params.get("to", "duty_manager"),
            evidence=case.get("evidence", {}),
            severity=case.get("severity", "medium"),
        )
    ]


_STOPPING_KINDS = (
    "serial_unknown",
    "serial_duplicate",
    "pi_mismatch",
    "expired_or_recalled",
    "data_missing",
)


def _message(params: dict, case: dict, reason: str, ctx: ToolContext) -> list[Proposal]:
    """A customer message from an approved template; a person calls when nobody can be written to."""
    from agent.brains.messaging import consenting_contact, message_proposal

    template = params["template"]
    sid = case.get("shipment_id")
    if template in ("new_eta", "reschedule_options") and sid and _being_stopped(ctx, sid):
        return []  # the shipment is being held: a new ETA would mislead the customer
    proposal = message_proposal(ctx, case, template, reason)
    if proposal is None:
        why = (
            "no contact with consent is on file"
            if sid is None or consenting_contact(ctx, sid) is None
            else "the notice needs facts not yet in the record (e.g. a replacement window)"
        )
        summary = f"Tell the customer ({template.replace('_', ' ')}): {why}"
        return _escalate_step({"summary": summary, "to": "customer_service"}, case, reason, ctx)
    return [proposal]


def _being_stopped(ctx: ToolContext, shipment_id: str) -> bool:
    """Held, quarantined, or carrying an identity or recall exception that will hold it."""
    if _status(ctx, shipment_id) in ("held", "quarantined"):
        return True
    return bool(
        ctx.store.scalar(
            f"SELECT count(*) FROM exceptions WHERE shipment_id = ? AND status <> 'resolved'"
            f" AND kind IN ({', '.join('?' * len(_STOPPING_KINDS))})",
            [shipment_id, *_STOPPING_KINDS],
        )
    )


def _cold_options(ctx: ToolContext, shipment_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Viable reroutes and swaps: the budget lasts until the product is safe again."""
    found: list[tuple[str, dict[str, Any]]] = []
    for finder, key in (("find_cold_depots", "depots"), ("find_compatible_assets", "assets")):
        try:
            result = call_tool(ctx, finder, {"shipment_id": shipment_id}).model_dump(mode="json")
        except ToolError:
            continue
        for option in result.get(key, []):
            budget = option.get("budget_at_handoff_min", option.get("budget_at_depot_min"))
            if option.get("budget_holds", True) and (budget is None or budget > 0):
                found.append((finder, option))
    return found


def _cold_rescue(params: dict, case: dict, reason: str, ctx: ToolContext) -> list[Proposal]:
    """Every load at risk: reroute or swap, whichever keeps the promised window (then the earlier
    delivery); escalate when neither can save a load in time."""
    loads = [s for s in _shipments_of(case) if _status(ctx, s) != "delivered"] or _shipments_of(
        case
    )[:1]
    if not loads:
        return _escalate_step({"summary": "Cold-chain risk without a shipment"}, case, reason, ctx)
    return [p for sid in loads for p in _rescue_one(case, sid, reason, ctx)]


def _rescue_one(case: dict, shipment_id: str, reason: str, ctx: ToolContext) -> list[Proposal]:
    status = _status(ctx, shipment_id)
    if status == "delivered":
        summary = (
            "Excursion within budget on a delivered shipment: review the product's stability file"
        )
        return _escalate_step({"summary": summary, "to": "quality_assurance"}, case, reason, ctx)
    options = _cold_options(ctx, shipment_id) if shipment_id else []
    if not options:
        summary = "No cold depot or compatible reefer can take the load before its budget runs out"
        return _escalate_step({"summary": summary}, case, reason, ctx)
    options.sort(key=lambda o: (not o[1].get("keeps_window", False), str(o[1].get("delivery_eta"))))
    finder, best = options[0]
    if finder == "find_cold_depots":
        return [
            _p(
                "reroute_shipment",
                case,
                reason,
                shipment_id=shipment_id,
                depot_id=best["depot_id"],
                reason=reason,
            )
        ]
    return [
        _p(
            "swap_asset",
            case,
            reason,
            shipment_id=shipment_id,
            new_asset_id=best["asset_id"],
            reason=reason,
        )
    ]


_BUILDERS = {
    "hold_shipment": _hold,
    "quarantine_units": _quarantine,
    "open_investigation": _investigate,
    "escalate": _escalate_step,
    "send_customer_message": _message,
    "cold_rescue": _cold_rescue,
}
