"""Core Business Vocabulary (CBV 2.0): business steps, dispositions and the other code lists
EPCIS events use, and the rules for telling a standard value from a custom one.

A CBV value may be written as its short name (``shipping``, the EPCIS 2.0 JSON form), as a CBV
1.x URN (``urn:epcglobal:cbv:bizstep:shipping``, the EPCIS 1.2 XML form), as a CBV 2.0 Web URI
(``https://ref.gs1.org/cbv/BizStep-shipping``) or as a CURIE (``cbv:BizStep-shipping``). All of
them normalise to the short name. A value outside the CBV is legal only as a URI in a namespace
that is not GS1's (``https://example.com/bizstep/inspecting``, ``ext1:summarising``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

__all__ = [
    "BIZ_STEPS",
    "BIZ_TRANSACTION_TYPES",
    "DISPOSITIONS",
    "ERROR_REASONS",
    "SOURCE_DEST_TYPES",
    "Vocabulary",
    "VOCABULARIES",
    "is_gs1_namespace",
    "is_uri",
]

BIZ_STEPS = frozenset(
    [
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "sampling",
        "sensor_reporting",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
    ]
)
DISPOSITIONS = frozenset(
    [
        "active",
        "available",
        "completeness_inferred",
        "completeness_verified",
        "conformant",
        "container_closed",
        "container_open",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "mismatch_class",
        "mismatch_instance",
        "mismatch_quantity",
        "needs_replacement",
        "no_pedigree_match",
        "non_conformant",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unavailable",
        "unknown",
    ]
)
BIZ_TRANSACTION_TYPES = frozenset(
    [
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    ]
)
SOURCE_DEST_TYPES = frozenset({"owning_party", "possessing_party", "location"})
ERROR_REASONS = frozenset({"did_not_occur", "incorrect_data"})

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_GS1_HOST = re.compile(r"^https?://([a-z0-9\-]+\.)*gs1\.org(/|$)", re.IGNORECASE)
_GS1_PREFIXES = ("urn:epcglobal:", "cbv:", "gs1:", "epcis:", "cbvmda:")


def is_uri(value: str) -> bool:
    """Tell whether ``value`` is an absolute URI or a CURIE (``scheme:rest``, no spaces)."""
    return bool(_SCHEME.match(value))


def is_gs1_namespace(value: str) -> bool:
    """Tell whether a URI or CURIE is in a namespace GS1 controls (CBV, EPCIS, gs1.org)."""
    return value.lower().startswith(_GS1_PREFIXES) or bool(_GS1_HOST.match(value))


@dataclass(frozen=True)
class Vocabulary:
    """One CBV code list and the ways its values may be spelled."""

    label: str
    """What a person calls a value of it, e.g. 'CBV business step'."""
    values: frozenset[str]
    urn: str
    """CBV 1.x URN prefix, e.g. ``urn:epcglobal:cbv:bizstep:``."""
    web: str
    """CBV 2.0 term prefix after ``https://ref.gs1.org/cbv/``, e.g. ``BizStep-``."""
    example: str

    def short_name(self, value: str) -> str | None:
        """Return the CBV short name ``value`` spells, or None if it spells none."""
        if value in self.values:
            return value
        lowered = value.lower()
        for prefix in (
            self.urn,
            f"https://ref.gs1.org/cbv/{self.web}",
            f"http://ref.gs1.org/cbv/{self.web}",
            f"https://gs1.org/voc/{self.web}",
            f"cbv:{self.web}",
            f"gs1:{self.web}",
        ):
            if lowered.startswith(prefix.lower()):
                name = value[len(prefix) :]
                return name if name in self.values else None
        return None

    def normalise(self, value: str, *, urns_only: bool = False) -> str:
        """Return the short name for a CBV value, anything else unchanged.

        With ``urns_only``, only CBV 1.x URNs (which EPCIS 2.0 JSON does not allow) are
        rewritten; Web URIs such as ``https://ref.gs1.org/cbv/BizStep-shipping`` are kept.
        """
        if urns_only and not value.lower().startswith("urn:epcglobal:cbv:"):
            return value
        return self.short_name(value) or value

    def problem(self, value: object) -> str | None:
        """Say what is wrong with ``value`` as a member of this vocabulary, or None if it is fine.

        Standard values in any spelling are fine, and so are URIs in a namespace of your own.
        """
        if not isinstance(value, str):
            return f"{value!r} is not a string; use a {self.label} such as {self.example!r}"
        if self.short_name(value) is not None:
            return None
        if is_uri(value) and not is_gs1_namespace(value):
            return None
        name = re.split(r"[:/#]", value)[-1].removeprefix(self.web)
        close = difflib.get_close_matches(name, self.values, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        where = " in a GS1 namespace" if is_uri(value) else ""
        return (
            f"{value!r} is not a {self.label}{where}{hint}; use a CBV value such as "
            f"{self.example!r} or a URI in your own namespace"
        )


VOCABULARIES = {
    "bizStep": Vocabulary(
        "CBV business step", BIZ_STEPS, "urn:epcglobal:cbv:bizstep:", "BizStep-", "shipping"
    ),
    "disposition": Vocabulary(
        "CBV disposition", DISPOSITIONS, "urn:epcglobal:cbv:disp:", "Disp-", "in_transit"
    ),
    "bizTransactionType": Vocabulary(
        "CBV business transaction type",
        BIZ_TRANSACTION_TYPES,
        "urn:epcglobal:cbv:btt:",
        "BTT-",
        "desadv",
    ),
    "sourceDestType": Vocabulary(
        "CBV source/destination type",
        SOURCE_DEST_TYPES,
        "urn:epcglobal:cbv:sdt:",
        "SDT-",
        "owning_party",
    ),
    "errorReason": Vocabulary(
        "CBV error reason", ERROR_REASONS, "urn:epcglobal:cbv:er:", "ER-", "incorrect_data"
    ),
}
