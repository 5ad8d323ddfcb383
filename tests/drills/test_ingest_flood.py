"""Drill 4: 100,000 temperature readings from 8 concurrent clients through POST /ingest/readings.

A real uvicorn server on loopback serves a copy of the network. Eight clients send 40 batches of
2,500 readings (8 assets, one reading per asset per second, a month before the seeded history so
nothing collides), and 10 batches are sent a second time, by another client, as retries: five with
the same ``Idempotency-Key`` (the stored answer must be replayed) and five without one (the SQL
dedupe must store nothing). After the server has stopped, every reading must be stored exactly once.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest

from record import audit
from record.store import Store
from tests.drills.conftest import live_server

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]

CLIENTS, BATCHES, BATCH = 8, 40, 2_500
TOTAL = BATCHES * BATCH
ASSETS = 8
KEYED_RETRIES = range(0, 10, 2)  # batches 0, 2, 4, 6, 8: resent with the same Idempotency-Key
BARE_RETRIES = range(1, 10, 2)  # batches 1, 3, 5, 7, 9: resent without one


def _batches(assets: list[str], start) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Reading g goes to asset g % 8 at ``start - g // 8`` seconds: every (asset, ts) once."""
    bodies = []
    for b in range(BATCHES):
        readings = []
        for g in range(b * BATCH, (b + 1) * BATCH):
            ts = start - timedelta(seconds=g // ASSETS)
            readings.append({"asset_id": assets[g % ASSETS], "ts": ts.isoformat(),
                             "temp_c": round(2.0 + (g % 60) / 10, 1)})  # fmt: skip
        bodies.append(json.dumps({"readings": readings}).encode())
    return bodies


def _post(client: httpx.Client, body: bytes, key: str | None) -> dict[str, Any]:
    """POST one batch; a 409 'still running' for a retried key is waited out (bounded)."""
    headers = {"content-type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    seen = []
    for _ in range(200):
        response = client.post("/ingest/readings", content=body, headers=headers)
        seen.append(response.status_code)
        if (
            response.status_code == 409
            and response.json().get("error") == "idempotency_in_progress"
        ):
            time.sleep(0.05)
            continue
        break
    return {
        "statuses": seen,
        "status": response.status_code,
        "body": response.json() if response.content else None,
        "replayed": response.headers.get("Idempotency-Replayed") == "true",
    }


def test_100k_readings_from_concurrent_clients_are_stored_exactly_once(
    drill_template, copy_db
) -> None:
    db = copy_db(drill_template.path, "flood")
    with Store(db) as store:
        assets = [r[0] for r in store.execute(
            f"SELECT asset_id FROM assets ORDER BY asset_id LIMIT {ASSETS}").fetchall()]  # fmt: skip
        rows_before = store.scalar("SELECT count(*) FROM sensor_readings")
        entries_before = store.scalar("SELECT count(*) FROM audit_log")
    start = drill_template.now - timedelta(days=30)
    bodies = _batches(assets, start)

    # each client sends its own five batches, and retries two of another client's
    jobs: dict[int, list[tuple[int, str | None]]] = defaultdict(list)
    for b in range(BATCHES):
        jobs[b % CLIENTS].append((b, f"flood-{b}"))
    for b in (*KEYED_RETRIES, *BARE_RETRIES):
        jobs[(b + 3) % CLIENTS].append((b, f"flood-{b}" if b in KEYED_RETRIES else None))
    for c, mine in jobs.items():
        random.Random(c).shuffle(mine)

    results: dict[int, list[dict[str, Any]]] = defaultdict(list)
    started = time.perf_counter()
    with live_server(db) as server:
        headers = {"X-API-Key": drill_template.keys["automation"]}

        def client_run(c: int) -> list[tuple[int, dict[str, Any]]]:
            with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
                return [(b, _post(client, bodies[b], key)) for b, key in jobs[c]]

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            for done in pool.map(client_run, range(CLIENTS)):
                for b, result in done:
                    results[b].append(result)
    seconds = time.perf_counter() - started
    print(f"{TOTAL:,} readings in {BATCHES} batches (+10 retries) took {seconds:.1f} s")

    statuses = {s for rs in results.values() for r in rs for s in r["statuses"]}
    assert statuses <= {200, 409}, statuses
    assert all(r["status"] == 200 for rs in results.values() for r in rs)
    stored_by_api = 0
    for b, sent in results.items():
        fresh = [r for r in sent if not r["replayed"]]
        assert sum(r["body"]["stored"] for r in fresh) == BATCH, (b, sent)
        if b in KEYED_RETRIES:
            assert len(fresh) == 1 and len(sent) == 2, (b, sent)
            assert all(r["body"] == fresh[0]["body"] for r in sent), "a replay differs"
        if b in BARE_RETRIES:
            assert sorted(r["body"]["duplicates"] for r in sent) == [0, BATCH], (b, sent)
        stored_by_api += sum(r["body"]["stored"] for r in fresh)
    assert stored_by_api == TOTAL

    with Store(db, read_only=True) as store:  # the server has stopped and closed the file
        lo, hi = start - timedelta(seconds=TOTAL // ASSETS), start
        ours = store.row(
            "SELECT count(*) AS n, count(DISTINCT (asset_id, ts)) AS distinct_n FROM sensor_readings"
            " WHERE ts BETWEEN ? AND ? AND list_contains(?, asset_id)",
            [lo, hi, assets],
        )
        assert ours == {"n": TOTAL, "distinct_n": TOTAL}
        assert store.scalar("SELECT count(*) FROM sensor_readings") == rows_before + TOTAL
        logged = store.rows(
            "SELECT result FROM audit_log WHERE action = 'ingest.readings' AND seq > ?",
            [entries_before],
        )
        assert len(logged) == BATCHES + len(BARE_RETRIES)
        assert sum(json.loads(r["result"])["stored"] for r in logged) == TOTAL
        assert audit.verify(store).ok
