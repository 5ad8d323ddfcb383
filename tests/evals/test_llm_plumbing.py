"""The whole runner through the LLM brain, offline: respx scripts an OpenAI-compatible endpoint
(tool calls, then a final answer, with usage), so calls, tokens, trajectory and scoring are
proven without a model. An endpoint that fails is reported as infrastructure, not as the agent."""

from __future__ import annotations

import json
import re

import httpx
import pytest
import respx

from agent.settings import Settings
from evals.metrics import summarize
from evals.runner import RunConfig, run_cases

BASE = "http://llm.eval.test/v1"
TRANSIT = {"ship": {"status": "in_transit", "clean": True}}
PLANNED = {"ship": {"status": "planned", "clean": True}}
CASES = [
    {"id": "llm-status", "need": "status of a shipment, answered by the model",
     "setup": {"bind": {"S": TRANSIT}},
     "input": {"kind": "chat", "message": "status of {{S}}"},
     "expect": {"calls": {"required": [{"tool": "get_shipment", "args": {"shipment_id": "{{S}}"}}],
                          "no_other_writes": True},
                "reply": {"contains": ["{{S}}", "in transit"]}}},
    {"id": "llm-hold", "need": "hold a shipment through the model",
     "setup": {"bind": {"S": PLANNED}},
     "input": {"kind": "chat", "message": "hold {{S}} because of a damaged pallet"},
     "expect": {"calls": {"required": [{"tool": "hold_shipment", "args": {"shipment_id": "{{S}}"}}],
                          "no_other_writes": True},
                "rows": [{"table": "shipments", "where": {"shipment_id": "{{S}}"}, "expect": {"status": "held"}}]}},
]  # fmt: skip


def _completion(content: str | None = None, tool_calls: list | None = None) -> httpx.Response:
    message: dict = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                  "function": {"name": name, "arguments": json.dumps(args)}}
                                 for i, (name, args) in enumerate(tool_calls)]  # fmt: skip
    return httpx.Response(200, json={
        "id": "chatcmpl-eval", "object": "chat.completion", "created": 0, "model": "eval-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    })  # fmt: skip


def _scripted(request: httpx.Request) -> httpx.Response:
    """A tiny stand-in model: call the tool the user asked for, then answer from its result."""
    messages = json.loads(request.content)["messages"]
    if messages[-1]["role"] == "tool":
        user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        shipment = re.search(r"SHP-\d+", user).group(0)
        done = "is on hold" if "hold" in user else "is in transit"
        return _completion(f"{shipment} {done}.")
    text = messages[-1]["content"]
    shipment = re.search(r"SHP-\d+", text).group(0)
    if text.startswith("hold"):
        return _completion(
            tool_calls=[("hold_shipment", {"shipment_id": shipment, "reason": "damaged pallet"})]
        )
    return _completion(tool_calls=[("get_shipment", {"shipment_id": shipment})])


def _settings(**extra) -> Settings:
    return Settings(_env_file=None, llm_base_url=BASE, llm_model="eval-model", llm_max_retries=0,
                    llm_backoff_s=0.001, llm_timeout_s=2.0, **extra)  # fmt: skip


@pytest.fixture
def cases(write_suite):
    return write_suite("llm", CASES)


@respx.mock(base_url=BASE, assert_all_called=False)
def test_llm_brain_runs_through_the_runner(respx_mock, cases, eval_cache):
    route = respx_mock.post("/chat/completions").mock(side_effect=_scripted)
    results = run_cases(cases, RunConfig(brain="llm", cache_dir=eval_cache, settings=_settings()))
    assert [r.status for r in results] == ["pass", "pass"], [r.checks for r in results]
    assert route.call_count == 4
    for r in results:
        assert r.llm == {"calls": 2, "prompt_tokens": 200, "completion_tokens": 40, "failures": 0}
    hold = next(r for r in results if r.case_id == "llm-hold")
    entry = next(c for c in hold.calls if c["tool"] == "hold_shipment")
    assert entry["outcome"] == "done" and entry["actor"] == "ops:dana"
    figures = summarize(results, cases, 1)["suites"]["llm"]
    assert figures["llm"] == {
        "calls": 4,
        "prompt_tokens": 400,
        "completion_tokens": 80,
        "failures": 0,
    }
    assert figures["pass^1"] == 1.0 and figures["infra_failures"] == 0


@respx.mock(base_url=BASE, assert_all_called=False)
def test_an_unreachable_endpoint_is_an_infrastructure_failure(respx_mock, cases, eval_cache):
    respx_mock.post("/chat/completions").mock(
        return_value=httpx.Response(503, json={"error": "down"})
    )
    config = RunConfig(
        brain="llm", cache_dir=eval_cache, settings=_settings(), abort_after_llm_failures=1
    )
    results = run_cases(cases, config)
    assert [r.status for r in results] == ["infra", "infra"]
    assert "LLM endpoint failed" in results[0].error
    assert "skipped" in results[1].error
    figures = summarize(results, cases, 1)["suites"]["llm"]
    assert figures["pass^1"] is None and figures["infra_failures"] == 2
