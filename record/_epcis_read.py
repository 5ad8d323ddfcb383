"""Reading an EPCIS document: detect JSON or XML, parse it, run every check, and read it into a
:class:`Plan` that the importer writes in one transaction. Every problem found is collected;
if there is any, :class:`~record.errors.EPCISError` lists them all and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from record._epcis_checks import check_document, check_event, context_prefixes, summary
from record._epcis_master import LocationInfo, ProductInfo, read_master_data
from record._epcis_plan import ParsedEvent, add_products_seen, normalise_event, read_events
from record._epcis_schema import schema_problems
from record._epcis_xml import read_xml
from record.errors import EPCISError

__all__ = ["Plan", "read_document"]


@dataclass
class Plan:
    """A document read and checked, ready to be written."""

    name: str
    fmt: str
    sha256: str
    header: dict[str, Any]
    events: list[ParsedEvent]
    products: dict[str, ProductInfo]
    locations: dict[str, LocationInfo]
    ts_attested: bool
    warnings: list[str]

    @property
    def document_id(self) -> str:
        """The record's id for the document: ``EPCIS-DOC-`` and the start of its SHA-256."""
        return f"EPCIS-DOC-{self.sha256[:16]}"


def _load_json(data: bytes, name: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise EPCISError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}); "
            "the file may be truncated or damaged"
        ) from exc
    except UnicodeDecodeError as exc:
        raise EPCISError(f"{name}: not UTF-8 text ({exc.reason})") from exc
    if not isinstance(doc, dict):
        raise EPCISError(f"{name}: an EPCIS JSON document is an object, got a {type(doc).__name__}")
    return doc


def _event_list(doc: dict[str, Any]) -> tuple[list[Any], str]:
    body = doc.get("epcisBody")
    body = body if isinstance(body, dict) else {}
    if doc.get("type") == "EPCISQueryDocument":
        results = body.get("queryResults", {}).get("resultsBody", {})
        events = results.get("eventList") if isinstance(results, dict) else None
        return (events if isinstance(events, list) else []), "epcisBody.queryResults.resultsBody"
    events = body.get("eventList")
    return (events if isinstance(events, list) else []), "epcisBody"


def _attested(value: Any) -> bool:
    """True if the header carries an affirmed DSCSA transaction statement."""
    if isinstance(value, dict):
        return any(
            (k.endswith("affirmTransactionStatement") and str(v).strip().lower() == "true")
            or _attested(v)
            for k, v in value.items()
        )
    return isinstance(value, list) and any(map(_attested, value))


def _check(
    doc: dict[str, Any], events: list[Any], schema: Path, warnings: list[str], *, xml: bool
) -> list[str]:
    """The vocabulary and format checks, then the schema (minus what the checks reported)."""
    errors = [] if xml else check_document(doc, warnings)
    prefixes = context_prefixes(doc.get("@context"))
    where = _event_list(doc)[1]
    for i, event in enumerate(events):
        errors += check_event(f"{where}.eventList[{i}]", event, prefixes, warnings)
    checked = doc
    if events:  # the schema knows CBV values only as short names
        normalised = [normalise_event(e) if isinstance(e, dict) else e for e in events]
        checked = {**doc, "epcisBody": {**doc["epcisBody"], "eventList": normalised}}
    known = [e.split(": ", 1)[0] for e in errors]
    return errors + schema_problems(checked, schema, known=known)


def _relabel(labels: list[str], problems: list[str]) -> list[str]:
    """Name XML events by position and line instead of by JSON path."""
    out = []
    for problem in problems:
        found = re.match(r"epcisBody\.eventList\[(\d+)\]", problem)
        out.append(labels[int(found[1])] + problem[found.end() :] if found else problem)
    return out


@dataclass
class _Parsed:
    fmt: str
    doc: dict[str, Any]
    labels: list[str]
    errors: list[str]
    warnings: list[str]


def _parse_json(data: bytes, name: str, schema: Path) -> _Parsed:
    doc = _load_json(data, name)
    events, where = _event_list(doc)
    warnings: list[str] = []
    errors = _check(doc, events, schema, warnings, xml=False)
    labels = [f"{where}.eventList[{i}]" for i in range(len(events))]
    return _Parsed("epcis2-json", doc, labels, errors, warnings)


def _parse_xml(data: bytes, name: str, schema: Path) -> _Parsed:
    xml = read_xml(data, name)
    warnings = list(xml.warnings)
    errors = _check(xml.doc, xml.doc["epcisBody"]["eventList"], schema, warnings, xml=True)
    if xml.sbdh:
        xml.doc["sbdh"] = xml.sbdh  # kept with the header, not validated
    fmt = "epcis2-xml" if xml.version.startswith("2") else "epcis12-xml"
    labels = xml.labels
    return _Parsed(fmt, xml.doc, labels, _relabel(labels, errors), _relabel(labels, warnings))


def _parse(data: bytes, name: str, schema: Path) -> _Parsed:
    """Tell JSON from XML by the first character, then parse and check."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not head:
        raise EPCISError(f"{name}: the file is empty; nothing to import")
    if head in (b"{", b"["):
        return _parse_json(data, name, schema)
    if head == b"<":
        return _parse_xml(data, name, schema)
    raise EPCISError(
        f"{name}: neither JSON nor XML (it starts {data[:24]!r}); give an EPCIS 2.0 "
        "JSON/JSON-LD or EPCIS 1.2 XML document"
    )


def read_document(data: bytes, name: str, schema: Path) -> Plan:
    """Parse and check a document and read it into a :class:`Plan`.

    Raises:
        EPCISError: Listing every problem found, each as ``"<field path>: <rule>"``.
    """
    parsed = _parse(data, name, schema)
    doc, labels, errors, warnings = parsed.doc, parsed.labels, parsed.errors, parsed.warnings
    events = read_events(_event_list(doc)[0], labels, doc.get("@context"), errors)
    products, locations = read_master_data(doc, errors, warnings)
    if not labels and not products and not locations and not errors:
        errors.append(f"{name}: the document has no events and no master data; nothing to import")
    if errors:
        raise EPCISError(summary(name, errors), errors)
    add_products_seen(events, products)
    header = {k: v for k, v in doc.items() if k != "epcisBody"}
    header["source"] = {"format": parsed.fmt, "filename": name}
    return Plan(
        name=name,
        fmt=parsed.fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        header=header,
        events=sorted(events, key=lambda e: (e.event_time, e.index)),
        products=products,
        locations=locations,
        ts_attested=_attested(doc.get("epcisHeader")),
        warnings=warnings,
    )
