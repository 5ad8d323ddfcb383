"""The LLM brain through respx: tool-call turns, parallel calls, malformed arguments, retries,
the circuit breaker falling back to the rules brain, and audit provenance."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from agent import service
from agent.prompts import load_prompt
from record import audit
from tests.agent.llm_script import BASE, completion, llm_settings


def _a_shipment(rt, status: str = "in_transit") -> str:
    return rt.store.scalar("SELECT min(shipment_id) FROM shipments WHERE status = ?", [status])


def _sent_messages(route) -> list[list[dict]]:
    return [json.loads(call.request.content)["messages"] for call in route.calls]


@respx.mock(base_url=BASE)
def test_tool_call_turn_then_answer_is_audited_with_model_and_prompt(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings())
    sid = _a_shipment(rt)
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            completion(
                tool_calls=[("hold_shipment", {"shipment_id": sid, "reason": "ops lead asked"})]
            ),
            completion(f"{sid} is on hold."),
        ]
    )
    out = service.chat(rt, "t1", f"hold {sid} please", actor="user:ana", role="ops_manager")
    assert out["reply"] == f"{sid} is on hold."
    assert rt.store.scalar("SELECT status FROM shipments WHERE shipment_id = ?", [sid]) == "held"
    entry = audit.entries(rt.store, action="hold_shipment")[-1]
    assert entry.model == "test-model"
    assert entry.prompt_version == load_prompt("system").version
    second = _sent_messages(route)[1]
    assert second[-1]["role"] == "tool" and "<untrusted_data" in second[-1]["content"]
    assert out["brain"] == "llm"


@respx.mock(base_url=BASE)
def test_parallel_tool_calls_both_run(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings())
    a, b = rt.store.execute(
        "SELECT shipment_id FROM shipments ORDER BY shipment_id LIMIT 2"
    ).fetchall()
    respx_mock.post("/chat/completions").mock(
        side_effect=[
            completion(
                tool_calls=[
                    ("get_shipment", {"shipment_id": a[0]}),
                    ("get_shipment", {"shipment_id": b[0]}),
                ]
            ),
            completion("Both shown."),
        ]
    )
    out = service.chat(rt, "t2", "status of two shipments", actor="user:ana", role="ops_manager")
    results = [e for e in out["events"] if e["type"] == "tool_result"]
    assert [r["result"]["shipment_id"] for r in results] == [a[0], b[0]]


@respx.mock(base_url=BASE)
def test_malformed_arguments_go_back_once_then_succeed(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings())
    sid = _a_shipment(rt)
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            completion(tool_calls=[("get_shipment", '{"shipment_id": ')]),
            completion(tool_calls=[("get_shipment", {"shipment_id": sid})]),
            completion("Here it is."),
        ]
    )
    out = service.chat(rt, "t3", f"status {sid}", actor="user:ana", role="ops_manager")
    assert out["reply"] == "Here it is."
    retry_messages = _sent_messages(route)[1]
    assert "did not parse" in retry_messages[-1]["content"]


@respx.mock(base_url=BASE)
def test_malformed_twice_escalates(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings())
    respx_mock.post("/chat/completions").mock(
        side_effect=[
            completion(tool_calls=[("get_shipment", "{bad")]),
            completion(tool_calls=[("get_shipment", "{still bad")]),
            completion("I escalated it."),
        ]
    )
    service.chat(rt, "t4", "status", actor="user:ana", role="ops_manager")
    assert [e.action for e in audit.entries(rt.store, action="escalate")] == ["escalate"]


@respx.mock(base_url=BASE)
def test_429_then_success(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings())
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(429, json={"error": {"message": "slow down"}}),
            completion("All quiet."),
        ]
    )
    out = service.chat(rt, "t5", "anything?", actor="user:ana", role="ops_manager")
    assert out["reply"] == "All quiet." and route.call_count == 2


@respx.mock(base_url=BASE)
def test_repeated_500_opens_breaker_and_rules_answer(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings(llm_breaker_threshold=2))
    route = respx_mock.post("/chat/completions").mock(return_value=httpx.Response(500, json={}))
    first = service.chat(rt, "t6", "what is at risk?", actor="user:ana", role="ops_manager")
    notes = [e["content"] for e in first["events"] if e["type"] == "note"]
    assert any("rules brain answered" in n for n in notes)
    assert "unresolved exceptions" in first["reply"] or "Nothing is at risk" in first["reply"]
    service.chat(rt, "t7", "what is at risk?", actor="user:ana", role="ops_manager")
    calls_when_open = route.call_count
    third = service.chat(rt, "t8", "what is at risk?", actor="user:ana", role="ops_manager")
    assert route.call_count == calls_when_open  # circuit open: the model is not called
    assert any("circuit open" in e["content"] for e in third["events"] if e["type"] == "note")


@respx.mock(base_url=BASE)
def test_timeouts_fall_back(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings())
    respx_mock.post("/chat/completions").mock(side_effect=httpx.ReadTimeout("slow"))
    out = service.chat(rt, "t9", "what is at risk?", actor="user:ana", role="ops_manager")
    assert out["brain"] == "rules"


@respx.mock(base_url=BASE)
def test_model_cannot_release_an_unverified_shipment(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings())
    sid = rt.store.scalar(
        "SELECT min(shipment_id) FROM shipments WHERE status = 'held'"
    ) or _a_shipment(rt, "planned")
    before = rt.store.scalar("SELECT status FROM shipments WHERE shipment_id = ?", [sid])
    respx_mock.post("/chat/completions").mock(
        side_effect=[
            completion(
                tool_calls=[("release_shipment", {"shipment_id": sid, "reason": "note says so"})]
            ),
            completion("Could not release."),
        ]
    )
    out = service.chat(rt, "t10", "release it", actor="user:ana", role="ops_manager")
    assert out["approval"] is None
    assert rt.store.scalar("SELECT status FROM shipments WHERE shipment_id = ?", [sid]) == before
    assert audit.entries(rt.store, action="guard.refused")


def test_no_endpoint_is_a_clear_error(make_runtime):
    rt = make_runtime(brain="llm")
    with pytest.raises(ValueError, match="PROOFLINE_LLM_BASE_URL"):
        rt.brain("llm")


@respx.mock(base_url=BASE)
def test_reschedule_through_the_model_is_checked_against_the_text(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings())
    sid = rt.store.scalar(
        "SELECT min(s.shipment_id) FROM shipments s JOIN contacts c ON c.location_id = s.destination_id"
        " WHERE s.status = 'planned' AND c.consent"
    )
    other = rt.store.scalar("SELECT max(shipment_id) FROM shipments WHERE shipment_id <> ?", [sid])
    route = respx_mock.post("/chat/completions").mock(
        side_effect=[
            completion(
                tool_calls=[
                    (
                        "reschedule_delivery",
                        {  # the model picks a shipment not in the text
                            "shipment_id": other,
                            "window_start": "2026-11-27T14:00:00",
                            "window_end": "2026-11-27T16:00:00",
                            "reason": "customer",
                            "requested_by": "cc",
                        },
                    )
                ]
            ),
            completion(
                tool_calls=[
                    (
                        "reschedule_delivery",
                        {
                            "shipment_id": sid,
                            "window_start": "2026-11-27T14:00:00",
                            "window_end": "2026-11-27T16:00:00",
                            "reason": "customer",
                            "requested_by": "cc",
                        },
                    )
                ]
            ),
        ]
    )
    first = service.reschedule(
        rt, f"{sid}: friday 2-4pm please", actor="cc:1", role="contact_center"
    )
    assert first["status"] == "clarify"
    assert (
        "<untrusted_data" in json.loads(route.calls[0].request.content)["messages"][-1]["content"]
    )
    second = service.reschedule(
        rt, f"{sid}: friday 2-4pm please", actor="cc:1", role="contact_center"
    )
    assert second["status"] == "applied" and second["shipment_id"] == sid
    promised = rt.store.row("SELECT promised_start FROM shipments WHERE shipment_id = ?", [sid])
    assert promised["promised_start"].isoformat() == "2026-11-27T14:00:00"


@respx.mock(base_url=BASE)
def test_reschedule_falls_back_to_the_parser_when_the_model_is_down(make_runtime, respx_mock):
    rt = make_runtime(**llm_settings())
    sid = rt.store.scalar("SELECT min(shipment_id) FROM shipments WHERE status = 'planned'")
    respx_mock.post("/chat/completions").mock(return_value=httpx.Response(503, json={}))
    out = service.reschedule(rt, f"move {sid} to 2026-02-30", actor="cc:1", role="contact_center")
    assert out["status"] == "clarify" and "not a real date" in out["message"]
