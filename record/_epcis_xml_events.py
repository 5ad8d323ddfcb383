"""EPCIS XML events rendered in the EPCIS 2.0 JSON shape, following the standard 1.2 → 2.0
mapping: ``extension`` wrappers are flattened; CBV URNs become short names
(``urn:epcglobal:cbv:bizstep:shipping`` → ``shipping``); ``baseExtension`` fields (eventID,
errorDeclaration) move to the event; sensor report attributes become typed JSON values; user
extension elements become namespaced fields whose namespace the event's ``@context`` declares.

EPCIS 2.0 allows persistentDisposition only on ObjectEvent and TransformationEvent; a 1.2
document that carries one elsewhere gets a warning and the field is not kept.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from record._epcis_cbv import VOCABULARIES

__all__ = ["Renderer", "split", "text"]

_KNOWN_PREFIXES = {"urn:epcglobal:cbv:mda": "cbvmda", "https://gs1.org/voc/": "gs1"}
_EVENTS = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent"}
    | {"AssociationEvent", "QuantityEvent"}
)
_TEXT = frozenset(
    [
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "parentID",
        "action",
        "transformationID",
        "certificationInfo",
    ]
)
_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITIES = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_NUMBERS = frozenset(
    ["value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"]
)
_NO_PERSISTENT = ("AggregationEvent", "TransactionEvent", "AssociationEvent")


def split(tag: str) -> tuple[str, str]:
    """``{namespace}local`` → ``(namespace, local)``."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def text(element: ET.Element) -> str:
    """The element's text, stripped."""
    return (element.text or "").strip()


class Renderer:
    """Renders events of one document; collects warnings about what it could not keep.

    Args:
        lines: Line number of each element, by ``id(element)``.
        prefixes: The first prefix the document bound to each namespace URI.
        name: The document's name, for messages.
    """

    def __init__(self, lines: dict[int, int], prefixes: dict[str, str], name: str) -> None:
        self.lines = lines
        self.name = name
        self.warnings: list[str] = []
        self._prefix_of: dict[str, str] = dict(_KNOWN_PREFIXES)
        taken = set(self._prefix_of.values())
        for uri, prefix in prefixes.items():
            if uri in self._prefix_of:
                continue
            candidate, n = prefix or "ns", 1
            while candidate in taken:
                candidate, n = f"{prefix or 'ns'}{n}", n + 1
            self._prefix_of[uri] = candidate
            taken.add(candidate)

    def line(self, element: ET.Element) -> int:
        return self.lines.get(id(element), 0)

    # -- user extensions ----------------------------------------------------------------

    def qname(self, tag: str, used: dict[str, str]) -> str:
        ns, local = split(tag)
        if not ns:
            return local
        prefix = self._prefix_of.get(ns, "ns")
        if ns not in _KNOWN_PREFIXES:
            used[prefix] = ns
        return f"{prefix}:{local}"

    def extension_value(self, element: ET.Element, used: dict[str, str]) -> Any:
        ns = split(element.tag)[0]
        out: dict[str, Any] = {}
        for name, value in element.attrib.items():
            key = self.qname(name if name.startswith("{") or not ns else f"{{{ns}}}{name}", used)
            out[key] = value
        for child in element:
            key = self.qname(child.tag, used)
            value = self.extension_value(child, used)
            if key in out:
                existing = out[key]
                out[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
            else:
                out[key] = value
        if not out:
            return text(element)
        if text(element):
            out["@value"] = text(element)
        return out

    # -- standard fields ----------------------------------------------------------------

    def quantities(self, element: ET.Element) -> list[dict[str, Any]]:
        items = []
        for q in element:
            item: dict[str, Any] = {}
            for part in q:
                local, value = split(part.tag)[1], text(part)
                item[local] = _number(value) if local == "quantity" else value
            items.append(item)
        return items

    def parties(self, element: ET.Element, kind: str) -> list[dict[str, str]]:
        vocab = VOCABULARIES["sourceDestType"]
        return [
            {"type": vocab.normalise(child.get("type", "")), kind: text(child)} for child in element
        ]

    def transactions(self, element: ET.Element) -> list[dict[str, str]]:
        out = []
        for child in element:
            item: dict[str, str] = {}
            if child.get("type"):
                item["type"] = VOCABULARIES["bizTransactionType"].normalise(child.get("type", ""))
            item["bizTransaction"] = text(child)
            out.append(item)
        return out

    def declaration(self, element: ET.Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in element:
            local = split(child.tag)[1]
            if local == "reason":
                out["reason"] = VOCABULARIES["errorReason"].normalise(text(child))
            elif local == "correctiveEventIDs":
                out["correctiveEventIDs"] = [text(c) for c in child]
            else:
                out[local] = text(child)
        return out

    def sensors(self, element: ET.Element, used: dict[str, str]) -> list[dict[str, Any]]:
        out = []
        for sensor in element:
            item: dict[str, Any] = {}
            for part in sensor:
                local = split(part.tag)[1]
                attrs = {self.qname(k, used): _typed(k, v) for k, v in part.attrib.items()}
                if local == "sensorReport":
                    item.setdefault("sensorReport", []).append(attrs)
                elif local == "sensorMetadata":
                    item["sensorMetadata"] = attrs
                else:
                    item[self.qname(part.tag, used)] = self.extension_value(part, used)
            out.append(item)
        return out

    def persistent(self, element: ET.Element) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for child in element:
            local = split(child.tag)[1]
            out.setdefault(local, []).append(VOCABULARIES["disposition"].normalise(text(child)))
        return out

    def fields(
        self, element: ET.Element, kind: str, event: dict[str, Any], used: dict[str, str]
    ) -> None:
        for child in element:
            ns, local = split(child.tag)
            if ns:
                event[self.qname(child.tag, used)] = self.extension_value(child, used)
            elif local in ("extension", "baseExtension"):
                self.fields(child, kind, event, used)
            elif local in _TEXT:
                event[local] = text(child)
            elif local in ("bizStep", "disposition"):
                event[local] = VOCABULARIES[local].normalise(text(child))
            elif local in _LISTS:
                event[local] = [text(epc) for epc in child]
            elif local in _QUANTITIES:
                event[local] = self.quantities(child)
            elif local in ("readPoint", "bizLocation"):
                event[local] = {"id": next((text(c) for c in child if c.tag == "id"), "")}
            elif local == "bizTransactionList":
                event[local] = self.transactions(child)
            elif local in ("sourceList", "destinationList"):
                event[local] = self.parties(child, local[: -len("List")])
            elif local == "errorDeclaration":
                event[local] = self.declaration(child)
            elif local == "ilmd":
                event[local] = {
                    self.qname(c.tag, used): self.extension_value(c, used) for c in child
                }
            elif local == "sensorElementList":
                event[local] = self.sensors(child, used)
            elif local == "persistentDisposition":
                self._persistent(child, kind, event)
            else:
                self.warnings.append(
                    f"{self.name} line {self.line(child)}: element <{local}> is not part of "
                    f"EPCIS {kind}; ignored"
                )

    def _persistent(self, child: ET.Element, kind: str, event: dict[str, Any]) -> None:
        if kind in _NO_PERSISTENT:
            self.warnings.append(
                f"{self.name} line {self.line(child)}: persistentDisposition is not allowed on "
                f"{kind} in EPCIS 2.0 (only ObjectEvent and TransformationEvent); not kept"
            )
            return
        event["persistentDisposition"] = self.persistent(child)

    def event(self, element: ET.Element) -> dict[str, Any]:
        kind = split(element.tag)[1]
        used: dict[str, str] = {}
        event: dict[str, Any] = {"type": kind}
        self.fields(element, kind, event, used)
        if kind == "QuantityEvent":  # EPCIS 1.0 QuantityEvent = ObjectEvent OBSERVE of a class
            event = _from_quantity_event(event)
        if used:
            context = [{prefix: uri} for prefix, uri in sorted(used.items())]
            event = {"type": event.pop("type"), "@context": context, **event}
        return event

    def event_elements(self, body: ET.Element) -> list[ET.Element]:
        found: list[ET.Element] = []
        for child in body:
            local = split(child.tag)[1]
            if local in _EVENTS:
                found.append(child)
            elif local == "extension":
                found.extend(self.event_elements(child))
            else:
                self.warnings.append(
                    f"{self.name} line {self.line(child)}: <{local}> in EventList is not an "
                    "EPCIS event; ignored"
                )
        return found


def _number(value: str) -> Any:
    try:
        number = float(value)
    except ValueError:
        return value  # the checks report it as not a number
    return int(number) if number.is_integer() and "." not in value else number


def _typed(name: str, value: str) -> Any:
    if name in _NUMBERS:
        return _number(value)
    if name == "booleanValue":
        return value.strip().lower() == "true"
    return value


def _from_quantity_event(event: dict[str, Any]) -> dict[str, Any]:
    item = {"epcClass": event.pop("epcClass", ""), "quantity": _number(event.pop("quantity", ""))}
    return {"type": "ObjectEvent", **event, "action": "OBSERVE", "quantityList": [item]}
