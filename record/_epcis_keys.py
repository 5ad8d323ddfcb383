"""Identifiers in EPCIS events, read into record keys.

GS1 keys Proofline tracks (SGTIN, SSCC, SGLN, LGTIN, GTIN classes, party GLNs) become record keys
and are validated: a bad check digit or a malformed URN fails the import. Other identifiers that
EPCIS allows (GIAI, GRAI, GDTI ... URNs, Digital Links with other primary keys, any other URI)
are kept as the URI, unvalidated. An ``urn:epc:id:`` scheme the Tag Data Standard does not
define is an error: it is almost always a typo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from record.errors import IdentifierError
from record.identifiers import (
    gs1_check_digit,
    parse_digital_link,
    parse_epc_urn,
    sgln_key,
    validate_gtin,
)

__all__ = ["Ident", "IdentKind", "Reader", "read_ident"]

IdentKind = Literal["sgtin", "sscc", "sgln", "lgtin", "gtin", "gln", "raw"]

# GS1 EPC Tag Data Standard 2.x schemes (pure identity); the ones Proofline does not track are
# kept as raw URIs.
_TDS_SCHEMES = frozenset(
    [
        "sgtin",
        "sscc",
        "sgln",
        "grai",
        "giai",
        "gsrn",
        "gsrnp",
        "gdti",
        "cpi",
        "sgcn",
        "ginc",
        "gsin",
        "itip",
        "upui",
        "pgln",
        "gid",
        "usdod",
        "adi",
        "bic",
        "imovn",
        "lgtin",
    ]
)
_URN = re.compile(r"^urn:epc:(id|class|idpat|tag|raw):([A-Za-z0-9\-]+):(.*)$", re.IGNORECASE)
_DL_PRIMARY = re.compile(r"/(01|00|414|gtin|sscc|gln)/[^/]+", re.IGNORECASE)


@dataclass(frozen=True)
class Ident:
    """One identifier read from an event."""

    kind: IdentKind
    """What it names; ``raw`` for identifiers kept as the URI."""
    key: str
    """The record key (``gtin.serial``, SSCC, GLN[.ext], ``gtin.lot``, GTIN), else the URI."""
    uri: str
    """The identifier as written in the event."""
    gtin: str | None = None
    company_prefix_len: int | None = None

    @property
    def tracked(self) -> bool:
        """True for GS1 keys the record keeps rows for."""
        return self.kind != "raw"


def _raw(value: str) -> Ident:
    return Ident("raw", value, value)


def _from_urn(value: str) -> Ident | None:
    match = _URN.match(value)
    if not match:
        return None
    kind, scheme, body = match[1].lower(), match[2].lower(), match[3]
    if kind in ("tag", "raw"):
        raise IdentifierError(
            f"EPC {value}: tag and raw URNs are not accepted in EPCIS; use the pure identity "
            f"URN (urn:epc:id:{scheme}:...)",
            field="epc",
        )
    if scheme not in _TDS_SCHEMES:
        raise IdentifierError(
            f"EPC {value}: unknown EPC scheme {scheme!r}; use a GS1 Tag Data Standard scheme "
            "such as sgtin, sscc or sgln, or a GS1 Digital Link URI",
            field="epc",
        )
    if kind == "idpat" and scheme == "sgtin":
        return _gtin_pattern(value, body)
    if kind == "id" and scheme == "pgln":
        return _party(value, body)
    if (kind, scheme) in {("id", "sgtin"), ("id", "sscc"), ("id", "sgln"), ("class", "lgtin")}:
        epc = parse_epc_urn(value)
        return Ident(epc.scheme, epc.key, value, epc.gtin, epc.company_prefix_length)
    return _raw(value)


def _gtin_pattern(value: str, body: str) -> Ident:
    prefix, _, rest = body.partition(".")
    reference, _, star = rest.partition(".")
    digits = prefix + reference
    if star != "*" or not digits.isdigit() or len(digits) != 13 or not 6 <= len(prefix) <= 12:
        raise IdentifierError(
            f"EPC class {value}: must be urn:epc:idpat:sgtin:<company prefix>.<indicator and "
            "item reference>.* with 13 digits in all",
            field="epc",
        )
    payload = reference[0] + prefix + reference[1:]
    gtin = payload + str(gs1_check_digit(payload))
    return Ident("gtin", gtin, value, gtin, len(prefix))


def _party(value: str, body: str) -> Ident:
    prefix, _, reference = body.partition(".")
    digits = prefix + reference
    if not digits.isdigit() or len(digits) != 12 or not 6 <= len(prefix) <= 12:
        raise IdentifierError(
            f"EPC {value}: a PGLN is urn:epc:id:pgln:<company prefix>.<party reference> "
            "with 12 digits in all",
            field="epc",
        )
    gln = digits + str(gs1_check_digit(digits))
    return Ident("gln", gln, value, None, len(prefix))


def _from_digital_link(value: str) -> Ident | None:
    if not value.lower().startswith(("http://", "https://")) or not _DL_PRIMARY.search(value):
        return None
    pi = parse_digital_link(value)
    if pi.gtin and pi.serial:
        return Ident("sgtin", f"{pi.gtin}.{pi.serial}", value, pi.gtin)
    if pi.sscc:
        return Ident("sscc", pi.sscc, value)
    if pi.gln and pi.gln_ai == "414" and not pi.gtin:
        return Ident("sgln", sgln_key(pi.gln, pi.gln_extension), value)
    if pi.gtin and pi.lot:
        return Ident("lgtin", f"{pi.gtin}.{pi.lot}", value, pi.gtin)
    if pi.gtin:
        return Ident("gtin", validate_gtin(pi.gtin), value, pi.gtin)
    return _raw(value)


def read_ident(value: str) -> Ident:
    """Read an identifier: instance (epcList, parentID ...), class (epcClass) or place/party.

    Raises:
        IdentifierError: For a GS1 key that breaks its rules or an unknown EPC scheme.
    """
    text = value.strip()
    return _from_urn(text) or _from_digital_link(text) or _raw(text)


class Reader:
    """Reads identifiers, collecting errors with their field paths."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors

    def ident(self, value: Any, path: str) -> Ident | None:
        if not isinstance(value, str):
            return None  # the schema reports the wrong type
        try:
            return read_ident(value)
        except IdentifierError as exc:
            self.errors.append(f"{path}: {exc}")
            return None

    def key(self, value: Any, path: str) -> str | None:
        found = self.ident(value, path)
        return found.key if found else None
