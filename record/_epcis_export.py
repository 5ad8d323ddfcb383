"""Writing custody events out as an EPCIS 2.0 JSON document.

An event imported from EPCIS is emitted as captured (its ``raw`` JSON, CBV values spelled as
short names), so extension fields, sensor data and error declarations survive a round trip.
Namespace prefixes its source document declared are declared again in the new document.
Events recorded by other means (synthetic network, tools, scans) are built from their columns:
EPCs as EPC URNs when the product's GS1 Company Prefix length is known, else as GS1 Digital
Link URIs. Product and location master data for the identifiers involved go in the header.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from record._epcis_cbv import is_uri
from record._epcis_plan import normalise_event
from record._epcis_xml import EPCIS_CONTEXT
from record.identifiers import EPC, digital_link, lgtin_urn, sgtin_urn
from record.store import Store

__all__ = ["build_document"]

_ID_LIST = {
    "ObjectEvent": "epcList", "TransactionEvent": "epcList", "AggregationEvent": "childEPCs",
    "AssociationEvent": "childEPCs", "TransformationEvent": "outputEPCList",
}  # fmt: skip
_MDA = "urn:epcglobal:cbv:mda#"


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


def _gtin_of(key: str) -> str | None:
    head = key[:14]
    if head.isdigit() and (len(key) == 14 or (len(key) > 15 and key[14] == ".")):
        return head
    return None


class _Uris:
    """Turns record keys back into EPC URNs or Digital Link URIs."""

    def __init__(self, prefix_lengths: dict[str, int | None]) -> None:
        self.cpl = prefix_lengths

    def instance(self, key: str) -> str:
        gtin = _gtin_of(key)
        if gtin and len(key) > 15:
            n = self.cpl.get(gtin)
            serial = key[15:]
            return sgtin_urn(gtin, serial, n) if n else digital_link(EPC("sgtin", gtin, serial))
        if key.isdigit() and len(key) == 18:
            return digital_link(EPC("sscc", sscc=key))
        return key

    def klass(self, key: str) -> str:
        gtin = _gtin_of(key)
        if gtin is None:
            return key
        n = self.cpl.get(gtin)
        if len(key) == 14:
            return _gtin_pattern(gtin, n) if n else f"https://id.gs1.org/01/{gtin}"
        lot = key[15:]
        return lgtin_urn(gtin, lot, n) if n else digital_link(EPC("lgtin", gtin, lot=lot))

    @staticmethod
    def place(key: str) -> str:
        gln, _, extension = key.partition(".")
        if gln.isdigit() and len(gln) == 13:
            return digital_link(EPC("sgln", gln=gln, extension=extension or None))
        return key


def _gtin_pattern(gtin: str, n: int) -> str:
    return f"urn:epc:idpat:sgtin:{gtin[1 : 1 + n]}.{gtin[0]}{gtin[1 + n : 13]}.*"


def _load(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _built(row: dict[str, Any], uris: _Uris) -> dict[str, Any]:
    """An EPCIS 2.0 event from a custody_events row that has no captured event."""
    event_id = row["event_id"]
    event: dict[str, Any] = {
        "type": row["event_type"],
        "eventID": event_id if is_uri(event_id) else f"urn:proofline:event:{quote(event_id)}",
        "eventTime": _time(row["event_time"]),
        "eventTimeZoneOffset": row["tz_offset"] or "+00:00",
    }
    if row["parent_id"]:
        event["parentID"] = uris.instance(row["parent_id"])
    event[_ID_LIST.get(row["event_type"], "epcList")] = [uris.instance(k) for k in row["epcs"]]
    for q in _load(row["quantities"]) or []:
        item = {"epcClass": uris.klass(q["epcClass"])}
        item |= {k: q[k] for k in ("quantity", "uom") if q.get(k) is not None}
        event.setdefault(q.get("list", "quantityList"), []).append(item)
    names = {"action": "action", "biz_step": "bizStep", "disposition": "disposition"}
    if row["event_type"] == "TransformationEvent":
        del names["action"]  # a transformation has no action
    for column, name in names.items():
        if row[column]:
            event[name] = row[column]
    for column, name in (("read_point", "readPoint"), ("biz_location", "bizLocation")):
        if row[column]:
            event[name] = {"id": uris.place(row[column])}
    if row["biz_transactions"]:
        event["bizTransactionList"] = _load(row["biz_transactions"])
    for kind in ("source", "destination"):
        if row[f"{kind}_id"]:
            event[f"{kind}List"] = [{"type": "location", kind: uris.place(row[f"{kind}_id"])}]
    return event


def _keys(rows: Sequence[dict[str, Any]]) -> tuple[set[str], set[str]]:
    gtins: set[str] = set()
    places: set[str] = set()
    for row in rows:
        keys = [*row["epcs"], row["parent_id"] or ""]
        keys += [q["epcClass"] for q in _load(row["quantities"]) or []]
        gtins |= {g for g in map(_gtin_of, keys) if g}
        columns = ("read_point", "biz_location", "source_id", "destination_id")
        places |= {row[c] for c in columns if row[c]}
    return gtins, places


def _attribute(name: str, value: Any) -> dict[str, Any]:
    return {"id": _MDA + name, "attribute": value}


def _master_data(store: Store, rows: Sequence[dict[str, Any]], uris: _Uris) -> list[dict]:
    gtins, places = _keys(rows)
    vocabularies = []
    products = store.rows(
        "SELECT * FROM products WHERE gtin IN (SELECT unnest(?::VARCHAR[])) "
        "AND (ndc IS NOT NULL OR name <> 'GTIN ' || gtin) ORDER BY gtin",
        [sorted(gtins)],
    )
    elements = []
    for p in products:
        attributes = [_attribute("regulatedProductName", p["name"])]
        if p["ndc"]:
            attributes += [
                _attribute("additionalTradeItemIdentification", p["ndc"]),
                _attribute("additionalTradeItemIdentificationTypeCode", "US_FDA_NDC"),
            ]
        for column, name in (
            ("dosage_form", "dosageFormType"),
            ("strength", "strengthDescription"),
        ):
            if p.get(column):
                attributes.append(_attribute(name, p[column]))
        elements.append({"id": uris.klass(p["gtin"]), "attributes": attributes})
    if elements:
        vocabularies.append(
            {"type": "urn:epcglobal:epcis:vtype:EPCClass", "vocabularyElementList": elements}
        )
    locations = store.rows(
        "SELECT location_id, name FROM locations WHERE location_id IN "
        "(SELECT unnest(?::VARCHAR[])) ORDER BY location_id",
        [sorted(places)],
    )
    if locations:
        items = [
            {"id": uris.place(loc["location_id"]), "attributes": [_attribute("name", loc["name"])]}
            for loc in locations
        ]
        vocabularies.append(
            {"type": "urn:epcglobal:epcis:vtype:Location", "vocabularyElementList": items}
        )
    return vocabularies


def _contexts(store: Store, document_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Namespace prefixes each source document declared, by document id."""
    out: dict[str, dict[str, str]] = {}
    ids = sorted({d for d in document_ids if d})
    for row in store.rows(
        "SELECT document_id, header FROM epcis_documents WHERE document_id IN "
        "(SELECT unnest(?::VARCHAR[]))",
        [ids],
    ):
        context = (_load(row["header"]) or {}).get("@context")
        items = context if isinstance(context, list) else [context]
        prefixes: dict[str, str] = {}
        for item in items:
            if isinstance(item, dict):
                prefixes.update({k: v for k, v in item.items() if isinstance(v, str)})
        out[row["document_id"]] = prefixes
    return out


def build_document(store: Store, rows: Sequence[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Build the EPCIS 2.0 JSON document for custody_events ``rows`` (in output order)."""
    gtins, _ = _keys(rows)
    lengths = store.rows(
        "SELECT gtin, company_prefix_len FROM products WHERE gtin IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(gtins)],
    )
    uris = _Uris({r["gtin"]: r["company_prefix_len"] for r in lengths})
    contexts = _contexts(store, (r["document_id"] for r in rows))
    shared: dict[str, str] = {}
    events = []
    for row in rows:
        raw = _load(row["raw"])
        event = normalise_event(raw, urns_only=True) if isinstance(raw, dict) else _built(row, uris)
        own = contexts.get(row["document_id"], {})
        clash = {k: v for k, v in own.items() if shared.setdefault(k, v) != v}
        if clash:  # the same prefix meant something else in another document
            local = event.get("@context")
            local = local if isinstance(local, list) else [local] if local else []
            event = {
                "@context": [*local, clash],
                **{k: v for k, v in event.items() if k != "@context"},
            }
        events.append(event)
    doc: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT, *({k: v} for k, v in sorted(shared.items()))],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(now),
    }
    vocabularies = _master_data(store, rows, uris)
    if vocabularies:
        doc["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    doc["epcisBody"] = {"eventList": events}
    return doc
