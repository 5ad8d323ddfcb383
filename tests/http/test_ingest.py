"""Ingestion: readings (validated, deduped, fast), scans (per-item report), EPCIS (JSON and XML)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from record.identifiers import ProductIdentifier, element_string
from record.store import Store

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "epcis"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"EPCIS fixtures not at {FIXTURES}"
)


def _readings(
    asset: str, start: datetime, n: int, *, step_s: int = 1, temp: float = 5.0
) -> list[dict]:
    return [
        {
            "asset_id": asset,
            "ts": (start - timedelta(seconds=i * step_s)).isoformat(),
            "temp_c": temp,
        }
        for i in range(n)
    ]


def test_readings_are_stored_once_even_when_retried(
    client: TestClient, as_role, store: Store, template
) -> None:
    asset = store.scalar("SELECT asset_id FROM assets ORDER BY asset_id LIMIT 1")
    start = template.now - timedelta(days=30)  # before the seeded history: nothing to collide with
    batch = _readings(asset, start, 50) + _readings(asset, start, 5)  # 5 repeats inside the batch
    before = store.scalar("SELECT count(*) FROM sensor_readings")
    first = client.post("/ingest/readings", json={"readings": batch}, headers=as_role("automation"))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 55, "stored": 50, "duplicates": 5}
    retry = client.post(
        "/ingest/readings", json={"readings": batch}, headers=as_role("ops_manager")
    )
    assert retry.json() == {"received": 55, "stored": 0, "duplicates": 55}
    assert store.scalar("SELECT count(*) FROM sensor_readings") == before + 50
    entry = store.row(
        "SELECT actor, role, result FROM audit_log WHERE action = 'ingest.readings'"
        " ORDER BY seq LIMIT 1"
    )
    assert entry["role"] == "automation" and json.loads(entry["result"])["stored"] == 50


def test_same_time_for_another_shipment_is_not_a_duplicate(
    client, as_role, store, template
) -> None:
    row = store.row(
        "SELECT asset_id, shipment_id FROM sensor_readings WHERE shipment_id IS NOT NULL LIMIT 1"
    )
    ts = (template.now - timedelta(days=40)).isoformat()
    body = {
        "readings": [
            {"asset_id": row["asset_id"], "shipment_id": row["shipment_id"], "ts": ts, "temp_c": 4},
            {"asset_id": row["asset_id"], "ts": ts, "temp_c": 4},
        ]
    }
    assert (
        client.post("/ingest/readings", json=body, headers=as_role("automation")).json()["stored"]
        == 2
    )


def test_readings_are_validated(client: TestClient, as_role, store: Store, template) -> None:
    asset = store.scalar("SELECT asset_id FROM assets LIMIT 1")
    headers = as_role("automation")
    future = (template.now + timedelta(minutes=6)).isoformat()
    fine = (template.now + timedelta(minutes=4)).isoformat()
    response = client.post(
        "/ingest/readings",
        headers=headers,
        json={
            "readings": [
                {"asset_id": asset, "ts": fine, "temp_c": 3},
                {"asset_id": asset, "ts": future, "temp_c": 3},
                {"asset_id": "NO-SUCH", "ts": fine, "temp_c": 3},
                {"asset_id": asset, "shipment_id": "SHP-0000", "ts": fine, "temp_c": 3},
            ]
        },
    )
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert set(fields) == {"readings.1.ts", "readings.2.asset_id", "readings.3.shipment_id"}
    assert "5 minutes" in fields["readings.1.ts"] and "NO-SUCH" in fields["readings.2.asset_id"]
    assert store.scalar("SELECT count(*) FROM sensor_readings WHERE ts = ?", [fine]) == 0
    cold = client.post(
        "/ingest/readings",
        headers=headers,
        json={"readings": [{"asset_id": asset, "ts": fine, "temp_c": -91}]},
    )
    assert cold.status_code == 422 and "readings.0.temp_c" in cold.json()["fields"]
    too_many = _readings(asset, template.now, 10_001)
    big = client.post("/ingest/readings", headers=headers, json={"readings": too_many})
    assert big.status_code == 422 and "readings" in big.json()["fields"]
    assert (
        client.post(
            "/ingest/readings", headers=as_role("auditor"), json={"readings": too_many[:1]}
        ).status_code
        == 403
    )


def test_zoned_timestamps_are_stored_as_utc(
    client: TestClient, as_role, store: Store, template
) -> None:
    asset = store.scalar("SELECT asset_id FROM assets LIMIT 1")
    local = (template.now - timedelta(days=50)).replace(hour=1)
    body = {"readings": [{"asset_id": asset, "ts": local.isoformat() + "-05:00", "temp_c": 6.5}]}
    assert (
        client.post("/ingest/readings", json=body, headers=as_role("automation")).json()["stored"]
        == 1
    )
    stored = store.scalar(
        "SELECT ts FROM sensor_readings WHERE asset_id = ? AND temp_c = 6.5", [asset]
    )
    assert stored == local.replace(hour=6)


def test_scans_are_stored_or_reported_item_by_item(
    client: TestClient, as_role, store: Store, template
) -> None:
    unit = store.row(
        "SELECT gtin, serial, lot, expiry FROM units"
        " WHERE lot IS NOT NULL AND expiry IS NOT NULL LIMIT 1"
    )
    pallet = store.row(
        "SELECT container_id, shipment_id FROM containers WHERE kind = 'pallet'"
        " AND shipment_id IS NOT NULL LIMIT 1"
    )
    location = store.scalar("SELECT location_id FROM locations ORDER BY location_id LIMIT 1")
    barcode = element_string(
        ProductIdentifier(
            gtin=unit["gtin"], serial=unit["serial"], lot=unit["lot"], expiry=unit["expiry"]
        )
    )
    at = (template.now - timedelta(hours=1)).isoformat()
    scans = [
        {"barcode": barcode, "location_id": location, "at": at, "event": "receiving"},
        {
            "barcode": f"(00){pallet['container_id']}",
            "location_id": location,
            "at": at,
            "event": "shipping",
        },
        {
            "barcode": "(01)00312345678901(21)ABC",
            "location_id": location,
            "at": at,
            "event": "receiving",
        },
        {"barcode": barcode, "location_id": "0000000000000", "at": at, "event": "inspecting"},
        {"barcode": f"(01){unit['gtin']}", "location_id": location, "at": at, "event": "receiving"},
        {"barcode": barcode, "location_id": location, "at": at, "event": "receiving"},
    ]
    response = client.post("/ingest/scans", json={"scans": scans}, headers=as_role("automation"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["stored"], report["duplicates"], report["invalid"]) == (2, 1, 3)
    items = report["items"]
    assert [i["status"] for i in items] == [
        "stored",
        "stored",
        "invalid",
        "invalid",
        "invalid",
        "duplicate",
    ]
    assert "check digit" in items[2]["reason"] and "unknown location" in items[3]["reason"]
    assert "no single item" in items[4]["reason"]
    events = store.rows("SELECT * FROM custody_events WHERE origin = 'scan' ORDER BY biz_step")
    assert [(e["biz_step"], e["epcs"]) for e in events] == [
        ("receiving", [f"{unit['gtin']}.{unit['serial']}"]),
        ("shipping", [pallet["container_id"]]),
    ]
    assert events[1]["shipment_id"] == pallet["shipment_id"]
    again = client.post(
        "/ingest/scans", json={"scans": scans[:2]}, headers=as_role("automation")
    ).json()
    assert again["duplicates"] == 2 and again["stored"] == 0


@needs_fixtures
def test_epcis_json_and_xml_are_captured(client: TestClient, as_role, store: Store) -> None:
    headers = as_role("automation")
    doc = (FIXTURES / "2.0-json" / "valid" / "ObjectEvent.json").read_bytes()
    response = client.post(
        "/ingest/epcis", content=doc, headers={**headers, "content-type": "application/ld+json"}
    )
    assert response.status_code == 200, response.text
    assert (
        response.json()["format"] == "epcis2-json" and sum(response.json()["events"].values()) == 2
    )
    xml = (FIXTURES / "1.2-xml" / "GS1_US_Pharma_Example_2_2_1_1.xml").read_bytes()
    imported = client.post(
        "/ingest/epcis", content=xml, headers={**headers, "content-type": "application/xml"}
    )
    assert imported.status_code == 200 and imported.json()["units_created"] > 0
    again = client.post(
        "/ingest/epcis", content=xml, headers={**headers, "content-type": "text/xml"}
    )
    assert again.json()["already_imported"] is True
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'epcis.import'") == 2
    assert store.scalar(
        "SELECT actor FROM audit_log WHERE action = 'epcis.import' LIMIT 1"
    ).startswith("key:")


@needs_fixtures
def test_a_bad_epcis_document_lists_every_error(client: TestClient, as_role) -> None:
    doc = (
        FIXTURES / "2.0-json" / "invalid" / "Combination_of_multiple_invalid_fields.json"
    ).read_bytes()
    response = client.post(
        "/ingest/epcis",
        content=doc,
        headers={**as_role("ops_manager"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_epcis" and len(body["errors"]) >= 3
    assert any("bizStep" in field for field in body["fields"])


def test_epcis_needs_json_or_xml(client: TestClient, as_role) -> None:
    headers = as_role("automation")
    assert (
        client.post(
            "/ingest/epcis", content=b"hello", headers={**headers, "content-type": "text/plain"}
        ).status_code
        == 415
    )
    assert (
        client.post(
            "/ingest/epcis", content=b"", headers={**headers, "content-type": "application/json"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/ingest/epcis",
            content=b"{}",
            headers={**as_role("auditor"), "content-type": "application/json"},
        ).status_code
        == 403
    )
