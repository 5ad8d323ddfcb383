"""Shared fixtures: small seeded synthetic networks, seeded once per session, copied per test.

- ``small_network_path``: a scale-0.05 network with every exception kind injected (read-only use).
- ``clean_network_path``: the same network without injections (no sensor may fire on it).
- ``store``: a fresh, writable copy of the small network for one test.
- ``copy_network``: ``copy_network(path) -> Store`` for a writable copy of any template.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from record import synth
from record.store import Store

SMALL_SCALE = 0.05
SEED = 7


def _seed(folder: Path, *, inject: bool) -> Path:
    path = folder / "network.duckdb"
    with Store(path) as store:
        synth.generate(store, scale=SMALL_SCALE, seed=SEED, inject=inject)
    return path


@pytest.fixture(scope="session")
def small_network_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded scale-0.05 network (every exception kind injected). Do not write to it."""
    return _seed(tmp_path_factory.mktemp("small-network"), inject=True)


@pytest.fixture(scope="session")
def clean_network_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same network seeded without injected exceptions. Do not write to it."""
    return _seed(tmp_path_factory.mktemp("clean-network"), inject=False)


@pytest.fixture
def copy_network(tmp_path: Path) -> Iterator[Callable[[Path], Store]]:
    """Open writable copies of template networks in this test's tmp_path; closed afterwards."""
    opened: list[Store] = []

    def _copy(template: Path) -> Store:
        target = tmp_path / f"copy-{len(opened)}-{template.name}"
        shutil.copyfile(template, target)
        opened.append(Store(target))
        return opened[-1]

    yield _copy
    for store in opened:
        store.close()


@pytest.fixture
def store(small_network_path: Path, copy_network: Callable[[Path], Store]) -> Store:
    """A fresh, writable copy of the small seeded network."""
    return copy_network(small_network_path)
