"""The rules an EPCIS event must keep that the JSON Schema does not check (or checks with
messages nobody can act on): CBV vocabulary, actions, RFC 3339 times, time zone offsets,
numeric quantities and namespaced extension fields.

The checks are format-neutral: EPCIS 1.2 XML is converted to the 2.0 JSON shape first and
checked by the same code. Each problem is reported as ``"<field path>: <rule broken>"``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from record._epcis_cbv import VOCABULARIES, is_uri

__all__ = [
    "EVENT_TYPES",
    "STANDARD_PREFIXES",
    "check_document",
    "check_event",
    "context_prefixes",
    "parse_date",
    "parse_time",
    "summary",
]

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
ACTIONS = ("ADD", "OBSERVE", "DELETE")
# Prefixes the EPCIS 2.0 JSON-LD context defines, so a document may use them undeclared.
STANDARD_PREFIXES = frozenset(
    [
        "epcis",
        "cbv",
        "cbvmda",
        "gs1",
        "rdf",
        "rdfs",
        "owl",
        "xsd",
        "dcterms",
        "dc",
        "schema",
        "sh",
        "skos",
        "foaf",
    ]
)
_STANDARD_FIELDS = frozenset(
    [
        "@context",
        "type",
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "certificationInfo",
        "errorDeclaration",
        "epcList",
        "quantityList",
        "action",
        "bizStep",
        "disposition",
        "persistentDisposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "ilmd",
        "parentID",
        "childEPCs",
        "childQuantityList",
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
    ]
)
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")
_TIME_HINT = "an RFC 3339 date-time with a time zone, e.g. 2026-07-22T06:45:00+02:00"


def parse_time(value: object) -> datetime | None:
    """Read an RFC 3339 date-time with a zone into naive UTC, or None if it is not one."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    text = value.upper().replace("Z", "+00:00")
    head, dot, tail = text.partition(".")
    if dot:  # Python reads at most 6 fractional digits
        digits = re.match(r"\d+", tail)
        frac = digits[0] if digits else ""
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail[len(frac) :]}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        return None


def parse_date(value: object) -> date | None:
    """Read a calendar date (``YYYY-MM-DD``, or a date-time whose date part is used)."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10]) if len(value) >= 10 else None
    except ValueError:
        return None


def context_prefixes(context: Any) -> set[str]:
    """Return the prefixes a JSON-LD ``@context`` (string, object or list) defines."""
    items = context if isinstance(context, list) else [context]
    return {key for item in items if isinstance(item, dict) for key in item}


def _check_time(errors: list[str], path: str, value: object, *, required: bool) -> None:
    if value is None:
        if required:
            errors.append(f"{path}: is required; give {_TIME_HINT}")
        return
    if parse_time(value) is None:
        errors.append(f"{path}: {value!r} is not {_TIME_HINT}")


def check_document(doc: dict[str, Any], warnings: list[str]) -> list[str]:
    """Check an EPCIS 2.0 JSON document's own fields; return the errors, add warnings."""
    errors: list[str] = []
    context = doc.get("@context")
    if context is None:
        errors.append(
            "@context: is required; start the document with "
            '"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"]'
        )
    else:
        items = context if isinstance(context, list) else [context]
        if not any(isinstance(i, str) and i.endswith("epcis-context.jsonld") for i in items):
            warnings.append(
                "@context: does not reference the EPCIS 2.0 context "
                "(https://ref.gs1.org/standards/epcis/epcis-context.jsonld)"
            )
    if doc.get("type") not in ("EPCISDocument", "EPCISQueryDocument"):
        errors.append(f"type: {doc.get('type')!r} is not 'EPCISDocument'")
    _check_time(errors, "creationDate", doc.get("creationDate"), required=True)
    return errors


def _check_name(
    errors: list[str], warnings: list[str], path: str, key: str, prefixes: set[str], what: str
) -> None:
    if key.startswith("@"):
        return
    if not is_uri(key):
        errors.append(
            f"{path}: {what} must be namespaced (prefix:name or a URI), e.g. "
            f"'example:{key}' with 'example' declared in @context"
        )
        return
    prefix = key.split(":", 1)[0]
    if "/" not in key and prefix not in prefixes and prefix not in STANDARD_PREFIXES:
        warnings.append(f"{path}: prefix {prefix!r} is not declared in @context")


def _check_vocab(errors: list[str], path: str, event: dict[str, Any]) -> None:
    for field in ("bizStep", "disposition"):
        if field in event:
            problem = VOCABULARIES[field].problem(event[field])
            if problem:
                errors.append(f"{path}.{field}: {problem}")
    persistent = event.get("persistentDisposition")
    if isinstance(persistent, dict):
        for part in ("set", "unset"):
            values = persistent.get(part)
            for i, value in enumerate(values if isinstance(values, list) else []):
                problem = VOCABULARIES["disposition"].problem(value)
                if problem:
                    errors.append(f"{path}.persistentDisposition.{part}[{i}]: {problem}")


def _check_quantities(errors: list[str], path: str, event: dict[str, Any]) -> None:
    for field in _QUANTITY_LISTS:
        items = event.get(field)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict) or "quantity" not in item:
                continue
            q = item["quantity"]
            where = f"{path}.{field}[{i}].quantity"
            if isinstance(q, bool) or not isinstance(q, int | float):
                errors.append(f"{where}: {q!r} is not a number; write the amount as e.g. 20")
            elif q < 0:
                errors.append(f"{where}: {q} is negative; quantities are 0 or more")


def _check_action(errors: list[str], path: str, event: dict[str, Any]) -> None:
    kind = event.get("type")
    action = event.get("action")
    if kind == "TransformationEvent":
        return
    if action is None:
        if kind in EVENT_TYPES:
            errors.append(f"{path}.action: is required; use ADD, OBSERVE or DELETE")
    elif action not in ACTIONS:
        errors.append(
            f"{path}.action: {action!r} is not an EPCIS action; use ADD, OBSERVE or DELETE"
        )
    if "ilmd" in event and kind == "ObjectEvent" and action in ("OBSERVE", "DELETE"):
        errors.append(
            f"{path}.ilmd: instance master data is allowed only when the objects are created "
            "(ObjectEvent with action ADD, or TransformationEvent)"
        )


def check_event(path: str, event: Any, prefixes: set[str], warnings: list[str]) -> list[str]:
    """Check one event (EPCIS 2.0 JSON shape); return its errors, add warnings.

    Args:
        path: Where the event is, e.g. ``epcisBody.eventList[3]``; it prefixes every message.
        event: The event object.
        prefixes: Namespace prefixes declared by the document's ``@context``.
        warnings: Where to add problems that do not stop the import.
    """
    if not isinstance(event, dict):
        return [f"{path}: must be an object, got {type(event).__name__}"]
    errors: list[str] = []
    kind = event.get("type")
    if kind not in EVENT_TYPES and not (isinstance(kind, str) and is_uri(kind)):
        errors.append(
            f"{path}.type: {kind!r} is not an EPCIS event type; use ObjectEvent, "
            "AggregationEvent, TransactionEvent, TransformationEvent or AssociationEvent"
        )
    _check_time(errors, f"{path}.eventTime", event.get("eventTime"), required=True)
    _check_time(errors, f"{path}.recordTime", event.get("recordTime"), required=False)
    declaration = event.get("errorDeclaration")
    if isinstance(declaration, dict):
        _check_time(
            errors,
            f"{path}.errorDeclaration.declarationTime",
            declaration.get("declarationTime"),
            required=True,
        )
    offset = event.get("eventTimeZoneOffset")
    if offset is None:
        errors.append(f"{path}.eventTimeZoneOffset: is required, e.g. '-05:00'")
    elif not isinstance(offset, str) or not _OFFSET.match(offset):
        errors.append(f"{path}.eventTimeZoneOffset: {offset!r} is not an offset like '-05:00'")
    _check_action(errors, path, event)
    _check_vocab(errors, path, event)
    _check_quantities(errors, path, event)
    local = prefixes | context_prefixes(event.get("@context"))
    # Only top-level names: EPCIS leaves the inside of an extension to its owner.
    ilmd = event.get("ilmd")
    for key in ilmd if isinstance(ilmd, dict) else ():
        _check_name(errors, warnings, f"{path}.ilmd.{key}", key, local, "ilmd fields")
    for key in event:
        if key not in _STANDARD_FIELDS:
            _check_name(errors, warnings, f"{path}.{key}", key, local, "extension fields")
    return errors


def summary(name: str, errors: list[str], shown: int = 20) -> str:
    """The message of an EPCISError: how many problems, then the first ``shown`` of them."""
    lines = "".join(f"\n- {e}" for e in errors[:shown])
    more = f"\n- ... and {len(errors) - shown} more" if len(errors) > shown else ""
    return f"{name}: {len(errors)} problem(s) found; nothing was imported:{lines}{more}"
