"""Drill 5: tamper with the audit table behind Proofline's back; every way must be caught.

A triaged network's ``audit_log`` is edited with plain SQL — an entry changed, deleted, two
entries swapped, the newest entry cut off — and then ``proofline audit verify`` must exit 1 naming
the first broken entry, ``GET /audit/verify`` must answer ``ok: false`` with ``first_broken``, and
the console's audit view must show the broken chain (screenshot:
``test-artifacts/screenshots/audit-tampered.png``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from record.store import Store
from tests.drills.conftest import SHOTS, live_server, proofline_argv, run_child

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]

TARGET = 10  # the entry the drills tamper with (the last one, for "cut")
CHROMIUM = Path("/usr/bin/chromium")


def _change(store: Store) -> int:
    store.execute("UPDATE audit_log SET reason = 'nothing to see here' WHERE seq = ?", [TARGET])
    return TARGET


def _delete(store: Store) -> int:
    store.execute("DELETE FROM audit_log WHERE seq = ?", [TARGET])
    return TARGET


def _reorder(store: Store) -> int:
    """Swap entries TARGET and TARGET + 1 (each keeps its own hashes, in the other's place)."""
    cols = [r[0] for r in store.execute("SELECT * FROM audit_log LIMIT 0").description]
    moved = [c for c in cols if c != "seq"]
    rows = {
        r[0]: r[1:]
        for r in store.execute(
            f"SELECT seq, {', '.join(moved)} FROM audit_log WHERE seq IN (?, ?)",
            [TARGET, TARGET + 1],
        ).fetchall()
    }
    assignments = ", ".join(f"{c} = ?" for c in moved)
    for seq, other in ((TARGET, TARGET + 1), (TARGET + 1, TARGET)):
        store.execute(f"UPDATE audit_log SET {assignments} WHERE seq = ?", [*rows[other], seq])
    return TARGET


def _cut(store: Store) -> int:
    last = int(store.scalar("SELECT max(seq) FROM audit_log"))
    store.execute("DELETE FROM audit_log WHERE seq = ?", [last])
    return last


TAMPER: dict[str, Callable[[Store], int]] = {
    "change": _change,
    "delete": _delete,
    "reorder": _reorder,
    "cut": _cut,
}


@pytest.fixture(scope="module")
def tampered(triaged_template, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Each tampering on its own copy, and ``proofline audit verify`` on each (side by side)."""
    made = {}
    for name, tamper in TAMPER.items():
        db = tmp_path_factory.mktemp(f"tamper-{name}") / "net.duckdb"
        db.write_bytes(triaged_template.read_bytes())
        with Store(db) as store:
            assert store.scalar("SELECT count(*) FROM audit_log") > TARGET + 1
            made[name] = {"db": db, "broken": tamper(store)}
    argv = [*proofline_argv(), "audit", "verify", "--db"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {n: pool.submit(run_child, [*argv, str(m["db"])], cwd=m["db"].parent)
                for n, m in made.items()}  # fmt: skip
        for name, future in runs.items():
            made[name]["cli"] = future.result()
    return made


@pytest.mark.parametrize("how", list(TAMPER))
def test_cli_verify_names_the_first_broken_entry(tampered, how):
    case = tampered[how]
    ran = case["cli"]
    assert ran.code == 1, ran.stdout + ran.stderr
    said = " ".join(ran.stdout.split())
    assert f"audit chain BROKEN at entry {case['broken']}:" in said
    assert "Traceback" not in ran.stderr


@pytest.mark.parametrize("how", list(TAMPER))
def test_api_verify_names_the_first_broken_entry(tampered, drill_template, how):
    case = tampered[how]
    with live_server(case["db"]) as server:
        answer = httpx.get(
            f"{server.url}/audit/verify",
            headers={"X-API-Key": drill_template.keys["auditor"]},
            timeout=30,
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is False and body["first_broken"] == case["broken"], body
    assert f"BROKEN at entry {case['broken']}" in body["description"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_console_shows_the_broken_chain(tampered, drill_template):
    from playwright.sync_api import expect, sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    errors: list[str] = []
    with live_server(tampered["change"]["db"]) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 960}, base_url=server.url)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto("/")
            page.get_by_label("API key").fill(drill_template.keys["ops_manager"])
            page.get_by_role("button", name="Connect").click()
            expect(page.locator("#role-badge")).to_have_text("ops manager")
            page.get_by_role("tab", name="Audit").click()
            status = page.locator("#audit-status")
            expect(status).to_have_class(re.compile(r"\bbroken\b"))
            expect(status).to_contain_text(f"Chain broken at entry {TARGET}")
            expect(status).to_contain_text("content does not match its hash")
            broken_row = page.locator("#audit-table tbody tr.broken-row")
            expect(broken_row).to_have_count(1)
            expect(broken_row.locator("td").first).to_have_text(str(TARGET))
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "audit-tampered.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, f"JavaScript errors in the console: {errors}"
