"""Pydantic models of the rows the rest of Proofline passes around.

They mirror ``record/sql/*.sql``; timestamps are naive UTC. ``from_row`` builds a model from a
``Store.rows()`` dict, ignoring columns the model does not name.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Asset",
    "AuditEntry",
    "Container",
    "Contact",
    "CustodyEvent",
    "ExceptionCase",
    "ExceptionKind",
    "Location",
    "Lot",
    "Message",
    "Product",
    "Row",
    "Severity",
    "Shipment",
    "TempClass",
    "Unit",
    "EXCEPTION_KINDS",
]

TempClass = Literal["crt", "refrigerated", "frozen"]
Severity = Literal["low", "medium", "high", "critical"]
ExceptionKind = Literal[
    "serial_unknown",
    "serial_duplicate",
    "pi_mismatch",
    "aggregation_mismatch",
    "expired_or_recalled",
    "data_missing",
    "temp_excursion_risk",
    "temp_excursion",
    "asset_fault",
    "late_risk",
    "custody_gap",
]
EXCEPTION_KINDS: tuple[str, ...] = ExceptionKind.__args__  # type: ignore[attr-defined]


class Row(BaseModel):
    """Base of row models: build from a query dict, ignore extra columns."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        """Build the model from a ``Store.rows()`` dict."""
        return cls.model_validate(row)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class Location(Row):
    """A place goods are made, stored, cross-docked or delivered."""

    location_id: str
    gln: str
    partner_gln: str | None = None
    name: str
    kind: str
    lat: float | None = None
    lon: float | None = None
    cold_classes: list[str] = Field(default_factory=list)
    opens_at: time | None = None
    closes_at: time | None = None
    open_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    daily_capacity: int = 50


class Product(Row):
    """A trade item: GTIN, NDC, temperature class and stability budget."""

    gtin: str
    ndc: str | None = None
    name: str
    manufacturer_gln: str | None = None
    company_prefix_len: int | None = None
    temp_class: TempClass = "crt"
    temp_min_c: float = 20
    temp_max_c: float = 25
    stability_budget_min: int = 0
    min_shelf_life_days: int = 0


class Lot(Row):
    """A production lot of a product."""

    gtin: str
    lot: str
    expiry: date | None = None
    status: Literal["released", "recalled", "quarantined"] = "released"


class Unit(Row):
    """A serialized unit as commissioned by its manufacturer."""

    gtin: str
    serial: str
    lot: str | None = None
    expiry: date | None = None
    status: str = "commissioned"
    container_id: str | None = None
    location_id: str | None = None
    commissioned_at: datetime | None = None

    @property
    def key(self) -> str:
        """The unit's record key, ``gtin.serial``."""
        return f"{self.gtin}.{self.serial}"


class Container(Row):
    """A case or logistic unit (SSCC) holding units or other containers."""

    container_id: str
    kind: str
    parent_id: str | None = None
    declared_children: int | None = None
    shipment_id: str | None = None
    created_at: datetime | None = None


class Asset(Row):
    """A vehicle, reefer or passive shipper."""

    asset_id: str
    kind: str
    temp_min_c: float
    temp_max_c: float
    setpoint_c: float | None = None
    capacity_pallets: int
    location_id: str | None = None
    status: str = "available"
    health: str = "ok"
    battery_pct: float | None = None
    last_telemetry_at: datetime | None = None


class Shipment(Row):
    """A shipment from an origin to a destination, with its promised window."""

    shipment_id: str
    order_id: str | None = None
    origin_id: str
    destination_id: str
    route_id: str | None = None
    asset_id: str | None = None
    status: str = "planned"
    planned_departure: datetime | None = None
    departed_at: datetime | None = None
    eta: datetime | None = None
    promised_start: datetime | None = None
    promised_end: datetime | None = None
    delivered_at: datetime | None = None
    ti_document: str | None = None
    ts_attested: bool = False
    notes: str | None = None


class CustodyEvent(Row):
    """An EPCIS event as captured in the record."""

    event_id: str
    event_type: str
    action: str | None = None
    biz_step: str | None = None
    disposition: str | None = None
    event_time: datetime
    tz_offset: str | None = None
    epcs: list[str] = Field(default_factory=list)
    parent_id: str | None = None
    read_point: str | None = None
    biz_location: str | None = None
    source_id: str | None = None
    destination_id: str | None = None
    shipment_id: str | None = None
    origin: str = "epcis"
    document_id: str | None = None


class Contact(Row):
    """A customer contact point with its consent for one channel."""

    contact_id: str
    partner_gln: str | None = None
    location_id: str | None = None
    name: str
    channel: Literal["sms", "email", "voice"]
    address: str
    consent: bool = False


class Message(Row):
    """A customer message in the outbox."""

    message_id: str
    contact_id: str
    channel: str
    address: str
    template: str
    body: str
    shipment_id: str | None = None
    status: str = "queued"
    provider_id: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


class ExceptionCase(Row):
    """An exception sensed in the record, with the evidence that proves it."""

    exception_id: str = ""
    kind: ExceptionKind
    severity: Severity
    subject: str = Field(description="what it is about: shipment, unit key, SSCC, asset")
    shipment_id: str | None = None
    detected_at: datetime | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    status: str = "open"
    resolution: str | None = None

    _parse_evidence = field_validator("evidence", mode="before")(_json)


class AuditEntry(Row):
    """One entry of the hash-chained audit log."""

    seq: int
    ts: datetime
    actor: str
    role: str | None = None
    action: str
    subject: str | None = None
    inputs: Any = None
    result: Any = None
    reason: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    idempotency_key: str | None = None
    prev_hash: str
    hash: str

    _parse_json = field_validator("inputs", "result", mode="before")(_json)
