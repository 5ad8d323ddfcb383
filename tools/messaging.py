"""Customer messaging: approved templates into the outbox, delivered after commit.

``send_customer_message`` only *queues*: it checks the template, the contact (on file, with
consent for its channel, a contact of the shipment's destination), the fields (the template's
own, typed; nothing else), renders the body and writes it to ``messages`` with status ``queued``
in the tool's transaction. Nothing goes over the network while the transaction is open.

:func:`deliver_pending` (called by the agent, CLI or server after the tool has committed) hands
queued messages to a :class:`~tools.gateways.Messenger` — ``ctx.gateways.messaging``, default
:class:`~tools.gateways.OutboxMessenger`. Each delivery first *claims* the message in a short
transaction (a ``message_attempts`` row; a concurrent claimer conflicts and skips), then sends
with no transaction open, then records the outcome and its audit entry. A message already
``sent`` is never handed over again; a ``failed`` one stays in the outbox and is retried only
when asked (``retry_failed=True``). The provider receives the message id as Idempotency-Key on
every attempt, so a retry after a crash between its acceptance and our update is not a second
message either.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel, Field

from record import audit
from record.clock import Clock, SystemClock, utc_naive
from record.models import Contact, Shipment
from record.store import Cursor, Store
from tools._common import load_shipment, mark_exception, new_id
from tools.base import Kind, Risk, ToolContext, tool
from tools.errors import ToolError
from tools.gateways import Messenger, OutboxMessenger, OutgoingMessage, SendOutcome

__all__ = [
    "BODY_LIMITS",
    "DeliveryReport",
    "SendCustomerMessageArgs",
    "SendCustomerMessageResult",
    "deliver_message",
    "deliver_pending",
    "load_templates",
    "send_customer_message",
]

BODY_LIMITS = {"sms": 320, "email": 2000}
CLAIM_LEASE = timedelta(minutes=10)  # an unfinished claim older than this is abandoned
DEDUP_WINDOW = timedelta(hours=24)
_TEMPLATES = Path(__file__).with_name("message_templates.json")


@lru_cache(maxsize=1)
def load_templates() -> dict[str, dict[str, Any]]:
    """The approved templates, by name (``tools/message_templates.json``)."""
    data = json.loads(_TEMPLATES.read_text(encoding="utf-8"))
    return {name: spec for name, spec in data.items() if not name.startswith("_")}


class SendCustomerMessageArgs(BaseModel):
    """Arguments of send_customer_message."""

    template: str = Field(
        description="approved template name: delay_notice, new_eta, reschedule_confirmation, "
        "reschedule_options, replacement_notice or delivery_hold_notice"
    )
    contact_id: str = Field(
        description="a contact on file (contacts.contact_id) of the shipment's destination; "
        "phone numbers and e-mail addresses are not accepted"
    )
    shipment_id: str = Field(description="the shipment the message is about, e.g. SHP-1042")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="the template's own fields only, e.g. {'reason': 'weather'}; windows as "
        "ISO 'start/end' separated by ';'",
    )
    exception_id: str | None = Field(None, description="the exception this message responds to")


class SendCustomerMessageResult(BaseModel):
    """The queued message."""

    message_id: str = Field(description="outbox id")
    status: str = Field(description="queued, or sent/failed for an earlier identical message")
    channel: str = Field(description="sms or email, from the contact on file")
    to: str = Field(description="the contact's address, masked")
    template: str = Field(description="template used")
    shipment_id: str = Field(description="shipment the message is about")
    body: str = Field(description="the rendered text")
    deduplicated: bool = Field(
        False, description="an identical message was already queued or sent in the last 24 h"
    )
    delivery: str = Field(description="how and when it will be delivered")


def _datetime(value: str, label: str, now: datetime) -> datetime:
    try:
        moment = utc_naive(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise ToolError(
            f"field {label}: {value[:40]!r} is not an ISO date-time such as 2026-11-24T08:00",
            code="invalid_field",
        ) from None
    if moment <= now:
        raise ToolError(
            f"field {label}: {moment:%Y-%m-%d %H:%M} is in the past; offer a future time",
            code="invalid_field",
        )
    return moment


def _when(moment: datetime | None) -> str:
    return f"{moment:%a %b} {moment.day} {moment:%H:%M} UTC" if moment else "to be confirmed"


def _window(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "to be confirmed"
    if start.date() == end.date():
        return f"{start:%a %b} {start.day} {start:%H:%M}-{end:%H:%M} UTC"
    return f"{_when(start)} - {_when(end)}"


def _windows(value: str, label: str, spec: dict[str, Any], now: datetime) -> str:
    parts = [p.strip() for p in value.split(";") if p.strip()]
    limit = int(spec.get("max_items", 3))
    if not 1 <= len(parts) <= limit:
        raise ToolError(
            f"field {label}: give 1 to {limit} windows, got {len(parts)}", code="invalid_field"
        )
    rendered = []
    for i, part in enumerate(parts, 1):
        start_text, _, end_text = part.partition("/")
        start = _datetime(start_text, label, now)
        end = _datetime(end_text or start_text, label, now)
        if end <= start:
            raise ToolError(
                f"field {label}: window {part!r} ends before it starts", code="invalid_field"
            )
        rendered.append(f"{i}) {_window(start, end)}")
    return "; ".join(rendered)


def _field_value(label: str, spec: dict[str, Any], value: str, now: datetime) -> str:
    kind = spec["kind"]
    if kind == "enum":
        choices: dict[str, str] = spec["choices"]
        if value not in choices:
            raise ToolError(
                f"field {label}: {value[:40]!r} is not one of {', '.join(choices)}",
                code="invalid_field",
            )
        return choices[value]
    if kind == "datetime":
        return _when(_datetime(value, label, now))
    if kind == "windows":
        return _windows(value, label, spec, now)
    raise ValueError(f"template field {label} has unknown kind {kind!r}")


def _fields(name: str, spec: dict[str, Any], given: dict[str, str], now: datetime) -> dict:
    allowed: dict[str, dict[str, Any]] = spec["fields"]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) or "no fields"
        raise ToolError(
            f"template {name} does not take {', '.join(unknown)}; it takes {takes}. "
            "Messages carry the template's fields only — no patient or other "
            "details",
            code="unknown_fields",
        )
    missing = [k for k, f in allowed.items() if f.get("required") and k not in given]
    if missing:
        raise ToolError(f"template {name} needs {', '.join(missing)}", code="missing_fields")
    return {k: _field_value(k, allowed[k], v, now) for k, v in given.items()}


def _contact(ctx: ToolContext, contact_id: str, shipment: Shipment) -> Contact:
    row = ctx.store.row("SELECT * FROM contacts WHERE contact_id = ?", [contact_id])
    if row is None:
        hint = (
            " Messages go only to contacts on file, never to a typed number or address."
            if re.search(r"[@+]|\d{7}", contact_id)
            else ""
        )
        raise ToolError(
            f"no contact {contact_id!r} on file.{hint} Use a contact_id of the "
            f"destination of {shipment.shipment_id}",
            code="unknown_contact",
        )
    contact = Contact.from_row(row)
    owner = ctx.store.scalar(
        "SELECT partner_gln FROM locations WHERE location_id = ?", [shipment.destination_id]
    )
    same_place = contact.location_id == shipment.destination_id
    same_partner = contact.location_id is None and owner and contact.partner_gln == owner
    if not (same_place or same_partner):
        raise ToolError(
            f"contact {contact_id} is not a contact of {shipment.shipment_id}'s "
            f"destination {shipment.destination_id}; message only that customer",
            code="not_shipment_contact",
        )
    if not contact.consent:
        raise ToolError(
            f"contact {contact_id} has not consented to {contact.channel} messages; "
            "reach the customer through the contact center",
            code="no_consent",
        )
    if contact.channel not in BODY_LIMITS:
        raise ToolError(
            f"contact {contact_id} is a {contact.channel} contact; templates go by "
            "sms or email — call through the contact center",
            code="channel_unsupported",
        )
    return contact


def _render(
    ctx: ToolContext, args: SendCustomerMessageArgs, shipment: Shipment, channel: str
) -> str:
    spec = load_templates()[args.template]
    values = _fields(args.template, spec, args.fields, ctx.clock.now())
    place = ctx.store.row(
        "SELECT name, kind FROM locations WHERE location_id = ?", [shipment.destination_id]
    )
    destination = "your address" if not place or place["kind"] == "patient_home" else place["name"]
    values |= {
        "shipment_ref": shipment.shipment_id,
        "destination": destination,
        "eta": _when(shipment.eta),
        "window": _window(shipment.promised_start, shipment.promised_end),
    }
    if channel == "sms":
        body = Template(spec["sms"]).substitute(values)
    else:
        subject = Template(spec["email_subject"]).substitute(values)
        body = f"Subject: {subject}\n\n{Template(spec['email']).substitute(values)}"
    if len(body) > BODY_LIMITS[channel]:
        raise ToolError(
            f"the {channel} message would be {len(body)} characters, over the limit "
            f"of {BODY_LIMITS[channel]}; offer fewer options",
            code="body_too_long",
        )
    return body


def _mask(address: str) -> str:
    if "@" in address:
        user, _, domain = address.partition("@")
        return f"{user[:1]}***@{domain}"
    return f"{address[:2]}{'*' * max(0, len(address) - 6)}{address[-4:]}"


@tool(kind=Kind.WRITE, risk=Risk.PERMISSIVE, roles=("ops_manager", "contact_center", "automation"))
def send_customer_message(
    ctx: ToolContext, args: SendCustomerMessageArgs
) -> SendCustomerMessageResult:
    """Queue an approved-template message to a consenting contact of the shipment's destination.

    Only approved templates; only a contact of the shipment's destination with consent for its
    channel; only the template's typed fields (enum reasons, ISO times) — never free text, never
    a typed phone number or address. The message is queued in the outbox and delivered after
    commit; an identical message within 24 h is not queued twice.
    """
    templates = load_templates()
    if args.template not in templates:
        raise ToolError(
            f"unknown template {args.template!r}; approved templates: {', '.join(templates)}",
            code="unknown_template",
        )
    shipment = load_shipment(ctx, args.shipment_id)
    contact = _contact(ctx, args.contact_id, shipment)
    body = _render(ctx, args, shipment, contact.channel)
    now = ctx.clock.now()
    cur = ctx.cursor()
    earlier = cur.execute(
        "SELECT message_id, status FROM messages WHERE contact_id = ? AND template = ?"
        " AND shipment_id = ? AND body = ? AND status IN ('queued', 'sent') AND created_at >= ?"
        " ORDER BY created_at LIMIT 1",
        [contact.contact_id, args.template, shipment.shipment_id, body, now - DEDUP_WINDOW],
    ).fetchone()
    message_id, status = earlier if earlier else (new_id("MSG"), "queued")
    if not earlier:
        cur.execute(
            "INSERT INTO messages (message_id, contact_id, channel, address, template, body,"
            " shipment_id, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
            [
                message_id,
                contact.contact_id,
                contact.channel,
                contact.address,
                args.template,
                body,
                shipment.shipment_id,
                now,
            ],
        )
    mark_exception(
        cur,
        args.exception_id,
        "acted",
        f"customer message {message_id} ({args.template}) to {contact.contact_id}",
        now,
    )
    return SendCustomerMessageResult(
        message_id=message_id,
        status=status,
        channel=contact.channel,
        to=_mask(contact.address),
        template=args.template,
        shipment_id=shipment.shipment_id,
        body=body,
        deduplicated=bool(earlier),
        delivery="queued in the outbox; delivered after commit by the messaging gateway",
    )


# --- delivery after commit ---------------------------------------------------------------


class DeliveryReport(BaseModel):
    """What one :func:`deliver_pending` run did."""

    sent: list[str] = Field(default_factory=list, description="message ids delivered")
    failed: dict[str, str] = Field(default_factory=dict, description="message id -> error")
    skipped: list[str] = Field(
        default_factory=list, description="already sent, or claimed by another deliverer"
    )


def _claim(cur: Cursor, message_id: str, now: datetime, retry_failed: bool):
    row = cur.execute(
        "SELECT address, channel, body, status FROM messages WHERE message_id = ?", [message_id]
    ).fetchone()
    if row is None or row[3] not in (("queued", "failed") if retry_failed else ("queued",)):
        return None
    last, in_flight = cur.execute(
        "SELECT coalesce(max(attempt), 0), count(*) FILTER (WHERE outcome IS NULL"
        " AND started_at > ?) FROM message_attempts WHERE message_id = ?",
        [now - CLAIM_LEASE, message_id],
    ).fetchall()[0]
    if in_flight:
        return None
    cur.execute(
        "INSERT INTO message_attempts (message_id, attempt, started_at) VALUES (?, ?, ?)",
        [message_id, last + 1, now],
    )
    return OutgoingMessage(message_id, to=row[0], channel=row[1], body=row[2]), last + 1


def _finish(
    cur: Cursor,
    message: OutgoingMessage,
    attempt: int,
    outcome: SendOutcome,
    now: datetime,
    actor: str,
    messenger: str,
) -> None:
    cur.execute(
        "UPDATE message_attempts SET finished_at = ?, outcome = ?, http_attempts = ?, error = ?,"
        " provider_id = ? WHERE message_id = ? AND attempt = ?",
        [
            now,
            outcome.status,
            outcome.attempts,
            outcome.error,
            outcome.provider_id,
            message.message_id,
            attempt,
        ],
    )
    cur.execute(
        "UPDATE messages SET status = ?, provider_id = coalesce(?, provider_id),"
        " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE message_id = ?",
        [outcome.status, outcome.provider_id, outcome.status, now, message.message_id],
    )
    audit.append(
        cur,
        actor=actor,
        action=f"message.{outcome.status}",
        ts=now,
        subject=message.message_id,
        inputs={"messenger": messenger, "attempt": attempt, "channel": message.channel},
        result={
            "provider_id": outcome.provider_id,
            "error": outcome.error,
            "http_attempts": outcome.attempts,
        },
        reason=outcome.error,
    )


def deliver_message(
    store: Store,
    messenger: Messenger,
    message_id: str,
    *,
    clock: Clock | None = None,
    actor: str = "system:messaging",
    retry_failed: bool = False,
) -> SendOutcome | None:
    """Deliver one outbox message at most once; None when it was skipped.

    Raises:
        RuntimeError: when called inside an open transaction (deliver after commit).
    """
    if store.in_transaction():
        raise RuntimeError("deliver messages after the transaction that queued them commits")
    clock = clock or SystemClock()
    claim = store.write(lambda cur: _claim(cur, message_id, clock.now(), retry_failed))
    if claim is None:
        return None
    message, attempt = claim
    outcome = messenger.send(message)
    store.write(
        lambda cur: _finish(cur, message, attempt, outcome, clock.now(), actor, messenger.name)
    )
    return outcome


def deliver_pending(
    store: Store,
    messenger: Messenger | None = None,
    *,
    clock: Clock | None = None,
    actor: str = "system:messaging",
    limit: int = 100,
    retry_failed: bool = False,
) -> DeliveryReport:
    """Deliver queued messages (and failed ones when ``retry_failed``), oldest first.

    Args:
        store: the record; no transaction may be open.
        messenger: ``ctx.gateways.messaging``; default :class:`OutboxMessenger`.
        clock: time of the attempts and audit entries.
        actor: who the audit entries name.
        limit: at most this many messages in one run.
        retry_failed: also retry messages whose earlier delivery failed.
    """
    messenger = messenger or OutboxMessenger()
    statuses = ["queued", "failed"] if retry_failed else ["queued"]
    pending = store.rows(
        "SELECT message_id FROM messages WHERE list_contains(?, status)"
        " ORDER BY created_at, message_id LIMIT ?",
        [statuses, limit],
    )
    report = DeliveryReport()
    for row in pending:
        outcome = deliver_message(
            store, messenger, row["message_id"], clock=clock, actor=actor, retry_failed=retry_failed
        )
        if outcome is None:
            report.skipped.append(row["message_id"])
        elif outcome.status == "sent":
            report.sent.append(row["message_id"])
        else:
            report.failed[row["message_id"]] = outcome.error or "failed"
    return report
