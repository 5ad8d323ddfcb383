"""Drill 2: 20 concurrent writers on one shipment through the real HTTP API.

A real uvicorn server on loopback serves a copy of the network. Twenty ops-manager clients,
released together by a barrier, write to the same planned shipment:

- 6 reschedule requests (POST /reschedule), each for a different feasible window, plus
  2 retries of the first two with the same ``Idempotency-Key``;
- 6 chat turns asking to hold the shipment (POST /chat/{thread}/messages, one thread each);
- 3 approves and 3 rejects of one queued approval: a delivery-hold notice to the customer.

Two orderings are pinned so that every run drills the interesting cases rather than depending on
luck: the holds are sent once the first reschedule has been answered (a hold blocks reschedules,
and otherwise it always wins), so reschedules race each other and then the holds; and the notice's
tool waits, like a slow provider, until the rejects have been answered, which are sent once an
approve is inside the tool — the worst case for "decided once".

No answer may be a 5xx (a clash is retried or answered 409), and once the server has stopped the
record must be consistent: the promised window is the one the last applied reschedule set, one
hold, one effect per idempotency key, one decision on the approval, an intact audit chain.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent import approvals
from agent.brains.base import Proposal
from agent.runtime import Runtime
from agent.settings import Settings
from record import audit
from record.store import Store
from tests.drills.conftest import close_runtime, duplicates, live_server, read_sse
from tools.base import REGISTRY, call_tool

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]

WINDOWS = 6


def _hour(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}{'am' if moment.hour < 12 else 'pm'}"


def _ask(window: dict[str, str], sid: str) -> str:
    start, end = datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
    return (
        f"Hello, could {sid} come on {start:%B} {start.day} between {_hour(start)} and "
        f"{_hour(end)} instead? Thanks, Dana"
    )


def _prepare(db: Path) -> dict[str, Any]:
    """Pick the shipment, six feasible windows, and queue the approval the managers will race."""
    rt = Runtime.from_settings(Settings(_env_file=None, db=db, brain="rules"))
    try:
        picked = rt.store.execute(
            "SELECT s.shipment_id, min(c.contact_id) FROM shipments s"
            " JOIN contacts c ON c.location_id = s.destination_id AND c.consent"
            " WHERE s.status = 'planned' GROUP BY ALL ORDER BY s.shipment_id LIMIT 1"
        ).fetchone()
        assert picked is not None, "no planned shipment with a consenting contact"
        sid, contact = picked
        ctx = rt.context("drill:setup", "ops_manager")
        found = call_tool(ctx, "reschedule_options", {"shipment_id": sid, "max_results": 10})
        current = rt.store.row(
            "SELECT promised_start, promised_end FROM shipments WHERE shipment_id = ?", [sid]
        )
        assert current is not None
        options = [
            o for o in found.model_dump(mode="json")["options"]
            if datetime.fromisoformat(o["start"]).minute == 0
            and datetime.fromisoformat(o["start"]) != current["promised_start"]
        ][:WINDOWS]  # fmt: skip
        assert len(options) == WINDOWS, found
        notice = Proposal(
            "send_customer_message",
            {"template": "delivery_hold_notice", "contact_id": contact, "shipment_id": sid,
             "fields": {"reason": "quality_check"}},
            "tell the customer the delivery is on hold",
        )  # fmt: skip
        approval_id = approvals.queue(
            rt.context("agent:rules", "automation"), notice, origin="drill", why="not routine"
        )
        seq = rt.store.scalar("SELECT max(seq) FROM audit_log")
        return {"sid": sid, "windows": options, "approval_id": approval_id, "seq": seq,
                "original": (current["promised_start"], current["promised_end"])}  # fmt: skip
    finally:
        close_runtime(rt)


def _requests(plan: dict[str, Any]) -> list[dict[str, Any]]:
    sid, approval = plan["sid"], plan["approval_id"]
    reqs: list[dict[str, Any]] = []
    for i, window in enumerate(plan["windows"]):
        reqs.append({"kind": "reschedule", "path": "/reschedule", "window": i,
                     "json": {"text": _ask(window, sid)}, "key": f"drill-rs-{i}"})  # fmt: skip
    reqs += [{**reqs[0], "retry": True}, {**reqs[1], "retry": True}]
    for i in range(6):
        reqs.append({"kind": "hold", "path": f"/chat/drill-hold-{i}/messages", "stream": True,
                     "json": {"message": f"hold {sid} because of a damaged pallet ({i})"}})  # fmt: skip
    for decision in ("approve", "reject") * 3:
        body = {"reason": "drill: the customer was told by phone"} if decision == "reject" else {}
        reqs.append({"kind": decision, "path": f"/approvals/{approval}/{decision}", "json": body})
    assert len(reqs) == 20
    return reqs


@dataclass
class _Gate:
    """Pins the approve/reject interleaving: rejects go once an approve is inside the tool."""

    rescheduled: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    rejects_answered: threading.Event = field(default_factory=threading.Event)
    rejects_left: int = 3
    lock: threading.Lock = field(default_factory=threading.Lock)

    def slow_notice(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def notice(ctx: Any, args: Any) -> Any:
            if args.template == "delivery_hold_notice":
                self.entered.set()
                self.rejects_answered.wait(timeout=30)
            return real(ctx, args)

        return notice

    def answered(self) -> None:
        with self.lock:
            self.rejects_left -= 1
            if self.rejects_left == 0:
                self.rejects_answered.set()


def _send(url: str, key: str, req: dict[str, Any], barrier: threading.Barrier,
          gate: _Gate) -> dict[str, Any]:  # fmt: skip
    headers = {"X-API-Key": key}
    if req.get("key"):
        headers["Idempotency-Key"] = req["key"]
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        barrier.wait(timeout=60)
        if req["kind"] == "hold":
            gate.rescheduled.wait(timeout=60)
        if req["kind"] == "reject":
            gate.entered.wait(timeout=30)
            try:
                response = client.post(req["path"], json=req["json"])
            finally:
                gate.answered()
            return {**req, "status": response.status_code, "body": response.json()}
        if req.get("stream"):
            with client.stream("POST", req["path"], json=req["json"]) as response:
                lines = list(response.iter_lines())
                status = response.status_code
            events = read_sse(lines) if status == 200 else []
            body = json.loads("\n".join(lines)) if status != 200 else None
            return {**req, "status": status, "events": events, "body": body}
        response = client.post(req["path"], json=req["json"])
        if req["kind"] == "reschedule" and response.status_code == 200:
            gate.rescheduled.set()
        return {**req, "status": response.status_code, "body": response.json(),
                "replayed": response.headers.get("Idempotency-Replayed") == "true"}  # fmt: skip


@pytest.fixture(scope="module")
def storm(drill_template, tmp_path_factory) -> dict[str, Any]:
    """Run the 20 writers once; return their answers and what the record holds afterwards."""
    db = tmp_path_factory.mktemp("storm") / "net.duckdb"
    db.write_bytes(drill_template.path.read_bytes())
    plan = _prepare(db)
    reqs = _requests(plan)
    barrier, gate = threading.Barrier(len(reqs)), _Gate()
    spec = REGISTRY["send_customer_message"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(REGISTRY, spec.name, replace(spec, fn=gate.slow_notice(spec.fn)))
        with live_server(db) as server, ThreadPoolExecutor(max_workers=len(reqs)) as pool:
            key = drill_template.keys["ops_manager"]
            answers = list(pool.map(lambda r: _send(server.url, key, r, barrier, gate), reqs))
    with Store(db, read_only=True) as store:
        sid = plan["sid"]
        record = {
            "chain": audit.verify(store),
            "duplicates": duplicates(store),
            "shipment": store.row(
                "SELECT status, promised_start, promised_end FROM shipments WHERE shipment_id = ?",
                [sid],
            ),
            "holds": store.rows("SELECT * FROM shipment_holds WHERE shipment_id = ?", [sid]),
            "reschedules": store.rows(
                "SELECT seq, idempotency_key, result FROM audit_log WHERE action ="
                " 'reschedule_delivery' AND subject = ? AND seq > ? ORDER BY seq",
                [sid, plan["seq"]],
            ),
            "approval": store.row(
                "SELECT * FROM approvals WHERE approval_id = ?", [plan["approval_id"]]
            ),
            "approval_effects": store.scalar(
                "SELECT count(*) FROM audit_log WHERE idempotency_key = ?"
                " AND action NOT LIKE '%.refused'",
                [f"approval:{plan['approval_id']}"],
            ),
            "rejections": store.scalar(
                "SELECT count(*) FROM audit_log WHERE action = 'approval.rejected' AND subject = ?",
                [plan["approval_id"]],
            ),
            "messages": store.rows(
                "SELECT template, status FROM messages WHERE shipment_id = ?", [sid]
            ),
        }
    return {"plan": plan, "answers": answers, "record": record}


def test_no_answer_is_a_server_error(storm):
    statuses = Counter(a["status"] for a in storm["answers"])
    assert set(statuses) <= {200, 409}, [
        (a["kind"], a["status"], a["body"]) for a in storm["answers"]
    ]
    for answer in storm["answers"]:
        if answer["status"] == 409:
            assert answer["body"]["error"] in ("conflict", "idempotency_in_progress"), answer
            assert answer["body"]["detail"], answer
        if answer.get("stream") and answer["status"] == 200:
            names = [name for name, _ in answer["events"]]
            assert names[-1] == "done" and "error" not in names, answer["events"]


def test_the_window_is_the_last_one_applied(storm):
    plan, record = storm["plan"], storm["record"]
    shipment = record["shipment"]
    final = (shipment["promised_start"], shipment["promised_end"])
    asked = {(datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]))
             for w in plan["windows"]}  # fmt: skip
    applied = record["reschedules"]
    assert applied, "no reschedule was applied before the holds: the drill did not drill"
    last = json.loads(applied[-1]["result"])["promised"]
    assert final == (datetime.fromisoformat(last["start"]), datetime.fromisoformat(last["end"]))
    assert final in asked and final != plan["original"]
    said_applied = [a for a in storm["answers"] if a["kind"] == "reschedule" and a["status"] == 200
                    and a["body"]["status"] == "applied" and not a["replayed"]]  # fmt: skip
    assert len(said_applied) == len(applied), (said_applied, applied)
    confirmations = [m for m in record["messages"] if m["template"] == "reschedule_confirmation"]
    assert len(confirmations) == len(applied)


def test_a_retried_request_runs_at_most_once(storm):
    answers = storm["answers"]
    for key in {a["key"] for a in answers if a.get("retry")}:
        pair = [a for a in answers if a.get("key") == key]
        ran = [a for a in pair if a["status"] == 200 and not a["replayed"]]
        assert len(ran) <= 1, pair
        for replay in (a for a in pair if a["status"] == 200 and a["replayed"]):
            assert ran and replay["body"] == ran[0]["body"], pair


def test_the_shipment_is_held_once(storm):
    record = storm["record"]
    assert record["shipment"]["status"] == "held"
    assert [h["source"] for h in record["holds"]] == ["hold_shipment"]


def test_one_effect_per_idempotency_key_and_an_intact_chain(storm):
    record = storm["record"]
    assert record["duplicates"]["effects"] == [], record["duplicates"]["effects"]
    assert record["chain"].ok, record["chain"].describe()


def test_the_approval_is_decided_once(storm):
    record, answers = storm["record"], storm["answers"]
    approval = record["approval"]
    ok = {a["kind"] for a in answers if a["kind"] in ("approve", "reject") and a["status"] == 200}
    assert approval["status"] in ("approved", "rejected")
    if approval["status"] == "approved":
        assert (record["approval_effects"], record["rejections"]) == (1, 0)
        assert [m["template"] for m in record["messages"]].count("delivery_hold_notice") == 1
        assert ok == {"approve"}
    else:
        assert (record["approval_effects"], record["rejections"]) == (0, 1)
        assert "delivery_hold_notice" not in [m["template"] for m in record["messages"]]
        assert ok == {"reject"}
