"""Agent fixtures: a small seeded network copied per test, and runtimes over it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.runtime import Runtime
from agent.settings import Settings
from record import synth
from record.store import Store

SCALE = 0.1


@pytest.fixture(scope="session")
def agent_template(tmp_path_factory) -> Path:
    """A scale-0.1 network with every exception kind injected, seeded once per session."""
    path = tmp_path_factory.mktemp("agent-template") / "net.duckdb"
    with Store(path) as store:
        synth.generate(store, scale=SCALE, seed=7)
    return path


@pytest.fixture
def db_path(agent_template, tmp_path) -> Path:
    """A fresh copy of the template network for this test."""
    path = tmp_path / "net.duckdb"
    shutil.copyfile(agent_template, path)
    return path


@pytest.fixture
def make_runtime(db_path) -> Callable[..., Runtime]:
    """Build a runtime over the test's copy: ``make_runtime(brain="rules", **settings)``."""
    made: list[Runtime] = []

    def _make(**overrides) -> Runtime:
        settings = Settings(db=db_path, **overrides)
        rt = Runtime.from_settings(settings, store=made[0].store if made else None)
        made.append(rt)
        return rt

    yield _make
    if made:
        made[0].store.close()


@pytest.fixture
def rt(make_runtime) -> Runtime:
    """A rules-brain runtime over a fresh copy of the network."""
    return make_runtime()
