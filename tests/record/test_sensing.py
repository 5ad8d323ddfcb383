"""Sensing: every injected exception found (and nothing else), exact evidence on hand-made cases,
idempotent recording, and the per-unit release check."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from record import synth
from record.errors import InputError
from record.identifiers import gs1_check_digit, ndc_to_gtin
from record.models import EXCEPTION_KINDS
from record.sensing import (
    check_units,
    exception_id,
    mean_kinetic_temperature,
    record_exceptions,
    sense,
)
from record.store import Store

NOW = datetime(2026, 11, 23, 6, 0)
GTIN = ndc_to_gtin("1234567890")
CASE = f"{ndc_to_gtin('1234567890', indicator=5)}.C1"
SSCC = "00614141000000001" + str(gs1_check_digit("00614141000000001"))
CHICAGO, INDY, DENVER = "0614141000011", "0614141000028", "0614141000035"


def _at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


class Mini:
    """One shipment CHICAGO -> INDY (lane 300 min) of one product, two units, on asset A1."""

    def __init__(self, store: Store, *, cls: str = "refrigerated", budget: int = 60) -> None:
        self.store = store
        lo, hi = {"refrigerated": (2, 8), "crt": (20, 25), "frozen": (-25, -10)}[cls]
        ex = store.execute
        for loc, lat, lon in (
            (CHICAGO, 41.88, -87.63),
            (INDY, 39.77, -86.16),
            (DENVER, 39.74, -104.99),
        ):
            ex(
                "INSERT INTO locations (location_id, gln, name, kind, lat, lon) "
                "VALUES (?, ?, ?, 'dc', ?, ?)",
                [loc, loc, loc, lat, lon],
            )
        ex("INSERT INTO lanes VALUES (?, ?, 280.0, 300)", [CHICAGO, INDY])
        ex(
            "INSERT INTO products (gtin, ndc, name, temp_class, temp_min_c, temp_max_c, "
            "stability_budget_min, min_shelf_life_days) "
            "VALUES (?, '1234567890', 'Test', ?, ?, ?, ?, 90)",
            [GTIN, cls, lo, hi, budget],
        )
        ex("INSERT INTO lots VALUES (?, 'L1', DATE '2028-01-01', 'released')", [GTIN])
        ex(
            "INSERT INTO assets (asset_id, kind, temp_min_c, temp_max_c, capacity_pallets, "
            "last_telemetry_at) VALUES ('A1', 'reefer_truck', -25, 25, 10, ?)",
            [NOW],
        )
        ex(
            "INSERT INTO shipments (shipment_id, origin_id, destination_id, asset_id, status, "
            "departed_at, eta, promised_start, promised_end, ti_document, ts_attested) "
            "VALUES ('S1', ?, ?, 'A1', 'in_transit', ?, ?, ?, ?, 'TI-1', TRUE)",
            [CHICAGO, INDY, _at(-180), _at(120), _at(0), _at(240)],
        )
        ex(
            "INSERT INTO containers VALUES "
            "(?, 'pallet', NULL, 1, 'S1', ?), (?, 'case', ?, 2, 'S1', ?)",
            [SSCC, NOW, CASE, SSCC, NOW],
        )
        for serial in ("U1", "U2"):
            ex(
                "INSERT INTO units VALUES (?, ?, 'L1', DATE '2028-01-01', 'shipped', ?, ?, ?)",
                [GTIN, serial, CASE, CHICAGO, _at(-10000)],
            )
            ex(
                "INSERT INTO shipment_units VALUES ('S1', ?, ?, 'L1', DATE '2028-01-01', ?)",
                [GTIN, serial, CASE],
            )

    def readings(self, points: list[tuple[float, float]]) -> None:
        for minutes, temp in points:
            self.store.execute(
                "INSERT INTO sensor_readings VALUES ('A1', 'S1', ?, ?, 'telemetry')",
                [_at(minutes), temp],
            )

    def scan(self, key: str, where: str, minutes: float, step: str = "receiving") -> None:
        self.store.execute(
            "INSERT INTO custody_events (event_id, event_type, action, biz_step, event_time, epcs, "
            "read_point, biz_location, origin) "
            "VALUES (?, 'ObjectEvent', 'OBSERVE', ?, ?, [?], ?, ?, 'scan')",
            [f"E-{where}-{minutes}", step, _at(minutes), key, where, where],
        )


@pytest.fixture
def mini(tmp_path: Path) -> Mini:
    with Store(tmp_path / "mini.duckdb") as store:
        yield Mini(store)


def _one(store: Store, kind: str, **kw) -> dict:
    cases = sense(store, now=NOW, kinds=[kind], **kw)
    assert len(cases) == 1, cases
    return cases[0].model_dump()


# -- the seeded network -------------------------------------------------------------------------


def test_finds_exactly_the_injected_exceptions(small_network_path: Path) -> None:
    with Store(small_network_path, read_only=True) as store:
        cases = sense(store)
        truth = store.rows("SELECT kind, subject, shipment_id FROM synth_truth")
    found = {(c.kind, c.subject, c.shipment_id) for c in cases}
    assert found == {(t["kind"], t["subject"], t["shipment_id"]) for t in truth}
    assert {c.kind for c in cases} == set(EXCEPTION_KINDS)
    assert all(c.detected_at == synth.ANCHOR and c.evidence for c in cases)


def test_a_clean_network_trips_no_sensor(clean_network_path: Path) -> None:
    with Store(clean_network_path, read_only=True) as store:
        assert sense(store) == []


def test_kinds_filter_and_unknown_kinds(small_network_path: Path) -> None:
    with Store(small_network_path, read_only=True) as store:
        late = sense(store, kinds=["late_risk"])
        assert late and {c.kind for c in late} == {"late_risk"}
        with pytest.raises(InputError, match="unknown exception kind"):
            sense(store, kinds=["late", "late_risk"])


def test_exception_ids_are_stable_hashes_of_kind_and_subject() -> None:
    eid = exception_id("late_risk", "SHP-1042")
    assert eid == exception_id("late_risk", "SHP-1042") != exception_id("custody_gap", "SHP-1042")
    assert eid.startswith("EXC-") and len(eid) == 16


# -- temperature --------------------------------------------------------------------------------


def test_minutes_out_of_range_sum_the_intervals_after_each_bad_reading(mini: Mini) -> None:
    mini.readings([(-60, 5), (-55, 9), (-45, 9.5), (-30, 5), (-20, 10), (-5, 5), (0, 5.1)])
    ev = _one(mini.store, "temp_excursion")
    assert ev["severity"] == "medium"  # 35 of 60 minutes spent
    e = ev["evidence"]
    assert e["minutes_out_of_range"] == 10 + 15 + 15 and e["budget_left_min"] == 20
    assert (e["first_out_at"], e["last_out_at"]) == (_at(-55).isoformat(), _at(-20).isoformat())
    assert (e["max_c"], e["in_excursion_now"], e["range_c"]) == (10, False, [2, 8])


def test_spent_budget_is_critical_and_ongoing(tmp_path: Path) -> None:
    with Store(tmp_path / "m.duckdb") as store:
        mini = Mini(store, budget=30)
        mini.readings([(-50 + 5 * i, 9.0) for i in range(11)])
        ev = _one(store, "temp_excursion")
    assert ev["severity"] == "critical"
    e = ev["evidence"]
    assert (e["minutes_out_of_range"], e["budget_left_min"], e["budget_spent"]) == (50, -20, True)
    assert e["in_excursion_now"] is True


def _hand_mkt(temps: list[float]) -> float:
    mean = sum(math.exp(-10_000 / (t + 273.15)) for t in temps) / len(temps)
    return 10_000 / -math.log(mean) - 273.15


def test_mean_kinetic_temperature_matches_a_hand_computation(tmp_path: Path) -> None:
    temps = [29.0] * 6 + [20.0] * 2
    assert mean_kinetic_temperature(temps) == pytest.approx(_hand_mkt(temps))
    assert mean_kinetic_temperature([25.0, 25.0]) == pytest.approx(25.0)
    with Store(tmp_path / "m.duckdb") as store:
        Mini(store, cls="crt", budget=720).readings([(-35 + 5 * i, t) for i, t in enumerate(temps)])
        ev = _one(store, "temp_excursion")
    assert (
        ev["evidence"]["mkt_c"] == pytest.approx(_hand_mkt(temps), abs=0.01)
        and ev["evidence"]["mkt_c"] > 25
    )
    assert ev["evidence"]["minutes_out_of_range"] == 0 and ev["severity"] == "high"


@pytest.mark.parametrize(("hot_minutes", "flagged"), [(30, False), (360, True)])
def test_crt_at_28c_is_allowed_unless_mkt_exceeds_25(
    tmp_path: Path, hot_minutes: int, flagged: bool
) -> None:
    trace = [(-480 + 5 * i, 28.0 if i * 5 < hot_minutes else 22.0) for i in range(97)]
    assert (_hand_mkt([t for _, t in trace]) > 25) is flagged
    with Store(tmp_path / "m.duckdb") as store:
        Mini(store, cls="crt", budget=720).readings(trace)
        assert bool(sense(store, now=NOW, kinds=["temp_excursion"])) is flagged


def test_crt_outside_15_to_30_is_an_excursion(tmp_path: Path) -> None:
    with Store(tmp_path / "m.duckdb") as store:
        Mini(store, cls="crt", budget=720).readings([(-20, 22), (-15, 31), (-10, 22), (0, 22)])
        ev = _one(store, "temp_excursion")
    assert ev["evidence"]["minutes_out_of_range"] == 5 and ev["evidence"]["range_c"] == [15, 30]


def test_excursion_risk_projects_the_last_hour_trend(mini: Mini) -> None:
    mini.readings([(-60 + 5 * i, 5.0 + 0.04 * 5 * i) for i in range(13)])  # 5.0 -> 7.4 °C
    ev = _one(mini.store, "temp_excursion_risk")
    e = ev["evidence"]
    assert e["slope_c_per_hour"] == pytest.approx(2.4) and e["limit_c"] == 8
    assert e["minutes_to_limit"] == pytest.approx(15.0) and ev["severity"] == "high"
    assert sense(mini.store, now=NOW, kinds=["temp_excursion_risk"], horizon_min=10) == []


def test_no_risk_on_a_flat_trace_or_with_too_few_readings(mini: Mini) -> None:
    mini.readings([(-60 + 5 * i, 5.0 + (0.1 if i % 2 else -0.1)) for i in range(13)])
    assert sense(mini.store, now=NOW, kinds=["temp_excursion_risk", "temp_excursion"]) == []
    mini.store.execute("DELETE FROM sensor_readings")
    mini.readings([(-10, 5.0), (-5, 6.5), (0, 7.9)])  # steep, but three readings only
    assert sense(mini.store, now=NOW, kinds=["temp_excursion_risk"]) == []


# -- custody, identity, timing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes_apart", "flagged"), [(60, True), (299, True), (300, False), (400, False)]
)
def test_impossible_travel_needs_scans_faster_than_the_lane(
    mini: Mini, minutes_apart: int, flagged: bool
) -> None:
    key = f"{GTIN}.U1"
    mini.scan(key, CHICAGO, -500)
    mini.scan(key, INDY, -500 + minutes_apart, step="inspecting")
    cases = sense(mini.store, now=NOW, kinds=["serial_duplicate"])
    assert bool(cases) is flagged
    if flagged:
        first = cases[0].evidence["first"]
        assert cases[0].subject == key and cases[0].severity == "critical"
        assert (first["minutes_apart"], first["min_lane_minutes"], first["km"]) == (
            minutes_apart,
            300,
            280.0,
        )


def test_impossible_travel_without_a_lane_uses_road_km_at_65_kmh(mini: Mini) -> None:
    key = f"{GTIN}.U2"
    mini.scan(key, INDY, -300)
    mini.scan(key, DENVER, -200)
    p1, p2 = math.radians(39.77), math.radians(39.74)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(-104.99 + 86.16) / 2) ** 2
    )
    road_km = 2 * 6371 * math.asin(math.sqrt(h)) * 1.2  # great circle x 1.2, about 1,930 km
    ev = _one(mini.store, "serial_duplicate")["evidence"]["first"]
    assert ev["km"] == pytest.approx(road_km, abs=0.1)
    assert ev["min_lane_minutes"] == round(road_km / 65 * 60)


def test_late_risk_reports_minutes_late(mini: Mini) -> None:
    mini.store.execute("UPDATE shipments SET eta = promised_end + INTERVAL 150 MINUTE")
    ev = _one(mini.store, "late_risk")
    assert ev["evidence"]["minutes_late"] == 150 and ev["severity"] == "high"


def test_sensing_inside_a_transaction_sees_its_uncommitted_writes(mini: Mini) -> None:
    with mini.store.transaction() as cur:
        cur.execute("UPDATE shipments SET eta = promised_end + INTERVAL 30 MINUTE")
        cases = sense(mini.store, now=NOW)
        assert [(c.kind, c.evidence["minutes_late"]) for c in cases] == [("late_risk", 30)]


def test_custody_gap_overdue_in_transit_and_delivered_without_epod(mini: Mini) -> None:
    assert sense(mini.store, now=NOW, kinds=["custody_gap"]) == []
    mini.store.execute("UPDATE shipments SET departed_at = ?, eta = ?", [_at(-600), _at(-200)])
    ev = _one(mini.store, "custody_gap")
    assert ev["evidence"]["variant"] == "not_received" and ev["evidence"]["minutes_overdue"] == 200
    mini.store.execute("UPDATE shipments SET status = 'delivered', delivered_at = ?", [_at(-100)])
    assert _one(mini.store, "custody_gap")["evidence"]["variant"] == "no_epod"


def test_asset_fault_on_a_loaded_asset_with_stale_telemetry(mini: Mini) -> None:
    mini.store.execute("UPDATE assets SET last_telemetry_at = ?", [_at(-45)])
    ev = _one(mini.store, "asset_fault")
    assert (ev["subject"], ev["shipment_id"]) == ("A1", "S1")
    assert ev["evidence"]["minutes_since_telemetry"] == 45 and ev["evidence"]["stale_telemetry"]
    mini.store.execute("UPDATE shipments SET status = 'delivered'")
    assert sense(mini.store, now=NOW, kinds=["asset_fault"]) == []  # not loaded any more


def test_unknown_serials_and_mismatched_lots(mini: Mini) -> None:
    mini.store.execute(
        "INSERT INTO shipment_units VALUES ('S1', ?, 'FAKE', 'L1', DATE '2028-01-01', ?)",
        [GTIN, CASE],
    )
    mini.store.execute("UPDATE shipment_units SET lot = 'L9' WHERE serial = 'U2'")
    unknown = _one(mini.store, "serial_unknown")["evidence"]
    assert unknown["units"] == [f"{GTIN}.FAKE"] and unknown["not_in_record"] == 1
    pi = _one(mini.store, "pi_mismatch")["evidence"]
    assert pi["lot_mismatches"] == 1 and pi["units"][0]["declared_lot"] == "L9"


def test_aggregation_count_and_child_in_two_parents(mini: Mini) -> None:
    mini.store.execute("UPDATE containers SET declared_children = 3 WHERE kind = 'case'")
    ev = _one(mini.store, "aggregation_mismatch")
    assert ev["subject"] == CASE and ev["evidence"]["actual_children"] == 2
    mini.store.execute("UPDATE containers SET declared_children = 2 WHERE kind = 'case'")
    for n, parent in enumerate((CASE, f"{CASE}X")):
        mini.store.execute(
            "INSERT INTO custody_events (event_id, event_type, action, event_time, epcs, "
            "parent_id) VALUES (?, 'AggregationEvent', 'ADD', ?, [?], ?)",
            [f"AG{n}", _at(-100 + n), f"{GTIN}.U1", parent],
        )
    ev = _one(mini.store, "aggregation_mismatch")
    assert ev["subject"] == f"{CASE}X" and ev["evidence"]["variant"] == "child_in_two_parents"


def test_recalled_and_short_dated_lots_on_undelivered_shipments(mini: Mini) -> None:
    mini.store.execute("UPDATE lots SET status = 'recalled'")
    ev = _one(mini.store, "expired_or_recalled")
    assert ev["severity"] == "critical" and ev["evidence"]["lots"][0]["reason"] == "recalled"
    mini.store.execute("UPDATE lots SET status = 'released', expiry = DATE '2027-01-15'")
    ev = _one(mini.store, "expired_or_recalled")  # ETA 2026-11-23 + 90 days > 2027-01-15
    assert ev["severity"] == "high" and ev["evidence"]["lots"][0]["reason"] == "short_dated"


def test_data_missing_names_what_is_missing(mini: Mini) -> None:
    mini.store.execute("UPDATE shipments SET ti_document = NULL, status = 'planned'")
    mini.store.execute("UPDATE shipment_units SET expiry = NULL WHERE serial = 'U1'")
    ev = _one(mini.store, "data_missing")
    e = ev["evidence"]
    assert (e["ti_missing"], e["ts_missing"], e["units_without_expiry"]) == (True, False, 1)


# -- recording ----------------------------------------------------------------------------------


def test_record_exceptions_is_idempotent_and_resolved_stays_resolved(store: Store) -> None:
    cases = sense(store)
    assert record_exceptions(store, cases) == {"new": len(cases), "updated": 0, "unchanged": 0}
    assert record_exceptions(store, sense(store)) == {
        "new": 0,
        "updated": 0,
        "unchanged": len(cases),
    }
    late = next(c for c in cases if c.kind == "late_risk")
    store.execute(
        "UPDATE exceptions SET status = 'resolved', resolution = 'rescheduled' "
        "WHERE exception_id = ?",
        [late.exception_id],
    )
    store.execute(
        "UPDATE shipments SET eta = eta + INTERVAL 60 MINUTE WHERE shipment_id = ?", [late.subject]
    )
    fault = next(c for c in cases if c.kind == "asset_fault")
    store.execute("UPDATE assets SET battery_pct = 3 WHERE asset_id = ?", [fault.subject])
    counts = record_exceptions(store, sense(store))
    assert counts == {"new": 0, "updated": 1, "unchanged": len(cases) - 1}
    row = store.row(
        "SELECT status, evidence FROM exceptions WHERE exception_id = ?", [late.exception_id]
    )
    assert (
        row is not None
        and row["status"] == "resolved"
        and '"minutes_late": 60' not in row["evidence"]
    )
    battery = store.scalar(
        "SELECT evidence->>'battery_pct' FROM exceptions WHERE exception_id = ?",
        [fault.exception_id],
    )
    assert float(battery) == 3
    assert store.scalar("SELECT count(*) FROM exceptions WHERE status = 'open'") == len(cases) - 1


# -- the per-unit check -------------------------------------------------------------------------


def test_check_units_names_each_units_problems(store: Store) -> None:
    shipment_id, sscc = synth.build_pallet(store, units=300, case_size=30)
    assert check_units(store, container_id=sscc) == []
    units = store.rows(
        "SELECT gtin, serial, lot, container_id FROM shipment_units "
        "WHERE shipment_id = ? ORDER BY serial LIMIT 2",
        [shipment_id],
    )
    gtin, mismatched, recalled = units[0]["gtin"], units[0]["serial"], units[1]["serial"]
    other = "RCL-1"
    store.execute(
        "INSERT INTO lots SELECT gtin, ?, expiry, 'recalled' FROM lots WHERE gtin = ? AND lot = ?",
        [other, gtin, units[0]["lot"]],
    )
    store.execute("UPDATE shipment_units SET lot = lot || 'Z' WHERE serial = ?", [mismatched])
    for table in ("units", "shipment_units"):
        store.execute(
            f"UPDATE {table} SET lot = ? WHERE gtin = ? AND serial = ?", [other, gtin, recalled]
        )
    store.execute(
        "INSERT INTO shipment_units SELECT shipment_id, gtin, 'NOPE-1', lot, expiry, container_id "
        "FROM shipment_units WHERE serial = ?",
        [units[0]["serial"]],
    )
    found = {p.serial: p.reasons for p in check_units(store, container_id=sscc)}
    assert found == {
        mismatched: ["lot_mismatch"],
        recalled: ["lot_recalled"],
        "NOPE-1": ["not_commissioned"],
    }
    by_shipment = check_units(store, shipment_id=shipment_id)
    assert {p.serial for p in by_shipment} == set(found)
    assert all(p.shipment_id == shipment_id and p.unit == f"{gtin}.{p.serial}" for p in by_shipment)


def test_check_units_sees_aggregation_status_and_duplicates(store: Store) -> None:
    shipment_id, sscc = synth.build_pallet(store, units=60, case_size=30)
    case = store.scalar("SELECT min(container_id) FROM containers WHERE parent_id = ?", [sscc])
    store.execute("UPDATE containers SET declared_children = 31 WHERE container_id = ?", [case])
    first = store.row("SELECT * FROM units WHERE container_id = ? ORDER BY serial LIMIT 1", [case])
    assert first is not None
    store.execute("UPDATE units SET status = 'suspect' WHERE serial = ?", [first["serial"]])
    elsewhere = store.scalar(
        "SELECT shipment_id FROM shipments WHERE status = 'planned' "
        "AND shipment_id <> ? ORDER BY 1 LIMIT 1",
        [shipment_id],
    )
    store.execute(
        "INSERT INTO shipment_units VALUES (?, ?, ?, ?, ?, ?)",
        [elsewhere, first["gtin"], first["serial"], first["lot"], first["expiry"], case],
    )
    problems = {p.serial: p for p in check_units(store, shipment_id=shipment_id)}
    assert len(problems) == 30  # every unit of the miscounted case
    assert problems[first["serial"]].reasons == [
        "status_suspect",
        "aggregation_mismatch",
        "in_other_shipment",
    ]
    assert problems[first["serial"]].details["other_ships"] == [elsewhere]
    with pytest.raises(InputError, match="exactly one"):
        check_units(store)
