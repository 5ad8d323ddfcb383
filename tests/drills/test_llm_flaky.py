"""Drill 3: triage with the LLM brain while 30% of the model calls fail.

In hybrid triage the model only sees cases the decision table does not cover, and the table covers
all 64 triage eval cases (``--brain llm`` makes 0 model calls over the suite). So the drills route
every exception to the model: the runtime's rules brain is swapped for one that finds no rule for
anything, while the LLM brain keeps the real rules brain as its fallback. Two drills: a seeded
scale-0.1 network through ``run_triage``, and one triage eval case per exception kind through the
eval runner.

respx plays an OpenAI-compatible endpoint (one retry per call, as configured). A seeded 30% of
calls fail — 429, 500, a read timeout, or a 200 whose body is not JSON — and the rest return valid
tool calls (hold the shipment, escalate to a person). Every case must end in the model's decision,
the rules brain's fallback, or an escalation; no effect may happen twice; the chain must verify.
Two more shapes of garbage — JSON without choices, tool calls whose arguments do not parse — are
drilled separately.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from agent import service
from agent.brains.base import Decision
from agent.runtime import Runtime
from agent.settings import Settings
from record import audit
from tests.drills.conftest import close_runtime, duplicates

pytestmark = pytest.mark.timeout(120)

BASE = "http://llm.drill.test/v1"
FAILURES = ("429", "500", "timeout", "garbage")
GARBAGE = (
    ("text/html", "<html><body>502 Bad Gateway</body></html>"),
    ("application/json", '{"id": "chatcmpl-drill", "choices": [{"ind'),
    ("application/json", "upstream connect error or disconnect/reset"),
)


class _NoRuleFits:
    """A rules brain that finds no rule for any case, so hybrid triage asks the model each time."""

    name = "rules"

    def __init__(self, table: Any) -> None:
        self.table = table

    def decide_case(self, case: dict[str, Any], context: Any) -> Decision:
        return Decision(brain="rules", notes=["needs_judgement: the drill asks the model"])

    def chat(self, history: list[Any], context: Any) -> Decision:
        return self.table.chat(history, context)


def _case(request: httpx.Request) -> dict[str, Any]:
    """The exception the triage prompt carries (inside its untrusted-data markers)."""
    user = [m for m in json.loads(request.content)["messages"] if m["role"] == "user"][-1]
    body = user["content"].split("\n", 1)[1].rsplit("\n</untrusted_data>", 1)[0]
    return json.loads(body)


def _completion(tool_calls: list[tuple[str, Any]] | None = None, **body: Any) -> httpx.Response:
    message: dict[str, Any] = {"role": "assistant", "content": None if tool_calls else "done"}
    if tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
            for i, (name, args) in enumerate(tool_calls)
        ]  # fmt: skip
    reply = {
        "id": "chatcmpl-drill", "object": "chat.completion", "created": 0, "model": "drill-model",
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": 200, "completion_tokens": 40, "total_tokens": 240},
    }  # fmt: skip
    reply.update(body)
    return httpx.Response(200, json=reply)


def _decide(case: dict[str, Any]) -> httpx.Response:
    """What a sensible model proposes: stop the shipment (if any) and hand it to a person."""
    calls: list[tuple[str, Any]] = []
    if case.get("shipment_id"):
        calls.append(
            ("hold_shipment", {"shipment_id": case["shipment_id"], "reason": f"{case['kind']}"})
        )
    summary = f"{case['kind']} on {case['subject']}: a person must decide"
    calls.append(("escalate", {"subject": case["subject"], "summary": summary,
                               "severity": case["severity"], "to": "duty_manager"}))  # fmt: skip
    return _completion(calls)


class FlakyEndpoint:
    """A seeded 30% of calls fail; failures cycle through 429, 500, timeout and garbage (a 200
    whose body is HTML, truncated JSON or plain text, in turn) so that each kind occurs."""

    def __init__(self, seed: int, rate: float = 0.3) -> None:
        self.rng, self.rate = random.Random(seed), rate
        self.calls, self.failed = 0, Counter[str]()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.rng.random() >= self.rate:
            return _decide(_case(request))
        kind = FAILURES[sum(self.failed.values()) % len(FAILURES)]
        self.failed[kind] += 1
        if kind == "429":
            return httpx.Response(429, json={"error": {"message": "rate limited", "type": "rate"}})
        if kind == "500":
            return httpx.Response(500, json={"error": {"message": "the model server fell over"}})
        if kind == "timeout":
            raise httpx.ReadTimeout("drill: the model did not answer in time", request=request)
        content_type, text = GARBAGE[(self.failed["garbage"] - 1) % len(GARBAGE)]
        return httpx.Response(200, text=text, headers={"content-type": content_type})


@pytest.fixture
def llm_runtime(drill_template, copy_db) -> Iterator[Callable[[str], Runtime]]:
    """``llm_runtime(name)``: an LLM-brain runtime over a fresh copy, every case sent to the model."""
    made: list[Runtime] = []

    def _make(name: str) -> Runtime:
        settings = Settings(
            _env_file=None, db=copy_db(drill_template.path, name), brain="llm",
            llm_base_url=BASE, llm_model="drill-model", llm_max_retries=1,
            llm_backoff_s=0.001, llm_timeout_s=2.0,
        )  # fmt: skip
        rt = Runtime.from_settings(settings)
        rt.brain("llm")  # built now, so that its fallback is the real rules brain
        rt.rules = _NoRuleFits(rt.rules)  # type: ignore[assignment]
        made.append(rt)
        return rt

    yield _make
    for rt in made:
        close_runtime(rt)


def _triage(rt: Runtime, respond: Callable[[httpx.Request], httpx.Response]) -> dict[str, Any]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.post("/chat/completions").mock(side_effect=respond)
        return service.run_triage(rt, "llm")


def test_triage_survives_a_flaky_model(llm_runtime):
    rt = llm_runtime("flaky")
    endpoint = FlakyEndpoint(seed=12)
    summary = _triage(rt, endpoint)
    print(f"LLM calls {endpoint.calls}, failed {dict(endpoint.failed)}")

    # the endpoint really misbehaved, in every way, about 30% of the time
    assert set(endpoint.failed) == set(FAILURES), endpoint.failed
    share = sum(endpoint.failed.values()) / endpoint.calls
    assert 0.15 <= share <= 0.6, (endpoint.failed, endpoint.calls)

    details = service.triage_details(rt, summary["run_id"])
    plans = {p["exception_id"]: p for p in details["plans"]}
    assert set(plans) == {c["exception_id"] for c in details["cases"]} and plans
    by_brain = Counter(p["brain"] for p in plans.values())
    assert by_brain["llm"] and by_brain["rules"], by_brain  # some decided by the model, some not
    for plan in plans.values():
        assert plan["proposals"], plan
        if plan["brain"] == "rules":
            assert any("language model" in note for note in plan["notes"]), plan["notes"]
    assert summary["usage"]["calls"] == by_brain["llm"]

    acted = Counter(
        o["exception_id"] for o in details["outcomes"] if o["status"] in ("done", "queued")
    )
    assert set(acted) == set(plans), "a case ended with nothing done or queued"
    still_open = rt.store.rows("SELECT exception_id, kind FROM exceptions WHERE status = 'open'")
    assert still_open == []
    escalated = {r["exception_id"] for r in rt.store.rows("SELECT exception_id FROM escalations")}
    for eid, plan in plans.items():
        if plan["brain"] == "llm":
            assert eid in escalated, plan

    assert duplicates(rt.store) == {name: [] for name in duplicates(rt.store)}
    assert rt.store.scalar("SELECT status FROM triage_runs") == "finished"
    assert audit.verify(rt.store).ok


@pytest.mark.parametrize("choices", [None, []], ids=["null-choices", "empty-choices"])
def test_a_reply_of_the_wrong_shape_falls_back(llm_runtime, choices):
    rt = llm_runtime("shape")
    calls = {"n": 0}

    def respond(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return _completion(choices=choices) if calls["n"] == 2 else _decide(_case(request))

    summary = _triage(rt, respond)
    plans = service.triage_details(rt, summary["run_id"])["plans"]
    assert sum(p["brain"] == "rules" for p in plans) == 1
    assert rt.store.scalar("SELECT count(*) FROM exceptions WHERE status = 'open'") == 0


def test_tool_calls_that_do_not_parse_still_end_in_a_decision(llm_runtime):
    rt = llm_runtime("malformed")
    broken = _completion([("escalate", '{"subject": "SHP-1001", "summary": ')])
    _triage(rt, lambda request: broken)
    still_open = rt.store.rows("SELECT exception_id, kind FROM exceptions WHERE status = 'open'")
    assert still_open == []


@pytest.mark.slow
def test_triage_eval_cases_survive_a_flaky_model(tmp_path, monkeypatch):
    """One triage eval case per exception kind, through the eval runner, every case to the model."""
    from evals.cases import load_suite
    from evals.runner import RunConfig, run_cases
    from record.store import Store

    cases, kinds = [], set()
    for case in load_suite("triage"):
        mine = {t for t in case.tags if t.startswith("kind:")}
        if len(mine) == 1 and not mine <= kinds:
            cases.append(case)
            kinds |= mine
    real = Runtime.from_settings.__func__  # type: ignore[attr-defined]

    def routed(cls: type[Runtime], settings: Settings, *, store: Any = None) -> Runtime:
        rt = real(cls, settings, store=store)
        rt.brain("llm")
        rt.rules = _NoRuleFits(rt.rules)  # type: ignore[assignment]
        return rt

    monkeypatch.setattr(Runtime, "from_settings", classmethod(routed))
    settings = Settings(
        _env_file=None, llm_base_url=BASE, llm_model="drill-model", llm_max_retries=1,
        llm_backoff_s=0.001, llm_timeout_s=2.0,
    )  # fmt: skip
    config = RunConfig(brain="llm", cache_dir=tmp_path / "cache", work_dir=tmp_path / "runs",
                       keep=True, settings=settings, abort_after_llm_failures=0)  # fmt: skip
    endpoint = FlakyEndpoint(seed=12)
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.post("/chat/completions").mock(side_effect=endpoint)
        results = run_cases(cases, config)
    print(f"{len(results)} eval cases, LLM calls {endpoint.calls}, failed {dict(endpoint.failed)}")

    assert len(results) == len(kinds) >= 10
    assert set(endpoint.failed) == set(FAILURES), endpoint.failed
    for result in results:
        assert result.error is None or result.error.startswith("LLM endpoint failed"), (
            result.case_id, result.error)  # fmt: skip
        assert not [c for c in result.checks if c["category"] == "crash"], result.case_id
        db = tmp_path / "runs" / f"{result.case_id}-{result.variant}-{result.run}.duckdb"
        with Store(db, read_only=True) as store:
            assert store.rows("SELECT kind FROM exceptions WHERE status = 'open'") == []
            assert duplicates(store)["effects"] == []
            assert {r[0] for r in store.execute("SELECT status FROM triage_runs").fetchall()} == {
                "finished"
            }
            assert audit.verify(store).ok
