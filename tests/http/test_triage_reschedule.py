"""Triage runs and reschedule requests over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from record.store import Store


def test_a_triage_run_decides_and_is_listed_with_its_decisions(
    client: TestClient, as_role, store: Store
) -> None:
    assert client.post("/triage/runs", headers=as_role("auditor")).status_code == 403
    response = client.post("/triage/runs", headers=as_role("automation"))
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["run_id"].startswith("RUN-") and summary["exceptions"] > 0
    runs = client.get("/triage/runs", headers=as_role("auditor")).json()
    assert runs[0]["run_id"] == summary["run_id"] and runs[0]["status"] == "finished"
    detail = client.get(f"/triage/runs/{summary['run_id']}", headers=as_role("auditor")).json()
    assert len(detail["plans"]) == summary["exceptions"]
    assert len(detail["outcomes"]) == len(detail["verdicts"])
    requested = store.row("SELECT actor FROM audit_log WHERE action = 'triage.requested'")
    assert requested is not None and requested["actor"].startswith("key:")
    assert client.get("/triage/runs/RUN-none", headers=as_role("auditor")).status_code == 404


def test_reschedule_request_has_an_outcome_and_roles_are_checked(
    client: TestClient, as_role, store: Store
) -> None:
    sid = store.scalar(
        "SELECT shipment_id FROM shipments WHERE status IN ('planned', 'released', 'in_transit')"
        " ORDER BY shipment_id LIMIT 1"
    )
    text = f"Hi, could {sid} come on Friday between 2 and 4pm instead? Thanks, Dana"
    response = client.post("/reschedule", json={"text": text}, headers=as_role("contact_center"))
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["status"] in ("applied", "options", "clarify", "refused")
    assert outcome["message"] and outcome["shipment_id"] == sid
    unclear = client.post(
        "/reschedule", json={"text": "move my delivery please"}, headers=as_role("ops_manager")
    )
    assert unclear.json()["status"] == "clarify"
    assert (
        client.post("/reschedule", json={"text": text}, headers=as_role("auditor")).status_code
        == 403
    )
    assert (
        client.post("/reschedule", json={"text": ""}, headers=as_role("contact_center")).status_code
        == 422
    )
