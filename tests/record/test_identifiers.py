"""Tests for record.identifiers: GS1 keys, element strings, Digital Links, EPC URNs, NDCs."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from record import identifiers as ids
from record.errors import IdentifierError
from record.identifiers import (
    EPC,
    ProductIdentifier,
    digital_link,
    element_string,
    gs1_check_digit,
    gtin_to_ndc,
    lgtin_urn,
    ndc11,
    ndc_to_gtin,
    parse_barcode,
    parse_digital_link,
    parse_element_string,
    parse_epc,
    parse_epc_urn,
    sgln_urn,
    sgtin_urn,
    sscc_urn,
    validate_gln,
    validate_gtin,
    validate_sscc,
)

FAST = settings(max_examples=60, deadline=None)
DIGITS = "0123456789"
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
TODAY = date.today()


def ref_check(body: str) -> int:
    """Reference GS1 check digit, written independently of the module under test."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def keyed(length: int) -> st.SearchStrategy[str]:
    return st.text(DIGITS, min_size=length - 1, max_size=length - 1).map(
        lambda body: body + str(ref_check(body))
    )


gtins, ssccs, glns = keyed(14), keyed(18), keyed(13)
cset82_values = st.text(CSET82, min_size=1, max_size=20)
hri_values = st.text(CSET82.replace("(", ""), min_size=1, max_size=20)  # '(' opens an AI in HRI
prefix_lengths = st.integers(6, 12)
expiries = st.dates(date(TODAY.year - 40, 1, 1), date(TODAY.year + 40, 12, 31))


def error(fn, *args, **kwargs) -> IdentifierError:
    with pytest.raises(IdentifierError) as info:
        fn(*args, **kwargs)
    return info.value


def test_public_api_is_exactly_this() -> None:
    assert sorted(ids.__all__) == [
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
    assert all(hasattr(ids, name) for name in ids.__all__)


# --- check digits and keys ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "digit"),
    [("950600013435", 2), ("0031234567890", 6), ("10614141234567890", 8), ("061414112345", 2)],
)
def test_check_digit_known_vectors(body: str, digit: int) -> None:
    assert gs1_check_digit(body) == digit


@pytest.mark.parametrize("bad", ["", "12a4", "１２３"])
def test_check_digit_refuses_non_digits(bad: str) -> None:
    err = error(gs1_check_digit, bad)
    assert "must be digits only" in str(err)
    assert err.field == "digits"


def test_valid_keys_are_accepted_and_gtins_padded() -> None:
    assert validate_gtin("09506000134352") == "09506000134352"
    assert validate_gtin("9506000134352") == "09506000134352"
    assert validate_gtin(" 614141123452\n") == "00614141123452"
    assert validate_gtin("96385074") == "00000096385074"
    assert validate_sscc("106141412345678908") == "106141412345678908"
    assert validate_gln("0614141123452") == "0614141123452"


@pytest.mark.parametrize(
    ("fn", "value", "field", "message"),
    [
        (
            validate_gtin,
            "00312345678901",
            "gtin",
            "GTIN 00312345678901: check digit is 1, expected 6",
        ),
        (validate_gtin, "1234", "gtin", "GTIN 1234: must be 8, 12, 13 or 14 digits, got 4"),
        (validate_gtin, "0031234567890A", "gtin", "GTIN 0031234567890A: must contain digits only"),
        (validate_gtin, "", "gtin", "GTIN (empty): must contain digits only"),
        (validate_sscc, "1234", "sscc", "SSCC 1234: must be 18 digits, got 4"),
        (
            validate_sscc,
            "106141412345678909",
            "sscc",
            "SSCC 106141412345678909: check digit is 9, expected 8",
        ),
        (validate_gln, "0614141123453", "gln", "GLN 0614141123453: check digit is 3, expected 2"),
        (validate_gln, "06141411234", "gln", "GLN 06141411234: must be 13 digits, got 11"),
    ],
)
def test_key_errors_name_field_and_rule(fn, value: str, field: str, message: str) -> None:
    err = error(fn, value)
    assert str(err) == message
    assert err.field == field


@FAST
@given(body=st.text(DIGITS, min_size=1, max_size=20))
def test_check_digit_matches_reference(body: str) -> None:
    assert gs1_check_digit(body) == ref_check(body)


@FAST
@pytest.mark.parametrize(
    ("strategy", "validate"), [(gtins, validate_gtin), (ssccs, validate_sscc), (glns, validate_gln)]
)
@given(data=st.data())
def test_any_single_digit_change_is_detected(strategy, validate, data) -> None:
    key = data.draw(strategy)
    assert validate(key) == key
    pos = data.draw(st.integers(0, len(key) - 1))
    changed = str((int(key[pos]) + data.draw(st.integers(1, 9))) % 10)
    err = error(validate, key[:pos] + changed + key[pos + 1 :])
    assert "check digit is" in str(err)


# --- serials, lots and canonical keys -----------------------------------------------------


def test_serial_and_lot_rules() -> None:
    assert ids.is_valid_serial("ABC-123/x")
    assert ids.is_valid_lot("L1")
    assert not ids.is_valid_serial("")
    assert not ids.is_valid_lot("A" * 21)
    assert not ids.is_valid_serial("ÄB")
    assert ids.validate_serial('!"%&') == '!"%&'


@pytest.mark.parametrize(
    ("fn", "value", "field", "message"),
    [
        (ids.validate_serial, "", "serial", "Serial (AI 21) '': must be 1-20 characters, got 0"),
        (ids.validate_serial, "A" * 21, "serial", "must be 1-20 characters, got 21"),
        (ids.validate_serial, "A B#", "serial", "characters ' #' are not in GS1 CSET 82"),
        (
            ids.validate_lot,
            "LOT~1",
            "lot",
            "Lot (AI 10) 'LOT~1': characters '~' are not in GS1 CSET 82",
        ),
        (
            ids.validate_gln_extension,
            "",
            "gln_extension",
            "GLN extension (AI 254) '': must be 1-20",
        ),
    ],
)
def test_serial_lot_extension_errors(fn, value: str, field: str, message: str) -> None:
    err = error(fn, value)
    assert message in str(err)
    assert err.field == field


def test_canonical_key_helpers() -> None:
    assert ids.sgtin_key("9506000134352", "A.1") == "09506000134352.A.1"
    assert ids.lgtin_key("09506000134352", "L1") == "09506000134352.L1"
    assert ids.split_gtin_key("09506000134352.A.1") == ("09506000134352", "A.1")
    assert ids.sgln_key("0614141123452") == "0614141123452"
    assert ids.sgln_key("0614141123452", "0") == "0614141123452"
    assert ids.sgln_key("0614141123452", "400") == "0614141123452.400"
    assert ids.split_sgln_key("0614141123452.400") == ("0614141123452", "400")
    assert ids.split_sgln_key("0614141123452") == ("0614141123452", None)
    assert error(ids.split_gtin_key, "9506000134352.A").field == "key"
    assert error(ids.sgtin_key, "09506000134351", "A").field == "gtin"


# --- element strings -----------------------------------------------------------------------

EXPECTED = ProductIdentifier(
    gtin="00312345678906", serial="ABC", lot="L1", expiry=date(2027, 12, 31)
)


@pytest.mark.parametrize(
    "text",
    [
        "(01)00312345678906(21)ABC(10)L1(17)271231",
        "(01) 00312345678906 (21) ABC (10) L1 (17) 271231",
        "010031234567890621ABC\x1d10L1\x1d17271231",
        "]d2010031234567890621ABC\x1d10L1\x1d17271231",
        "]C1\x1d010031234567890617271231\x1d10L1\x1d21ABC",
        "]Q301003123456789061727123110L1\x1d21ABC",
        "]e0010031234567890621ABC<GS>10L1{GS}17271231",
        "010031234567890621ABC\u241d10L1[FNC1]17271231",
    ],
)
def test_element_string_forms(text: str) -> None:
    pi = parse_element_string(text)
    assert pi == EXPECTED
    assert pi.key == "00312345678906.ABC"
    assert pi.lot_key == "00312345678906.L1"
    assert pi.ndc == "1234567890"


def test_bare_sscc_and_gln_elements() -> None:
    assert parse_element_string("(00)106141412345678908").key == "106141412345678908"
    pi = parse_element_string("00106141412345678908\x1d4100614141123452")
    assert (pi.sscc, pi.gln, pi.gln_ai, pi.key) == (
        "106141412345678908",
        "0614141123452",
        "410",
        "106141412345678908",
    )
    place = parse_element_string("(414)0614141123452(254)400")
    assert place.key == "0614141123452.400"


def test_expiry_day_00_is_last_day_of_month() -> None:
    assert parse_element_string("(01)09506000134352(17)280200").expiry == date(2028, 2, 29)
    assert parse_element_string("(01)09506000134352(17)270200").expiry == date(2027, 2, 28)


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("(01)00312345678901(21)A", "gtin", "GTIN 00312345678901: check digit is 1, expected 6"),
        ("(01)00312345678906(17)271300", "expiry", "AI (17) expiry 271300: month 13 is not 01-12"),
        ("0100312345678906172700311", "expiry", "AI (17) expiry 270031: month 00 is not 01-12"),
        ("(17)270230", "expiry", "AI (17) expiry 270230: day 30 does not exist in month 02"),
        ("(01)0031234567890(21)A", "gtin", "AI (01) GTIN 0031234567890: must be 14 digits, got 13"),
        (
            "(00)10614141234567890X",
            "sscc",
            "AI (00) SSCC 10614141234567890X: must contain digits only",
        ),
        ("(414)0614141123453", "gln", "GLN 0614141123453: check digit is 3, expected 2"),
        ("(01)09506000134352(21)A(21)B", "serial", "AI (21) appears twice with different values"),
        ("(24)X", "element_string", "no GS1 Application Identifier at '24'"),
        ("(100)X", "element_string", "(100) is not a GS1 Application Identifier"),
        ("(1)X", "element_string", "HRI must start with '(AI)'"),
        ("]E00031234567890", "element_string", "does not carry GS1 element strings"),
        ("]d2", "element_string", "is empty"),
        ("]W0123", "barcode", "']W0' is not a known symbology identifier"),
        (
            "01003123456789062112345678901234567890ABC",
            "element_string",
            "no GS1 Application Identifier at 'ABC' (read after AI (21) '12345678901234567890'",
        ),
    ],
)
def test_element_string_errors(text: str, field: str, message: str) -> None:
    err = error(parse_element_string, text)
    assert message in str(err)
    assert err.field == field


@FAST
@given(gtin=gtins, serial=hri_values, lot=hri_values, expiry=expiries)
def test_hri_round_trip(gtin: str, serial: str, lot: str, expiry: date) -> None:
    pi = ProductIdentifier(gtin=gtin, serial=serial, lot=lot, expiry=expiry)
    hri = element_string(pi, hri=True)
    assert hri.startswith(f"(01){gtin}(17)")
    assert parse_element_string(hri) == pi


@FAST
@given(gtin=gtins, serial=cset82_values, lot=cset82_values, sscc=ssccs, gln=glns)
def test_gs_separated_round_trip(gtin: str, serial: str, lot: str, sscc: str, gln: str) -> None:
    pi = ProductIdentifier(gtin=gtin, serial=serial, lot=lot, sscc=sscc, gln=gln, gln_ai="410")
    assert parse_element_string("]d2" + element_string(pi)) == pi


def test_element_string_encoding() -> None:
    assert element_string(EXPECTED) == "010031234567890617271231" + "10L1\x1d21ABC"
    assert element_string(EXPECTED, hri=True) == "(01)00312345678906(17)271231(10)L1(21)ABC"
    assert error(element_string, ProductIdentifier()).field == "identifier"
    assert error(element_string, ProductIdentifier(gtin="1", serial="A")).field == "gtin"
    far = ProductIdentifier(gtin="09506000134352", expiry=date(TODAY.year + 60, 1, 1))
    assert "two-digit-year window" in str(error(element_string, far))


# --- Digital Link --------------------------------------------------------------------------


def test_digital_link_parsing() -> None:
    pi = parse_digital_link("https://id.gs1.org/01/09506000134352/21/ABC?10=LOT&17=271231")
    assert pi == ProductIdentifier(
        gtin="09506000134352", serial="ABC", lot="LOT", expiry=date(2027, 12, 31)
    )
    custom = parse_digital_link(
        "https://pharma.example.com/dl/01/9506000134352/10/L%2F1/21/A%2FB%25?linkType=gs1:pip"
    )
    assert (custom.gtin, custom.lot, custom.serial) == ("09506000134352", "L/1", "A/B%")
    alphas = parse_digital_link("https://example.com/gtin/09506000134352/ser/S1?exp=271200")
    assert (alphas.serial, alphas.expiry) == ("S1", date(2027, 12, 31))
    assert parse_digital_link("HTTPS://id.gs1.org/00/106141412345678908").key == (
        "106141412345678908"
    )


@pytest.mark.parametrize(
    ("uri", "field", "message"),
    [
        (
            "https://id.gs1.org/01/09506000134352/21/ABC?17=271300",
            "expiry",
            "month 13 is not 01-12",
        ),
        (
            "https://id.gs1.org/01/09506000134352/21/A%20B",
            "serial",
            "AI (21) serial A B: characters ' ' are not in GS1 CSET 82",
        ),
        ("https://id.gs1.org/01/09506000134351/21/A", "gtin", "check digit is 1, expected 2"),
        ("https://example.com/products/foo", "digital_link", "primary identifier"),
        ("ftp://example.com/01/09506000134352", "digital_link", "must be an https:// URI"),
        ("https://id.gs1.org/01/09506000134352/21/A/10/L", "digital_link", "qualifier"),
    ],
)
def test_digital_link_errors(uri: str, field: str, message: str) -> None:
    err = error(parse_digital_link, uri)
    assert message in str(err)
    assert err.field == field


def test_digital_link_building() -> None:
    assert digital_link(EXPECTED) == "https://id.gs1.org/01/00312345678906/10/L1/21/ABC?17=271231"
    place = ProductIdentifier(gln="0614141123452", gln_extension="A/1")
    assert digital_link(place, domain="dl.example.com") == (
        "https://dl.example.com/414/0614141123452/254/A%2F1"
    )
    assert error(digital_link, ProductIdentifier(lot="L1")).field == "digital_link"
    both = ProductIdentifier(gtin="09506000134352", sscc="106141412345678908")
    assert "exactly one primary key" in str(error(digital_link, both))


@FAST
@given(gtin=gtins, serial=cset82_values, lot=cset82_values, expiry=expiries)
def test_digital_link_round_trip(gtin: str, serial: str, lot: str, expiry: date) -> None:
    pi = ProductIdentifier(gtin=gtin, serial=serial, lot=lot, expiry=expiry)
    uri = digital_link(pi)
    assert uri.startswith(f"https://id.gs1.org/01/{gtin}/10/")
    assert parse_digital_link(uri) == pi
    assert parse_barcode(uri) == pi


# --- parse_barcode dispatch ----------------------------------------------------------------


def test_parse_barcode_dispatch() -> None:
    assert parse_barcode("(01)00312345678906(21)ABC(10)L1(17)271231") == EXPECTED
    assert parse_barcode("]d2010031234567890621ABC\x1d10L1\x1d17271231") == EXPECTED
    assert parse_barcode("]Q1https://id.gs1.org/01/09506000134352/21/X").key == "09506000134352.X"
    assert parse_barcode("urn:epc:id:sgtin:0614141.107346.2017").key == "10614141073464.2017"
    assert parse_barcode("urn:epc:id:sgln:0614141.12345.400").key == "0614141123452.400"
    assert parse_barcode("312345678906") == ProductIdentifier(gtin="00312345678906")
    assert parse_barcode("]E09506000134352").gtin == "09506000134352"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("hello", "barcode", "Barcode 'hello' is not a GS1 element string, GS1 Digital Link URI"),
        ("urn:uuid:1234", "barcode", "is not a GS1 element string"),
        ("312345678901", "gtin", "GTIN 312345678901: check digit is 1, expected 6"),
        ("urn:epc:id:giai:0614141.1", "epc", "scheme 'giai' is not supported"),
    ],
)
def test_parse_barcode_errors(text: str, field: str, message: str) -> None:
    err = error(parse_barcode, text)
    assert message in str(err)
    assert err.field == field


# --- EPC URNs ------------------------------------------------------------------------------


def test_epc_urn_known_vectors() -> None:
    assert parse_epc_urn("urn:epc:id:sgtin:0614141.107346.2017") == EPC(
        "sgtin", gtin="10614141073464", serial="2017", company_prefix_length=7
    )
    assert parse_epc_urn("urn:epc:id:sscc:0614141.1234567890") == EPC(
        "sscc", sscc="106141412345678908", company_prefix_length=7
    )
    assert parse_epc_urn("urn:epc:id:sgln:0614141.12345.400") == EPC(
        "sgln", gln="0614141123452", extension="400", company_prefix_length=7
    )
    assert parse_epc_urn("urn:epc:id:sgln:0614141.12345.0").key == "0614141123452"
    lgtin = parse_epc_urn("urn:epc:class:lgtin:4012345.012345.998877")
    assert (lgtin.gtin, lgtin.lot, lgtin.key) == (
        "04012345123456",
        "998877",
        "04012345123456.998877",
    )
    escaped = parse_epc_urn("URN:EPC:ID:SGTIN:0614141.812345.32a%2Fb%25")
    assert (escaped.gtin, escaped.serial) == ("80614141123458", "32a/b%")


def test_epc_urn_building() -> None:
    assert sgtin_urn("10614141073464", "2017", 7) == "urn:epc:id:sgtin:0614141.107346.2017"
    assert sgtin_urn("80614141123458", '32a/b"&<>?', 7) == (
        "urn:epc:id:sgtin:0614141.812345.32a%2Fb%22%26%3C%3E%3F"
    )
    assert sscc_urn("106141412345678908", 7) == "urn:epc:id:sscc:0614141.1234567890"
    assert sgln_urn("0614141123452", "400", 7) == "urn:epc:id:sgln:0614141.12345.400"
    assert sgln_urn("0614141123452", None, 12) == "urn:epc:id:sgln:061414112345..0"
    assert lgtin_urn("04012345123456", "998877", 7) == "urn:epc:class:lgtin:4012345.012345.998877"
    assert error(sgtin_urn, "10614141073464", "1", 5).field == "company_prefix_length"
    assert "must be 6-12" in str(error(sscc_urn, "106141412345678908", 13))


@pytest.mark.parametrize(
    ("urn", "field", "message"),
    [
        (
            "urn:epc:id:giai:0614141.12345400",
            "epc",
            "EPC URN urn:epc:id:giai:0614141.12345400: scheme 'giai' is not supported "
            "(use sgtin, sscc, sgln or lgtin)",
        ),
        ("urn:epc:tag:sgtin-96:3.0614141.812345.6789", "epc", "tag URNs are not accepted"),
        ("urn:epc:class:sgtin:0614141.107346.2017", "epc", "is written urn:epc:id:sgtin:"),
        ("urn:epc:idpat:sgtin:0614141.107346.*", "epc", "not idpat"),
        ("urn:epc:id:sgtin", "epc", "must look like urn:epc:id:<scheme>:<fields>"),
        ("urn:epc:id:sgtin:0614141.107346", "epc", "expected 3 '.'-separated fields"),
        (
            "urn:epc:id:sgtin:0614141.10734.2017",
            "epc",
            "company prefix (7 digits) + indicator+item reference (5 digits) "
            "must be 13 digits, got 12",
        ),
        (
            "urn:epc:id:sgtin:06141.1073461.2017",
            "epc",
            "company prefix '06141' must be 6-12 digits",
        ),
        ("urn:epc:id:sgtin:0614141.1O7346.2017", "epc", "'1O7346' must contain digits only"),
        ("urn:epc:id:sscc:0614141.123456789", "epc", "must be 17 digits, got 16"),
        ("urn:epc:id:sgln:0614141.1234.0", "epc", "must be 12 digits, got 11"),
        ("urn:epc:id:sgtin:0614141.107346." + "9" * 21, "serial", "must be 1-20 characters"),
        (
            "urn:epc:class:lgtin:4012345.012345.L%7E1",
            "lot",
            "characters '~' are not in GS1 CSET 82",
        ),
    ],
)
def test_epc_urn_errors(urn: str, field: str, message: str) -> None:
    err = error(parse_epc_urn, urn)
    assert message in str(err)
    assert err.field == field


@FAST
@given(gtin=gtins, serial=cset82_values, n=prefix_lengths)
def test_sgtin_urn_round_trip(gtin: str, serial: str, n: int) -> None:
    urn = sgtin_urn(gtin, serial, n)
    epc = EPC("sgtin", gtin=gtin, serial=serial, company_prefix_length=n)
    assert parse_epc_urn(urn) == epc
    assert parse_epc(urn).key == f"{gtin}.{serial}"


@FAST
@given(gtin=gtins, lot=cset82_values, n=prefix_lengths)
def test_lgtin_urn_round_trip(gtin: str, lot: str, n: int) -> None:
    epc = parse_epc_urn(lgtin_urn(gtin, lot, n))
    assert epc == EPC("lgtin", gtin=gtin, lot=lot, company_prefix_length=n)


@FAST
@given(sscc=ssccs, n=prefix_lengths)
def test_sscc_urn_round_trip(sscc: str, n: int) -> None:
    assert parse_epc_urn(sscc_urn(sscc, n)) == EPC("sscc", sscc=sscc, company_prefix_length=n)


@FAST
@given(gln=glns, extension=st.none() | cset82_values.filter(lambda e: e != "0"), n=prefix_lengths)
def test_sgln_urn_round_trip(gln: str, extension: str | None, n: int) -> None:
    epc = parse_epc_urn(sgln_urn(gln, extension, n))
    assert epc == EPC("sgln", gln=gln, extension=extension, company_prefix_length=n)


# --- EPCs as Digital Links -----------------------------------------------------------------


def test_parse_epc_accepts_digital_links() -> None:
    assert parse_epc("https://id.gs1.org/01/10614141073464/21/2017") == EPC(
        "sgtin", gtin="10614141073464", serial="2017"
    )
    assert parse_epc("https://id.gs1.org/00/106141412345678908").key == "106141412345678908"
    assert parse_epc("https://id.gs1.org/414/0614141123452/254/400").key == "0614141123452.400"
    assert parse_epc("https://id.gs1.org/01/04012345123456/10/998877") == EPC(
        "lgtin", gtin="04012345123456", lot="998877"
    )
    assert "names no EPC" in str(error(parse_epc, "https://id.gs1.org/01/04012345123456"))
    assert error(parse_epc, "0614141.107346.2017").field == "epc"


def test_digital_link_from_epc() -> None:
    urns = {
        "urn:epc:id:sgtin:0614141.107346.2017": "https://id.gs1.org/01/10614141073464/21/2017",
        "urn:epc:id:sscc:0614141.1234567890": "https://id.gs1.org/00/106141412345678908",
        "urn:epc:id:sgln:0614141.12345.400": "https://id.gs1.org/414/0614141123452/254/400",
        "urn:epc:id:sgln:0614141.12345.0": "https://id.gs1.org/414/0614141123452",
        "urn:epc:class:lgtin:4012345.012345.998877": "https://id.gs1.org/01/04012345123456/10/998877",
    }
    for urn, uri in urns.items():
        assert digital_link(parse_epc_urn(urn)) == uri


@FAST
@given(
    epc=st.one_of(
        st.builds(lambda g, s: EPC("sgtin", gtin=g, serial=s), gtins, cset82_values),
        st.builds(lambda s: EPC("sscc", sscc=s), ssccs),
        st.builds(lambda g, e: EPC("sgln", gln=g, extension=e), glns, st.none() | hri_values),
        st.builds(lambda g, lot: EPC("lgtin", gtin=g, lot=lot), gtins, cset82_values),
    )
)
def test_epc_digital_link_round_trip(epc: EPC) -> None:
    expected = dataclasses.replace(epc, extension=None) if epc.extension == "0" else epc
    assert parse_epc(digital_link(epc)) == expected


# --- NDC -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ndc", "indicator", "gtin"),
    [
        ("12345-678-90", 0, "00312345678906"),
        ("1234567890", 0, "00312345678906"),
        ("0071-0155-23", 0, "00300710155237"),
        ("0071015523", 5, "50300710155232"),
        ("0312-3456-78", 0, "00303123456786"),
        ("00123-4567-8", 0, "00300123456785"),
    ],
)
def test_ndc_to_gtin(ndc: str, indicator: int, gtin: str) -> None:
    assert ndc_to_gtin(ndc, indicator) == gtin
    assert gtin_to_ndc(gtin) == ndc.replace("-", "")


@pytest.mark.parametrize(
    ("ndc", "message"),
    [
        ("00071-0155-23", "is the 11-digit 5-4-2 billing form"),
        ("00071015523", "is the 11-digit 5-4-2 billing form"),
        ("123-4567-890", "segments 3-4-3 are not 4-4-2, 5-3-2, 5-4-1"),
        ("1234-56", "must be three digit groups joined by '-'"),
        ("12345", "must be 10 digits, got 5"),
        ("NDC0071015523", "must contain digits only"),
    ],
)
def test_ndc_errors(ndc: str, message: str) -> None:
    err = error(ndc_to_gtin, ndc)
    assert message in str(err)
    assert err.field == "ndc"


def test_ndc_gtin_refusals() -> None:
    assert error(ndc_to_gtin, "0071015523", 9).field == "indicator"
    err = error(gtin_to_ndc, "09506000134352")
    assert str(err) == (
        "GTIN 09506000134352: not in the US NDC space (digits 2-3 are '95', expected '03')"
    )


@pytest.mark.parametrize(
    ("ndc", "eleven"),
    [
        ("0071-0155-23", "00071015523"),
        ("12345-678-90", "12345067890"),
        ("12345-6789-1", "12345678901"),
        ("12345-6789-01", "12345678901"),
        ("12345678901", "12345678901"),
    ],
)
def test_ndc11(ndc: str, eleven: str) -> None:
    assert ndc11(ndc) == eleven


def test_ndc11_needs_hyphens_for_ten_digits() -> None:
    err = error(ndc11, "0071015523")
    assert "without hyphens the segment to zero-pad is unknown" in str(err)
    assert err.field == "ndc"


@FAST
@given(ndc=st.text(DIGITS, min_size=10, max_size=10), indicator=st.integers(0, 8))
def test_ndc_gtin_round_trip(ndc: str, indicator: int) -> None:
    gtin = ndc_to_gtin(ndc, indicator)
    assert gtin[:3] == f"{indicator}03"
    assert int(gtin[-1]) == ref_check(gtin[:-1])
    assert gtin_to_ndc(gtin) == ndc
    assert parse_barcode(f"(01){gtin}").ndc == ndc


@FAST
@given(ndc=st.text(DIGITS, min_size=10, max_size=10), shape=st.sampled_from([4, 5, 6]))
def test_ndc11_pads_exactly_one_segment(ndc: str, shape: int) -> None:
    cuts = {4: (4, 8), 5: (5, 8), 6: (5, 9)}[shape]
    hyphenated = f"{ndc[: cuts[0]]}-{ndc[cuts[0] : cuts[1]]}-{ndc[cuts[1] :]}"
    eleven = ndc11(hyphenated)
    assert len(eleven) == 11
    assert (eleven[:5], eleven[5:9], eleven[9:]) == tuple(
        s.zfill(n) for s, n in zip(hyphenated.split("-"), (5, 4, 2), strict=True)
    )
