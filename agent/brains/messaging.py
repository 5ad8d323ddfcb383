"""Customer-message proposals: whom to write to (a contact on file with consent) and the
template fields, taken from the record — never from free text."""

from __future__ import annotations

from typing import Any

from agent.brains.base import Proposal
from tools.base import ToolContext, call_tool
from tools.errors import ToolError

__all__ = ["consenting_contact", "message_proposal", "options_field"]

# The approved reason of each template (tools/message_templates.json), by exception kind.
_REASONS: dict[str, dict[str, str]] = {
    "delay_notice": {"temp_excursion_risk": "temperature_control", "asset_fault": "vehicle_issue",
                     "late_risk": "carrier_delay"},
    "replacement_notice": {"temp_excursion": "temperature_excursion", "expired_or_recalled": "recalled_lot",
                           "pi_mismatch": "verification_failed", "serial_unknown": "verification_failed"},
    "delivery_hold_notice": {"temp_excursion": "temperature_review", "temp_excursion_risk": "temperature_review",
                             "expired_or_recalled": "recall", "data_missing": "documentation",
                             "pi_mismatch": "quality_check", "serial_unknown": "quality_check",
                             "serial_duplicate": "quality_check", "aggregation_mismatch": "quality_check"},
}  # fmt: skip


def _reason_for(template: str, kind: str) -> str:
    return _REASONS.get(template, {}).get(kind, "other")


def consenting_contact(ctx: ToolContext, shipment_id: str) -> str | None:
    """The destination's first contact with consent (SMS preferred), or None."""
    row = ctx.store.row(
        "SELECT c.contact_id FROM shipments s JOIN contacts c ON c.location_id = s.destination_id"
        " WHERE s.shipment_id = ? AND c.consent ORDER BY c.channel = 'sms' DESC, c.contact_id LIMIT 1",
        [shipment_id],
    )
    return row["contact_id"] if row else None


def options_field(
    ctx: ToolContext, shipment_id: str, count: int = 3
) -> tuple[str | None, list[dict[str, Any]]]:
    """Feasible windows as the template's ``start/end;start/end`` field, and the raw options."""
    try:
        found = call_tool(
            ctx, "reschedule_options", {"shipment_id": shipment_id, "max_results": count}
        )
    except ToolError:
        return None, []
    options = found.model_dump(mode="json")["options"][:count]
    text = ";".join(f"{o['start']}/{o['end']}" for o in options)
    return (text or None), options


def message_proposal(
    ctx: ToolContext, case: dict[str, Any], template: str, reason: str
) -> Proposal | None:
    """A send_customer_message proposal for ``case``, or None when nobody may be written to."""
    shipment_id = case.get("shipment_id")
    contact = consenting_contact(ctx, shipment_id) if shipment_id else None
    if contact is None:
        return None
    fields: dict[str, str] = {}
    if template in ("delay_notice", "delivery_hold_notice"):
        fields["reason"] = _reason_for(template, case["kind"])
    elif template == "replacement_notice":
        _, options = options_field(ctx, shipment_id, 1)  # type: ignore[arg-type]
        if not options:
            return None
        fields = {
            "reason": _reason_for(template, case["kind"]),
            "replacement_eta": options[0]["start"],
        }
    elif template == "reschedule_options":
        text, _ = options_field(ctx, shipment_id)  # type: ignore[arg-type]
        if text is None:
            return None
        fields["options"] = text
    return Proposal(
        "send_customer_message",
        {
            "template": template,
            "contact_id": contact,
            "shipment_id": shipment_id,
            "fields": fields,
            "exception_id": case["exception_id"],
        },
        reason,
        case["exception_id"],
    )
