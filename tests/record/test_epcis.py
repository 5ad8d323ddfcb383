"""EPCIS import and export against real documents written by others (../shared/fixtures/epcis)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from record import epcis
from record.epcis import export_document, export_json, import_document
from record.errors import EPCISError, ProoflineError
from record.store import Store

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "epcis"
pytestmark = pytest.mark.skipif(
    not FIXTURES.is_dir(),
    reason=f"EPCIS test documents not found at {FIXTURES} (the shared fixtures folder beside "
    "the repository); these tests need them",
)
PHARMA = FIXTURES / "1.2-xml" / "GS1_US_Pharma_Example_2_2_1_1.xml"
NOW = datetime(2026, 1, 5, 9, 30)


def _files(folder: str, pattern: str) -> list[Path]:
    return sorted((FIXTURES / folder).glob(pattern)) if FIXTURES.is_dir() else []


VALID = _files("2.0-json/valid", "*.json")
INVALID = _files("2.0-json/invalid", "*.json")
XML = _files("1.2-xml", "*.xml")

# "Valid" documents that the official schema (with its formats checked) rejects.
SCHEMA_REJECTS = {
    "AggregationEvent_with_persistentDisposition.json": (
        "its AggregationEvent carries persistentDisposition, which the official schema and "
        "the ratified EPCIS 2.0 standard allow only on ObjectEvent and TransformationEvent "
        "(gs1/EPCIS#440, #447)",
        {"epcisBody.eventList[1].persistentDisposition"},
    ),
    "SensorData_with_combined_events.json": (
        "sensor reports of type 'Molar_concentration' and 'EffectiveDoseRate' (neither a "
        "measurement type of the official schema nor a URI) and two reports without the "
        "'type' the schema requires",
        {
            "epcisBody.eventList[7].sensorElementList[0].sensorReport[1].type",
            "epcisBody.eventList[7].sensorElementList[0].sensorReport[2].type",
            "epcisBody.eventList[8].sensorElementList[0].sensorReport[0].type",
            "epcisBody.eventList[8].sensorElementList[0].sensorReport[1].type",
            "epcisBody.eventList[10].sensorElementList[0].sensorReport[0].type",
        },
    ),
    "TransactionEvent_with_userExtensions.json": (
        "a sensor report of type 'EffectiveDoseRate', neither a measurement type of the "
        "official schema nor a URI",
        {"epcisBody.eventList[0].sensorElementList[0].sensorReport[0].type"},
    ),
}

# Every invalid document, and the fields its errors must name (no more, no fewer).
INVALID_FIELDS = {
    "Combination_of_events_with_missing_mandatory_fields.json": {
        "epcisBody.eventList[0].action",
        "epcisBody.eventList[1].eventTimeZoneOffset",
        "epcisBody.eventList[1].action",
    },
    "Combination_of_multiple_invalid_fields.json": {
        "epcisBody.eventList[0].bizStep",
        "epcisBody.eventList[1].disposition",
        "epcisBody.eventList[2].sourceList[0].type",
        "epcisBody.eventList[3].ilmd.materialType",
        "epcisBody.eventList[4].eventTime",
        "epcisBody.eventList[4].action",
    },
    "Combination_of_non_standard_bizStep_and_disposition.json": {
        "epcisBody.eventList[0].bizStep",
        "epcisBody.eventList[1].disposition",
    },
    "EPCISDocument_without_context.json": {"@context"},
    "ObjectEvent_with_ilmd_field_without_namespace.json": {
        "epcisBody.eventList[0].ilmd.materialType"
    },
    "ObjectEvent_with_invalid_action.json": {"epcisBody.eventList[0].action"},
    "ObjectEvent_with_invalid_certificationInfo.json": {
        "epcisBody.eventList[0].certificationInfo[1]"
    },
    "ObjectEvent_with_invalid_eventTime_format.json": {"epcisBody.eventList[0].eventTime"},
    "ObjectEvent_with_non_standard_bizStep.json": {"epcisBody.eventList[0].bizStep"},
    "ObjectEvent_with_non_standard_bizStep_in_second_event.json": {
        "epcisBody.eventList[1].bizStep"
    },
    "ObjectEvent_with_non_standard_disposition.json": {"epcisBody.eventList[0].disposition"},
    "ObjectEvent_with_quantity_as_text.json": {"epcisBody.eventList[0].quantityList[0].quantity"},
    "ObjectEvent_with_unknown_field_in_quantityList.json": {
        "epcisBody.eventList[0].quantityList[0].weight"
    },
    "ObjectEvent_without_action_and_eventTime.json": {
        "epcisBody.eventList[0].eventTime",
        "epcisBody.eventList[0].eventTimeZoneOffset",
        "epcisBody.eventList[0].action",
    },
    "ObjectEvent_without_identifier_list.json": {"epcisBody.eventList[0]"},
}


@pytest.fixture
def store() -> Store:
    return Store(":memory:")


@pytest.fixture(scope="module")
def populated() -> Store:
    """A record holding the pharma example, shared by tests that must leave it unchanged.

    Rejection tests assert that every table keeps its row count, which is a stronger check on
    a populated record than on an empty one (and saves building a record per test).
    """
    shared = Store(":memory:")
    import_document(shared, PHARMA, now=NOW)
    return shared


def _counts(store: Store) -> dict[str, int]:
    """Row count of every table in the record."""
    tables = [
        t["table_name"]
        for t in store.rows(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY 1"
        )
    ]
    row = store.row("SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}") AS "{t}"' for t in tables))
    return dict(row or {})


def _fields(error: EPCISError) -> set[str]:
    return {e.split(": ", 1)[0] for e in error.errors}


def _rejected(store: Store, source: Any, **kwargs: Any) -> EPCISError:
    """Import ``source``, expect EPCISError, and check the record did not change."""
    before = _counts(store)
    with pytest.raises(EPCISError) as caught:
        import_document(store, source, now=NOW, **kwargs)
    assert _counts(store) == before
    return caught.value


def _document(*events: dict[str, Any], **header: Any) -> str:
    return json.dumps(
        {
            "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-01-05T09:00:00Z",
            **header,
            "epcisBody": {"eventList": list(events)},
        }
    )


def _event(**fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-01-05T08:00:00-05:00",
        "eventTimeZoneOffset": "-05:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        **fields,
    }


# -- the shared documents ------------------------------------------------------------------


def _valid_params() -> list[Any]:
    out = []
    for path in VALID:
        reason = SCHEMA_REJECTS.get(path.name, (None,))[0]
        marks = [pytest.mark.xfail(strict=True, raises=EPCISError, reason=reason)] if reason else []
        out.append(pytest.param(path, id=path.name, marks=marks))
    return out


@pytest.mark.parametrize("path", _valid_params())
def test_valid_json_document_imports_and_round_trips(store: Store, path: Path) -> None:
    doc = json.loads(path.read_bytes())
    result = import_document(store, path, now=NOW)
    assert not result.already_imported
    assert result.format == "epcis2-json"
    stored = store.scalar("SELECT count(*) FROM custody_events")
    assert result.event_count == stored == len(doc["epcisBody"]["eventList"])
    assert store.scalar("SELECT count(*) FROM epcis_documents") == 1
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'epcis.import'") == 1
    _assert_round_trip(store)


@pytest.mark.parametrize("name", sorted(SCHEMA_REJECTS))
def test_valid_documents_the_official_schema_rejects_name_their_fields(
    populated: Store, name: str
) -> None:
    error = _rejected(populated, FIXTURES / "2.0-json" / "valid" / name)
    assert _fields(error) == SCHEMA_REJECTS[name][1]


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_json_document_is_rejected_naming_each_field(populated: Store, path: Path) -> None:
    assert path.name in INVALID_FIELDS, f"add the fields {path.name} gets wrong to INVALID_FIELDS"
    error = _rejected(populated, path)
    assert _fields(error) == INVALID_FIELDS[path.name]
    assert all(": " in e and len(e.split(": ", 1)[1]) > 10 for e in error.errors)


@pytest.mark.parametrize("path", XML, ids=[p.name for p in XML])
def test_xml_document_imports_and_round_trips(store: Store, path: Path) -> None:
    result = import_document(store, path, now=NOW)
    assert result.format == "epcis12-xml"
    assert result.event_count == store.scalar("SELECT count(*) FROM custody_events") > 0
    raws = [json.loads(r["raw"]) for r in store.rows("SELECT raw FROM custody_events")]
    assert all(not str(r.get("bizStep", "")).startswith("urn:epcglobal") for r in raws)
    _assert_round_trip(store)


def test_vocabulary_errors_say_what_to_use(populated: Store) -> None:
    error = _rejected(populated, INVALID[0].parent / "Combination_of_multiple_invalid_fields.json")
    text = "\n".join(error.errors)
    assert (
        "epcisBody.eventList[0].bizStep: 'transforming' is not a CBV business step" in text
        and "use a CBV value such as 'shipping' or a URI in your own namespace" in text
    )
    assert "'in_transport' is not a CBV disposition (did you mean 'in_transit'?)" in text
    assert "epcisBody.eventList[4].action: 'CREATE' is not an EPCIS action" in text


# -- the DSCSA pharma example, exactly -----------------------------------------------------

SSCC = "403000112345678901"
CASES = ["10300010123452.110", "10300010123452.111", "10300010123452.121"]
UNIT_GTIN = "00300010123455"
DESADV = "urn:epcglobal:cbv:bt:0300011111215:DEL100"


def test_pharma_example_is_one_pallet_of_three_cases_of_four_units(store: Store) -> None:
    result = import_document(store, PHARMA, now=NOW, actor="ops@example.com")

    assert result.events == {"AggregationEvent": 4, "ObjectEvent": 4}
    assert (result.units_created, result.containers_created) == (15, 4)
    assert (result.products_created, result.lots_created, result.shipments_created) == (2, 2, 1)
    assert result.warnings == ()
    links = store.row(
        "SELECT (SELECT count(*) FROM containers) AS containers, "
        "(SELECT count(*) FROM containers WHERE parent_id IS NOT NULL) AS nested, "
        "(SELECT count(*) FROM units) AS units, "
        "(SELECT count(*) FROM units WHERE container_id IS NOT NULL) AS packed"
    )
    assert links == {"containers": 4, "nested": 3, "units": 15, "packed": 15}
    containers = store.rows(
        "SELECT container_id, kind, parent_id, declared_children, shipment_id FROM containers "
        "ORDER BY container_id"
    )
    assert containers == [
        *(
            {
                "container_id": c,
                "kind": "case",
                "parent_id": SSCC,
                "declared_children": 4,
                "shipment_id": DESADV,
            }
            for c in CASES
        ),
        {
            "container_id": SSCC,
            "kind": "pallet",
            "parent_id": None,
            "declared_children": 3,
            "shipment_id": DESADV,
        },
    ]
    children = store.rows(
        "SELECT container_id, list(serial ORDER BY serial) AS serials FROM units "
        "WHERE gtin = ? GROUP BY container_id ORDER BY container_id",
        [UNIT_GTIN],
    )
    assert children == [
        {"container_id": CASES[0], "serials": ["11", "12", "13", "14"]},
        {"container_id": CASES[1], "serials": ["15", "16", "17", "18"]},
        {"container_id": CASES[2], "serials": ["19", "20", "21", "22"]},
    ]
    cases = store.rows(
        "SELECT gtin || '.' || serial AS key, container_id FROM units WHERE gtin <> ? ORDER BY 1",
        [UNIT_GTIN],
    )
    assert cases == [{"key": c, "container_id": SSCC} for c in CASES]
    units = store.rows(
        "SELECT DISTINCT lot, expiry, status, commissioned_at IS NOT NULL AS commissioned "
        "FROM units"
    )
    assert units == [
        {"lot": "A123", "expiry": date(2025, 3, 27), "status": "shipped", "commissioned": True}
    ]
    products = store.rows(
        "SELECT gtin, ndc, name, company_prefix_len, dosage_form, strength FROM products "
        "ORDER BY gtin"
    )
    assert products == [
        {
            "gtin": g,
            "ndc": "0001012345",
            "name": "Epcistra",
            "company_prefix_len": 6,
            "dosage_form": "PILL",
            "strength": "100mg",
        }
        for g in (UNIT_GTIN, "10300010123452")
    ]
    assert store.rows("SELECT * FROM lots ORDER BY gtin") == [
        {"gtin": g, "lot": "A123", "expiry": date(2025, 3, 27), "status": "released"}
        for g in (UNIT_GTIN, "10300010123452")
    ]


def test_pharma_example_shipping_event_and_shipment(store: Store) -> None:
    result = import_document(store, PHARMA, now=NOW, actor="ops@example.com")

    shipping = store.row("SELECT * FROM custody_events WHERE biz_step = 'shipping'")
    assert shipping is not None
    assert shipping["event_type"] == "ObjectEvent" and shipping["action"] == "OBSERVE"
    assert shipping["disposition"] == "in_transit"
    assert shipping["event_time"] == datetime(2023, 4, 1, 7, 48, 16)
    assert shipping["tz_offset"] == "-05:00"
    assert shipping["epcs"] == [SSCC]
    assert (shipping["source_id"], shipping["destination_id"]) == ("0300011111215", "0399993456780")
    assert shipping["shipment_id"] == DESADV
    assert shipping["document_id"] == result.document_id
    assert json.loads(shipping["biz_transactions"]) == [
        {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0399999999991:XYZPO189"},
        {"type": "desadv", "bizTransaction": DESADV},
    ]
    assert json.loads(shipping["raw"])["gs1ushc:dropShipment"] == "false"
    shipment = store.row("SELECT * FROM shipments")
    assert shipment is not None
    assert shipment["shipment_id"] == DESADV and shipment["status"] == "in_transit"
    assert (shipment["origin_id"], shipment["destination_id"]) == ("0300011111215", "0399993456780")
    assert shipment["departed_at"] == datetime(2023, 4, 1, 7, 48, 16)
    assert shipment["ti_document"] == result.document_id and shipment["ts_attested"] is True
    names = store.rows("SELECT location_id, name FROM locations ORDER BY 1")
    assert {"location_id": "0399993456780", "name": "GS1 Drug Distributor Warehouse"} in names
    audit = store.row("SELECT * FROM audit_log WHERE action = 'epcis.import'")
    assert audit is not None
    assert (audit["actor"], audit["subject"], audit["ts"]) == (
        "ops@example.com",
        result.document_id,
        NOW,
    )
    assert json.loads(audit["result"])["units_created"] == 15


def _receipt(**fields: Any) -> str:
    """The wholesaler receiving the pharma example's pallet."""
    event = _event(
        eventTime="2023-04-03T14:00:00-04:00",
        eventTimeZoneOffset="-04:00",
        epcList=["urn:epc:id:sscc:030001.41234567890"],
        bizStep="receiving",
        disposition="in_progress",
        bizLocation={"id": "urn:epc:id:sgln:039999.345678.0"},
        bizTransactionList=[{"type": "desadv", "bizTransaction": DESADV}],
        **fields,
    )
    return _document(event)


def test_receiving_delivers_the_shipment_and_everything_on_the_pallet(store: Store) -> None:
    import_document(store, PHARMA, now=NOW)
    result = import_document(store, _receipt(), now=NOW)
    assert result.warnings == ()
    shipment = store.row("SELECT status, delivered_at FROM shipments")
    assert shipment == {"status": "delivered", "delivered_at": datetime(2023, 4, 3, 18, 0)}
    units = store.rows("SELECT DISTINCT status, location_id FROM units")
    assert units == [{"status": "received", "location_id": "0399993456780"}]
    event = store.row("SELECT shipment_id FROM custody_events WHERE biz_step = 'receiving'")
    assert event == {"shipment_id": DESADV}


def test_quarantined_units_are_not_moved_on_by_an_event(store: Store) -> None:
    import_document(store, PHARMA, now=NOW)
    store.execute("UPDATE units SET status = 'quarantined' WHERE serial = '11'")
    result = import_document(store, _receipt(), now=NOW)
    assert result.warnings == (
        "epcisBody.eventList[0]: 1 unit(s) cannot be received from their current status "
        f"(e.g. {UNIT_GTIN}.11); left as they are",
    )
    assert store.scalar("SELECT status FROM units WHERE serial = '11'") == "quarantined"
    assert store.scalar("SELECT count(*) FROM units WHERE status = 'received'") == 14


def test_unpacking_unlinks_the_children(store: Store) -> None:
    import_document(store, PHARMA, now=NOW)
    unpack = _event(
        type="AggregationEvent",
        eventTime="2023-04-04T09:00:00Z",
        action="DELETE",
        bizStep="unpacking",
        parentID="urn:epc:id:sgtin:030001.1012345.110",
        childEPCs=["urn:epc:id:sgtin:030001.0012345.11", "urn:epc:id:sgtin:030001.0012345.12"],
    )
    del unpack["epcList"]
    import_document(store, _document(unpack), now=NOW)
    inside = store.rows(
        "SELECT serial FROM units WHERE container_id = ? ORDER BY serial", [CASES[0]]
    )
    assert inside == [{"serial": "13"}, {"serial": "14"}]
    declared = "SELECT declared_children FROM containers WHERE container_id = ?"
    assert store.scalar(declared, [CASES[0]]) == 2


def test_commissioning_a_serial_twice_keeps_the_first_data(store: Store) -> None:
    import_document(store, PHARMA, now=NOW)
    again = _event(
        action="ADD",
        bizStep="commissioning",
        epcList=["urn:epc:id:sgtin:030001.0012345.11"],
        ilmd={"cbvmda:lotNumber": "B999", "cbvmda:itemExpirationDate": "2027-01-31"},
    )
    result = import_document(store, _document(again), now=NOW)
    assert result.warnings == (
        "epcisBody.eventList[0]: 1 serial(s) were already commissioned, e.g. "
        f"{UNIT_GTIN}.11; their first commissioning data is kept",
    )
    assert store.row("SELECT lot, expiry FROM units WHERE serial = '11'") == {
        "lot": "A123",
        "expiry": date(2025, 3, 27),
    }
    assert store.row("SELECT expiry FROM lots WHERE lot = 'B999'") == {"expiry": date(2027, 1, 31)}


def test_an_error_declaration_is_recorded_on_the_event_it_declares(store: Store) -> None:
    original = _event(eventID="urn:uuid:00000000-0000-4000-8000-0000000000aa", bizStep="shipping")
    import_document(store, _document(original), now=NOW)
    declared = original | {
        "errorDeclaration": {"declarationTime": "2026-01-06T10:00:00Z", "reason": "did_not_occur"}
    }
    result = import_document(store, _document(declared), now=NOW)
    assert result.event_count == 0
    assert "is recorded, but what that event changed is not undone" in result.warnings[0]
    raw = json.loads(store.scalar("SELECT raw FROM custody_events"))
    assert raw["errorDeclaration"]["reason"] == "did_not_occur"


# -- round trip (every document imported above is exported and re-imported too) ----------

_RECORD = {
    "custody_events": "SELECT * EXCLUDE (document_id, origin) FROM custody_events",
    "units": "SELECT * FROM units",
    "containers": "SELECT * FROM containers",
    "products": "SELECT * FROM products",
    "lots": "SELECT * FROM lots",
}


def _snapshot(store: Store) -> dict[str, list[str]]:
    """The record an import builds, table by table, as sorted canonical JSON rows.

    custody_events leave out document_id and origin (which document brought the event in);
    JSON columns are compared parsed, so formatting does not matter.
    """
    out = {}
    for table, sql in _RECORD.items():
        rows = []
        for row in store.rows(sql):
            for column in ("raw", "quantities", "biz_transactions"):
                if isinstance(row.get(column), str):
                    row[column] = json.loads(row[column])
            rows.append(json.dumps(row, sort_keys=True, default=str))
        out[table] = sorted(rows)
    return out


def _assert_round_trip(store: Store) -> None:
    """Export the record, import the export into a fresh record: the same record results."""
    exported = export_document(store, now=NOW)  # validated against the official schema
    assert exported["schemaVersion"] == "2.0" and exported["type"] == "EPCISDocument"
    fresh = Store(":memory:")
    import_document(fresh, json.dumps(exported), now=NOW, filename="exported.json")
    original = _snapshot(store)
    assert original["custody_events"]
    assert _snapshot(fresh) == original


def test_export_json_writes_a_file_that_imports(store: Store, tmp_path: Path) -> None:
    import_document(store, PHARMA, now=NOW)
    target = tmp_path / "out.json"
    assert export_json(store, target, now=NOW) == 8
    doc = json.loads(target.read_text())
    classes = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"]
    assert {c["id"] for c in classes} == {
        "urn:epc:idpat:sgtin:030001.0012345.*",
        "urn:epc:idpat:sgtin:030001.1012345.*",
    }
    fresh = Store(":memory:")
    assert import_document(fresh, target, now=NOW).units_created == 15


def test_export_filters_by_event_ids_and_time(store: Store) -> None:
    import_document(store, PHARMA, now=NOW)
    shipping = store.scalar("SELECT event_id FROM custody_events WHERE biz_step = 'shipping'")
    only = export_document(store, event_ids=[shipping], now=NOW)["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in only] == ["shipping"]
    later = export_document(store, since=datetime(2023, 4, 1), now=NOW)["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in later] == ["commissioning", "packing", "shipping"]


def test_export_builds_events_recorded_without_epcis(store: Store) -> None:
    """Events from the synthetic network or tools have no raw event: URNs when the company
    prefix length is known, GS1 Digital Links when it is not."""
    store.execute(
        "INSERT INTO products (gtin, name, company_prefix_len) VALUES "
        "('00300010123455', 'Epcistra', 6), ('00312345678906', 'Other', NULL)"
    )
    store.execute(
        "INSERT INTO custody_events (event_id, event_type, action, biz_step, disposition, "
        "event_time, tz_offset, epcs, read_point, source_id, destination_id, origin) VALUES "
        "('EV-1', 'ObjectEvent', 'OBSERVE', 'shipping', 'in_transit', '2026-01-02 10:00:00', "
        "'-05:00', ['00300010123455.11', '00312345678906.7', '403000112345678901'], "
        "'0300011111116', '0300011111116', '0399993456780', 'synth')"
    )
    event = export_document(store, now=NOW)["epcisBody"]["eventList"][0]
    assert event["eventID"] == "urn:proofline:event:EV-1"
    assert event["eventTime"] == "2026-01-02T10:00:00.000Z"
    assert event["epcList"] == [
        "urn:epc:id:sgtin:030001.0012345.11",
        "https://id.gs1.org/01/00312345678906/21/7",
        "https://id.gs1.org/00/403000112345678901",
    ]
    assert event["readPoint"] == {"id": "https://id.gs1.org/414/0300011111116"}
    assert event["destinationList"] == [
        {"type": "location", "destination": "https://id.gs1.org/414/0399993456780"}
    ]


# -- idempotency and atomicity -------------------------------------------------------------


def test_reimporting_the_same_document_is_a_no_op_that_says_so(store: Store) -> None:
    first = import_document(store, PHARMA, now=NOW)
    before = _counts(store)
    again = import_document(store, PHARMA.read_bytes(), now=NOW)
    assert again.already_imported and again.document_id == first.document_id
    assert again.event_count == 0 and "already imported" in again.summary()
    assert _counts(store) == before


def test_the_same_events_in_another_document_are_not_duplicated(store: Store) -> None:
    path = FIXTURES / "2.0-json" / "valid" / "ObjectEvent_with_error_declaration.json"
    import_document(store, path, now=NOW)
    reformatted = json.dumps(json.loads(path.read_bytes()), indent=4)
    result = import_document(store, reformatted, now=NOW)
    assert result.event_count == 0 and not result.already_imported
    assert sum("already recorded" in w for w in result.warnings) == 2
    assert store.scalar("SELECT count(*) FROM custody_events") == 2


def test_a_bad_check_digit_in_the_last_event_changes_nothing(populated: Store) -> None:
    good = _event(epcList=["https://id.gs1.org/01/09521141012345/21/1"])
    bad = _event(epcList=["https://id.gs1.org/01/09521141012346/21/2"])
    error = _rejected(populated, _document(good, good | {"bizStep": "receiving"}, bad))
    assert error.errors == [
        "epcisBody.eventList[2].epcList[0]: GTIN 09521141012346: check digit is 6, expected 5"
    ]


def test_a_conflict_found_while_writing_rolls_everything_back(store: Store) -> None:
    """An eventID already used by another event is only found inside the transaction."""
    first = _event(eventID="urn:uuid:00000000-0000-4000-8000-000000000001")
    import_document(store, _document(first), now=NOW)
    commissioning = _event(
        action="ADD", bizStep="commissioning", epcList=["urn:epc:id:sgtin:030001.0012345.99"]
    )
    clash = first | {"bizStep": "receiving"}
    error = _rejected(store, _document(commissioning, clash))
    assert _fields(error) == {"epcisBody.eventList[1].eventID"}
    assert "already the id of a different event" in error.errors[0]


# -- bad input -----------------------------------------------------------------------------


def test_truncated_xml_names_line_and_column(populated: Store) -> None:
    error = _rejected(populated, PHARMA.read_bytes()[:9000], filename="cut.xml")
    assert str(error).startswith("cut.xml: XML is not well-formed at line ")
    assert ", column " in str(error)


def test_truncated_json_names_line_and_column(populated: Store) -> None:
    data = (FIXTURES / "2.0-json" / "valid" / "ObjectEvent.json").read_bytes()[:700]
    error = _rejected(populated, data, filename="cut.json")
    assert str(error).startswith("cut.json: not valid JSON at line ")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the file is empty"),
        (b"  \n\t", "the file is empty"),
        (b"GTIN,SERIAL\n00300010123455,11\n", "neither JSON nor XML"),
        (b"<html><body>hi</body></html>", "is not an EPCIS document"),
        (b"[1, 2]", "an EPCIS JSON document is an object"),
    ],
)
def test_input_that_is_no_epcis_document(populated: Store, data: bytes, expected: str) -> None:
    assert expected in str(_rejected(populated, data))


def test_a_document_without_events_or_master_data(populated: Store) -> None:
    error = _rejected(populated, _document(), filename="empty.json")
    assert error.errors == [
        "empty.json: the document has no events and no master data; nothing to import"
    ]


def test_unknown_epc_scheme_is_an_error(populated: Store) -> None:
    error = _rejected(populated, _document(_event(epcList=["urn:epc:id:sgtn:0614141.107346.1"])))
    assert _fields(error) == {"epcisBody.eventList[0].epcList[0]"}
    assert "unknown EPC scheme 'sgtn'" in error.errors[0]


def test_identifiers_that_are_not_tracked_gs1_keys_are_kept_as_uris(store: Store) -> None:
    assets = ["urn:epc:id:giai:4000001.111", "https://id.example.com/8003/039123450007718765"]
    result = import_document(store, _document(_event(epcList=assets)), now=NOW)
    assert result.units_created == 0
    assert store.scalar("SELECT epcs FROM custody_events") == assets


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("shipping", "shipping"),
        ("urn:epcglobal:cbv:bizstep:shipping", "shipping"),
        ("https://ref.gs1.org/cbv/BizStep-shipping", "shipping"),
        ("https://example.com/bizstep/inspecting", "https://example.com/bizstep/inspecting"),
    ],
)
def test_cbv_values_in_any_standard_form_or_own_namespace(
    store: Store, value: str, stored: str
) -> None:
    import_document(store, _document(_event(bizStep=value)), now=NOW)
    assert store.scalar("SELECT biz_step FROM custody_events") == stored


@pytest.mark.parametrize(
    "value", ["https://ref.gs1.org/cbv/BizStep-transforming", "urn:epcglobal:cbv:bizstep:x"]
)
def test_made_up_values_in_gs1_namespaces_are_rejected(populated: Store, value: str) -> None:
    error = _rejected(populated, _document(_event(bizStep=value)))
    assert _fields(error) == {"epcisBody.eventList[0].bizStep"}
    assert "in a GS1 namespace" in error.errors[0]


def test_all_problems_are_listed_not_just_the_first(populated: Store) -> None:
    events = [
        _event(eventTime="yesterday"),
        _event(eventTimeZoneOffset="EST", disposition="lost"),
        _event(epcList=["https://id.gs1.org/00/403000112345678902"]),
    ]
    error = _rejected(populated, _document(*events))
    assert _fields(error) == {
        "epcisBody.eventList[0].eventTime",
        "epcisBody.eventList[1].eventTimeZoneOffset",
        "epcisBody.eventList[1].disposition",
        "epcisBody.eventList[2].epcList[0]",
    }


def test_times_are_stored_in_utc_with_the_offset_as_captured(store: Store) -> None:
    event = _event(eventTime="2026-01-05T20:33:31.1161234-06:00", eventTimeZoneOffset="-06:00")
    import_document(store, _document(event))
    row = store.row("SELECT event_time, tz_offset FROM custody_events")
    assert row == {"event_time": datetime(2026, 1, 6, 2, 33, 31, 116123), "tz_offset": "-06:00"}


def test_schema_path_is_configurable(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ProoflineError, match="missing.json cannot be read"):
        import_document(store, _document(_event()), schema_path=tmp_path / "missing.json")
    assert epcis.DEFAULT_SCHEMA == FIXTURES / "EPCIS-JSON-Schema.json"


def test_compiled_schema_reports_what_the_official_schema_reports() -> None:
    """The validator inlines the schema's $refs once (for speed); results must not change."""
    import jsonschema

    from record._epcis_schema import validator

    official = json.loads((FIXTURES / "EPCIS-JSON-Schema.json").read_text())
    plain = jsonschema.Draft7Validator(official, format_checker=jsonschema.FormatChecker())
    compiled = validator(epcis.DEFAULT_SCHEMA)
    assert "$ref" not in json.dumps(compiled.schema)
    for path in [*INVALID, *(FIXTURES / "2.0-json" / "valid" / n for n in SCHEMA_REJECTS)]:
        doc = json.loads(path.read_bytes())
        expected = sorted((list(e.absolute_path), e.message) for e in plain.iter_errors(doc))
        assert sorted((list(e.absolute_path), e.message) for e in compiled.iter_errors(doc)) == (
            expected
        ), path.name


def test_public_surface() -> None:
    assert sorted(epcis.__all__) == [
        "DEFAULT_SCHEMA",
        "ImportResult",
        "export_document",
        "export_json",
        "import_document",
    ]
