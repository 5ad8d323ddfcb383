"""Read routes: exceptions, shipments, temperatures, custody, KPIs, the board stream — by role."""

from __future__ import annotations

from fastapi.testclient import TestClient

from record.store import Store
from tests.http.conftest import read_sse


def _cold_shipment(store: Store) -> str:
    return store.scalar(
        "SELECT s.shipment_id FROM shipments s JOIN sensor_readings r USING (shipment_id)"
        " WHERE s.status = 'in_transit' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    )


def test_exceptions_list_filters_and_orders(client: TestClient, as_role, store: Store) -> None:
    everything = client.get("/exceptions?status=any&limit=500", headers=as_role("ops_manager"))
    assert everything.status_code == 200
    body = everything.json()
    assert body["total"] == store.scalar("SELECT count(*) FROM exceptions") > 5
    ranks = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    severities = [ranks[e["severity"]] for e in body["exceptions"]]
    assert severities == sorted(severities)
    kind = body["exceptions"][0]["kind"]
    only = client.get(f"/exceptions?status=any&kind={kind}", headers=as_role("auditor")).json()
    assert only["total"] >= 1 and {e["kind"] for e in only["exceptions"]} == {kind}
    critical = client.get("/exceptions?severity=critical", headers=as_role("automation")).json()
    assert all(e["severity"] == "critical" for e in critical["exceptions"])
    shipment = next(e["shipment_id"] for e in body["exceptions"] if e["shipment_id"])
    mine = client.get(f"/exceptions?status=any&shipment_id={shipment}", headers=as_role("auditor"))
    assert {e["shipment_id"] for e in mine.json()["exceptions"]} == {shipment}


def test_contact_center_may_not_list_exceptions(client: TestClient, as_role) -> None:
    response = client.get("/exceptions", headers=as_role("contact_center"))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "contact_center" in response.json()["detail"]
    stream = client.get("/exceptions/stream?max_seconds=1", headers=as_role("contact_center"))
    assert stream.status_code == 403


def test_exceptions_stream_sends_the_board_and_ends(client: TestClient, as_role) -> None:
    with client.stream(
        "GET", "/exceptions/stream?status=any&max_seconds=1", headers=as_role("ops_manager")
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response.iter_lines())
    assert [name for name, _ in events] == ["board"]
    assert events[0][1]["total"] > 0


def test_shipment_view_temperatures_and_custody(client: TestClient, as_role, store: Store) -> None:
    sid = _cold_shipment(store)
    shipment = client.get(f"/shipments/{sid}", headers=as_role("contact_center"))
    assert shipment.status_code == 200
    assert shipment.json()["shipment_id"] == sid and shipment.json()["products"]
    temps = client.get(
        f"/shipments/{sid}/temperatures?max_points=50", headers=as_role("ops_manager")
    )
    assert temps.status_code == 200
    trace = temps.json()
    assert trace["subject"] == sid and 0 < len(trace["points"]) <= 50
    assert trace["temp_min_c"] is not None and trace["temp_max_c"] > trace["temp_min_c"]
    custody = client.get(f"/shipments/{sid}/custody", headers=as_role("auditor")).json()
    assert custody["shipment_id"] == sid and custody["containers"]
    times = [e["event_time"] for e in custody["events"]]
    assert times == sorted(times) and len({e["event_id"] for e in custody["events"]}) == len(times)
    assert (
        client.get(f"/shipments/{sid}/custody", headers=as_role("contact_center")).status_code
        == 403
    )


def test_unknown_shipment_is_404(client: TestClient, as_role) -> None:
    for path in (
        "/shipments/SHP-0000",
        "/shipments/SHP-0000/temperatures",
        "/shipments/SHP-0000/custody",
    ):
        response = client.get(path, headers=as_role("ops_manager"))
        assert response.status_code == 404, path
        assert response.json()["error"] == "unknown_shipment"
        assert "SHP-0000" in response.json()["detail"]


def test_kpis_are_computed_from_the_record(client: TestClient, as_role, store: Store) -> None:
    kpis = client.get("/kpis", headers=as_role("contact_center")).json()
    delivered = store.scalar(
        "SELECT count(*) FROM shipments WHERE status = 'delivered' AND delivered_at IS NOT NULL"
        " AND promised_end IS NOT NULL"
    )
    assert kpis["delivered"] == delivered
    assert kpis["on_time_delivery_pct"] == round(100 * kpis["on_time"] / delivered, 1)
    unresolved = store.scalar("SELECT count(*) FROM exceptions WHERE status <> 'resolved'")
    assert sum(kpis["open_exceptions"].values()) == unresolved
    assert kpis["excursions"] == store.scalar(
        "SELECT count(*) FROM exceptions WHERE kind = 'temp_excursion'"
    )
    assert kpis["verification_pass_rate_pct"] is None and kpis["gates_run"] == 0


def test_me_names_the_caller(client: TestClient, as_role) -> None:
    me = client.get("/me", headers=as_role("automation")).json()
    assert me["role"] == "automation" and me["actor"] == f"key:{me['key_id']}"
