"""The operations console in a real browser (Chromium via Playwright) against a live server.

Screenshots of each view go to test-artifacts/screenshots/<view>.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.http.deps import backend_for_app
from tests.http.conftest import LiveServer, Template, read_sse

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at "
                       "/usr/bin/chromium (apt-get install -y chromium); browser tests skipped"),
]  # fmt: skip

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 960}, base_url=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def _sign_in(page: Page, key: str, role: str = "ops manager") -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Operations console")).to_be_visible()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Connect").click()
    expect(page.locator("#role-badge")).to_have_text(role)


def _shot(page: Page, view: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{view}.png"), full_page=True)


def _reroutable(live_server: LiveServer, template: Template, count: int) -> list[str]:
    """In-transit shipments whose reroute would wait for approval (probed, then rejected)."""
    headers = {"X-API-Key": template.keys["ops_manager"]}
    found: list[str] = []
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for n in range(1001, 1200):
            sid = f"SHP-{n}"
            with client.stream("POST", f"/chat/probe-{sid}/messages", headers=headers,
                               json={"message": f"reroute {sid}"}) as response:  # fmt: skip
                if response.status_code != 200:
                    break
                events = read_sse(response.iter_lines())
            if any(name == "approval_request" for name, _ in events):
                with client.stream("POST", f"/chat/probe-{sid}/resume", headers=headers,
                                   json={"decision": "reject", "reason": "probe"}) as response:  # fmt: skip
                    response.read()
                found.append(sid)
                if len(found) == count:
                    break
    assert len(found) == count, "not enough reroutable shipments in the test network"
    return found


def test_board_updates_and_shows_exceptions(page: Page, template: Template) -> None:
    _sign_in(page, template.keys["ops_manager"])
    rows = page.locator("#board-table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 5
    expect(page.locator("#live")).to_have_text("● live")
    expect(page.locator("#kpis .kpi")).to_have_count(5)
    expect(page.locator("#kpis")).to_contain_text("On-time delivery")
    _shot(page, "board")


def test_chat_streams_an_answer(page: Page, template: Template) -> None:
    _sign_in(page, template.keys["ops_manager"])
    page.get_by_label("Message").fill("what is at risk?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".bubble.user")).to_have_text("what is at risk?")
    expect(page.locator(".event.call").first).to_contain_text("list_exceptions")
    expect(page.locator(".bubble.agent").first).to_be_visible()
    assert page.locator(".bubble.agent").first.inner_text().strip()
    _shot(page, "chat")


def test_approving_a_reroute_changes_the_shipment(
    page: Page, live_server: LiveServer, template: Template
) -> None:
    first, second = _reroutable(live_server, template, 2)
    _sign_in(page, template.keys["ops_manager"])

    # in the chat: ask, approve on the card, see the reroute land on the shipment
    page.get_by_role("tab", name="Shipment").click()
    page.locator("#shipment-id").fill(first)
    page.get_by_role("button", name="Open").click()
    stops = page.locator("#shipment-stops li")
    expect(stops.first).to_be_visible()
    before = stops.all_inner_texts()
    page.get_by_label("Message").fill(f"reroute {first}")
    page.get_by_role("button", name="Send").click()
    card = page.locator(".approval-request").last
    expect(card).to_contain_text("reroute_shipment")
    card.get_by_role("button", name="Approve").click()
    expect(page.locator(".event.note", has_text="approved")).to_be_visible()
    expect(stops).not_to_have_count(0)
    expect(page.locator("#shipment-stops")).not_to_have_text("\n".join(before))
    assert stops.all_inner_texts() != before

    # from the approvals queue
    page.get_by_label("Message").fill(f"reroute {second}")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".approval-request").last).to_contain_text(second)
    page.get_by_role("tab", name="Approvals").click()
    queued = page.locator("article.approval", has_text=second)
    expect(queued).to_be_visible()
    _shot(page, "approvals")
    queued.get_by_role("button", name="Approve").click()
    expect(page.locator("#toast")).to_contain_text(re.compile(r"approved: reroute_shipment"))
    expect(page.locator("article.approval", has_text=second)).to_have_count(0)
    page.get_by_role("tab", name="Shipment").click()
    page.locator("#shipment-id").fill(second)
    page.get_by_role("button", name="Open").click()
    expect(page.locator("#shipment-summary")).to_contain_text(second)


def test_shipment_view_draws_the_temperature_trace(page: Page, template: Template) -> None:
    _sign_in(page, template.keys["ops_manager"])
    row = page.locator("#board-table tbody tr", has_text="temp excursion").first
    link = row.locator("[data-shipment]")
    expect(link).to_be_visible()
    sid = link.inner_text()
    link.click()
    expect(page.locator("#shipment-summary h3")).to_have_text(sid)
    trace = page.locator("svg.chart path.trace")
    expect(trace).to_be_visible()
    assert (trace.get_attribute("d") or "").startswith("M")
    expect(page.locator("svg.chart rect.band")).to_have_count(1)
    expect(page.locator("#custody-table tbody tr").first).to_be_visible()
    _shot(page, "shipment")


def test_audit_view_shows_an_intact_chain(page: Page, template: Template) -> None:
    _sign_in(page, template.keys["ops_manager"])
    page.get_by_role("tab", name="Audit").click()
    expect(page.locator("#audit-status.chain.ok")).to_contain_text("Chain intact")
    expect(page.locator("#audit-table tbody tr").first).to_be_visible()
    _shot(page, "audit")


def test_contact_center_handles_a_reschedule_request(page: Page, template: Template) -> None:
    _sign_in(page, template.keys["contact_center"], "contact center")
    expect(page.get_by_role("tab", name="Reschedule")).to_have_attribute("aria-selected", "true")
    page.get_by_role("tab", name="Exceptions").click()
    expect(page.locator("#board")).to_contain_text("cannot see exceptions")
    page.get_by_role("tab", name="Reschedule").click()
    page.get_by_label("The customer's request, as written").fill(
        "Hello, please bring SHP-1004 on Friday between 2 and 4pm instead. Thanks, Dana"
    )
    page.get_by_role("button", name="Handle request").click()
    outcome = page.locator("#reschedule-result article")
    expect(outcome).to_contain_text("SHP-1004")
    expect(outcome.locator(".pill")).to_have_text(re.compile("applied|options|clarify|refused"))
    _shot(page, "reschedule")


def test_audit_view_shows_where_the_chain_breaks(
    page: Page, live_server: LiveServer, template: Template
) -> None:
    store = backend_for_app(live_server.app).runtime.store
    original = store.scalar("SELECT reason FROM audit_log WHERE seq = 3")
    store.execute("UPDATE audit_log SET reason = 'rewritten later' WHERE seq = 3")
    try:
        _sign_in(page, template.keys["auditor"], "auditor")
        page.get_by_role("tab", name="Audit").click()
        expect(page.locator("#audit-status.chain.broken")).to_contain_text("broken at entry 3")
        _shot(page, "audit-broken")
    finally:
        store.execute("UPDATE audit_log SET reason = ? WHERE seq = 3", [original])
