"""The API on a real uvicorn server over loopback: streaming, limits, throughput."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from tests.http.conftest import LiveServer, Template, read_sse

pytestmark = pytest.mark.integration


def test_chat_streams_over_real_http(live_server: LiveServer, template: Template) -> None:
    headers = {"X-API-Key": template.keys["ops_manager"]}
    with (
        httpx.Client(base_url=live_server.url, timeout=30) as client,
        client.stream("POST", "/chat/live-1/messages", json={"message": "what is at risk?"},
                      headers=headers) as response,
    ):  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = read_sse(response.iter_lines())
    assert events[0][0] == "message" and events[-1][0] == "done"
    assert any(name == "reply" for name, _ in events)


def test_board_stream_pushes_changes(live_server: LiveServer, template: Template) -> None:
    reader = {"X-API-Key": template.keys["ops_manager"]}
    path = "/exceptions/stream?status=any&max_seconds=4"
    with (
        httpx.Client(base_url=live_server.url, timeout=60) as client,
        client.stream("GET", path, headers=reader) as stream,
    ):
        lines = stream.iter_lines()
        first: list[str] = []
        for line in lines:  # read the first board, then let triage act on the record
            first.append(line)
            if line == "" and any(x.startswith("data:") for x in first):
                break
        triage = client.post("/triage/runs", headers={"X-API-Key": template.keys["automation"]})
        assert triage.status_code == 200, triage.text
        rest = list(lines)
    boards = [data for name, data in read_sse(first + rest) if name == "board"]
    assert len(boards) >= 2, "the board did not change after a triage run"
    statuses = [{e["exception_id"]: e["status"] for e in b["exceptions"]} for b in boards]
    assert statuses[0] != statuses[-1]


def test_oversized_chunked_upload_is_cut_off_with_413(live_server: LiveServer, template) -> None:
    def chunks():
        for _ in range(40):
            yield b" " * (256 * 1024)  # 10 MiB in all, no Content-Length

    headers = {"X-API-Key": template.keys["automation"], "content-type": "application/json"}
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        response = client.post("/ingest/readings", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_full_batches_over_a_real_server_are_stored_whole(
    live_server: LiveServer, template
) -> None:
    # Speed is measured in bench/server_load.py, never asserted here.
    headers = {"X-API-Key": template.keys["automation"], "content-type": "application/json"}
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        assets = sorted({a["asset"]["asset_id"] for a in (
            client.get(f"/shipments/SHP-{1001 + i}", headers=headers).json() for i in range(12)
        ) if a.get("asset")})  # fmt: skip
        for rep in range(2):
            start = template.now - timedelta(days=60 + rep)
            batch = [{"asset_id": assets[i % len(assets)], "temp_c": 4.5,
                      "ts": (start - timedelta(seconds=7 * i)).isoformat()}
                     for i in range(10_000)]  # fmt: skip
            response = client.post(
                "/ingest/readings", content=json.dumps({"readings": batch}), headers=headers
            )
            assert response.status_code == 200 and response.json()["stored"] == 10_000
