"""Idempotency-Key on writes, and the audit routes (query, verify, export)."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient

from record.clock import SystemClock
from record.store import Store


def _batch(store: Store, template, temp: float = 5.0) -> dict:
    asset = store.scalar("SELECT asset_id FROM assets ORDER BY asset_id LIMIT 1")
    ts = (template.now - timedelta(days=20)).isoformat()
    return {"readings": [{"asset_id": asset, "ts": ts, "temp_c": temp}]}


def test_same_key_same_body_replays_the_first_answer(
    client: TestClient, as_role, store, template
) -> None:
    headers = {**as_role("automation"), "Idempotency-Key": "batch-0001"}
    body = _batch(store, template)
    first = client.post("/ingest/readings", json=body, headers=headers)
    entries = store.scalar("SELECT count(*) FROM audit_log")
    replay = client.post("/ingest/readings", json=body, headers=headers)
    assert first.json() == replay.json() == {"received": 1, "stored": 1, "duplicates": 0}
    assert replay.headers["idempotency-replayed"] == "true"
    assert "idempotency-replayed" not in first.headers
    assert store.scalar("SELECT count(*) FROM audit_log") == entries  # nothing ran again


def test_same_key_other_body_is_409(client: TestClient, as_role, store, template) -> None:
    headers = {**as_role("automation"), "Idempotency-Key": "batch-0002"}
    assert (
        client.post("/ingest/readings", json=_batch(store, template), headers=headers).status_code
        == 200
    )
    clash = client.post("/ingest/readings", json=_batch(store, template, 6.0), headers=headers)
    assert clash.status_code == 409 and clash.json()["error"] == "idempotency_conflict"
    elsewhere = client.post(
        "/reschedule",
        json={"text": "SHP-1001 friday"},
        headers={**as_role("ops_manager"), "Idempotency-Key": "batch-0002"},
    )
    assert elsewhere.status_code == 200  # keys are scoped to the API key that sent them


def test_failed_requests_are_not_stored(client: TestClient, as_role, store, template) -> None:
    headers = {**as_role("automation"), "Idempotency-Key": "batch-0003"}
    bad = {"readings": [{"asset_id": "NO-SUCH", "ts": template.now.isoformat(), "temp_c": 1}]}
    assert client.post("/ingest/readings", json=bad, headers=headers).status_code == 422
    assert store.scalar("SELECT count(*) FROM http_idempotency WHERE key LIKE '%:batch-0003'") == 0
    good = client.post("/ingest/readings", json=bad | _batch(store, template), headers=headers)
    assert good.status_code == 200


def test_an_overlong_key_is_422(client: TestClient, as_role, store, template) -> None:
    headers = {**as_role("automation"), "Idempotency-Key": "k" * 201}
    response = client.post("/ingest/readings", json=_batch(store, template), headers=headers)
    assert response.status_code == 422 and "header.Idempotency-Key" in response.json()["fields"]


def test_audit_query_verify_and_export(client: TestClient, as_role, store: Store) -> None:
    auditor = as_role("auditor")
    verify = client.get("/audit/verify", headers=auditor).json()
    assert verify["ok"] and verify["entries"] == store.scalar("SELECT count(*) FROM audit_log")
    entries = client.get("/audit?limit=3", headers=auditor).json()
    assert [e["seq"] for e in entries] == [1, 2, 3]
    created = client.get("/audit?action=api_key.created", headers=auditor).json()
    assert created and {e["action"] for e in created} == {"api_key.created"}
    later = client.get(f"/audit?since_seq={verify['entries'] - 1}", headers=auditor).json()
    assert [e["seq"] for e in later] == [verify["entries"]]
    export = client.get("/audit/export", headers=auditor)
    assert export.status_code == 200 and export.headers["content-type"].startswith(
        "application/x-ndjson"
    )
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert lines[-1] == {"head_hash": verify["head_hash"], "entries": verify["entries"]}
    assert [line["seq"] for line in lines[:-1]] == list(range(1, verify["entries"] + 1))
    assert client.get("/audit", headers=as_role("automation")).status_code == 403
    assert client.get("/audit/verify", headers=as_role("contact_center")).status_code == 403


def test_verify_names_the_first_broken_entry(client: TestClient, as_role, store: Store) -> None:
    store.execute("UPDATE audit_log SET reason = 'edited later' WHERE seq = 2")
    verify = client.get("/audit/verify", headers=as_role("ops_manager")).json()
    assert verify["ok"] is False and verify["first_broken"] == 2
    assert "BROKEN" in verify["description"]
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["audit"]["ok"] is False


def test_a_claim_left_by_a_dead_request_expires(
    client: TestClient, as_role, store, template
) -> None:
    headers = {**as_role("automation"), "Idempotency-Key": "batch-0004"}
    key_id = client.get("/me", headers=headers).json()["key_id"]
    store.execute(
        "INSERT INTO http_idempotency (key, route, request_hash, created_at)"
        " VALUES (?, 'POST /ingest/readings', 'x', ?)",
        [f"{key_id}:batch-0004", SystemClock().now() - timedelta(minutes=11)],
    )
    assert (
        client.post("/ingest/readings", json=_batch(store, template), headers=headers).status_code
        == 200
    )
    store.execute(
        "UPDATE http_idempotency SET status_code = NULL, created_at = ? WHERE key = ?",
        [SystemClock().now(), f"{key_id}:batch-0004"],
    )
    running = client.post("/ingest/readings", json=_batch(store, template), headers=headers)
    assert running.status_code == 409 and running.json()["error"] == "idempotency_in_progress"
