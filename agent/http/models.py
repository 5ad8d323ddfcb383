"""Request (``XCreate``) and response (``XPublic``) models of the HTTP API.

Read routes answer with the read tools' own result models (``tools.read``), so the API and the
agent see the same shapes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_serializer

from record.models import AuditEntry
from tools.read import ExceptionList, ShipmentView, TemperatureHistory

__all__ = [
    "ApprovalApproveCreate",
    "AuditEntryPublic",
    "ExceptionListPublic",
    "PublicModel",
    "ShipmentPublic",
    "TemperaturesPublic",
    "utc",
    "ApprovalPublic",
    "ApprovalRejectCreate",
    "AuditVerifyPublic",
    "ChatMessageCreate",
    "ChatResumeCreate",
    "ChatThreadPublic",
    "EpcisImportPublic",
    "ErrorPublic",
    "HealthPublic",
    "KpisPublic",
    "MePublic",
    "ReadingCreate",
    "ReadingsCreate",
    "ReadingsPublic",
    "ReadyPublic",
    "RescheduleCreate",
    "ReschedulePublic",
    "ScanCreate",
    "ScanItemPublic",
    "ScansCreate",
    "ScansPublic",
    "ShipmentCustodyPublic",
    "TriageRunDetailPublic",
    "TriageRunPublic",
    "TriageSummaryPublic",
]

MAX_BATCH = 10_000


def utc(value: Any) -> Any:
    """``value`` with every naive datetime in it (UTC by the record's convention) made aware."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, dict):
        return {k: utc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [utc(v) for v in value]
    return value


def utc_json(value: Any) -> Any:
    """``value`` for JSON outside a model (event streams): datetimes as RFC 3339 ``…Z`` text."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: utc_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [utc_json(v) for v in value]
    return value


class PublicModel(BaseModel):
    """Base of the response models: timestamps go out as RFC 3339 UTC (``2026-11-23T06:00:00Z``),
    also inside free-form fields; the record keeps them naive, in UTC."""

    @field_serializer("*", mode="wrap")
    def _utc_out(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        return handler(utc(value))


class ShipmentPublic(PublicModel, ShipmentView):
    """A shipment as ``get_shipment`` shows it."""


class TemperaturesPublic(PublicModel, TemperatureHistory):
    """A temperature trace as ``temperature_history`` shows it."""


class ExceptionListPublic(PublicModel, ExceptionList):
    """Exceptions as ``list_exceptions`` shows them."""


class AuditEntryPublic(PublicModel, AuditEntry):
    """One audit entry."""


class ErrorPublic(BaseModel):
    """Every 4xx/5xx answer: a code, a message a person can act on, and the fields at fault."""

    error: str = Field(description="Machine-readable code, e.g. not_found, invalid_request.")
    detail: str = Field(description="What was wrong and what to do about it.")
    fields: dict[str, str] = Field(default_factory=dict, description="Field path → problem.")
    errors: list[str] | None = Field(default=None, description="Every problem (EPCIS imports).")
    error_id: str | None = Field(default=None, description="Opaque id of a 500, for the logs.")


# --- chat ------------------------------------------------------------------------------------


class ChatMessageCreate(BaseModel):
    """One message from a person to the agent."""

    message: str = Field(min_length=1, max_length=4000, description="What to ask or ask for.")


class ChatResumeCreate(BaseModel):
    """A person's answer to the thread's pending approval."""

    decision: Literal["approve", "reject"] = Field(description="approve or reject.")
    reason: str | None = Field(default=None, max_length=500, description="Why (for the audit).")


class ChatThreadPublic(PublicModel):
    """A chat thread's state."""

    thread_id: str
    approval: dict[str, Any] | None = Field(
        default=None, description="The approval the thread waits for (approval_request), if any."
    )


# --- triage ----------------------------------------------------------------------------------


class TriageSummaryPublic(PublicModel):
    """The shift lead's view of one triage run."""

    model_config = ConfigDict(extra="allow")

    run_id: str | None = None
    brain: str | None = None
    exceptions: int = Field(default=0, description="Open exceptions the run decided on.")
    by_kind: dict[str, int] = Field(default_factory=dict)
    actions: dict[str, int] = Field(default_factory=dict, description='"tool:outcome" → count.')
    done: int = 0
    queued: int = Field(default=0, description="Actions waiting for approval.")
    refused: int = 0
    usage: dict[str, int] = Field(default_factory=dict, description="LLM calls and tokens.")


class TriageRunPublic(PublicModel):
    """A triage run as recorded in ``triage_runs``."""

    run_id: str
    brain: str
    actor: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str
    summary: TriageSummaryPublic | None = None


class TriageRunDetailPublic(TriageRunPublic):
    """A run with its decisions, read from the run's LangGraph state."""

    plans: list[dict[str, Any]] = Field(default_factory=list, description="Per case: proposals.")
    verdicts: list[dict[str, Any]] = Field(default_factory=list, description="Guard verdicts.")
    outcomes: list[dict[str, Any]] = Field(default_factory=list, description="What happened.")


# --- approvals and reschedule ----------------------------------------------------------------


class ApprovalPublic(PublicModel):
    """A permissive action waiting for (or decided by) an operations manager."""

    approval_id: str
    exception_id: str | None = None
    tool: str
    args: dict[str, Any]
    proposer: str
    reason: str | None = None
    status: Literal["pending", "approved", "rejected"]
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    result: Any = None
    thread_id: str | None = Field(default=None, description="Chat thread that asked for it.")
    thread_reply: str | None = Field(
        default=None, description="When deciding resumed a chat thread: the agent's reply."
    )


class ApprovalApproveCreate(BaseModel):
    """Optional note with an approval."""

    reason: str | None = Field(default=None, max_length=500)


class ApprovalRejectCreate(BaseModel):
    """Why the action is rejected (goes to the audit log and reopens the exception)."""

    reason: str = Field(min_length=1, max_length=500)


class RescheduleCreate(BaseModel):
    """A customer's reschedule request, as written."""

    text: str = Field(min_length=1, max_length=2000, description="Free text from the customer.")


class ReschedulePublic(PublicModel):
    """What happened to a reschedule request."""

    status: Literal["applied", "options", "clarify", "refused"]
    message: str = Field(description="What to tell the customer.")
    shipment_id: str | None = None
    window: dict[str, Any] | None = None
    options: list[dict[str, Any]] | None = None
    result: dict[str, Any] | None = None
    confirmation: dict[str, Any] | None = None


# --- ingestion -------------------------------------------------------------------------------


class ReadingCreate(BaseModel):
    """One temperature reading."""

    asset_id: str = Field(min_length=1, max_length=64, description="Asset (reefer) id.")
    shipment_id: str | None = Field(default=None, max_length=64, description="Shipment aboard.")
    ts: datetime = Field(description="When it was read (ISO; naive means UTC).")
    temp_c: float = Field(ge=-90, le=90, description="°C, between −90 and +90.")


class ReadingsCreate(BaseModel):
    """A batch of readings (at most 10,000)."""

    readings: list[ReadingCreate] = Field(min_length=1, max_length=MAX_BATCH)


class ReadingsPublic(PublicModel):
    """What a readings batch did."""

    received: int
    stored: int
    duplicates: int = Field(description="Already stored (or repeated in the batch); skipped.")


class ScanCreate(BaseModel):
    """One barcode scan at a location."""

    barcode: str = Field(min_length=1, max_length=512, description="GS1 element string, DL, URN.")
    location_id: str = Field(min_length=1, max_length=64, description="Location GLN.")
    at: datetime = Field(description="When it was scanned (ISO; naive means UTC).")
    event: Literal["receiving", "shipping", "inspecting"]


class ScansCreate(BaseModel):
    """A batch of scans (at most 10,000)."""

    scans: list[ScanCreate] = Field(min_length=1, max_length=MAX_BATCH)


class ScanItemPublic(PublicModel):
    """The fate of one scan."""

    index: int
    status: Literal["stored", "duplicate", "invalid"]
    key: str | None = Field(default=None, description="The item's record key.")
    event_id: str | None = None
    reason: str | None = Field(default=None, description="Why it was not stored.")


class ScansPublic(PublicModel):
    """What a scans batch did, item by item."""

    received: int
    stored: int
    duplicates: int
    invalid: int
    items: list[ScanItemPublic]


class EpcisImportPublic(PublicModel):
    """What an EPCIS import did."""

    document_id: str
    format: str
    sha256: str
    events: dict[str, int]
    units_created: int
    containers_created: int
    products_created: int
    lots_created: int
    shipments_created: int
    locations_created: int
    warnings: list[str]
    already_imported: bool
    summary: str


# --- shipments, audit, health, KPIs ----------------------------------------------------------


class ShipmentCustodyPublic(PublicModel):
    """Custody trail of a shipment's containers, merged and in time order."""

    shipment_id: str
    containers: list[str] = Field(description="Top-level containers traced (SSCCs).")
    events: list[dict[str, Any]]
    epods: list[dict[str, Any]]


class AuditVerifyPublic(PublicModel):
    """The audit chain's state."""

    ok: bool
    entries: int
    head_hash: str
    first_broken: int | None = None
    problem: str | None = None
    description: str


class HealthPublic(PublicModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class ReadyPublic(PublicModel):
    """Readiness: the database answers, every migration is applied, and the audit chain state."""

    ready: bool
    database: str
    schema_version: int
    expected_schema_version: int
    audit: AuditVerifyPublic | None = None


class MePublic(PublicModel):
    """Who an API key is."""

    key_id: str
    role: Literal["ops_manager", "contact_center", "automation", "auditor"]
    name: str | None = None
    actor: str = Field(description="How the audit log records this caller: key:<key_id>.")


class KpisPublic(PublicModel):
    """The console's KPI strip, computed in SQL over the record."""

    as_of: datetime
    delivered: int
    on_time: int
    on_time_delivery_pct: float | None = Field(description="Delivered by the promised end.")
    open_exceptions: dict[str, int] = Field(description="Unresolved exceptions by severity.")
    excursions: int = Field(description="Temperature excursions sensed.")
    units_lost: int = Field(description="Units quarantined for temperature.")
    gates_run: int
    gates_passed: int
    verification_pass_rate_pct: float | None = Field(description="Release gates passed / run.")
    acted_exceptions: int
    median_minutes_to_action: float | None = Field(
        description="Median minutes from detection to the first audited action on it."
    )
