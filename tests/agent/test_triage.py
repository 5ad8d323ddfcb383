"""Triage with the rules brain on every exception kind: the final state of the record, the audit
entries, approvals, idempotent re-runs, and resuming a run killed in the middle of acting."""

from __future__ import annotations

import json

import pytest

from agent import service
from agent.graphs import _triage_nodes
from record import audit
from record.models import EXCEPTION_KINDS


@pytest.fixture
def triaged(rt):
    summary = service.run_triage(rt)
    return rt, summary


def _truth(rt, kind: str) -> list[dict]:
    return rt.store.rows("SELECT * FROM synth_truth WHERE kind = ?", [kind])


def _status(rt, sid: str) -> str:
    return rt.store.scalar("SELECT status FROM shipments WHERE shipment_id = ?", [sid])


def _actions(rt, exception_kind: str) -> set[str]:
    """Tools that acted (or were queued) on exceptions of a kind."""
    ids = [
        r["exception_id"]
        for r in rt.store.rows(
            "SELECT exception_id FROM exceptions WHERE kind = ?", [exception_kind]
        )
    ]
    acted = {
        e.action
        for e in audit.entries(rt.store, limit=10_000)
        if isinstance(e.inputs, dict) and e.inputs.get("exception_id") in ids
    }
    queued = (
        {
            r["tool"] + ":queued"
            for r in rt.store.rows(
                f"SELECT tool FROM approvals WHERE exception_id IN ({','.join('?' * len(ids))})",
                ids,
            )
        }
        if ids
        else set()
    )
    return acted | queued


def test_every_kind_is_sensed_and_acted_on(triaged):
    rt, summary = triaged
    assert set(summary["by_kind"]) == set(EXCEPTION_KINDS)
    left_open = rt.store.rows("SELECT kind, subject FROM exceptions WHERE status = 'open'")
    assert left_open == []
    assert summary["refused"] == 0
    assert audit.verify(rt.store).ok


@pytest.mark.parametrize("kind", ["serial_unknown", "serial_duplicate", "pi_mismatch"])
def test_identity_failures_hold_and_quarantine(triaged, kind):
    rt, _ = triaged
    for truth in _truth(rt, kind):
        if truth["shipment_id"] and _status(rt, truth["shipment_id"]) != "delivered":
            assert _status(rt, truth["shipment_id"]) in ("held", "quarantined")
    assert {"hold_shipment", "quarantine_units"} <= _actions(rt, kind)


@pytest.mark.parametrize("kind", ["serial_unknown", "serial_duplicate"])
def test_suspect_patterns_open_an_investigation(triaged, kind):
    rt, _ = triaged
    assert "open_investigation" in _actions(rt, kind)
    assert rt.store.scalar("SELECT count(*) FROM investigations") >= 1


def test_aggregation_and_data_missing_hold_and_escalate(triaged):
    rt, _ = triaged
    for kind in ("aggregation_mismatch", "data_missing"):
        expected = {"escalate"}
        if any(_status(rt, t["shipment_id"]) != "delivered" for t in _truth(rt, kind)):
            expected.add("hold_shipment")
        assert expected <= _actions(rt, kind), kind


def test_recalled_lot_is_quarantined_non_distributable(triaged):
    rt, _ = triaged
    actions = _actions(rt, "expired_or_recalled")
    assert {"hold_shipment", "escalate"} <= actions


def test_cold_chain_cases_reroute_swap_or_escalate(triaged):
    rt, _ = triaged
    for kind in ("temp_excursion_risk", "asset_fault"):
        actions = _actions(rt, kind)
        assert actions & {
            "reroute_shipment",
            "swap_asset",
            "reroute_shipment:queued",
            "swap_asset:queued",
            "escalate",
        }, kind


def test_spent_budget_quarantines_and_escalates(triaged):
    rt, _ = triaged
    spent = [
        r
        for r in rt.store.rows("SELECT * FROM exceptions WHERE kind = 'temp_excursion'")
        if json.loads(r["evidence"]).get("budget_spent")
    ]
    for row in spent:
        entries = [
            e
            for e in audit.entries(rt.store, limit=10_000)
            if isinstance(e.inputs, dict) and e.inputs.get("exception_id") == row["exception_id"]
        ]
        assert {"quarantine_units", "escalate"} <= {e.action for e in entries}
        quarantine = next(e for e in entries if e.action == "quarantine_units")
        assert quarantine.inputs["non_distributable"] is True


def test_late_risk_messages_the_customer(triaged):
    rt, _ = triaged
    assert "send_customer_message" in _actions(rt, "late_risk")
    templates = {r["template"] for r in rt.store.rows("SELECT template FROM messages")}
    assert "new_eta" in templates


def test_custody_gap_escalates(triaged):
    rt, _ = triaged
    assert "escalate" in _actions(rt, "custody_gap")


def test_second_run_repeats_nothing(triaged):
    rt, _ = triaged
    before = rt.store.scalar("SELECT count(*) FROM audit_log WHERE action NOT LIKE 'triage%'")
    again = service.run_triage(rt)
    assert again["done"] == 0 and again["queued"] == 0
    after = rt.store.scalar("SELECT count(*) FROM audit_log WHERE action NOT LIKE 'triage%'")
    assert after == before


def test_rejected_proposal_is_escalated_next_time(triaged):
    rt, _ = triaged
    pending = rt.store.row(
        "SELECT approval_id, exception_id FROM approvals WHERE status = 'pending' LIMIT 1"
    )
    if pending is None:
        pytest.skip("no approval was queued on this network")
    from agent.approvals import decide

    decide(
        rt.context("user:lead", "ops_manager"),
        pending["approval_id"],
        approve=False,
        reason="not now",
    )
    assert (
        rt.store.scalar(
            "SELECT status FROM exceptions WHERE exception_id = ?", [pending["exception_id"]]
        )
        == "open"
    )
    service.run_triage(rt)
    entries = [
        e
        for e in audit.entries(rt.store, action="escalate", limit=1000)
        if e.inputs.get("exception_id") == pending["exception_id"]
    ]
    assert entries and "rejected" in entries[-1].inputs["summary"]


def test_a_run_killed_while_acting_resumes_with_each_effect_once(rt, monkeypatch):
    real_call, calls = _triage_nodes.call_tool, {"n": 0}

    def dying_call(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")  # like SIGKILL: no cleanup runs
        return real_call(*args, **kwargs)

    monkeypatch.setattr(_triage_nodes, "call_tool", dying_call)
    with pytest.raises(KeyboardInterrupt):
        service.run_triage(rt)
    assert rt.store.scalar("SELECT status FROM triage_runs") == "running"
    monkeypatch.setattr(_triage_nodes, "call_tool", real_call)
    summary = service.run_triage(rt)  # resumes the same run from its checkpoint
    assert rt.store.scalar("SELECT count(*) FROM triage_runs") == 1
    assert summary["done"] > 3
    effects = rt.store.rows(
        "SELECT action, idempotency_key, count(*) n FROM audit_log WHERE idempotency_key LIKE 'RUN-%'"
        " GROUP BY ALL HAVING count(*) > 1"
    )
    assert effects == []
    twice = rt.store.rows(
        "SELECT shipment_id, source, exception_id FROM shipment_holds GROUP BY ALL HAVING count(*) > 1"
    )
    assert twice == []
    assert audit.verify(rt.store).ok


def test_triage_actions_carry_the_policy_version(triaged):
    rt, _ = triaged
    from agent.policy import policy_version

    holds = audit.entries(rt.store, action="hold_shipment", limit=1000)
    assert holds and {e.prompt_version for e in holds} == {policy_version()}


def test_a_duplicated_serial_stops_every_shipment_carrying_it(triaged):
    rt, _ = triaged
    for row in rt.store.rows("SELECT evidence FROM exceptions WHERE kind = 'serial_duplicate'"):
        for sid in json.loads(row["evidence"]).get("shipments", []):
            assert _status(rt, sid) in ("held", "quarantined", "delivered"), sid


def test_message_reasons_are_choices_the_templates_allow():
    from agent.brains.messaging import _REASONS
    from tools.messaging import load_templates

    templates = load_templates()
    for template, reasons in _REASONS.items():
        allowed = set(templates[template]["fields"]["reason"]["choices"])
        assert set(reasons.values()) <= allowed, template
