"""The synthetic network: deterministic, GS1-valid, internally consistent, every kind injected."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from record import synth
from record._synth_catalog import check_digit
from record.errors import InputError
from record.identifiers import (
    gs1_check_digit,
    ndc_to_gtin,
    split_sgln_key,
    validate_gln,
    validate_gtin,
    validate_sscc,
)
from record.models import EXCEPTION_KINDS
from record.store import Store

_CONTENT_TABLES = (
    "meta",
    "partners",
    "locations",
    "lanes",
    "products",
    "lots",
    "units",
    "containers",
    "orders",
    "assets",
    "routes",
    "shipments",
    "shipment_units",
    "stops",
    "sensor_readings",
    "custody_events",
    "epod",
    "contacts",
    "synth_truth",
)


def _fingerprint(store: Store) -> dict[str, tuple]:
    """Row count and an order-independent hash sum of every row, per table."""
    return {
        t: tuple(store.execute(f"SELECT count(*), sum(hash(x)) FROM {t} x").fetchone() or ())
        for t in _CONTENT_TABLES
    }


@pytest.fixture(scope="module")
def net(small_network_path: Path) -> Store:
    with Store(small_network_path, read_only=True) as store:
        yield store


@pytest.fixture(scope="module")
def clean(clean_network_path: Path) -> Store:
    with Store(clean_network_path, read_only=True) as store:
        yield store


# -- determinism ------------------------------------------------------------------------------


def test_same_seed_and_scale_give_identical_content(net: Store, tmp_path: Path) -> None:
    with Store(tmp_path / "again.duckdb") as again:
        synth.generate(again, scale=0.05, seed=7)
        assert _fingerprint(again) == _fingerprint(net)


def test_another_seed_gives_another_network(net: Store, tmp_path: Path) -> None:
    with Store(tmp_path / "other.duckdb") as other:
        synth.generate(other, scale=0.05, seed=8)
        mine, theirs = _fingerprint(net), _fingerprint(other)
    assert all(mine[t] != theirs[t] for t in ("units", "shipments", "sensor_readings", "lots"))


def test_meta_records_the_networks_now_seed_and_scale(net: Store) -> None:
    assert net.get_meta("network_now") == synth.ANCHOR.isoformat()
    assert (net.get_meta("synth_seed"), net.get_meta("synth_scale")) == ("7", "0.05")


def test_summary_counts_match_the_tables(tmp_path: Path) -> None:
    stages: list[str] = []
    with Store(tmp_path / "n.duckdb") as store:
        summary = synth.generate(
            store, scale=0.05, seed=3, inject=False, progress=lambda s, f: stages.append(s)
        )
        assert summary.units == store.scalar("SELECT count(*) FROM units") > 5000
        assert summary.readings == store.scalar("SELECT count(*) FROM sensor_readings") > 10000
        assert summary.shipments == store.scalar("SELECT count(*) FROM shipments") >= 60
        assert summary.injected == {} and store.scalar("SELECT count(*) FROM synth_truth") == 0
    assert stages[0] == "network" and stages[-1] == "done"


def test_refuses_a_non_empty_record_and_a_bad_scale(net: Store, tmp_path: Path) -> None:
    with Store(tmp_path / "x.duckdb") as store, pytest.raises(InputError, match="than 0"):
        synth.generate(store, scale=0)
    with pytest.raises(InputError, match="already holds shipments"):
        synth.generate(net, scale=0.05)


# -- GS1 keys ---------------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=1, max_size=17))
def test_check_digit_agrees_with_the_identifiers_module(digits: str) -> None:
    assert check_digit(digits) == str(gs1_check_digit(digits))


def test_every_gtin_is_valid_and_built_from_its_ndc(net: Store) -> None:
    products = net.rows("SELECT gtin, ndc FROM products")
    assert len(products) == 40
    for p in products:
        assert validate_gtin(p["gtin"]) == p["gtin"] == ndc_to_gtin(p["ndc"])
    cases = net.rows(
        "SELECT DISTINCT split_part(container_id, '.', 1) AS g FROM containers WHERE kind = 'case'"
    )
    items = {p["gtin"][1:13] for p in products}
    for c in cases:
        assert validate_gtin(c["g"]) and c["g"][0] == "5" and c["g"][1:13] in items
    unit_gtins = {r["gtin"] for r in net.rows("SELECT DISTINCT gtin FROM units")}
    assert unit_gtins <= {p["gtin"] for p in products}


def test_every_sscc_and_gln_is_valid(net: Store) -> None:
    for r in net.rows("SELECT container_id FROM containers WHERE kind = 'pallet'"):
        assert validate_sscc(r["container_id"])
    for r in net.rows("SELECT gln FROM partners UNION ALL SELECT gln FROM locations"):
        assert validate_gln(r["gln"])
    for r in net.rows("SELECT location_id, gln FROM locations"):
        assert split_sgln_key(r["location_id"])[0] == r["gln"]


# -- a consistent, realistic network ------------------------------------------------------------


def test_statuses_kinds_and_classes_are_all_present(net: Store) -> None:
    statuses = {r["status"] for r in net.rows("SELECT DISTINCT status FROM shipments")}
    assert {"planned", "in_transit", "delivered"} <= statuses
    kinds = {r["kind"] for r in net.rows("SELECT DISTINCT kind FROM locations")}
    assert kinds == {"plant", "dc", "cross_dock", "pharmacy", "hospital", "patient_home"}
    classes = {r["temp_class"] for r in net.rows("SELECT DISTINCT temp_class FROM products")}
    assert classes == {"crt", "refrigerated", "frozen"}
    assert net.scalar("SELECT count(*) FROM lots WHERE expiry IS NULL") == 0


def test_clean_network_is_internally_consistent(clean: Store) -> None:
    q = clean.scalar
    assert q("SELECT count(*) FROM containers WHERE shipment_id IS NULL") == 0
    assert (
        q("SELECT count(*) FROM units u ANTI JOIN containers c ON c.container_id = u.container_id")
        == 0
    )
    assert (
        q("""SELECT count(*) FROM containers c WHERE declared_children <>
                (SELECT count(*) FROM units u WHERE u.container_id = c.container_id)
              + (SELECT count(*) FROM containers k WHERE k.parent_id = c.container_id)""")
        == 0
    )
    assert (
        q("""SELECT count(*) FROM shipment_units s JOIN units u USING (gtin, serial)
                WHERE s.lot <> u.lot OR s.expiry <> u.expiry""")
        == 0
    )
    assert (
        q(
            "SELECT count(*) FROM shipments WHERE status = 'delivered' AND shipment_id NOT IN "
            "(SELECT shipment_id FROM epod)"
        )
        == 0
    )
    assert (
        q("SELECT count(*) FROM shipments WHERE eta NOT BETWEEN promised_start AND promised_end")
        == 0
    )
    assert q("SELECT count(*) FROM shipments WHERE ti_document IS NULL OR NOT ts_attested") == 0


def test_deliveries_fall_inside_receiving_hours(clean: Store) -> None:
    rows = clean.rows("""
        SELECT s.eta, l.opens_at, l.closes_at, l.open_days FROM shipments s
        JOIN locations l ON l.location_id = s.destination_id WHERE l.opens_at IS NOT NULL
    """)
    assert rows
    for r in rows:
        eta: datetime = r["eta"]
        assert r["opens_at"] <= eta.time() <= r["closes_at"] and eta.weekday() in r["open_days"]
    assert all(isinstance(r["opens_at"], time) for r in rows)


def test_every_receiving_location_has_contacts_with_mixed_consent(clean: Store) -> None:
    missing = clean.scalar("""SELECT count(*) FROM locations l WHERE kind <> 'plant'
        AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.location_id = l.location_id)""")
    assert missing == 0
    consent = {r["consent"] for r in clean.rows("SELECT DISTINCT consent FROM contacts")}
    assert consent == {True, False}
    assert (
        clean.scalar(
            "SELECT count(*) FROM contacts WHERE channel = 'sms' AND "
            "NOT regexp_full_match(address, '\\+1555[0-9]{7}')"
        )
        == 0
    )


def test_in_transit_shipments_report_every_five_minutes_up_to_now(clean: Store) -> None:
    now = datetime.fromisoformat(clean.get_meta("network_now") or "")
    rows = clean.rows("""
        SELECT s.shipment_id, max(r.ts) AS last, count(*) AS n,
               max(r.temp_c) AS hi, min(r.temp_c) AS lo, any_value(p.temp_min_c) AS pmin,
               any_value(p.temp_max_c) AS pmax
        FROM shipments s JOIN sensor_readings r USING (shipment_id)
        JOIN shipment_units su USING (shipment_id) JOIN products p ON p.gtin = su.gtin
        WHERE s.status = 'in_transit' GROUP BY s.shipment_id
    """)
    assert rows
    for r in rows:
        assert now - r["last"] < timedelta(minutes=5)
        assert r["pmin"] + 1 <= r["lo"] and r["hi"] <= r["pmax"] - 1  # noise well inside
    stale = clean.scalar(
        """SELECT count(*) FROM assets a JOIN shipments s USING (asset_id)
                            WHERE s.status = 'in_transit' AND a.last_telemetry_at < ?""",
        [now - timedelta(minutes=10)],
    )
    assert stale == 0


def test_custody_events_cover_commissioning_packing_shipping_receiving(net: Store) -> None:
    steps = {
        r["biz_step"]: r["n"]
        for r in net.rows(
            "SELECT biz_step, count(*) AS n FROM custody_events WHERE origin = 'synth' GROUP BY ALL"
        )
    }
    assert set(steps) >= {"commissioning", "packing", "shipping", "receiving"}
    epcs = net.scalar("SELECT sum(len(epcs)) FROM custody_events WHERE biz_step = 'commissioning'")
    uncommissioned = net.scalar("SELECT count(*) FROM units WHERE commissioned_at IS NULL")
    assert epcs == net.scalar("SELECT count(*) FROM units") - uncommissioned


# -- injection --------------------------------------------------------------------------------


def test_every_exception_kind_is_injected_with_details(net: Store) -> None:
    truth = net.rows("SELECT kind, subject, shipment_id, details FROM synth_truth")
    assert {t["kind"] for t in truth} == set(EXCEPTION_KINDS)
    for t in truth:
        assert t["subject"] and isinstance(json.loads(t["details"]), dict)
    excursion = json.loads(
        net.scalar("SELECT details FROM synth_truth WHERE kind = 'temp_excursion' LIMIT 1")
    )
    assert {"minutes_out_of_range", "budget_min", "variant"} <= set(excursion)


def test_build_pallet_adds_a_consistent_ten_thousand_unit_pallet(store: Store) -> None:
    shipment_id, sscc = synth.build_pallet(store, units=1_000, case_size=40)
    assert validate_sscc(sscc)
    assert (
        store.scalar("SELECT count(*) FROM shipment_units WHERE shipment_id = ?", [shipment_id])
        == 1000
    )
    cases = store.rows("SELECT declared_children AS d FROM containers WHERE parent_id = ?", [sscc])
    assert len(cases) == 25 and sum(c["d"] for c in cases) == 1000
