"""Errors: one JSON shape, the status-code mapping, size limits, and opaque 500s."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent.http.deps import get_runtime
from agent.http.errors import status_for, tool_status
from record.errors import ConflictError, EPCISError, IdentifierError, NotFoundError, StoreError
from tools.errors import IdempotencyConflict, PermissionDenied, ToolArgumentError, ToolError


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("forbidden", 403),
        ("unknown_shipment", 404),
        ("unknown_asset", 404),
        ("invalid_arguments", 422),
        ("bad_identifier", 422),
        ("unknown_fields", 422),
        ("not_verified", 409),
        ("already_delivered", 409),
        ("idempotency_conflict", 409),
        ("depot_cannot_hold", 409),
    ],
)
def test_tool_error_codes_map_to_statuses(code: str, status: int) -> None:
    assert tool_status(code) == status


def test_error_classes_map_to_statuses_with_fields() -> None:
    cases = [
        (PermissionDenied("no"), 403, "forbidden"),
        (ToolArgumentError("bad", {"shipment_id": "required"}), 422, "invalid_arguments"),
        (IdempotencyConflict("again"), 409, "idempotency_conflict"),
        (NotFoundError("gone"), 404, "not_found"),
        (ConflictError("clash"), 409, "conflict"),
        (IdentifierError("check digit", field="gtin"), 422, "invalid_identifier"),
        (
            EPCISError("2 problems", ["eventList.0.bizStep: not CBV", "header: missing"]),
            422,
            "invalid_epcis",
        ),
        (StoreError("locked"), 503, "unavailable"),
        (ToolError("nope", code="not_releasable"), 409, "not_releasable"),
    ]
    for exc, status, code in cases:
        got, body = status_for(exc)
        assert (got, body.error) == (status, code), exc
    assert status_for(cases[1][0])[1].fields == {"shipment_id": "required"}
    epcis = status_for(cases[6][0])[1]
    assert epcis.fields == {"eventList.0.bizStep": "not CBV", "header": "missing"}
    assert epcis.errors == ["eventList.0.bizStep: not CBV", "header: missing"]


def test_validation_errors_name_the_field(client: TestClient, as_role) -> None:
    response = client.post(
        "/ingest/readings",
        headers=as_role("automation"),
        json={"readings": [{"asset_id": "RT-001", "ts": "2026-11-23T05:00:00", "temp_c": 120}]},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert list(body["fields"]) == ["readings.0.temp_c"]
    assert "readings.0.temp_c" in body["detail"]
    bad_query = client.get("/exceptions?severity=urgent", headers=as_role("ops_manager"))
    assert bad_query.status_code == 422 and "query.severity" in bad_query.json()["fields"]


def test_unknown_routes_and_methods_answer_in_the_same_shape(client: TestClient, as_role) -> None:
    missing = client.get("/nowhere/at/all")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = client.delete("/kpis", headers=as_role("ops_manager"))
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


def test_bodies_over_the_limit_get_413_before_parsing(client: TestClient, as_role) -> None:
    big = b'{"message": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = client.post(
        "/chat/t1/messages",
        content=big,
        headers={**as_role("ops_manager"), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"

    def chunks():  # no Content-Length: the limit counts the streamed bytes
        for _ in range(20):
            yield b" " * (512 * 1024)

    streamed = client.post(
        "/reschedule",
        content=chunks(),
        headers={**as_role("contact_center"), "content-type": "application/json"},
    )
    assert streamed.status_code == 413 and streamed.json()["error"] == "too_large"
    ingest_ok = b'{"readings": [' + b" " * (2 * 1024 * 1024) + b"]}"
    allowed = client.post(
        "/ingest/readings",
        content=ingest_ok,
        headers={**as_role("automation"), "content-type": "application/json"},
    )
    assert allowed.status_code == 422  # 2 MiB passes /ingest's 8 MiB limit; an empty batch does not


def test_unexpected_errors_are_opaque_500s_and_logged(
    app: FastAPI, as_role, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_runtime() -> None:
        raise RuntimeError("secret internals: /etc/passwd")

    app.dependency_overrides[get_runtime] = broken_runtime
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, logger="proofline.http"),
    ):
        response = client.get("/kpis", headers=as_role("auditor"))
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error" and len(body["error_id"]) == 12
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["error_id"] in caplog.text and "secret internals" in caplog.text
