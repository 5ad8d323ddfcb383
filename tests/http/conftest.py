"""Fixtures for the HTTP tests: a small seeded network with sensed exceptions, one API key per
role, and an app over a fresh copy of that database for every test."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent.http import auth
from agent.settings import Settings
from record import sensing, synth
from record.store import Store
from server import create_app
from tools.base import ALL_ROLES

SCALE = 0.1


@dataclass(frozen=True)
class Template:
    """The seeded database every test copies, and what is in it."""

    path: Path
    keys: dict[str, str]
    revoked_key: str
    now: datetime


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Seed once per session: network, exceptions, keys."""
    path = tmp_path_factory.mktemp("template") / "proofline.duckdb"
    store = Store(path)
    summary = synth.generate(store, scale=SCALE, seed=7)
    sensing.record_exceptions(store, sensing.sense(store, now=summary.now), summary.now)
    keys = {role: auth.create_key(store, role, f"test {role}")[1] for role in ALL_ROLES}
    revoked, revoked_key = auth.create_key(store, "ops_manager", "revoked")
    auth.revoke_key(store, revoked.key_id)
    store.execute("CHECKPOINT")
    store.close()
    return Template(path=path, keys=keys, revoked_key=revoked_key, now=summary.now)


@pytest.fixture
def db_path(template: Template, tmp_path: Path) -> Path:
    """A fresh copy of the seeded database."""
    target = tmp_path / "proofline.duckdb"
    shutil.copy(template.path, target)
    return target


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(db=db_path, brain="rules")


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def keys(template: Template) -> dict[str, str]:
    return template.keys


@pytest.fixture
def as_role(keys: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """Headers that authenticate as ``role``."""
    return lambda role: {"X-API-Key": keys[role]}


@pytest.fixture
def store(app: FastAPI, client: TestClient) -> Store:
    """The app's own store (the one the server writes to)."""
    from agent.http.deps import backend_for_app

    return backend_for_app(app).runtime.store


def read_sse(lines: Iterable[str]) -> list[tuple[str, Any]]:
    """Parse server-sent events into (event, data) pairs (data decoded from JSON)."""
    events: list[tuple[str, Any]] = []
    name, data = "message", []
    for line in list(lines) + [""]:
        if not line:
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


def sse_post(
    client: TestClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, list[tuple[str, Any]]]:
    """POST and read the whole event stream."""
    with client.stream("POST", path, json=body, headers=headers) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, [("http_error", response.json())]
        assert response.headers["content-type"].startswith("text/event-stream")
        return 200, read_sse(response.iter_lines())


@dataclass(frozen=True)
class LiveServer:
    """A real uvicorn server on loopback."""

    url: str
    app: FastAPI
    db: Path


@pytest.fixture(scope="module")
def live_server(
    template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Serve a copy of the seeded database with uvicorn on a free loopback port (a thread)."""
    import socket
    import threading
    import time

    import uvicorn

    db = tmp_path_factory.mktemp("live") / "proofline.duckdb"
    shutil.copy(template.path, db)
    app = create_app(Settings(db=db, brain="rules"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, db=db)
    server.should_exit = True
    thread.join(timeout=15)
