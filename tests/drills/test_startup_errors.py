"""Drill 6: a database Proofline cannot write gives one clear line at start-up, not a traceback.

Two broken set-ups — a read-only database file (chmod 0444) and a path in a folder that does not
exist — against the three ways to start: ``proofline sense``, ``proofline triage`` and the server
(``proofline serve``, and ``create_app`` in-process). Each must exit non-zero with one line on
stderr naming the file and the problem, and change nothing on disk.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.settings import Settings
from record.errors import StoreError
from server import create_app
from tests.drills.conftest import Ran, proofline_argv, run_child

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PROBLEMS = {"read-only": "is read-only", "missing-folder": "does not exist"}
COMMANDS = {
    "sense": ["sense"],
    "triage": ["triage"],
    "serve": ["serve", "--host", "127.0.0.1", "--port", "0"],  # any free port, should it start
}


def _broken(kind: str, folder: Path, template: Path) -> Path:
    if kind == "missing-folder":
        return folder / "no-such-folder" / "net.duckdb"
    db = folder / "read-only" / "net.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(template.read_bytes())
    db.chmod(0o444)
    return db


def _snapshot(db: Path) -> Any:
    if not db.parent.exists():
        return None
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in db.parent.iterdir())


@pytest.fixture(scope="module")
def started(drill_template, tmp_path_factory) -> dict[tuple[str, str], dict[str, Any]]:
    """Every command against every broken database, side by side; plus a read-only verify."""
    folder = tmp_path_factory.mktemp("startup")
    dbs = {kind: _broken(kind, folder, drill_template.path) for kind in PROBLEMS}
    before = {kind: _snapshot(db) for kind, db in dbs.items()}
    jobs = {(cmd, kind): [*proofline_argv(), *args, "--db", str(dbs[kind])]
            for cmd, args in COMMANDS.items() for kind in PROBLEMS}  # fmt: skip
    jobs[("audit-verify", "read-only")] = [*proofline_argv(), "audit", "verify", "--db",
                                           str(dbs["read-only"])]  # fmt: skip
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {key: pool.submit(run_child, argv, cwd=folder, timeout=90)
                   for key, argv in jobs.items()}  # fmt: skip
        ran = {key: future.result() for key, future in futures.items()}
    return {
        key: {"ran": ran[key], "db": dbs[key[1]], "before": before[key[1]],
              "after": _snapshot(dbs[key[1]])}
        for key in ran
    }  # fmt: skip


def _params() -> list[Any]:
    return [pytest.param(cmd, kind, id=f"{cmd}-{kind}") for cmd in COMMANDS for kind in PROBLEMS]


def _one_line(ran: Ran) -> str:
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert len(lines) == 1, ran.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize(("command", "kind"), _params())
def test_start_up_on_an_unusable_database_says_so_in_one_line(started, command, kind):
    case = started[(command, kind)]
    ran: Ran = case["ran"]
    assert ran.code != 0
    line = _one_line(ran)
    assert str(case["db"]) in line or case["db"].name in line, line
    assert PROBLEMS[kind] in line, line
    assert case["after"] == case["before"], "the failed start changed files on disk"


def test_a_read_only_database_can_still_be_verified(started):
    case = started[("audit-verify", "read-only")]
    assert case["ran"].code == 0, case["ran"].stdout + case["ran"].stderr
    assert "intact" in case["ran"].stdout
    assert case["db"].stat().st_mode & 0o222 == 0, "the file is no longer read-only"
    assert case["after"] == case["before"]


@pytest.mark.parametrize("kind", list(PROBLEMS))
def test_create_app_fails_fast_with_a_clear_store_error(drill_template, tmp_path, kind):
    db = _broken(kind, tmp_path, drill_template.path)
    app = create_app(Settings(_env_file=None, db=db))
    with pytest.raises(StoreError) as failed, TestClient(app):
        pass
    message = str(failed.value)
    assert "\n" not in message and str(db) in message and PROBLEMS[kind] in message
