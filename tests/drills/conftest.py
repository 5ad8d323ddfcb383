"""Reliability drills: shared networks, the real CLI in subprocesses, a real server on loopback.

- ``drill_template``: a scale-0.1 network (every exception kind injected) with one API key per
  role, seeded once per session. Copy it, never write to it.
- ``triaged_template``: the same network after one uninterrupted rules triage (the reference
  final state, and an audit chain worth tampering with).
- ``copy_db(template, name)``: a private copy in the test's tmp_path.
- ``run_child(argv, cwd=...)`` with ``proofline_argv()``: the real CLI in a subprocess, without
  any ``PROOFLINE_*`` setting from our environment.
- ``live_server(db)``: uvicorn serving ``create_app`` over ``db`` on a free loopback port.
- ``read_record(path)``, ``duplicates(store)``, ``final_state(store)``: what a database holds
  once the process that wrote it has gone — runs, effects recorded twice, the shift lead's view.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from record import audit
from record.store import Store

SCALE = 0.1
SEED = 7
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CLI_TIMEOUT_S = 150


@dataclass(frozen=True)
class Template:
    """A seeded database to copy, its clock and a plaintext API key per role."""

    path: Path
    now: datetime
    keys: dict[str, str]


@pytest.fixture(scope="session")
def drill_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Seed the scale-0.1 network once per session, with one API key per role."""
    from agent.http import auth
    from record import synth
    from tools.base import ALL_ROLES

    path = tmp_path_factory.mktemp("drill-template") / "net.duckdb"
    with Store(path) as store:
        summary = synth.generate(store, scale=SCALE, seed=SEED)
        keys: dict[str, str] = {
            role: auth.create_key(store, role, f"drill {role}")[1] for role in ALL_ROLES
        }
        store.execute("CHECKPOINT")
    return Template(path=path, now=summary.now, keys=keys)


@pytest.fixture(scope="session")
def triaged_template(drill_template: Template, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template after one uninterrupted rules triage, run in this process."""
    from agent import service
    from agent.runtime import Runtime
    from agent.settings import Settings

    path = tmp_path_factory.mktemp("drill-triaged") / "net.duckdb"
    shutil.copyfile(drill_template.path, path)
    rt = Runtime.from_settings(Settings(_env_file=None, db=path, brain="rules"))
    try:
        service.run_triage(rt)
        rt.store.execute("CHECKPOINT")
    finally:
        close_runtime(rt)
    return path


def close_runtime(rt: Any) -> None:
    """Close a runtime's checkpointer connection and its store."""
    conn = getattr(rt.checkpointer, "conn", None)
    if conn is not None:
        conn.close()
    rt.store.close()


@pytest.fixture
def copy_db(tmp_path: Path) -> Callable[[Path, str], Path]:
    """``copy_db(template, name)``: a private copy of a template database (no side files)."""

    def _copy(template: Path, name: str) -> Path:
        target = tmp_path / name / "net.duckdb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)
        return target

    return _copy


def child_env() -> dict[str, str]:
    """The environment for a child process: ours without any ``PROOFLINE_*`` setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PROOFLINE_")}


def proofline_argv() -> list[str]:
    """How to start the ``proofline`` console script from this interpreter's environment."""
    script = Path(sys.executable).with_name("proofline")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from agent.cli import main; main()"]


@dataclass(frozen=True)
class Ran:
    """A finished child process."""

    argv: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float


def run_child(argv: list[str], *, cwd: Path, timeout: float = CLI_TIMEOUT_S) -> Ran:
    """Run ``argv`` in ``cwd`` and wait for it (bounded by ``timeout``)."""
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(argv, done.returncode, done.stdout, done.stderr, time.perf_counter() - started)


def read_sse(lines: list[str]) -> list[tuple[str, Any]]:
    """Server-sent events as (event, data) pairs, data decoded from JSON."""
    events: list[tuple[str, Any]] = []
    data: list[str] = []
    name = "message"
    for line in [*lines, ""]:
        if not line:
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


@dataclass(frozen=True)
class LiveServer:
    """A real uvicorn server on loopback."""

    url: str
    app: Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(db: Path) -> Iterator[LiveServer]:
    """Serve ``create_app`` over ``db`` with uvicorn on a free loopback port (in a thread)."""
    import uvicorn

    from agent.settings import Settings
    from server import create_app

    app = create_app(Settings(_env_file=None, db=db, brain="rules"))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=_free_port(), log_level="warning", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="drill-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the drill server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{config.port}", app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        assert not thread.is_alive(), "the drill server did not stop within 60 s"


# -- reading a record back ---------------------------------------------------------------------

# Effects of one idempotency key, counted per action; refusals are not effects.
_EFFECTS = """
SELECT action, idempotency_key, count(*) AS n FROM audit_log
WHERE idempotency_key IS NOT NULL AND action NOT LIKE '%.refused'
GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL
"""
_TWICE = {
    "holds": "SELECT shipment_id, source, exception_id, count(*) AS n FROM shipment_holds"
    " GROUP BY ALL HAVING count(*) > 1",
    "quarantines": "SELECT exception_id, scope, count(*) AS n FROM quarantines"
    " WHERE exception_id IS NOT NULL GROUP BY ALL HAVING count(*) > 1",
    "investigations": "SELECT shipment_id, kind, count(*) AS n FROM investigations"
    " GROUP BY ALL HAVING count(*) > 1",
    "escalations": "SELECT exception_id, to_team, count(*) AS n FROM escalations"
    " WHERE exception_id IS NOT NULL GROUP BY ALL HAVING count(*) > 1",
    "messages": "SELECT shipment_id, template, count(*) AS n FROM messages"
    " GROUP BY ALL HAVING count(*) > 1",
}


def duplicates(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every effect recorded more than once (empty lists when none was)."""
    found = {"effects": store.rows(_EFFECTS)}
    found.update({name: store.rows(sql) for name, sql in _TWICE.items()})
    return found


def final_state(store: Store) -> dict[str, Any]:
    """What a shift lead would compare between two runs (ids that embed a run id left out)."""

    def pairs(sql: str) -> dict[str, str]:
        return {k: v for k, v in store.execute(sql).fetchall()}

    def bag(sql: str) -> Counter[tuple[Any, ...]]:
        return Counter(tuple(r) for r in store.execute(sql).fetchall())

    return {
        "exceptions": pairs("SELECT exception_id, status FROM exceptions"),
        "shipments": pairs("SELECT shipment_id, status FROM shipments"),
        "units": pairs("SELECT status, count(*)::VARCHAR FROM units GROUP BY status"),
        "holds": bag("SELECT shipment_id, source, exception_id FROM shipment_holds"),
        "messages": bag("SELECT shipment_id, template, status FROM messages"),
        "approvals": bag("SELECT exception_id, tool, status FROM approvals"),
        "escalations": bag("SELECT exception_id, to_team FROM escalations"),
        "investigations": bag("SELECT shipment_id, kind, status FROM investigations"),
    }


def read_record(path: Path) -> dict[str, Any]:
    """Open ``path`` read-only (replaying a killed writer's WAL) and read runs, effects, state."""
    with Store(path, read_only=True) as store:
        chain = audit.verify(store)
        return {
            "runs": store.rows("SELECT run_id, status FROM triage_runs ORDER BY started_at"),
            "summary": store.scalar(
                "SELECT summary FROM triage_runs WHERE status = 'finished' ORDER BY started_at DESC"
            ),
            "effects": store.scalar(
                "SELECT count(*) FROM tool_calls WHERE idempotency_key LIKE 'RUN-%'"
            ),
            "open": store.scalar("SELECT count(*) FROM exceptions WHERE status = 'open'"),
            "exceptions": store.scalar("SELECT count(*) FROM exceptions"),
            "duplicates": duplicates(store),
            "state": final_state(store),
            "chain_ok": chain.ok,
            "chain": chain.describe(),
        }
