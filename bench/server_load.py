"""Benchmark: the HTTP server under load — chat turns over SSE and batched reading ingestion.

Copies the seeded scale-0.1 network (reused from ``/tmp/proofline-bench``), creates an
ops_manager and an automation API key on the copy, and serves ``create_app`` (rules brain) with
uvicorn in a background thread on a free loopback port. An async httpx client then drives:

1. chat turns, "status of SHP-xxxx" on existing shipments, each on its own thread, read to the
   SSE ``done`` event, at 1, 10 and 50 concurrent clients (``--turns`` per level, each level
   capped at ``--level-s`` seconds): p50/p99 latency and turns/s (target: p99 <= 150 ms at 10);
2. temperature readings through POST /ingest/readings, 8 concurrent clients sending batches of
   2,500 for ``--ingest-s`` seconds or ``--max-readings``, whichever comes first: sustained
   readings/s (target: >= 20,000/s); the stored rows are counted once the server has stopped.

Baselines in the same run: the same chat turn in-process through ``agent.service.chat`` (no
HTTP), single-threaded, on a second copy; and one reading per request from one client. Figures
are printed and appended as JSON to ``bench/results/server_load-<timestamp>.json``.

    .venv/bin/python bench/server_load.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    CACHE,
    close_runtime,
    console,
    describe,
    machine,
    network,
    open_runtime,
    print_table,
    save,
    working_copy,
)

SCALE = 0.1
LEVELS = (1, 10, 50)
TARGET_P99_MS = 150.0  # at 10 concurrent clients
TARGET_READINGS_PER_S = 20_000.0
INGEST_CLIENTS, BATCH, ASSETS = 8, 2_500, 8


# -- set-up ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(db: Path) -> Iterator[str]:
    """Serve ``create_app`` over ``db`` (rules brain) with uvicorn in a thread; yield its URL."""
    import uvicorn

    from agent.settings import Settings
    from server import create_app

    app = create_app(Settings(_env_file=None, db=db, brain="rules"))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=_free_port(), log_level="warning", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the benchmark server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        if thread.is_alive():
            console.print("[red]the server did not stop within 60 s[/red]")


def prepare(db: Path) -> dict[str, Any]:
    """API keys, shipment ids, assets and the network's clock of the copy at ``db``."""
    from agent.http import auth
    from record.store import Store

    with Store(db) as store:
        keys = {role: auth.create_key(store, role, f"bench {role}")[1]
                for role in ("ops_manager", "automation")}  # fmt: skip
        shipments = [r[0] for r in store.execute(
            "SELECT shipment_id FROM shipments ORDER BY shipment_id LIMIT 500").fetchall()]  # fmt: skip
        assets = [r[0] for r in store.execute(
            f"SELECT asset_id FROM assets ORDER BY asset_id LIMIT {ASSETS}").fetchall()]  # fmt: skip
        now = datetime.fromisoformat(
            store.scalar("SELECT value FROM meta WHERE key = 'network_now'")
        )
        rows = store.scalar("SELECT count(*) FROM sensor_readings")
        store.execute("CHECKPOINT")
    return {"keys": keys, "shipments": shipments, "assets": assets, "now": now, "rows": rows}


def _stats(latencies: list[float], seconds: float) -> dict[str, Any]:
    ms = sorted(1000 * x for x in latencies)
    if not ms:
        return {"turns": 0, "seconds": round(seconds, 2), "p50_ms": None, "p99_ms": None,
                "turns_per_s": 0.0}  # fmt: skip
    p99 = ms[min(len(ms) - 1, max(0, round(0.99 * len(ms)) - 1))]
    return {
        "turns": len(ms),
        "seconds": round(seconds, 2),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ms[-1], 1),
        "turns_per_s": round(len(ms) / seconds, 2),
    }


# -- chat -----------------------------------------------------------------------------------


def chat_baseline(db: Path, shipments: list[str], turns: int) -> dict[str, Any]:
    """The same turn in-process through ``agent.service.chat``, single-threaded, no HTTP."""
    from agent import service

    rt = open_runtime(db, brain="rules", _env_file=None)
    try:
        service.chat(rt, "warm", f"status of {shipments[0]}", actor="bench", role="ops_manager")
        latencies, started = [], time.perf_counter()
        for i in range(turns):
            t0 = time.perf_counter()
            done = service.chat(rt, f"base-{i}", f"status of {shipments[i % len(shipments)]}",
                                actor="bench", role="ops_manager")  # fmt: skip
            latencies.append(time.perf_counter() - t0)
            assert done["type"] == "done" and done["reply"], done
        return _stats(latencies, time.perf_counter() - started)
    finally:
        close_runtime(rt)


async def _turn(client: httpx.AsyncClient, thread: str, shipment: str) -> None:
    """One chat turn over SSE, read to the ``done`` event."""
    event = ""
    async with client.stream(
        "POST", f"/chat/{thread}/messages", json={"message": f"status of {shipment}"}
    ) as response:
        if response.status_code != 200:
            await response.aread()
            raise RuntimeError(f"chat {thread}: {response.status_code} {response.text[:200]}")
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
                if event in ("done", "error"):
                    break
    if event != "done":
        raise RuntimeError(f"chat {thread}: the stream ended on {event!r}, not done")


async def chat_level(
    url: str, key: str, shipments: list[str], clients: int, turns: int, cap_s: float
) -> dict[str, Any]:
    """``turns`` chat turns from ``clients`` concurrent clients, stopping after ``cap_s``."""
    latencies: list[float] = []
    errors: list[str] = []
    todo = iter(range(turns))
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    async with httpx.AsyncClient(
        base_url=url, headers={"X-API-Key": key}, timeout=60, limits=limits
    ) as client:

        async def worker() -> None:
            for i in todo:
                if time.perf_counter() - started > cap_s:
                    return
                t0 = time.perf_counter()
                try:
                    await _turn(client, f"load-{clients}-{i}", shipments[i % len(shipments)])
                except (httpx.HTTPError, RuntimeError) as exc:
                    errors.append(str(exc)[:200])
                    continue
                latencies.append(time.perf_counter() - t0)

        await _turn(client, f"warm-{clients}", shipments[0])  # connection and first-turn costs
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
    result = _stats(latencies, time.perf_counter() - started)
    result.update(clients=clients, errors=len(errors), error_sample=errors[:3])
    return result


# -- ingestion ------------------------------------------------------------------------------


def _readings(assets: list[str], start: datetime, first: int, count: int) -> list[dict[str, Any]]:
    """Reading g goes to asset g % 8 at ``start - g // 8`` seconds: every (asset, ts) once."""
    return [
        {"asset_id": assets[g % len(assets)],
         "ts": (start - timedelta(seconds=g // len(assets))).isoformat(),
         "temp_c": round(2.0 + (g % 60) / 10, 1)}
        for g in range(first, first + count)
    ]  # fmt: skip


async def ingest_batches(
    url: str, key: str, assets: list[str], start: datetime, seconds: float, most: int
) -> dict[str, Any]:
    """Batches of ``BATCH`` from ``INGEST_CLIENTS`` clients for ``seconds`` or ``most`` readings."""
    batches = most // BATCH
    bodies = [json.dumps({"readings": _readings(assets, start, b * BATCH, BATCH)}).encode()
              for b in range(batches)]  # fmt: skip
    todo = iter(range(batches))
    stored = sent = 0
    errors: list[str] = []
    latencies: list[float] = []
    headers = {"X-API-Key": key, "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal stored, sent
            for b in todo:
                if time.perf_counter() - started > seconds:
                    return
                t0 = time.perf_counter()
                response = await client.post("/ingest/readings", content=bodies[b])
                latencies.append(time.perf_counter() - t0)
                sent += BATCH
                if response.status_code == 200:
                    stored += response.json()["stored"]
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(INGEST_CLIENTS)))
        wall = time.perf_counter() - started
    return {
        "clients": INGEST_CLIENTS,
        "batch": BATCH,
        "batches": len(latencies),
        "sent": sent,
        "stored": stored,
        "seconds": round(wall, 2),
        "readings_per_s": round(stored / wall, 1),
        "batch_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "errors": len(errors),
        "error_sample": errors[:3],
    }


async def ingest_single(
    url: str, key: str, assets: list[str], start: datetime, seconds: float
) -> dict[str, Any]:
    """The baseline: one reading per request from one client, for ``seconds``."""
    stored = n = 0
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            body = {"readings": _readings(assets, start, n, 1)}
            response = await client.post("/ingest/readings", json=body)
            n += 1
            if response.status_code == 200:
                stored += response.json()["stored"]
        wall = time.perf_counter() - started
    return {"requests": n, "stored": stored, "seconds": round(wall, 2),
            "readings_per_s": round(stored / wall, 1)}  # fmt: skip


def count_rows(db: Path, assets: list[str], lo: datetime, hi: datetime) -> dict[str, int]:
    """Rows in the benchmark's time range for its assets, and in the whole table."""
    from record.store import Store

    with Store(db, read_only=True) as store:
        ours = store.row(
            "SELECT count(*) AS n, count(DISTINCT (asset_id, ts)) AS distinct_n FROM"
            " sensor_readings WHERE ts BETWEEN ? AND ? AND list_contains(?, asset_id)",
            [lo, hi, assets],
        )
        total = store.scalar("SELECT count(*) FROM sensor_readings")
    return {"in_range": ours["n"], "distinct_in_range": ours["distinct_n"], "total": total}


# -- the run --------------------------------------------------------------------------------


async def drive(url: str, setup: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement against the live server."""
    keys, ships, assets, now = (setup[k] for k in ("keys", "shipments", "assets", "now"))
    levels = {}
    for clients in LEVELS:
        levels[str(clients)] = await chat_level(
            url, keys["ops_manager"], ships, clients, args.turns, args.level_s
        )
        lv = levels[str(clients)]
        console.print(f"chat at {clients:>2} clients: {lv['turns']} turns, p50 {lv['p50_ms']} ms,"
                      f" p99 {lv['p99_ms']} ms, {lv['turns_per_s']} turns/s")  # fmt: skip
    batch_start = now - timedelta(days=30)
    single_start = now - timedelta(days=60)
    batched = await ingest_batches(
        url, keys["automation"], assets, batch_start, args.ingest_s, args.max_readings
    )
    console.print(f"ingest batched: {batched['stored']:,} readings in {batched['seconds']} s")
    single = await ingest_single(url, keys["automation"], assets, single_start, args.single_s)
    return {"levels": levels, "batched": batched, "single": single,
            "batch_start": batch_start, "single_start": single_start}  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Seed or reuse, serve, load, print and append the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=60, help="chat turns per level")
    parser.add_argument("--level-s", type=float, default=40.0, help="cap per chat level (s)")
    parser.add_argument("--baseline-turns", type=int, default=60, help="in-process turns")
    parser.add_argument("--ingest-s", type=float, default=10.0, help="batched ingestion cap (s)")
    parser.add_argument("--max-readings", type=int, default=200_000, help="batched readings cap")
    parser.add_argument("--single-s", type=float, default=3.0, help="single-row baseline (s)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="folder of seeded networks")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    template, seeded_s = network(SCALE, args.cache)
    with tempfile.TemporaryDirectory(prefix="proofline-server-load-") as tmp:
        db = working_copy(template, Path(tmp), "server")
        base_db = working_copy(template, Path(tmp), "baseline")
        setup = prepare(db)
        baseline = chat_baseline(base_db, setup["shipments"], args.baseline_turns)
        console.print(f"in-process chat: p50 {baseline['p50_ms']} ms, p99 {baseline['p99_ms']} ms")
        with live_server(db) as url:
            runs = asyncio.run(drive(url, setup, args))
        # the server has stopped and closed the file: count what it stored
        batched, single = runs["batched"], runs["single"]
        total = args.max_readings // BATCH * BATCH
        lo = runs["batch_start"] - timedelta(seconds=total // ASSETS)
        batched_rows = count_rows(db, setup["assets"], lo, runs["batch_start"])
        lo1 = runs["single_start"] - timedelta(seconds=single["requests"] // ASSETS + 1)
        single_rows = count_rows(db, setup["assets"], lo1, runs["single_start"])
    levels = runs["levels"]
    at10 = levels["10"]
    p99_10, per_s = at10["p99_ms"], batched["readings_per_s"]
    rows_ok = (
        batched_rows["in_range"] == batched["stored"]
        and batched_rows["distinct_in_range"] == batched["stored"]
        and single_rows["in_range"] == single["stored"]
        and batched_rows["total"] == setup["rows"] + batched["stored"] + single["stored"]
    )
    chat_ok = p99_10 is not None and p99_10 <= TARGET_P99_MS
    ingest_ok = per_s >= TARGET_READINGS_PER_S
    ratios = {
        "http_p50_at_1_over_in_process_p50": round(levels["1"]["p50_ms"] / baseline["p50_ms"], 2),
        "turns_per_s_at_10_over_in_process": round(
            at10["turns_per_s"] / baseline["turns_per_s"], 2
        ),
        "turns_per_s_at_50_over_in_process": round(
            levels["50"]["turns_per_s"] / baseline["turns_per_s"], 2
        ),
        "batched_over_single_row": round(per_s / max(single["readings_per_s"], 1e-9), 1),
    }
    record = {
        "scale": SCALE,
        "seed_seconds": round(seeded_s, 1),
        "chat_p50_ms_at_10": at10["p50_ms"],
        "chat_p99_ms_at_10": p99_10,
        "chat_turns_per_s_at_10": at10["turns_per_s"],
        "ingest_readings_per_s": per_s,
        "single_row_readings_per_s": single["readings_per_s"],
        "target_p99_ms": TARGET_P99_MS,
        "target_readings_per_s": TARGET_READINGS_PER_S,
        "targets": {
            "chat p99 at 10 clients (ms)": f"{p99_10} <= {TARGET_P99_MS:.0f} -> "
            + ("met" if chat_ok else "missed"),
            "ingestion (readings/s)": f"{per_s:.0f} >= {TARGET_READINGS_PER_S:.0f} -> "
            + ("met" if ingest_ok else "missed"),
        },
        "within_target": chat_ok and ingest_ok,
        "rows_verified": rows_ok,
        "chat": {"levels": levels, "in_process": baseline},
        "ingest": {
            "batched": batched,
            "single_row": single,
            "batched_rows": batched_rows,
            "single_rows": single_rows,
            "rows_before": setup["rows"],
        },  # fmt: skip
        "ratios": ratios,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
    }
    _report(record)
    save("server_load", record)
    return record


def _report(r: dict[str, Any]) -> None:
    chat, ing, ratios = r["chat"], r["ingest"], r["ratios"]
    console.print(
        f"server load on the scale-{r['scale']:g} network, uvicorn in-process on loopback, "
        f"rules brain — {describe(r['machine'])}"
    )
    base = chat["in_process"]
    rows = [["in-process service.chat (no HTTP)", 1, base["turns"], base["p50_ms"],
             base["p99_ms"], base["turns_per_s"], 0]]  # fmt: skip
    rows += [[f"HTTP + SSE, {c} clients", c, x["turns"], x["p50_ms"], x["p99_ms"],
              x["turns_per_s"], x["errors"]] for c, x in chat["levels"].items()]  # fmt: skip
    print_table(
        "Chat turns ('status of SHP-…', read to the done event)",
        ["run", "clients", "turns", "p50 ms", "p99 ms", "turns/s", "errors"],
        rows,
    )
    b, s = ing["batched"], ing["single_row"]
    print_table(
        "POST /ingest/readings",
        ["run", "clients", "requests", "readings stored", "seconds", "readings/s", "errors"],
        [
            [f"batches of {b['batch']:,}", b["clients"], b["batches"], f"{b['stored']:,}",
             b["seconds"], f"{b['readings_per_s']:,.0f}", b["errors"]],
            ["one reading per request", 1, s["requests"], f"{s['stored']:,}", s["seconds"],
             f"{s['readings_per_s']:,.0f}", "—"],
        ],
    )  # fmt: skip
    print_table("Ratios", ["ratio", "value"], [[k, v] for k, v in ratios.items()])
    for name, text in r["targets"].items():
        console.print(f"{name}: {text}")
    console.print(
        f"rows after the run: {ing['batched_rows']['in_range']:,} batched and "
        f"{ing['single_rows']['in_range']:,} single readings stored, table "
        f"{ing['rows_before']:,} → {ing['batched_rows']['total']:,} "
        f"({'verified' if r['rows_verified'] else 'MISMATCH'}); run took {r['seconds']} s"
    )


if __name__ == "__main__":
    main()
