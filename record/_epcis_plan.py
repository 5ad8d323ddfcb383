"""EPCIS events read into what the record needs: identifiers as record keys, times in UTC,
CBV values as short names, lot and expiry from the instance master data (ILMD).

Nothing here touches the database; every problem found is collected so that the import can
report all of them at once and change nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from record._epcis_cbv import VOCABULARIES
from record._epcis_checks import parse_date, parse_time
from record._epcis_keys import Ident, Reader
from record._epcis_master import ProductInfo, mda_name
from record.identifiers import is_valid_lot

__all__ = [
    "ParsedEvent",
    "Reader",
    "add_products_seen",
    "canonical",
    "normalise_event",
    "read_events",
]

_EVENT_NS = uuid.UUID("6f1c3b0e-5d0a-4c8e-9a43-3a1f0e2b7c55")  # Proofline EPCIS event ids
_ID_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_PARTY_ORDER = ("location", "owning_party", "possessing_party")


@dataclass
class ParsedEvent:
    """One event, read and checked, ready to be written."""

    index: int
    label: str
    event_id: str
    event_type: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    event_time: datetime
    tz_offset: str | None
    raw: dict[str, Any]
    ids: dict[str, list[Ident]] = field(default_factory=dict)
    """Identifiers per list: epcList, childEPCs, inputEPCList, outputEPCList."""
    parent: Ident | None = None
    quantities: list[dict[str, Any]] = field(default_factory=list)
    classes: list[Ident] = field(default_factory=list)
    """The ``epcClass`` identifiers of the quantity lists."""
    read_point: str | None = None
    biz_location: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    destinations: dict[str, str] = field(default_factory=dict)
    biz_transactions: list[dict[str, str]] = field(default_factory=list)
    lot: str | None = None
    expiry: date | None = None
    declared_error: bool = False

    @property
    def epcs(self) -> list[str]:
        """Record keys (or raw URIs) of every identifier in the event's EPC lists."""
        seen: dict[str, None] = {}
        for idents in self.ids.values():
            seen.update(dict.fromkeys(i.key for i in idents))
        return list(seen)

    def idents(self, *lists: str) -> list[Ident]:
        """Identifiers in the named lists (all lists when none are named)."""
        return [i for name in (lists or _ID_LISTS) for i in self.ids.get(name, [])]

    @property
    def source_id(self) -> str | None:
        """The place (else owning party) the goods left."""
        return next((self.sources[t] for t in _PARTY_ORDER if t in self.sources), None)

    @property
    def destination_id(self) -> str | None:
        """The place (else owning party) the goods go to."""
        return next((self.destinations[t] for t in _PARTY_ORDER if t in self.destinations), None)

    @property
    def transaction(self) -> str | None:
        """The despatch advice, else the purchase order, this event belongs to."""
        by_type = {t.get("type"): t.get("bizTransaction") for t in self.biz_transactions}
        return by_type.get("desadv") or by_type.get("po")


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, compact, UTF-8 text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalise_event(event: dict[str, Any], *, urns_only: bool = False) -> dict[str, Any]:
    """Return a copy with CBV values as short names (the EPCIS 2.0 JSON spelling).

    With ``urns_only``, only CBV 1.x URNs are rewritten (the 2.0 JSON Schema refuses them);
    CBV Web URIs, which 2.0 allows, are kept as written.
    """
    out = dict(event)

    def fix(vocab: str, value: Any) -> Any:
        return (
            VOCABULARIES[vocab].normalise(value, urns_only=urns_only)
            if isinstance(value, str)
            else value
        )

    def retype(items: Any, vocab: str) -> Any:
        if not isinstance(items, list):
            return items
        return [
            {**i, "type": fix(vocab, i["type"])} if isinstance(i, dict) and "type" in i else i
            for i in items
        ]

    for name in ("bizStep", "disposition"):
        if name in out:
            out[name] = fix(name, out[name])
    persistent = out.get("persistentDisposition")
    if isinstance(persistent, dict):
        out["persistentDisposition"] = {
            k: [fix("disposition", v) for v in vs] if isinstance(vs, list) else vs
            for k, vs in persistent.items()
        }
    lists = {"bizTransactionList": "bizTransactionType", "sourceList": "sourceDestType"}
    for name, vocab in (lists | {"destinationList": "sourceDestType"}).items():
        if name in out:
            out[name] = retype(out[name], vocab)
    declaration = out.get("errorDeclaration")
    if isinstance(declaration, dict) and "reason" in declaration:
        out["errorDeclaration"] = {
            **declaration,
            "reason": fix("errorReason", declaration["reason"]),
        }
    return out


def _context_map(*contexts: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for context in contexts:
        for item in context if isinstance(context, list) else [context]:
            if isinstance(item, dict):
                out.update({k: v for k, v in item.items() if isinstance(v, str)})
    return out


def _ilmd(event: ParsedEvent, ilmd: Any, context: dict[str, str], errors: list[str]) -> None:
    if not isinstance(ilmd, dict):
        return
    for key, value in ilmd.items():
        name = mda_name(key, context)
        path = f"{event.label}.ilmd.{key}"
        if name == "lotNumber":
            if not isinstance(value, str) or not is_valid_lot(value):
                errors.append(f"{path}: {value!r} is not a lot number (1-20 GS1 characters)")
            else:
                event.lot = value
        elif name == "itemExpirationDate":
            expiry = parse_date(value)
            if expiry is None:
                errors.append(f"{path}: {value!r} is not a date; write it as YYYY-MM-DD")
            event.expiry = expiry


def _parties(items: Any, kind: str, path: str, reader: Reader) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            key = reader.key(item.get(kind), f"{path}[{i}].{kind}")
            if key and isinstance(item.get("type"), str):
                out.setdefault(item["type"], key)
    return out


def _quantities(
    raw: dict[str, Any], label: str, reader: Reader
) -> tuple[list[dict[str, Any]], list[Ident]]:
    out, classes = [], []
    for name in _QUANTITY_LISTS:
        items = raw.get(name)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            ident = reader.ident(item.get("epcClass"), f"{label}.{name}[{i}].epcClass")
            if ident is None:
                continue
            entry = {
                "epcClass": ident.key,
                "quantity": item.get("quantity"),
                "uom": item.get("uom"),
            }
            if name != "quantityList":
                entry["list"] = name
            out.append(entry)
            classes.append(ident)
    return out, classes


def _read_event(
    index: int, label: str, raw: dict[str, Any], doc_context: Any, errors: list[str]
) -> ParsedEvent | None:
    when = parse_time(raw.get("eventTime"))
    if when is None:
        return None  # reported by the checks
    norm = normalise_event(raw)
    text = canonical(norm)
    event_id = raw.get("eventID")
    event = ParsedEvent(
        index=index,
        label=label,
        event_id=event_id
        if isinstance(event_id, str)
        else f"urn:uuid:{uuid.uuid5(_EVENT_NS, text)}",
        event_type=str(raw.get("type")),
        action=raw.get("action"),
        biz_step=norm.get("bizStep"),
        disposition=norm.get("disposition"),
        event_time=when,
        tz_offset=raw.get("eventTimeZoneOffset"),
        raw=raw,
        biz_transactions=[t for t in norm.get("bizTransactionList") or [] if isinstance(t, dict)],
        declared_error="errorDeclaration" in raw,
    )
    reader = Reader(errors)
    for name in _ID_LISTS:
        values = raw.get(name)
        found = [reader.ident(v, f"{label}.{name}[{i}]") for i, v in enumerate(values or [])]
        if isinstance(values, list):
            event.ids[name] = [i for i in found if i is not None]
    if "parentID" in raw:
        event.parent = reader.ident(raw["parentID"], f"{label}.parentID")
    event.quantities, event.classes = _quantities(raw, label, reader)
    for name in ("readPoint", "bizLocation"):
        place = raw.get(name)
        if isinstance(place, dict):
            key = reader.key(place.get("id"), f"{label}.{name}.id")
            setattr(event, "read_point" if name == "readPoint" else "biz_location", key)
    event.sources = _parties(norm.get("sourceList"), "source", f"{label}.sourceList", reader)
    event.destinations = _parties(
        norm.get("destinationList"), "destination", f"{label}.destinationList", reader
    )
    _ilmd(event, raw.get("ilmd"), _context_map(doc_context, raw.get("@context")), errors)
    return event


def read_events(
    events: list[Any], labels: list[str], doc_context: Any, errors: list[str]
) -> list[ParsedEvent]:
    """Read every event; identifier and ILMD problems go to ``errors`` with their paths."""
    out = []
    for index, (raw, label) in enumerate(zip(events, labels, strict=True)):
        if isinstance(raw, dict):
            event = _read_event(index, label, raw, doc_context, errors)
            if event is not None:
                out.append(event)
    return out


def add_products_seen(events: list[ParsedEvent], products: dict[str, ProductInfo]) -> None:
    """Add a product for every GTIN the events name, with its company prefix length if known."""
    for ev in events:
        for ident in [*ev.idents(), *ev.classes, *([ev.parent] if ev.parent else [])]:
            if ident.gtin:
                product = products.setdefault(ident.gtin, ProductInfo(ident.gtin))
                product.company_prefix_len = product.company_prefix_len or ident.company_prefix_len
