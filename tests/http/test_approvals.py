"""Approvals over HTTP: the queue, approve (resuming the chat that asked), reject, 403/404/409."""

from __future__ import annotations

from fastapi.testclient import TestClient

from agent import approvals
from agent.brains.base import Proposal
from agent.http.deps import backend_for_app
from record.store import Store
from tests.http.test_chat import _reroute


def test_approving_resumes_the_chat_and_changes_the_shipment(
    client: TestClient, as_role, store: Store
) -> None:
    manager = as_role("ops_manager")
    thread, sid, waiting = _reroute(client, manager, store)
    queue = client.get("/approvals", headers=as_role("auditor")).json()
    assert waiting["approval_id"] in [a["approval_id"] for a in queue]
    row = next(a for a in queue if a["approval_id"] == waiting["approval_id"])
    assert row["status"] == "pending" and row["thread_id"] == thread

    assert (
        client.post(
            f"/approvals/{row['approval_id']}/approve", headers=as_role("automation")
        ).status_code
        == 403
    )
    approved = client.post(f"/approvals/{row['approval_id']}/approve", headers=manager)
    assert approved.status_code == 200
    body = approved.json()
    assert body["status"] == "approved" and body["decided_by"].startswith("key:")
    assert body["thread_reply"] and sid in body["thread_reply"]
    assert client.get(f"/chat/{thread}", headers=manager).json()["approval"] is None
    shipment = client.get(f"/shipments/{sid}", headers=manager).json()
    assert waiting["args"]["depot_id"] in [s["location_id"] for s in shipment["stops"]]

    again = client.post(f"/approvals/{row['approval_id']}/approve", headers=manager)
    assert again.status_code == 200 and again.json()["status"] == "approved"  # idempotent
    other_way = client.post(
        f"/approvals/{row['approval_id']}/reject", json={"reason": "late"}, headers=manager
    )
    assert other_way.status_code == 409 and "already approved" in other_way.json()["detail"]
    listed = client.get("/approvals?status=approved", headers=manager).json()
    assert [a["approval_id"] for a in listed] == [row["approval_id"]]


def test_rejecting_a_queued_action_reopens_its_exception(
    app, client: TestClient, as_role, store: Store
) -> None:
    exc = store.row(
        "SELECT exception_id, shipment_id FROM exceptions WHERE shipment_id IS NOT NULL"
        " ORDER BY exception_id LIMIT 1"
    )
    ctx = backend_for_app(app).runtime.context("agent:rules", "automation")
    proposal = Proposal(
        "release_shipment", {"shipment_id": exc["shipment_id"]}, "test", exc["exception_id"]
    )
    approval_id = approvals.queue(ctx, proposal, origin="RUN-test", why="outside bounds")
    manager = as_role("ops_manager")
    no_reason = client.post(f"/approvals/{approval_id}/reject", json={}, headers=manager)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["fields"]
    rejected = client.post(
        f"/approvals/{approval_id}/reject", json={"reason": "not yet"}, headers=manager
    )
    assert rejected.status_code == 200
    assert (
        rejected.json()["status"] == "rejected" and rejected.json()["decision_reason"] == "not yet"
    )
    status = store.scalar(
        "SELECT status FROM exceptions WHERE exception_id = ?", [exc["exception_id"]]
    )
    assert status == "open"
    assert (
        store.scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'approval.rejected' AND subject = ?",
            [approval_id],
        )
        == 1
    )


def test_approving_an_action_the_record_refuses_is_409(
    app, client: TestClient, as_role, store
) -> None:
    sid = store.scalar("SELECT shipment_id FROM shipments WHERE status = 'delivered' LIMIT 1")
    ctx = backend_for_app(app).runtime.context("agent:rules", "automation")
    approval_id = approvals.queue(
        ctx, Proposal("release_shipment", {"shipment_id": sid}, "test"), origin="RUN-x", why="test"
    )
    response = client.post(f"/approvals/{approval_id}/approve", headers=as_role("ops_manager"))
    assert response.status_code == 409
    assert response.json()["detail"]
    assert (
        store.scalar("SELECT status FROM approvals WHERE approval_id = ?", [approval_id])
        == "pending"
    )


def test_unknown_approval_is_404_and_roles_are_checked(client: TestClient, as_role) -> None:
    response = client.post("/approvals/APR-0000000000/approve", headers=as_role("ops_manager"))
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert client.get("/approvals", headers=as_role("contact_center")).status_code == 403
    assert client.get("/approvals?status=maybe", headers=as_role("auditor")).status_code == 422
