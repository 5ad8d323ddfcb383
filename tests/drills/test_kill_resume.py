"""Drill 1: SIGKILL a real ``proofline triage`` process at chosen points, then resume it.

The child is the real CLI, started through a ``-c`` wrapper that patches one function so that the
process sends itself SIGKILL at a chosen point — no cleanup, no ``finally``, exactly what a power
cut or the OOM killer does:

- ``sense``: right after sensing stored the exceptions, before the first node's checkpoint;
- ``act-k``: right after the act node's k-th tool call committed (k = 1, 3, 7), so the record
  holds k effects that the graph's checkpoint does not know about.

A fresh ``proofline triage`` must resume the same run and finish it with every effect once, the
audit chain must verify with ``proofline audit verify``, and the record must end exactly as after
an uninterrupted run on a fresh copy. The four drills run side by side (one database each).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.drills.conftest import proofline_argv, read_record, run_child

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

KILL_AT = """
import os, signal, sys

point, k, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


if point == "act":
    from agent.graphs import _triage_nodes

    real_call, calls = _triage_nodes.call_tool, [0]

    def call_then_die(*args, **kwargs):
        result = real_call(*args, **kwargs)
        calls[0] += 1
        if calls[0] == k:
            die()
        return result

    _triage_nodes.call_tool = call_then_die
elif point == "sense":
    from record import sensing

    real_record = sensing.record_exceptions

    def record_then_die(*args, **kwargs):
        real_record(*args, **kwargs)
        die()

    sensing.record_exceptions = record_then_die
else:
    raise SystemExit(f"unknown kill point {point}")

from agent.cli import main

sys.argv = ["proofline", "triage", "--db", db, "--json"]
main()
raise SystemExit("the kill point was never reached")
"""

POINTS = {"sense": ("sense", 0), "act-1": ("act", 1), "act-3": ("act", 3), "act-7": ("act", 7)}


def _drill(point: str, db: Path) -> dict[str, Any]:
    where, k = POINTS[point]
    started = time.perf_counter()
    killed = run_child([sys.executable, "-c", KILL_AT, where, str(k), str(db)], cwd=db.parent)
    after_kill = read_record(db)
    resumed = run_child([*proofline_argv(), "triage", "--db", str(db), "--json"], cwd=db.parent)
    verified = run_child([*proofline_argv(), "audit", "verify", "--db", str(db)], cwd=db.parent)
    return {
        "killed": killed,
        "after_kill": after_kill,
        "resumed": resumed,
        "verified": verified,
        "final": read_record(db),
        "seconds": round(time.perf_counter() - started, 1),
    }


@pytest.fixture(scope="module")
def drills(drill_template, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Every kill point drilled on its own copy of the network, two at a time."""
    dbs = {}
    for point in POINTS:
        db = tmp_path_factory.mktemp(f"kill-{point}") / "net.duckdb"
        db.write_bytes(drill_template.path.read_bytes())
        dbs[point] = db
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {point: pool.submit(_drill, point, db) for point, db in dbs.items()}
        return {point: future.result() for point, future in futures.items()}


@pytest.fixture(scope="module")
def reference(triaged_template) -> dict[str, Any]:
    """The record after an uninterrupted run on a fresh copy."""
    return read_record(triaged_template)


def test_the_reference_run_is_clean(reference):
    assert [r["status"] for r in reference["runs"]] == ["finished"]
    assert reference["chain_ok"], reference["chain"]
    assert not any(reference["duplicates"].values()), reference["duplicates"]
    assert reference["effects"] > 7, "too few effects for the act-7 kill point"
    assert reference["open"] == 0


@pytest.mark.parametrize("point", list(POINTS))
def test_killed_triage_resumes_with_every_effect_once(point, drills, reference):
    drill = drills[point]
    killed, after = drill["killed"], drill["after_kill"]
    assert killed.code == -signal.SIGKILL, (killed.code, killed.stderr[-2000:])

    # the kill landed where it was aimed: one run left running, k effects already committed
    assert [r["status"] for r in after["runs"]] == ["running"]
    run_id = after["runs"][0]["run_id"]
    expected_effects = POINTS[point][1]
    assert after["effects"] == expected_effects
    assert after["exceptions"] > 0 and after["chain_ok"], after["chain"]

    resumed = drill["resumed"]
    assert resumed.code == 0, resumed.stderr[-2000:]
    assert "Traceback" not in resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["run_id"] == run_id, "the unfinished run was not resumed"

    final = drill["final"]
    assert final["runs"] == [{"run_id": run_id, "status": "finished"}]
    assert final["duplicates"] == {name: [] for name in final["duplicates"]}
    assert final["effects"] == reference["effects"]

    verified = drill["verified"]
    assert verified.code == 0, verified.stdout + verified.stderr
    assert "intact" in verified.stdout

    assert final["state"] == reference["state"]
    expected = {k: v for k, v in json.loads(reference["summary"]).items() if k != "run_id"}
    assert {k: v for k, v in summary.items() if k != "run_id"} == expected
