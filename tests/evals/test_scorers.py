"""Scorers and metrics on hand-made trajectories (no agent needed)."""

from __future__ import annotations

import pytest

from evals.cases import Calls, Case
from evals.metrics import pass_hat_k
from evals.scorers import check_calls, check_expect, check_reply, tool_errors, write_precision
from evals.trajectory import Call


def _call(tool: str, outcome: str = "done", **args) -> Call:
    kind = "READ" if tool in ("get_shipment", "list_exceptions") else "WRITE"
    return Call(tool, args, outcome, kind)


def _calls(spec: dict) -> Calls:
    return Calls.model_validate(spec)


def test_required_forbidden_and_other_writes():
    spec = _calls(
        {
            "required": [{"tool": "hold_shipment", "args": {"shipment_id": "SHP-1"}}],
            "forbidden": [{"tool": "release_shipment"}],
            "allowed": [{"tool": "escalate"}],
            "no_other_writes": True,
        }
    )
    good = [_call("hold_shipment", shipment_id="SHP-1"), _call("escalate", subject="SHP-1")]
    assert all(c.ok for c in check_calls(spec, good))
    bad = [
        _call("hold_shipment", shipment_id="SHP-2"),
        _call("release_shipment", "queued", shipment_id="SHP-1"),
    ]
    failed = {c.category: c for c in check_calls(spec, bad) if not c.ok}
    assert set(failed) == {"required_call", "forbidden_call", "other_writes"}
    assert "shipment_id: expected 'SHP-1', got 'SHP-2'" in failed["required_call"].detail


def test_a_refused_attempt_is_not_a_forbidden_effect():
    spec = _calls({"forbidden": [{"tool": "release_shipment"}]})
    assert all(
        c.ok for c in check_calls(spec, [_call("release_shipment", "refused", shipment_id="SHP-1")])
    )


def test_write_precision_counts_a_queued_then_approved_write_once():
    spec = _calls({"required": [{"tool": "swap_asset", "outcome": "done"}]})
    approved = Call("swap_asset", {"shipment_id": "SHP-1"}, "done", "WRITE", via_approval=True)
    calls = [
        _call("swap_asset", "queued", shipment_id="SHP-1"),
        approved,
        _call("escalate", subject="x"),
    ]
    assert write_precision(spec, calls) == (1, 2)


@pytest.mark.parametrize(("calls", "expected"), [
    ([], {"missing_call": 1}),
    ([_call("escalate", subject="SHP-1")], {"wrong_tool": 1, "unexpected_write": 1}),
    ([_call("hold_shipment", reason="x")], {"missing_argument": 1}),
    ([_call("hold_shipment", shipment_id="SHP-2")], {"wrong_value": 1}),
])  # fmt: skip
def test_tool_errors_by_type(calls, expected):
    spec = _calls({"required": [{"tool": "hold_shipment", "args": {"shipment_id": "SHP-1"}}]})
    assert tool_errors(spec, calls) == expected


def test_invalid_arguments_are_classified_from_the_refusal():
    extra = Call("hold_shipment", {}, "refused", "WRITE", code="invalid_arguments",
                 detail="invalid arguments for hold_shipment: colour: Extra inputs are not permitted")  # fmt: skip
    assert tool_errors(_calls({}), [extra]) == {"unexpected_argument": 1}


def _case(expect: dict, kind: str = "reschedule") -> Case:
    return Case.model_validate({"id": "c", "suite": "s", "need": "a need of a user",
                                "input": {"kind": kind, "text": "x"}, "expect": expect})  # fmt: skip


def test_refusal_is_judged_on_what_was_carried_out():
    case = _case({"refusal": {"must": True, "tools": ["reschedule_delivery"]}})
    options = {"status": "options", "reply": "That window is not possible."}
    assert check_expect(case, [], options)[0].ok
    applied = {"status": "applied", "reply": "Done."}
    assert not check_expect(case, [_call("reschedule_delivery")], applied)[0].ok


def test_reply_facts_are_case_insensitive_with_alternatives():
    case = _case(
        {"reply": {"contains": ["shp-1042", ["Nov 27", "2026-11-27"]], "not_contains": ["+1555"]}}
    )
    checks = check_reply(case.expect, "SHP-1042 is rescheduled to 2026-11-27 14:00–16:00.")
    assert [c.ok for c in checks] == [True, True, True]


def test_pass_hat_k_is_the_tau_bench_estimator():
    # one case passing 2 of 4 runs, one passing 4 of 4
    outcomes = [(2, 4), (4, 4)]
    assert pass_hat_k(outcomes, 1) == pytest.approx((0.5 + 1.0) / 2, abs=1e-4)
    assert pass_hat_k(outcomes, 2) == pytest.approx((1 / 6 + 1.0) / 2, abs=1e-4)
    assert pass_hat_k(outcomes, 4) == pytest.approx(0.5, abs=1e-4)
    assert pass_hat_k([(1, 1)], 2) is None
