"""Fixtures for the eval runner tests: a small suite folder and a shared template cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evals.cases import load_suite


@pytest.fixture(scope="session")
def eval_cache(tmp_path_factory) -> Path:
    """One template cache for the session (the network is seeded once)."""
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture
def write_suite(tmp_path):
    """Write cases as a suite file and load them: ``write_suite("name", [case, ...])``."""

    def _write(name: str, cases: list[dict], defaults: dict | None = None) -> list:
        folder = tmp_path / "suites" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cases.yaml").write_text(
            yaml.safe_dump({"defaults": defaults or {}, "cases": cases})
        )
        return load_suite(name, tmp_path / "suites")

    return _write
