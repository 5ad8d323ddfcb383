"""The verification and messaging gateways over real HTTP (respx) and the embedded defaults."""

from __future__ import annotations

import json
from datetime import date, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from record.clock import FixedClock
from tools.gateways import (
    LMS_REASONS,
    HttpVerificationGateway,
    OutboxMessenger,
    OutgoingMessage,
    RecordVerificationResponder,
    VerificationRequest,
    WebhookMessenger,
)

BASE = "https://vrs.example.test/resolver"
GTIN = "00312345678906"
OUR_GLN = "0614141000005"
URL = f"{BASE}/01/{GTIN}/21/SER%2F1"  # the serial "SER/1" is percent-encoded in the path
HOOK = "https://sms.example.test/send"


def _request(**kw) -> VerificationRequest:
    base = dict(
        gtin=GTIN, serial="SER/1", lot="LOT-7", expiry=date(2027, 5, 31), context="saleable_return"
    )
    return VerificationRequest(**(base | kw))


def _gateway(retries: int = 2) -> HttpVerificationGateway:
    return HttpVerificationGateway(
        BASE, OUR_GLN, timeout_s=1.0, retries=retries, backoff_s=0, max_backoff_s=0
    )


def _reply(req: VerificationRequest, verified: bool, **data) -> dict:
    return {
        "responderGLN": "0312345000001",
        "corrUUID": req.correlation_id,
        "data": {"verified": verified, **data},
    }


@respx.mock
def test_lms_request_is_a_digital_link_get_with_the_lms_parameters():
    req = _request()
    route = respx.get(URL).mock(return_value=httpx.Response(200, json=_reply(req, True)))
    reply = _gateway().verify(req)
    assert (reply.status, reply.verified, reply.reasons) == ("verified", True, ())
    assert reply.responder == BASE and reply.responder_gln == "0312345000001"
    sent = route.calls.last.request
    query = {k: v[0] for k, v in parse_qs(urlsplit(str(sent.url)).query).items()}
    assert query == {
        "linkType": "verificationService",
        "context": "dscsaSaleableReturn",
        "reqGLN": OUR_GLN,
        "corrUUID": req.correlation_id,
        "10": "LOT-7",
        "17": "270531",
    }


@pytest.mark.parametrize("reason", LMS_REASONS)
@respx.mock
def test_not_verified_carries_each_lms_reason(reason):
    req = _request()
    respx.get(URL).mock(
        return_value=httpx.Response(200, json=_reply(req, False, verificationFailureReason=reason))
    )
    reply = _gateway().verify(req)
    assert (reply.status, reply.verified, reply.reasons) == ("not_verified", False, (reason,))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("No_match_GTIN_Serial_Lot_Expiry", ("No_match_Lot", "No_match_Expiry")),
        ("No_match_GTIN_Serial_Lot", ("No_match_Lot",)),
        (["Expired", "Recalled"], ("Expired", "Recalled")),
        ("No_reason_provided", ()),
    ],
)
@respx.mock
def test_reason_variations_from_deployed_responders_are_normalised(raw, expected):
    req = _request()
    respx.get(URL).mock(
        return_value=httpx.Response(200, json=_reply(req, False, verificationFailureReason=raw))
    )
    reply = _gateway().verify(req)
    assert reply.status == "not_verified" and reply.reasons == expected


@respx.mock
def test_verified_but_recalled_is_not_a_pass():
    req = _request()
    respx.get(URL).mock(
        return_value=httpx.Response(200, json=_reply(req, True, additionalInfo="recalled"))
    )
    reply = _gateway().verify(req)
    assert (reply.status, reply.reasons) == ("not_verified", ("Recalled",))


@respx.mock
def test_top_level_verified_and_string_booleans_are_accepted():
    req = _request()
    body = {"verified": "true", "corrUUID": req.correlation_id}
    respx.get(URL).mock(return_value=httpx.Response(200, json=body))
    assert _gateway().verify(req).status == "verified"


@respx.mock
def test_429_then_success_retries_and_verifies():
    req = _request()
    route = respx.get(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(200, json=_reply(req, True)),
        ]
    )
    reply = _gateway().verify(req)
    assert reply.status == "verified" and reply.attempts == 2 and route.call_count == 2
    corr = {parse_qs(urlsplit(str(c.request.url)).query)["corrUUID"][0] for c in route.calls}
    assert corr == {req.correlation_id}


@respx.mock
def test_500_every_time_is_could_not_verify_after_bounded_attempts():
    route = respx.get(URL).mock(return_value=httpx.Response(500, text="boom"))
    reply = _gateway(retries=2).verify(_request())
    assert (reply.status, reply.verified) == ("could_not_verify", False)
    assert route.call_count == 3 and reply.attempts == 3
    assert "HTTP 500 after 3 attempt(s)" in (reply.detail or "")


@respx.mock
def test_timeout_is_could_not_verify():
    route = respx.get(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    reply = _gateway(retries=1).verify(_request())
    assert reply.status == "could_not_verify" and "timed out" in (reply.detail or "")
    assert route.call_count == 2


@respx.mock
def test_unreachable_responder_is_could_not_verify():
    respx.get(URL).mock(side_effect=httpx.ConnectError("refused"))
    reply = _gateway(retries=0).verify(_request())
    assert reply.status == "could_not_verify" and "unreachable" in (reply.detail or "")


@respx.mock
def test_client_error_is_not_retried():
    route = respx.get(URL).mock(return_value=httpx.Response(404))
    reply = _gateway().verify(_request())
    assert reply.status == "could_not_verify" and route.call_count == 1
    assert "HTTP 404" in (reply.detail or "")


@pytest.mark.parametrize(
    ("response", "detail"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), "not JSON"),
        (httpx.Response(200, json=["verified", True]), "not a JSON object"),
        (httpx.Response(200, json={"data": {"additionalInfo": "x"}}), "no true/false"),
        (httpx.Response(200, json={"data": {"verified": "yes"}}), "no true/false"),
        (
            httpx.Response(200, json={"corrUUID": "someone-else", "data": {"verified": True}}),
            "corrUUID",
        ),
    ],
    ids=["not-json", "not-object", "missing-verified", "not-boolean", "corruuid-mismatch"],
)
@respx.mock
def test_garbage_replies_are_could_not_verify_never_a_pass(response, detail):
    respx.get(URL).mock(return_value=response)
    reply = _gateway().verify(_request())
    assert (reply.status, reply.verified) == ("could_not_verify", False)
    assert detail in (reply.detail or "")


def _units(store, *rows):
    store.execute(
        "INSERT INTO products (gtin, name, manufacturer_gln) VALUES (?, 'X', ?)",
        [GTIN, "0312345000001"],
    )
    store.execute("INSERT INTO lots VALUES (?, 'LOT-7', DATE '2027-05-31', 'released')", [GTIN])
    for serial, status in rows:
        store.execute(
            "INSERT INTO units (gtin, serial, lot, expiry, status, commissioned_at)"
            " VALUES (?, ?, 'LOT-7', DATE '2027-05-31', ?, TIMESTAMP '2026-01-05 10:00')",
            [GTIN, serial, status],
        )


def test_record_responder_speaks_the_same_lms_reply(empty_store):
    _units(empty_store, ("SER/1", "packed"), ("SER/2", "suspect"))
    responder = RecordVerificationResponder(empty_store, clock=FixedClock(datetime(2026, 11, 1)))
    req = _request()
    assert responder.respond(req) == _reply(req, True)
    bad = _request(serial="SER/2", lot="LOT-8")
    assert responder.respond(bad) == {
        "responderGLN": "0312345000001",
        "corrUUID": bad.correlation_id,
        "data": {"verified": False, "verificationFailureReason": ["No_match_Lot", "Suspect"]},
    }
    assert responder.verify(bad).reasons == ("No_match_Lot", "Suspect")
    assert responder.verify(_request(serial="NOPE")).reasons == ("No_match_GTIN_Serial",)


def test_record_responder_without_manufacturer_data_cannot_verify(empty_store):
    reply = RecordVerificationResponder(empty_store).verify(_request())
    assert (reply.status, reply.responder) == ("could_not_verify", "record")
    assert "no manufacturer data for GTIN" in (reply.detail or "")


# --- messaging -----------------------------------------------------------------------------

MSG = OutgoingMessage("MSG-1", to="+15555550123", channel="sms", body="Delivery SHP-1 delayed")


def _webhook(retries: int = 2) -> WebhookMessenger:
    return WebhookMessenger(HOOK, timeout_s=1.0, retries=retries, backoff_s=0, max_backoff_s=0)


def test_outbox_messenger_marks_sent_locally():
    outcome = OutboxMessenger().send(MSG)
    assert (outcome.status, outcome.provider_id) == ("sent", "outbox:MSG-1")


@respx.mock
def test_webhook_posts_the_message_with_its_idempotency_key():
    route = respx.post(HOOK).mock(return_value=httpx.Response(202, json={"id": "prov-9"}))
    outcome = _webhook().send(MSG)
    assert (outcome.status, outcome.provider_id, outcome.attempts) == ("sent", "prov-9", 1)
    sent = route.calls.last.request
    assert sent.headers["Idempotency-Key"] == "MSG-1"
    assert json.loads(sent.content) == {
        "message_id": "MSG-1",
        "to": "+15555550123",
        "channel": "sms",
        "body": "Delivery SHP-1 delayed",
    }


@respx.mock
def test_webhook_429_then_2xx_resends_with_the_same_key():
    route = respx.post(HOOK).mock(
        side_effect=[
            httpx.Response(429),
            httpx.Response(200, json={"provider_id": "p-1"}),
        ]
    )
    outcome = _webhook().send(MSG)
    assert (outcome.status, outcome.provider_id, outcome.attempts) == ("sent", "p-1", 2)
    assert [c.request.headers["Idempotency-Key"] for c in route.calls] == ["MSG-1", "MSG-1"]


@respx.mock
def test_webhook_500_forever_fails_after_bounded_attempts():
    route = respx.post(HOOK).mock(return_value=httpx.Response(503))
    outcome = _webhook(retries=3).send(MSG)
    assert outcome.status == "failed" and route.call_count == 4
    assert "HTTP 503 after 4 attempt(s)" in (outcome.error or "")


@respx.mock
def test_webhook_rejection_is_permanent_without_retry():
    route = respx.post(HOOK).mock(return_value=httpx.Response(422, text="bad number"))
    outcome = _webhook().send(MSG)
    assert outcome.status == "failed" and route.call_count == 1
    assert outcome.error == "HTTP 422: bad number"


@respx.mock
def test_webhook_timeout_fails():
    respx.post(HOOK).mock(side_effect=httpx.ConnectTimeout("slow"))
    outcome = _webhook(retries=1).send(MSG)
    assert outcome.status == "failed" and "timed out" in (outcome.error or "")


@respx.mock
def test_injected_client_is_used_and_left_open():
    respx.post(HOOK).mock(return_value=httpx.Response(200, text="ok"))
    with httpx.Client() as client:
        hook = WebhookMessenger(HOOK, client=client, backoff_s=0)
        assert hook.send(MSG).status == "sent"
        hook.close()
        assert not client.is_closed
