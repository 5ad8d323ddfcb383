"""EPCIS 1.2 (and 2.0) XML documents, read safely with defusedxml and rendered as EPCIS 2.0
JSON documents, so that the rest of the importer treats XML and JSON alike.

The parser keeps each element's line (errors name it) and each namespace's prefix (extension
fields keep it). The SBDH header gives sender, receiver and instance identifier; master data
(``EPCISMasterData``) becomes ``epcisHeader.epcisMasterData``; header extensions (such as the
GS1 US DSCSA transaction statement) become namespaced header fields. Events are rendered by
:mod:`record._epcis_xml_events`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from record._epcis_xml_events import Renderer, split, text
from record.errors import EPCISError

__all__ = ["EPCIS_CONTEXT", "XmlDocument", "read_xml"]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
_EPCIS_NS = ("urn:epcglobal:epcis:xsd:1", "urn:epcglobal:epcis:xsd:2")
_SBDH = "{http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader}"


@dataclass
class XmlDocument:
    """An XML document rendered as an EPCIS 2.0 JSON document."""

    doc: dict[str, Any]
    labels: list[str]
    """Where each event is in the XML, e.g. ``EventList[2] AggregationEvent (line 171)``."""
    version: str = "1.2"
    """The document's schemaVersion attribute."""
    sbdh: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _Builder(ET.TreeBuilder):
    """Tree builder that remembers each element's line and each namespace's first prefix."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.prefixes: dict[str, str] = {}
        self.xml: Any = None

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:  # noqa: D102
        element = super().start(tag, attrs)
        self.lines[id(element)] = self.xml.parser.CurrentLineNumber
        return element

    def start_ns(self, prefix: str, uri: str) -> None:  # noqa: D102
        self.prefixes.setdefault(uri, prefix)


def _parse(data: bytes, name: str) -> tuple[ET.Element, _Builder]:
    builder = _Builder()
    parser = DefusedXMLParser(target=builder)
    builder.xml = parser
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        line, column = exc.position
        raise EPCISError(
            f"{name}: XML is not well-formed at line {line}, column {column + 1} ({exc}); "
            "the file may be truncated or damaged"
        ) from exc
    except DefusedXmlException as exc:
        raise EPCISError(
            f"{name}: XML uses a DTD, entity or external reference ({exc}); EPCIS documents "
            "need none and they are refused for safety"
        ) from exc
    return root, builder


def _sbdh(header: ET.Element | None) -> dict[str, Any]:
    sbdh = header.find(f"{_SBDH}StandardBusinessDocumentHeader") if header is not None else None
    if sbdh is None:
        return {}
    paths = {
        "sender": "Sender/Identifier",
        "receiver": "Receiver/Identifier",
        "instanceIdentifier": "DocumentIdentification/InstanceIdentifier",
        "creationDateAndTime": "DocumentIdentification/CreationDateAndTime",
        "type": "DocumentIdentification/Type",
    }
    out = {}
    for key, path in paths.items():
        found = sbdh.find("/".join(_SBDH + part for part in path.split("/")))
        if found is not None and text(found):
            out[key] = text(found)
    return out


def _vocabularies(master: ET.Element | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for vocab in master.iter("Vocabulary") if master is not None else []:
        elements = []
        for element in vocab.iter("VocabularyElement"):
            attributes = [
                {"id": a.get("id", ""), "attribute": text(a)} for a in element.iter("attribute")
            ]
            item: dict[str, Any] = {"id": element.get("id", ""), "attributes": attributes}
            children = [text(c) for c in element.iter("id")]
            if children:
                item["children"] = children
            elements.append(item)
        out.append({"type": vocab.get("type", ""), "vocabularyElementList": elements})
    return out


def _header(r: Renderer, header: ET.Element | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Render EPCISHeader's master data and extension elements (SBDH is read separately)."""
    used: dict[str, str] = {}
    out: dict[str, Any] = {}
    if header is None:
        return out, used
    master = header.find("extension/EPCISMasterData")
    vocabularies = _vocabularies(master if master is not None else header.find("EPCISMasterData"))
    if vocabularies:
        out["epcisMasterData"] = {"vocabularyList": vocabularies}
    for child in header:
        ns = split(child.tag)[0]
        if ns and not child.tag.startswith(_SBDH):
            out[r.qname(child.tag, used)] = r.extension_value(child, used)
    return out, used


def read_xml(data: bytes, name: str = "document") -> XmlDocument:
    """Parse EPCIS XML and render it as an EPCIS 2.0 JSON document.

    Args:
        data: The file's bytes.
        name: How to call the document in messages (its file name).

    Raises:
        EPCISError: If the XML is malformed (naming line and column), uses DTDs or entities, or
            is not an EPCIS document.
    """
    root, builder = _parse(data, name)
    ns, local = split(root.tag)
    if ns not in _EPCIS_NS or local not in ("EPCISDocument", "EPCISMasterDataDocument"):
        raise EPCISError(
            f"{name}: root element <{local}> (namespace {ns or 'none'}) is not an EPCIS "
            f'document; expected <epcis:EPCISDocument xmlns:epcis="{_EPCIS_NS[0]}">'
        )
    r = Renderer(builder.lines, builder.prefixes, name)
    header = root.find("EPCISHeader")
    epcis_header, used = _header(r, header)
    if local == "EPCISMasterDataDocument":
        body_master = root.find("EPCISBody")
        vocabularies = _vocabularies(body_master)
        if vocabularies:
            epcis_header["epcisMasterData"] = {"vocabularyList": vocabularies}
    event_list = root.find("EPCISBody/EventList")
    elements = r.event_elements(event_list) if event_list is not None else []
    events = [r.event(e) for e in elements]
    labels = [
        f"EventList[{i}] {split(e.tag)[1]} (line {r.line(e)})" for i, e in enumerate(elements)
    ]
    context: list[Any] = [EPCIS_CONTEXT]
    context += [{prefix: uri} for prefix, uri in sorted(used.items())]
    doc: dict[str, Any] = {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": root.get("creationDate", ""),
    }
    sbdh = _sbdh(header)
    for key in ("sender", "receiver", "instanceIdentifier"):
        if key in sbdh:
            doc[key] = sbdh[key]
    if epcis_header:
        doc["epcisHeader"] = epcis_header
    doc["epcisBody"] = {"eventList": events}
    return XmlDocument(doc, labels, root.get("schemaVersion", "1.2"), sbdh, r.warnings)
