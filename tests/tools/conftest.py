"""Fixtures for tool tests: a tool context over a fresh store with an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from record.clock import FixedClock
from record.store import Store
from tools.base import Gateways, Role, ToolContext

NOW = datetime(2026, 11, 23, 6, 0)


@pytest.fixture
def empty_store(tmp_path) -> Store:
    """A fresh, migrated, empty DuckDB file."""
    store = Store(tmp_path / "empty.duckdb")
    yield store
    store.close()


@pytest.fixture
def make_ctx() -> Callable[..., ToolContext]:
    """Build a ToolContext: ``make_ctx(store, role="ops_manager", now=NOW, gateways=None)``."""

    def _make(
        store: Store,
        role: Role = "ops_manager",
        *,
        now: datetime | None = None,
        actor: str | None = None,
        gateways: Gateways | None = None,
    ) -> ToolContext:
        anchor = now or datetime.fromisoformat(store.get_meta("network_now") or NOW.isoformat())
        return ToolContext(
            store=store,
            actor=actor or f"test:{role}",
            role=role,
            clock=FixedClock(anchor),
            gateways=gateways or Gateways(),
        )

    return _make
