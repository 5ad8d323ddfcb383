"""Matchers: how cases compare expected and actual values."""

from __future__ import annotations

from datetime import datetime

from evals.matchers import matches, mismatches


def test_times_compare_as_times_whatever_their_spelling():
    assert matches(datetime(2026, 11, 27, 14, 0), "2026-11-27T14:00")
    assert matches("2026-11-27T14:00:00", {"ge": "2026-11-27T14:00", "lt": "2026-11-27T14:01"})
    assert not matches("2026-11-27T14:00:00", {"le": "2026-11-27T13:59"})


def test_operators_and_nested_subsets():
    args = {"shipment_id": "SHP-1042", "fields": {"reason": "weather"}, "unit_keys": ["a", "b"]}
    assert matches(
        args, {"shipment_id": {"in": ["SHP-1042", "SHP-1043"]}, "fields": {"reason": "weather"}}
    )
    assert matches(args, {"unit_keys": {"contains": "b", "len": 2}})
    assert matches(args, {"contact_id": {"absent": True}})
    assert not matches(args, {"shipment_id": {"regex": "^SHP-9"}})


def test_mismatches_name_the_key_the_expectation_and_the_value():
    problems = mismatches(
        {"status": "planned"}, {"status": {"in": ["held", "quarantined"]}, "kind": "x"}
    )
    assert problems == [
        "status: expected in ['held', 'quarantined'], got 'planned'",
        "kind: missing (expected 'x')",
    ]


def test_booleans_do_not_equal_numbers():
    assert not matches(1, True)
    assert matches(True, True)
