"""Chat over server-sent events: streams that end with done, approvals and their resumes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from record.store import Store
from tests.http.conftest import sse_post

REROUTE_CANDIDATE = """
SELECT s.shipment_id FROM shipments s JOIN products p ON TRUE
WHERE s.status = 'in_transit' AND s.eta IS NOT NULL AND s.promised_end IS NOT NULL
ORDER BY s.shipment_id
"""


def _reroute(client: TestClient, headers: dict[str, str], store: Store) -> tuple[str, str, dict]:
    """Ask for a reroute until one shipment's reroute waits for approval; return it."""
    for (sid,) in store.execute(
        "SELECT shipment_id FROM shipments WHERE status = 'in_transit' ORDER BY shipment_id"
    ).fetchall():
        thread = f"t-{sid}"
        status, events = sse_post(
            client, f"/chat/{thread}/messages", {"message": f"reroute {sid}"}, headers
        )
        assert status == 200 and events[-1][0] == "done"
        waiting = [d for name, d in events if name == "approval_request"]
        if waiting:
            return thread, sid, waiting[0]
    raise AssertionError("no in-transit shipment could be rerouted")


def test_a_question_streams_events_and_ends_with_done(client: TestClient, as_role) -> None:
    status, events = sse_post(
        client, "/chat/q1/messages", {"message": "what is at risk?"}, as_role("ops_manager")
    )
    assert status == 200
    names = [name for name, _ in events]
    assert names[0] == "message" and names[-1] == "done"
    assert "tool_call" in names and "reply" in names
    done = events[-1][1]
    assert done["thread_id"] == "q1" and done["reply"] and done["approval"] is None
    calls = [d["tool"] for name, d in events if name == "tool_call"]
    assert calls == ["list_exceptions"]


def test_the_callers_role_reaches_the_guard(client: TestClient, as_role, store: Store) -> None:
    status, events = sse_post(
        client, "/chat/q2/messages", {"message": "what is at risk?"}, as_role("contact_center")
    )
    assert status == 200 and events[-1][0] == "done"
    refused = [d for name, d in events if name in ("refused", "tool_error")]
    assert refused and "contact_center" in str(refused[0])
    actors = {
        r["actor"] for r in store.rows("SELECT actor FROM audit_log WHERE role = 'contact_center'")
    }
    assert actors and all(a.startswith("key:") for a in actors)


def test_reroute_waits_for_approval_and_resume_finishes_it(
    client: TestClient, as_role, store: Store
) -> None:
    manager = as_role("ops_manager")
    thread, sid, waiting = _reroute(client, manager, store)
    assert waiting["tool"] == "reroute_shipment" and waiting["approval_id"].startswith("APR-")
    pending = client.get(f"/chat/{thread}", headers=manager).json()
    assert pending["approval"]["approval_id"] == waiting["approval_id"]

    busy, _ = sse_post(client, f"/chat/{thread}/messages", {"message": "hello"}, manager)
    assert busy == 409  # the thread waits for the approval
    denied, body = sse_post(
        client, f"/chat/{thread}/resume", {"decision": "approve"}, as_role("contact_center")
    )
    assert denied == 403
    eta_before = store.scalar("SELECT eta FROM shipments WHERE shipment_id = ?", [sid])

    status, events = sse_post(client, f"/chat/{thread}/resume", {"decision": "approve"}, manager)
    assert status == 200 and events[-1][0] == "done"
    approval = next(d for name, d in events if name == "approval")
    assert approval["status"] == "approved"
    assert (
        store.scalar("SELECT status FROM approvals WHERE approval_id = ?", [waiting["approval_id"]])
        == "approved"
    )
    stops = store.scalar("SELECT list(location_id) FROM stops WHERE shipment_id = ?", [sid])
    assert waiting["args"]["depot_id"] in stops
    assert store.scalar("SELECT eta FROM shipments WHERE shipment_id = ?", [sid]) != eta_before
    assert client.get(f"/chat/{thread}", headers=manager).json()["approval"] is None
    again, _ = sse_post(client, f"/chat/{thread}/resume", {"decision": "approve"}, manager)
    assert again == 409


def test_chat_input_is_validated(client: TestClient, as_role) -> None:
    status, events = sse_post(client, "/chat/q3/messages", {"message": ""}, as_role("ops_manager"))
    assert status == 422 and "message" in events[0][1]["fields"]
    status, events = sse_post(
        client, "/chat/bad id!/messages", {"message": "hi"}, as_role("ops_manager")
    )
    assert status == 422
    status, _ = sse_post(client, "/chat/q4/resume", {"decision": "maybe"}, as_role("ops_manager"))
    assert status == 422
    status, _ = sse_post(client, "/chat/q5/messages", {"message": "hi"}, {})
    assert status == 401


def test_a_replayed_chat_message_does_not_run_twice(
    client: TestClient, as_role, store: Store
) -> None:
    headers = {**as_role("ops_manager"), "Idempotency-Key": "chat-retry-1"}
    first_status, first = sse_post(
        client, "/chat/r1/messages", {"message": "what is at risk?"}, headers
    )
    entries = store.scalar("SELECT count(*) FROM audit_log")
    with client.stream(
        "POST", "/chat/r1/messages", json={"message": "what is at risk?"}, headers=headers
    ) as replay:
        assert replay.headers["idempotency-replayed"] == "true"
        from tests.http.conftest import read_sse

        replayed = read_sse(replay.iter_lines())
    assert first_status == 200 and replayed == first
    assert store.scalar("SELECT count(*) FROM audit_log") == entries


def test_resume_streams_only_what_is_new(client: TestClient, as_role, store: Store) -> None:
    manager = as_role("ops_manager")
    thread, _, _ = _reroute(client, manager, store)
    status, events = sse_post(
        client, f"/chat/{thread}/resume", {"decision": "reject", "reason": "not now"}, manager
    )
    assert status == 200
    names = [name for name, _ in events]
    assert "message" not in names and "tool_result" not in names  # sent before the approval
    assert names[-1] == "done" and "approval" in names
    assert next(d for n, d in events if n == "approval")["status"] == "rejected"
