"""The audit chain: every change, deletion, reordering or insertion is detected."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from record import audit
from record.store import Store

T0 = datetime(2026, 11, 23, 6, 0)


def _fill(store: Store, n: int) -> None:
    for i in range(n):
        store.write(
            lambda cur, i=i: audit.append(
                cur,
                actor="agent:rules",
                role="automation",
                action="hold_shipment",
                ts=T0 + timedelta(seconds=i),
                subject=f"SHP-{1000 + i}",
                inputs={"shipment_id": f"SHP-{1000 + i}", "reason": "é temp"},
                result={"ok": True},
            )
        )


@pytest.fixture(scope="module")
def chain_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "chain.duckdb"
    with Store(path) as store:
        _fill(store, 8)
    return path


@pytest.fixture
def store(chain_file, tmp_path):
    copy = tmp_path / "c.duckdb"
    copy.write_bytes(chain_file.read_bytes())
    with Store(copy) as s:
        yield s


def test_intact_chain_verifies(store):
    status = audit.verify(store)
    assert status.ok and status.entries == 8
    assert "intact: 8 entries" in status.describe()


def test_entries_link_by_hash(store):
    rows = audit.entries(store)
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert rows[2].inputs == {"shipment_id": "SHP-1002", "reason": "é temp"}


_FIELDS = st.sampled_from(["actor", "action", "subject", "reason", "inputs", "ts"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seq=st.integers(1, 8), column=_FIELDS)
def test_any_change_is_detected(store, seq, column):
    value = (
        "'2030-01-01 00:00:00'"
        if column == "ts"
        else "'{\"x\":1}'"
        if column == "inputs"
        else "'forged'"
    )
    with store.transaction() as cur:
        cur.execute(f"UPDATE audit_log SET {column} = {value} WHERE seq = ?", [seq])
        status = audit.verify(store)
        cur.execute("ROLLBACK")  # undo for the next example
        cur.execute("BEGIN")
    assert not status.ok and status.first_broken == seq


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seq=st.integers(1, 8))
def test_any_deletion_is_detected(store, seq):
    with store.transaction() as cur:
        cur.execute("DELETE FROM audit_log WHERE seq = ?", [seq])
        status = audit.verify(store)
        cur.execute("ROLLBACK")
        cur.execute("BEGIN")
    assert not status.ok and status.first_broken == seq


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pair=st.lists(st.integers(1, 8), min_size=2, max_size=2, unique=True).map(sorted))
def test_any_reordering_is_detected(store, pair):
    a, b = pair
    with store.transaction() as cur:  # swap the two entries' positions (contents move)
        cur.execute("UPDATE audit_log SET seq = -seq WHERE seq IN (?, ?)", [a, b])
        cur.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", [b, -a])
        cur.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", [a, -b])
        status = audit.verify(store)
        cur.execute("ROLLBACK")
        cur.execute("BEGIN")
    assert not status.ok and status.first_broken == a


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seq=st.integers(1, 8))
def test_any_insertion_is_detected(store, seq):
    with store.transaction() as cur:
        cur.execute("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= ?", [seq])
        cur.execute("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")
        row = cur.execute("SELECT * FROM audit_log WHERE seq = ?", [seq + 1]).fetchone()
        forged = list(row)
        forged[0], forged[4] = seq, "release_shipment"
        cur.execute(f"INSERT INTO audit_log VALUES ({', '.join('?' * len(forged))})", forged)
        status = audit.verify(store)
        cur.execute("ROLLBACK")
        cur.execute("BEGIN")
    assert not status.ok and status.first_broken == seq


def test_truncating_the_tail_is_detected(store):
    store.execute("DELETE FROM audit_log WHERE seq >= 7")
    status = audit.verify(store)
    assert not status.ok and "log ends at 6" in status.problem


def test_export_writes_lines_and_head(store):
    out = io.StringIO()
    head = audit.export(store, out, start=3, end=5)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines[:-1]] == [3, 4, 5]
    assert lines[-1] == {"head_hash": head, "entries": 3}
    assert head == audit.entries(store)[4].hash
