"""GS1 identifiers: check digits, element strings, Digital Links, EPC URNs and NDCs.

Every GS1 key that enters Proofline passes through this module. Parsing of element strings,
Application Identifier formats, YYMMDD dates (day ``00`` = last day of the month, two-digit
years by the GS1 sliding window) and Digital Link URIs is done by ``biip``; EPC URNs (GS1 EPC
Tag Data Standard, pure identity form) and NDC conversion are implemented here.

Canonical keys used across the project:

- GTIN: always 14 digits (GTIN-8/12/13 are padded with leading zeros).
- SGTIN (serialized unit or case): ``f"{gtin14}.{serial}"``.
- SSCC: the 18 digits.
- SGLN (location): the 13-digit GLN, or ``f"{gln}.{extension}"`` when an extension other
  than ``"0"`` is present.
- LGTIN (lot class): ``f"{gtin14}.{lot}"``.

Every failure raises :class:`record.errors.IdentifierError` naming the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.symbology import GS1Symbology, SymbologyIdentifier

from record.errors import IdentifierError

__all__ = [
    "EPC",
    "EpcScheme",
    "ProductIdentifier",
    "digital_link",
    "element_string",
    "gs1_check_digit",
    "gtin_to_ndc",
    "is_valid_lot",
    "is_valid_serial",
    "lgtin_key",
    "lgtin_urn",
    "ndc11",
    "ndc_to_gtin",
    "parse_barcode",
    "parse_digital_link",
    "parse_element_string",
    "parse_epc",
    "parse_epc_urn",
    "sgln_key",
    "sgln_urn",
    "sgtin_key",
    "sgtin_urn",
    "split_gtin_key",
    "split_sgln_key",
    "sscc_urn",
    "validate_gln",
    "validate_gln_extension",
    "validate_gtin",
    "validate_lot",
    "validate_serial",
    "validate_sscc",
]

EpcScheme = Literal["sgtin", "sscc", "sgln", "lgtin"]

_GS = "\x1d"
# Spellings of FNC1 / GS that scanners, keyboards and copy-paste produce.
_FNC1_TOKENS = ("\u241d", "<GS>", "{GS}", "[GS]", "<FNC1>", "{FNC1}", "[FNC1]")
_CSET82_CHAR = re.compile(r"[!\"%-?A-Z_a-z]")  # GS1 AI encodable character set 82
_DATE_AIS = frozenset({"11", "12", "13", "15", "16", "17"})
_GLN_AIS = ("410", "411", "412", "413", "414", "415", "416", "417")
_LABELS = {"00": "SSCC", "01": "GTIN", "10": "lot", "17": "expiry", "21": "serial"}
_FIELDS = {"00": "sscc", "01": "gtin", "10": "lot", "17": "expiry", "21": "serial"}
_FIELDS |= {"254": "gln_extension"} | dict.fromkeys(_GLN_AIS, "gln")
_URN_ESCAPES = frozenset('"%&/<>?')  # EPC TDS: must be %-escaped inside a URN component


# --- check digits, keys, serials and lots -------------------------------------------------


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdecimal()


def gs1_check_digit(digits: str) -> int:
    """Compute the GS1 mod-10 check digit (weights 3, 1, 3, ... from the right).

    Args:
        digits: The key without its check digit, e.g. the first 13 digits of a GTIN-14.

    Returns:
        The check digit, 0-9.

    Raises:
        IdentifierError: If ``digits`` is empty or not all ASCII digits.
    """
    if not _is_digits(digits):
        raise IdentifierError(f"Check digit input {digits!r}: must be digits only", field="digits")
    return gs1_standard_check_digit(digits)


def _validate_key(kind: str, value: str, lengths: tuple[int, ...], field: str) -> str:
    text = value.strip()
    shown = text or "(empty)"
    if not _is_digits(text):
        raise IdentifierError(f"{kind} {shown}: must contain digits only", field=field)
    if len(text) not in lengths:
        allowed = " or ".join(", ".join(map(str, lengths)).rsplit(", ", 1))
        raise IdentifierError(
            f"{kind} {shown}: must be {allowed} digits, got {len(text)}", field=field
        )
    expected = gs1_standard_check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise IdentifierError(
            f"{kind} {text}: check digit is {text[-1]}, expected {expected}", field=field
        )
    return text


def validate_gtin(gtin: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as a 14-digit GTIN.

    Args:
        gtin: The GTIN; surrounding whitespace is ignored.

    Returns:
        The GTIN-14 (shorter GTINs padded with leading zeros).

    Raises:
        IdentifierError: On non-digits, a wrong length or a wrong check digit (field ``gtin``).
    """
    return _validate_key("GTIN", gtin, (8, 12, 13, 14), "gtin").zfill(14)


def validate_sscc(sscc: str) -> str:
    """Validate an 18-digit SSCC and return it (this is also its canonical key).

    Raises:
        IdentifierError: On non-digits, a wrong length or a wrong check digit (field ``sscc``).
    """
    return _validate_key("SSCC", sscc, (18,), "sscc")


def validate_gln(gln: str) -> str:
    """Validate a 13-digit GLN and return it.

    Raises:
        IdentifierError: On non-digits, a wrong length or a wrong check digit (field ``gln``).
    """
    return _validate_key("GLN", gln, (13,), "gln")


def _cset82_problem(value: str, max_len: int = 20) -> str | None:
    if not 1 <= len(value) <= max_len:
        return f"must be 1-{max_len} characters, got {len(value)}"
    bad = "".join(sorted({c for c in value if not _CSET82_CHAR.fullmatch(c)}))
    return f"characters {bad!r} are not in GS1 CSET 82" if bad else None


def _validate_cset82(label: str, value: str, field: str) -> str:
    problem = _cset82_problem(value)
    if problem:
        raise IdentifierError(f"{label} {value!r}: {problem}", field=field)
    return value


def is_valid_serial(serial: str) -> bool:
    """Tell whether ``serial`` is a valid AI (21) serial: 1-20 characters of GS1 CSET 82."""
    return _cset82_problem(serial) is None


def is_valid_lot(lot: str) -> bool:
    """Tell whether ``lot`` is a valid AI (10) lot: 1-20 characters of GS1 CSET 82."""
    return _cset82_problem(lot) is None


def validate_serial(serial: str) -> str:
    """Return ``serial`` if it is a valid AI (21) serial, else raise (field ``serial``).

    Raises:
        IdentifierError: If it is empty, longer than 20 or has characters outside CSET 82.
    """
    return _validate_cset82("Serial (AI 21)", serial, "serial")


def validate_lot(lot: str) -> str:
    """Return ``lot`` if it is a valid AI (10) lot, else raise (field ``lot``).

    Raises:
        IdentifierError: If it is empty, longer than 20 or has characters outside CSET 82.
    """
    return _validate_cset82("Lot (AI 10)", lot, "lot")


def validate_gln_extension(extension: str) -> str:
    """Return ``extension`` if it is a valid AI (254) GLN extension, else raise.

    Raises:
        IdentifierError: If it is empty, longer than 20 or has characters outside CSET 82.
    """
    return _validate_cset82("GLN extension (AI 254)", extension, "gln_extension")


def sgtin_key(gtin: str, serial: str) -> str:
    """Build the canonical SGTIN key ``"{gtin14}.{serial}"`` after validating both parts."""
    return f"{validate_gtin(gtin)}.{validate_serial(serial)}"


def lgtin_key(gtin: str, lot: str) -> str:
    """Build the canonical lot-class key ``"{gtin14}.{lot}"`` after validating both parts."""
    return f"{validate_gtin(gtin)}.{validate_lot(lot)}"


def sgln_key(gln: str, extension: str | None = None) -> str:
    """Build the canonical location key: the GLN, or ``"{gln}.{extension}"``.

    An extension of ``None`` or ``"0"`` (the SGLN "no extension" value) gives the bare GLN.
    """
    if extension is None or extension == "0":
        return validate_gln(gln)
    return f"{validate_gln(gln)}.{validate_gln_extension(extension)}"


def split_gtin_key(key: str) -> tuple[str, str]:
    """Split an SGTIN or LGTIN key into ``(gtin14, serial_or_lot)``.

    Raises:
        IdentifierError: If the key is not 14 GTIN digits, a '.', and a CSET 82 value.
    """
    if len(key) < 16 or key[14] != ".":
        raise IdentifierError(
            f"Key {key!r}: must be a 14-digit GTIN, '.', then a serial or lot", field="key"
        )
    return validate_gtin(key[:14]), _validate_cset82("Serial or lot", key[15:], "key")


def split_sgln_key(key: str) -> tuple[str, str | None]:
    """Split a location key into ``(gln, extension or None)``."""
    gln, _, extension = key.partition(".")
    return validate_gln(gln), (validate_gln_extension(extension) if extension else None)


# --- product identifiers from element strings and Digital Links ---------------------------


@dataclass(frozen=True)
class ProductIdentifier:
    """The identifiers read from one barcode, Digital Link or EPC."""

    gtin: str | None = None
    """GTIN-14 from AI (01)."""
    serial: str | None = None
    """Serial from AI (21)."""
    lot: str | None = None
    """Batch/lot from AI (10)."""
    expiry: date | None = None
    """Expiry from AI (17); day 00 is read as the last day of the month."""
    sscc: str | None = None
    """SSCC from AI (00)."""
    gln: str | None = None
    """The first GLN found in AIs (410)-(417): ship-to, location, party and so on."""
    gln_ai: str | None = None
    """The AI the GLN came from, e.g. ``"414"`` (physical location) or ``"410"`` (ship to)."""
    gln_extension: str | None = None
    """GLN extension from AI (254)."""

    @property
    def key(self) -> str | None:
        """SGTIN key if GTIN and serial, else the SSCC, else a location key (AI 414), else None."""
        if self.gtin and self.serial:
            return f"{self.gtin}.{self.serial}"
        if self.sscc:
            return self.sscc
        if self.gln and self.gln_ai == "414" and not self.gtin:
            return sgln_key(self.gln, self.gln_extension)
        return None

    @property
    def lot_key(self) -> str | None:
        """LGTIN key ``"{gtin}.{lot}"`` when both are present, else None."""
        return f"{self.gtin}.{self.lot}" if self.gtin and self.lot else None

    @property
    def ndc(self) -> str | None:
        """The 10-digit NDC when the GTIN is in the US '03' NDC space, else None."""
        if self.gtin and self.gtin[1:3] == "03":
            return self.gtin[3:13]
        return None


def _opt(check: Callable[[str], str], value: str | None) -> str | None:
    return None if value is None else check(value)


def _from_elements(elements: Iterable[GS1ElementString]) -> ProductIdentifier:
    seen: dict[str, GS1ElementString] = {}
    for element in elements:
        first = seen.setdefault(element.ai.ai, element)
        if first.value != element.value:
            raise IdentifierError(
                f"AI ({element.ai.ai}) appears twice with different values: "
                f"{first.value!r} and {element.value!r}",
                field=_FIELDS.get(element.ai.ai, f"ai_{element.ai.ai}"),
            )
    values = {ai: element.value for ai, element in seen.items()}
    gln_ai = next((ai for ai in values if ai in _GLN_AIS), None)
    return ProductIdentifier(
        gtin=_opt(validate_gtin, values.get("01")),
        serial=_opt(validate_serial, values.get("21")),
        lot=_opt(validate_lot, values.get("10")),
        expiry=seen["17"].date if "17" in seen else None,
        sscc=_opt(validate_sscc, values.get("00")),
        gln=_opt(validate_gln, values.get(gln_ai or "")),
        gln_ai=gln_ai,
        gln_extension=_opt(validate_gln_extension, values.get("254")),
    )


def _date_problem(value: str) -> str:
    if not (_is_digits(value) and len(value) == 6):
        return "must be a date YYMMDD (6 digits)"
    if not 1 <= int(value[2:4]) <= 12:
        return f"month {value[2:4]} is not 01-12"
    return f"day {value[4:6]} does not exist in month {value[2:4]} of year '{value[:2]}'"


def _fixed_length(ai: GS1ApplicationIdentifier) -> int | None:
    fixed = re.fullmatch(r"N\d\+N(\d+)", ai.format)
    return int(fixed[1]) if fixed else None


def _ai_problem(ai: GS1ApplicationIdentifier, value: str) -> str:
    length = _fixed_length(ai)
    if length and not _is_digits(value):
        return "must contain digits only"
    if length and len(value) != length:
        return f"must be {length} digits, got {len(value)}"
    if ai.ai in _DATE_AIS:
        return _date_problem(value)
    text = re.fullmatch(r"N\d\+X\.\.(\d+)", ai.format)
    problem = _cset82_problem(value, int(text[1])) if text else None
    return problem or f"does not match the GS1 format {ai.format}"


def _ai_error(ai: GS1ApplicationIdentifier, value: str, hint: str = "") -> IdentifierError:
    label = _LABELS.get(ai.ai, ai.data_title)
    return IdentifierError(
        f"AI ({ai.ai}) {label} {value or '(empty)'}: {_ai_problem(ai, value)}{hint}",
        field=_FIELDS.get(ai.ai, f"ai_{ai.ai}"),
    )


def _known_ai(code: str, context: str, after: str = "") -> GS1ApplicationIdentifier:
    try:
        return GS1ApplicationIdentifier.extract(code)
    except ParseError as exc:
        raise IdentifierError(
            f"{context}: no GS1 Application Identifier at {code[:20]!r}{after}",
            field="element_string",
        ) from exc


def _elements_from_data(data: str, context: str) -> list[GS1ElementString]:
    elements: list[GS1ElementString] = []
    rest, hint = data.lstrip(_GS), ""
    while rest:
        ai = _known_ai(rest, context, hint)
        try:
            element = GS1ElementString.extract(rest)
        except ParseError as exc:
            value = rest[len(ai.ai) :].split(_GS, 1)[0][: _fixed_length(ai)]
            raise _ai_error(ai, value, hint) from exc
        elements.append(element)
        rest = rest[len(element) :]
        hint = (
            f" (read after AI ({ai.ai}) {element.value!r} with no GS separator: "
            "is a separator missing or that value longer than allowed?)"
            if ai.separator_required and rest and not rest.startswith(_GS)
            else ""
        )
        rest = rest.lstrip(_GS)
    return elements


def _elements_from_hri(hri: str, context: str) -> list[GS1ElementString]:
    parts = re.split(r"\((\d{2,4})\)", "".join(hri.replace(_GS, "").split()))
    if parts[0]:
        raise IdentifierError(
            f"{context}: HRI must start with '(AI)', got {parts[0]!r}", field="element_string"
        )
    elements: list[GS1ElementString] = []
    for code, value in zip(parts[1::2], parts[2::2], strict=True):
        ai = _known_ai(code, context)
        if ai.ai != code:
            raise IdentifierError(
                f"{context}: ({code}) is not a GS1 Application Identifier", field="element_string"
            )
        try:
            elements.append(GS1ElementString.parse(code + value))
        except ParseError as exc:
            raise _ai_error(ai, value) from exc
    return elements


def _split_symbology(text: str) -> tuple[SymbologyIdentifier | None, str]:
    if not text.startswith("]"):
        return None, text
    try:
        symbology = SymbologyIdentifier.extract(text)
    except (ParseError, IndexError) as exc:
        raise IdentifierError(
            f"Barcode {text!r}: {text[:3]!r} is not a known symbology identifier", field="barcode"
        ) from exc
    return symbology, text[len(symbology) :]


def parse_element_string(text: str) -> ProductIdentifier:
    r"""Parse a GS1 element string as scanned from a GS1 DataMatrix, GS1-128, QR or DataBar.

    Accepts an optional symbology identifier (``]d2``, ``]C1``, ``]Q3``, ``]e0``, ``]J1``);
    GS (``\\x1d``) between fields, or a printable stand-in for FNC1/GS (``<GS>``, ``{GS}``,
    ``[FNC1]``, ``␝`` ...); and the human-readable form ``(01)...(21)...(10)...(17)...``.

    Args:
        text: The scanned or typed element string.

    Returns:
        The identifiers found; check digits, serial/lot character sets and dates validated.

    Raises:
        IdentifierError: Naming the AI (and its field) that is malformed.
    """
    symbology, data = _split_symbology(text.strip())
    context = f"Element string {text.strip()!r}"
    if symbology and symbology.gs1_symbology not in GS1Symbology.with_gs1_messages():
        raise IdentifierError(
            f"{context}: symbology {symbology} does not carry GS1 element strings "
            "(expected ]C1, ]d2, ]Q3, ]e0 or ]J1)",
            field="element_string",
        )
    for token in _FNC1_TOKENS:
        data = data.replace(token, _GS)
    if not data.strip(_GS):
        raise IdentifierError(f"{context}: is empty", field="element_string")
    if data.lstrip(_GS).startswith("("):
        return _from_elements(_elements_from_hri(data, context))
    return _from_elements(_elements_from_data(data, context))


# GS1 Digital Link "convenience alphas" (older URIs); biip reads only numeric AIs.
_DL_ALPHAS = {
    "gtin": "01", "cpv": "22", "lot": "10", "ser": "21", "exp": "17",
    "sscc": "00", "gln": "414", "glnx": "254", "bestBefore": "15",
}  # fmt: skip
_DL_PRIMARIES = frozenset({"01", "00", "414", "gtin", "sscc", "gln"})


def _numeric_uri(parts: SplitResult) -> str:
    segments = parts.path.split("/")
    start = next((i for i, s in enumerate(segments) if s in _DL_PRIMARIES), len(segments))
    for i in range(start, len(segments), 2):
        segments[i] = _DL_ALPHAS.get(segments[i], segments[i])
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(_DL_ALPHAS.get(k, k), v) for k, v in pairs])
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), query, ""))


def _dl_error(uri: str, numeric: str, exc: ParseError) -> IdentifierError:
    match = re.search(r"GS1 AI \((\d+)\)", str(exc))
    if match:
        parts = urlsplit(numeric)
        segments = [unquote(s) for s in parts.path.split("/")]
        in_path = (v for k, v in zip(segments, segments[1:], strict=False) if k == match[1])
        value = next(in_path, dict(parse_qsl(parts.query)).get(match[1]))
        if value is not None:
            return _ai_error(GS1ApplicationIdentifier.extract(match[1]), value)
    return IdentifierError(f"Digital Link {uri}: {exc}", field="digital_link")


def parse_digital_link(uri: str) -> ProductIdentifier:
    """Parse a GS1 Digital Link URI on any domain, e.g. ``https://id.gs1.org/01/.../21/...``.

    Path values are percent-decoded (``%2F`` in a serial is ``/``); query AIs such as
    ``?10=LOT&17=271231`` are read; short GTINs in the path are padded to 14 digits;
    non-AI query parameters (``linkType`` ...) are ignored.

    Raises:
        IdentifierError: If it is not an http(s) URI with a GS1 primary key, or a value
            breaks its AI's rule.
    """
    text = uri.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise IdentifierError(
            f"Digital Link {text}: must be an https:// URI with a host", field="digital_link"
        )
    numeric = _numeric_uri(parts)
    try:
        link = GS1DigitalLinkURI.parse(numeric)
    except ParseError as exc:
        raise _dl_error(text, numeric, exc) from exc
    return _from_elements(link.element_strings)


def parse_barcode(text: str) -> ProductIdentifier:
    """Read any supported barcode payload: element string, Digital Link, EPC URN or bare GTIN.

    A payload of only 8, 12, 13 or 14 digits (no symbology identifier) or one under an EAN/UPC
    or ITF-14 symbology identifier is read as a GTIN from a linear barcode.

    Raises:
        IdentifierError: If the payload is none of these, or the one it is fails validation.
    """
    stripped = text.strip()
    if stripped.lower().startswith("urn:epc:"):
        return _identifier_from_epc(parse_epc_urn(stripped))
    symbology, data = _split_symbology(stripped)
    if data.lower().startswith(("http://", "https://")):
        return parse_digital_link(data)
    in_linear = symbology is not None and symbology.gs1_symbology in GS1Symbology.with_gtin()
    if in_linear or (symbology is None and _is_digits(data) and len(data) in (8, 12, 13, 14)):
        return ProductIdentifier(gtin=validate_gtin(data))
    if not data.lstrip(_GS)[:1].isdigit() and not data.startswith(("(", *_FNC1_TOKENS)):
        raise IdentifierError(
            f"Barcode {stripped!r} is not a GS1 element string, GS1 Digital Link URI, "
            "EPC URN or GTIN",
            field="barcode",
        )
    return parse_element_string(stripped)


# --- building element strings and Digital Links -------------------------------------------


def _yymmdd(expiry: date) -> str:
    text = f"{expiry:%y%m%d}"
    if GS1ElementString.parse(f"17{text}").date != expiry:
        raise IdentifierError(
            f"Expiry {expiry.isoformat()}: year is outside the GS1 two-digit-year window "
            "(49 years back to 50 years ahead)",
            field="expiry",
        )
    return text


def _identifier_pairs(pi: ProductIdentifier) -> list[tuple[str, str]]:
    gln_ai = pi.gln_ai or "414"
    if gln_ai not in _GLN_AIS:
        raise IdentifierError(f"GLN AI {gln_ai!r}: must be one of {_GLN_AIS}", field="gln_ai")
    pairs = [
        ("00", _opt(validate_sscc, pi.sscc)),
        ("01", _opt(validate_gtin, pi.gtin)),
        ("17", _yymmdd(pi.expiry) if pi.expiry else None),
        (gln_ai, _opt(validate_gln, pi.gln)),
        ("10", _opt(validate_lot, pi.lot)),
        ("21", _opt(validate_serial, pi.serial)),
        ("254", _opt(validate_gln_extension, pi.gln_extension)),
    ]
    return [(ai, value) for ai, value in pairs if value is not None]


def _epc_pairs(epc: EPC) -> list[tuple[str, str]]:
    pi = ProductIdentifier(
        gtin=epc.gtin,
        serial=epc.serial,
        lot=epc.lot if epc.scheme == "lgtin" else None,
        sscc=epc.sscc,
        gln=epc.gln,
        gln_extension=None if epc.extension == "0" else epc.extension,
    )
    return _identifier_pairs(pi)


def _element_strings(pairs: list[tuple[str, str]]) -> GS1ElementStrings:
    if not pairs:
        raise IdentifierError("Nothing to encode: no identifier is set", field="identifier")
    return GS1ElementStrings(GS1ElementString.parse(ai + value) for ai, value in pairs)


def element_string(pi: ProductIdentifier, *, hri: bool = False) -> str:
    """Encode identifiers as a GS1 element string (fixed-length AIs first).

    Args:
        pi: The identifiers to encode.
        hri: Return the human-readable ``(01)...(21)...`` form instead of GS-separated data.

    Returns:
        The element string, without symbology identifier.
    """
    message = GS1Message.from_element_strings(_element_strings(_identifier_pairs(pi)))
    return message.as_hri() if hri else message.value


def digital_link(source: EPC | ProductIdentifier, *, domain: str = "id.gs1.org") -> str:
    """Build a GS1 Digital Link URI (canonical when ``domain`` is ``id.gs1.org``).

    An EPC gives its identity only: SGTIN ``/01/{gtin}/21/{serial}``, SSCC ``/00/{sscc}``,
    SGLN ``/414/{gln}[/254/{ext}]``, LGTIN ``/01/{gtin}/10/{lot}``. A ProductIdentifier
    gives every field set; non-key AIs such as (17) go to the query string.

    Raises:
        IdentifierError: If not exactly one of GTIN, SSCC and location GLN (AI 414) is set,
            or a field is invalid.
    """
    pairs = _epc_pairs(source) if isinstance(source, EPC) else _identifier_pairs(source)
    primaries = [ai for ai, _ in pairs if ai in ("00", "01", "414")]
    if len(primaries) != 1:
        raise IdentifierError(
            "Digital Link: needs exactly one primary key (GTIN, SSCC or GLN with AI 414), "
            f"got {len(primaries)}",
            field="digital_link",
        )
    return GS1DigitalLinkURI.from_element_strings(_element_strings(pairs)).as_uri(domain=domain)


# --- EPC URNs (GS1 EPC Tag Data Standard, pure identity) -----------------------------------


@dataclass(frozen=True)
class EPC:
    """An EPC in one of the four schemes Proofline handles."""

    scheme: EpcScheme
    """``sgtin`` (unit or case), ``sscc`` (logistic unit), ``sgln`` (place), ``lgtin`` (lot)."""
    gtin: str | None = None
    serial: str | None = None
    sscc: str | None = None
    gln: str | None = None
    extension: str | None = None
    """GLN extension; None when absent (``.0`` in an SGLN URN)."""
    lot: str | None = None
    company_prefix_length: int | None = None
    """Digits of the GS1 Company Prefix; None when read from a Digital Link."""

    @property
    def key(self) -> str:
        """The canonical key for this EPC's scheme."""
        if self.scheme == "sscc":
            return self.sscc or ""
        if self.scheme == "sgln":
            return sgln_key(self.gln or "", self.extension)
        tail = self.serial if self.scheme == "sgtin" else self.lot
        return f"{self.gtin}.{tail}"


_URN = re.compile(r"urn:epc:([a-z]+):([a-z0-9-]+):(.*)", re.IGNORECASE | re.DOTALL)
_URN_KINDS = {"sgtin": "id", "sscc": "id", "sgln": "id", "lgtin": "class"}


def _urn_error(urn: str, rule: str) -> IdentifierError:
    return IdentifierError(f"EPC URN {urn}: {rule}", field="epc")


def _escape(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _URN_ESCAPES else c for c in value)


def _check_cpl(length: int) -> int:
    if not 6 <= length <= 12:
        raise IdentifierError(
            f"Company prefix length {length}: must be 6-12", field="company_prefix_length"
        )
    return length


def _fields(urn: str, body: str, names: tuple[str, ...]) -> list[str]:
    parts = body.split(".", len(names) - 1)
    if len(parts) != len(names):
        raise _urn_error(urn, f"expected {len(names)} '.'-separated fields ({', '.join(names)})")
    return parts


def _numbers(urn: str, prefix: str, reference: str, name: str, total: int) -> str:
    if not (_is_digits(prefix) and 6 <= len(prefix) <= 12):
        raise _urn_error(urn, f"company prefix {prefix!r} must be 6-12 digits")
    if reference and not _is_digits(reference):
        raise _urn_error(urn, f"{name} {reference!r} must contain digits only")
    if len(prefix) + len(reference) != total:
        raise _urn_error(
            urn,
            f"company prefix ({len(prefix)} digits) + {name} ({len(reference)} digits) "
            f"must be {total} digits, got {len(prefix) + len(reference)}",
        )
    return prefix + reference


def _with_check(payload: str) -> str:
    return payload + str(gs1_standard_check_digit(payload))


def _parse_gtin_class(urn: str, body: str, scheme: EpcScheme) -> EPC:
    last = "serial" if scheme == "sgtin" else "lot"
    prefix, ref, value = _fields(urn, body, ("company prefix", "indicator+item ref", last))
    _numbers(urn, prefix, ref, "indicator+item reference", 13)
    gtin = _with_check(ref[0] + prefix + ref[1:])
    if scheme == "sgtin":
        serial = validate_serial(unquote(value))
        return EPC("sgtin", gtin=gtin, serial=serial, company_prefix_length=len(prefix))
    lot = validate_lot(unquote(value))
    return EPC("lgtin", gtin=gtin, lot=lot, company_prefix_length=len(prefix))


def _parse_sscc(urn: str, body: str) -> EPC:
    prefix, ref = _fields(urn, body, ("company prefix", "extension+serial reference"))
    _numbers(urn, prefix, ref, "extension+serial reference", 17)
    sscc = _with_check(ref[0] + prefix + ref[1:])
    return EPC("sscc", sscc=sscc, company_prefix_length=len(prefix))


def _parse_sgln(urn: str, body: str) -> EPC:
    prefix, ref, ext = _fields(urn, body, ("company prefix", "location reference", "extension"))
    gln = _with_check(_numbers(urn, prefix, ref, "location reference", 12))
    extension = None if ext == "0" else validate_gln_extension(unquote(ext))
    return EPC("sgln", gln=gln, extension=extension, company_prefix_length=len(prefix))


def parse_epc_urn(urn: str) -> EPC:
    """Parse a pure-identity EPC URN: sgtin, sscc, sgln (``urn:epc:id:``) or lgtin (``class``).

    Examples: ``urn:epc:id:sgtin:0614141.107346.2017`` (GTIN 10614141073464, serial 2017),
    ``urn:epc:id:sscc:0614141.1234567890``, ``urn:epc:id:sgln:0614141.12345.400``,
    ``urn:epc:class:lgtin:4012345.012345.998877``. %-escapes in serials, lots and
    extensions are decoded.

    Raises:
        IdentifierError: For other schemes (giai, grai, tag URNs such as sgtin-96 ...),
            wrong component lengths or invalid serials/lots.
    """
    text = urn.strip()
    match = _URN.fullmatch(text)
    if not match:
        raise _urn_error(text, "must look like urn:epc:id:<scheme>:<fields>")
    kind, scheme, body = match[1].lower(), match[2].lower(), match[3]
    expected = _URN_KINDS.get(scheme)
    if expected is None:
        hint = "; tag URNs are not accepted" if kind == "tag" else ""
        raise _urn_error(
            text, f"scheme {scheme!r} is not supported (use sgtin, sscc, sgln or lgtin{hint})"
        )
    if kind != expected:
        raise _urn_error(text, f"{scheme} is written urn:epc:{expected}:{scheme}:..., not {kind}")
    if scheme == "sscc":
        return _parse_sscc(text, body)
    if scheme == "sgln":
        return _parse_sgln(text, body)
    return _parse_gtin_class(text, body, "sgtin" if scheme == "sgtin" else "lgtin")


def _gtin_fields(gtin: str, company_prefix_length: int) -> str:
    g, n = validate_gtin(gtin), _check_cpl(company_prefix_length)
    return f"{g[1 : 1 + n]}.{g[0]}{g[1 + n : 13]}"


def sgtin_urn(gtin: str, serial: str, company_prefix_length: int) -> str:
    """Build ``urn:epc:id:sgtin:{prefix}.{indicator}{item ref}.{escaped serial}``.

    Raises:
        IdentifierError: For an invalid GTIN or serial, or a prefix length outside 6-12.
    """
    fields = _gtin_fields(gtin, company_prefix_length)
    return f"urn:epc:id:sgtin:{fields}.{_escape(validate_serial(serial))}"


def lgtin_urn(gtin: str, lot: str, company_prefix_length: int) -> str:
    """Build ``urn:epc:class:lgtin:{prefix}.{indicator}{item ref}.{escaped lot}``.

    Raises:
        IdentifierError: For an invalid GTIN or lot, or a prefix length outside 6-12.
    """
    fields = _gtin_fields(gtin, company_prefix_length)
    return f"urn:epc:class:lgtin:{fields}.{_escape(validate_lot(lot))}"


def sscc_urn(sscc: str, company_prefix_length: int) -> str:
    """Build ``urn:epc:id:sscc:{prefix}.{extension digit}{serial ref}``."""
    s, n = validate_sscc(sscc), _check_cpl(company_prefix_length)
    return f"urn:epc:id:sscc:{s[1 : 1 + n]}.{s[0]}{s[1 + n : 17]}"


def sgln_urn(gln: str, extension: str | None, company_prefix_length: int) -> str:
    """Build ``urn:epc:id:sgln:{prefix}.{location ref}.{escaped extension}`` (``0`` if None)."""
    g, n = validate_gln(gln), _check_cpl(company_prefix_length)
    ext = "0" if extension is None else _escape(validate_gln_extension(extension))
    return f"urn:epc:id:sgln:{g[:n]}.{g[n:12]}.{ext}"


def _epc_from_identifier(pi: ProductIdentifier, source: str) -> EPC:
    if pi.gtin and pi.serial:
        return EPC("sgtin", gtin=pi.gtin, serial=pi.serial)
    if pi.sscc:
        return EPC("sscc", sscc=pi.sscc)
    if pi.gln and pi.gln_ai == "414":
        return EPC("sgln", gln=pi.gln, extension=pi.gln_extension)
    if pi.gtin and pi.lot:
        return EPC("lgtin", gtin=pi.gtin, lot=pi.lot)
    raise IdentifierError(
        f"Digital Link {source}: names no EPC (needs 01+21, 00, 414 or 01+10)", field="epc"
    )


def _identifier_from_epc(epc: EPC) -> ProductIdentifier:
    return ProductIdentifier(
        gtin=epc.gtin,
        serial=epc.serial,
        lot=epc.lot,
        sscc=epc.sscc,
        gln=epc.gln,
        gln_ai="414" if epc.gln else None,
        gln_extension=epc.extension,
    )


def parse_epc(value: str) -> EPC:
    """Parse an EPC written as an EPC URN or as a GS1 Digital Link URI (EPCIS 2.0 allows both).

    Raises:
        IdentifierError: If it is neither, or names no SGTIN, SSCC, SGLN or LGTIN.
    """
    text = value.strip()
    if text.lower().startswith("urn:"):
        return parse_epc_urn(text)
    if text.lower().startswith(("http://", "https://")):
        return _epc_from_identifier(parse_digital_link(text), text)
    raise IdentifierError(
        f"EPC {text!r}: must be an EPC URN (urn:epc:...) or a GS1 Digital Link URI (https://...)",
        field="epc",
    )


# --- NDC (US National Drug Code) -----------------------------------------------------------

_NDC10_SHAPES = {(4, 4, 2): 0, (5, 3, 2): 1, (5, 4, 1): 2}  # shape -> segment padded in NDC11


def _ndc_segments(ndc: str) -> list[str]:
    segments = ndc.split("-")
    if len(segments) != 3 or not all(_is_digits(s) for s in segments):
        raise IdentifierError(f"NDC {ndc}: must be three digit groups joined by '-'", field="ndc")
    shape = tuple(len(s) for s in segments)
    if shape not in _NDC10_SHAPES and shape != (5, 4, 2):
        raise IdentifierError(
            f"NDC {ndc}: segments {'-'.join(map(str, shape))} are not 4-4-2, 5-3-2, 5-4-1 "
            "(10-digit) or 5-4-2 (11-digit)",
            field="ndc",
        )
    return segments


def _ndc10_digits(ndc: str) -> str:
    text = ndc.strip()
    digits = "".join(_ndc_segments(text)) if "-" in text else text
    if not _is_digits(digits):
        raise IdentifierError(f"NDC {text or '(empty)'}: must contain digits only", field="ndc")
    if len(digits) not in (10, 11):
        raise IdentifierError(f"NDC {text}: must be 10 digits, got {len(digits)}", field="ndc")
    if len(digits) == 11:
        raise IdentifierError(
            f"NDC {text}: is the 11-digit 5-4-2 billing form; it cannot be mapped to a GTIN "
            "without the original 10-digit NDC",
            field="ndc",
        )
    return digits


def ndc_to_gtin(ndc: str, indicator: int = 0) -> str:
    """Convert a 10-digit NDC to its GTIN-14: indicator, ``03``, the NDC, check digit.

    Args:
        ndc: A 10-digit NDC, hyphenated (4-4-2, 5-3-2, 5-4-1) or not. The segmentation does
            not matter for the GTIN. The 11-digit billing form is refused: which segment
            was zero-padded cannot be known.
        indicator: GTIN-14 packaging indicator 0-8 (0 for the unit of sale).

    Returns:
        The GTIN-14, e.g. ``00312345678906`` for NDC 12345-678-90.

    Raises:
        IdentifierError: For malformed NDCs or an indicator outside 0-8.
    """
    if not 0 <= indicator <= 8:
        raise IdentifierError(f"Indicator {indicator}: must be 0-8", field="indicator")
    return _with_check(f"{indicator}03{_ndc10_digits(ndc)}")


def gtin_to_ndc(gtin: str) -> str:
    """Return the 10-digit NDC (no hyphens) inside a GTIN from the US ``03`` NDC space.

    The result's segmentation (4-4-2, 5-3-2 or 5-4-1) is not recorded in the GTIN, so it
    cannot be hyphenated or converted to NDC11 without the labeler's product listing.

    Raises:
        IdentifierError: If the GTIN is invalid or its digits 2-3 are not ``03``.
    """
    g = validate_gtin(gtin)
    if g[1:3] != "03":
        raise IdentifierError(
            f"GTIN {g}: not in the US NDC space (digits 2-3 are {g[1:3]!r}, expected '03')",
            field="gtin",
        )
    return g[3:13]


def ndc11(ndc: str) -> str:
    """Convert a hyphenated 10-digit NDC to the 11-digit 5-4-2 billing form (no hyphens).

    4-4-2 pads the labeler, 5-3-2 the product and 5-4-1 the package with a leading zero.
    An unhyphenated 10-digit NDC is refused: its segmentation is unknown, so the padding
    position is too. An 11-digit input (5-4-2 or 11 digits) is returned as 11 digits.

    Raises:
        IdentifierError: For unhyphenated 10-digit input or malformed NDCs.
    """
    text = ndc.strip()
    if "-" not in text:
        if _is_digits(text) and len(text) == 11:
            return text
        raise IdentifierError(
            f"NDC {text}: give the hyphenated 10-digit form (4-4-2, 5-3-2 or 5-4-1); "
            "without hyphens the segment to zero-pad is unknown",
            field="ndc",
        )
    segments = _ndc_segments(text)
    padded = _NDC10_SHAPES.get((len(segments[0]), len(segments[1]), len(segments[2])))
    if padded is not None:
        segments[padded] = "0" + segments[padded]
    return "".join(segments)
