"""Master data in an EPCIS document's header: EPCClass vocabulary elements become products
(GTIN, NDC, name, dosage form, strength, GS1 Company Prefix length) and Location elements
become locations.

The CBV master data attributes are read whatever their spelling: the 1.2 URN form
``urn:epcglobal:cbv:mda#regulatedProductName``, the CURIE ``cbvmda:regulatedProductName`` or
a prefix the document binds to the CBV master data namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from record._epcis_keys import Reader
from record.identifiers import gtin_to_ndc

__all__ = ["LocationInfo", "ProductInfo", "mda_name", "read_master_data"]

_MDA = ("urn:epcglobal:cbv:mda#", "urn:epcglobal:cbv:mda", "https://ref.gs1.org/cbv/mda/")
_NAME_ATTRS = ("regulatedProductName", "drugName", "tradeItemDescription", "descriptionShort")


@dataclass
class ProductInfo:
    """What the document says about one GTIN."""

    gtin: str
    company_prefix_len: int | None = None
    ndc: str | None = None
    name: str | None = None
    dosage_form: str | None = None
    strength: str | None = None


@dataclass(frozen=True)
class LocationInfo:
    """A location from the document's master data."""

    location_id: str
    gln: str
    name: str


def mda_name(key: str, context: dict[str, str]) -> str | None:
    """The CBV master data attribute a key names (``cbvmda:lotNumber`` → ``lotNumber``)."""
    for base in _MDA:
        if key.startswith(base):
            return key[len(base) :]
    prefix, sep, local = key.partition(":")
    default = "urn:epcglobal:cbv:mda#" if prefix == "cbvmda" else ""
    return local if sep and context.get(prefix, default) in _MDA else None


def _attributes(element: dict[str, Any]) -> dict[str, str]:
    out = {}
    for attribute in element.get("attributes") or []:
        if isinstance(attribute, dict) and isinstance(attribute.get("id"), str):
            key = attribute["id"]
            name = mda_name(key, {}) or key.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
            value = attribute.get("attribute")
            if isinstance(value, str | int | float):
                out[name] = str(value).strip()
    return out


def _ndc(gtin: str, attrs: dict[str, str], path: str, warnings: list[str]) -> str | None:
    value = attrs.get("additionalTradeItemIdentification")
    code = attrs.get("additionalTradeItemIdentificationTypeCode", "US_FDA_NDC")
    if not value or "NDC" not in code.upper():
        return None
    digits = value.replace("-", "").strip()
    if not (digits.isdigit() and len(digits) == 10):
        warnings.append(f"{path}: NDC {value!r} is not a 10-digit NDC; not recorded")
        return None
    if gtin[1:3] == "03" and gtin_to_ndc(gtin) != digits:
        warnings.append(
            f"{path}: NDC {value} does not match GTIN {gtin} (which carries NDC "
            f"{gtin_to_ndc(gtin)})"
        )
    return digits


def read_master_data(
    doc: dict[str, Any], errors: list[str], warnings: list[str]
) -> tuple[dict[str, ProductInfo], dict[str, LocationInfo]]:
    """Read EPCClass (products) and Location vocabularies from ``epcisHeader``."""
    products: dict[str, ProductInfo] = {}
    locations: dict[str, LocationInfo] = {}
    header = doc.get("epcisHeader")
    master = header.get("epcisMasterData") if isinstance(header, dict) else None
    vocabularies = master.get("vocabularyList") if isinstance(master, dict) else None
    reader = Reader(errors)
    for i, vocab in enumerate(vocabularies if isinstance(vocabularies, list) else []):
        kind = str(vocab.get("type", "")) if isinstance(vocab, dict) else ""
        elements = vocab.get("vocabularyElementList") if isinstance(vocab, dict) else None
        for j, element in enumerate(elements if isinstance(elements, list) else []):
            path = f"epcisHeader.epcisMasterData.vocabularyList[{i}].vocabularyElementList[{j}]"
            if not isinstance(element, dict):
                continue
            ident = reader.ident(element.get("id"), f"{path}.id")
            attrs = _attributes(element)
            if ident and kind.endswith("EPCClass") and ident.gtin:
                products[ident.gtin] = ProductInfo(
                    gtin=ident.gtin,
                    company_prefix_len=ident.company_prefix_len,
                    ndc=_ndc(ident.gtin, attrs, path, warnings),
                    name=next((attrs[a] for a in _NAME_ATTRS if attrs.get(a)), None),
                    dosage_form=attrs.get("dosageFormType"),
                    strength=attrs.get("strengthDescription"),
                )
            elif ident and kind.endswith("Location") and ident.kind == "sgln":
                gln = ident.key.split(".", 1)[0]
                name = attrs.get("name") or ident.key
                locations[ident.key] = LocationInfo(ident.key, gln, name)
    return products, locations
