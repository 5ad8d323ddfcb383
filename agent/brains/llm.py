"""The LLM brain: any OpenAI-compatible endpoint through ``langchain-openai``.

It binds only the tools the actor's role may call, marks partner text as untrusted data, retries
429/5xx/timeouts with random exponential backoff, and after repeated failures opens a circuit
breaker that hands the turn to the rules brain and says so. Tokens are counted from the usage the
endpoint reports (never locally: no tiktoken downloads).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_openai import ChatOpenAI
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from agent.brains.base import Brain, ChatTurn, Decision, Proposal, Usage
from agent.prompts import load_prompt, untrusted
from agent.settings import Settings
from tools.base import ToolContext, tools_for_role

__all__ = ["CircuitBreaker", "LLMBrain", "LLMUnavailable", "openai_tool_schemas"]

_RETRYABLE = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)


class LLMUnavailable(Exception):
    """The endpoint failed after retries (or the breaker is open)."""


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failed turns; half-opens after ``cooldown_s``."""

    threshold: int = 3
    cooldown_s: float = 60.0
    failures: int = 0
    opened_at: float | None = field(default=None)

    @property
    def open(self) -> bool:
        """Whether calls should skip the model now."""
        if self.opened_at is None:
            return False
        if time.monotonic() - self.opened_at >= self.cooldown_s:
            self.opened_at = None  # half-open: let one call try
            self.failures = self.threshold - 1
            return False
        return True

    def success(self) -> None:
        """Record a successful call."""
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        """Record a failed call (after retries)."""
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


def openai_tool_schemas(role: str) -> list[dict[str, Any]]:
    """The tools ``role`` may call, as OpenAI function schemas built from the args models."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.json_schema(),
            },
        }
        for spec in tools_for_role(role)
    ]


def _to_messages(system: str, history: list[ChatTurn]) -> list[BaseMessage]:
    messages: list[BaseMessage] = [SystemMessage(system)]
    for turn in history:
        if turn.role == "user":
            messages.append(HumanMessage(turn.content))
        elif turn.role == "assistant":
            messages.append(
                AIMessage(
                    turn.content,
                    tool_calls=turn.tool_calls,
                    invalid_tool_calls=turn.invalid_tool_calls,
                )
            )
        elif turn.role == "tool":
            messages.append(
                ToolMessage(
                    untrusted(f"tool:{turn.name}", turn.content),
                    tool_call_id=turn.tool_call_id or "",
                )
            )
    return messages


class LLMBrain:
    """Decides through a model; falls back to ``fallback`` when the endpoint is unavailable."""

    name = "llm"

    def __init__(
        self,
        settings: Settings,
        fallback: Brain,
        *,
        breaker: CircuitBreaker | None = None,
        backoff_s: float = 0.5,
    ) -> None:
        if not settings.llm_base_url:
            raise ValueError(
                "no LLM endpoint configured: set PROOFLINE_LLM_BASE_URL (and PROOFLINE_LLM_MODEL, "
                "PROOFLINE_LLM_API_KEY), or use --brain rules"
            )
        self.settings, self.fallback = settings, fallback
        self.breaker = breaker or CircuitBreaker()
        self.backoff_s = backoff_s
        self.model = ChatOpenAI(
            model=settings.llm_model,
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            timeout=settings.llm_timeout_s,
            max_retries=0,
        )

    # -- calling the model -----------------------------------------------------------------

    def _invoke(self, messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage:
        bound = self.model.bind_tools(tools) if tools else self.model
        retrying = Retrying(
            retry=retry_if_exception_type(_RETRYABLE),
            stop=stop_after_attempt(self.settings.llm_max_retries + 1),
            wait=wait_random_exponential(
                multiplier=self.backoff_s, max=max(self.backoff_s * 16, 0.01)
            ),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    reply = bound.invoke(messages, max_tokens=self.settings.llm_max_tokens // 4)
        except Exception as exc:  # noqa: BLE001 — any failure to get a usable reply: fall back
            # openai errors, garbage bodies (no choices: TypeError/IndexError/KeyError), bad JSON
            raise LLMUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(reply, AIMessage):
            raise LLMUnavailable(f"unexpected reply type {type(reply).__name__}")
        return reply

    def _ask(
        self, prompt_name: str, history: list[ChatTurn], role: str
    ) -> tuple[Decision, AIMessage]:
        prompt = load_prompt(prompt_name)
        reply = self._invoke(_to_messages(prompt.text, history), openai_tool_schemas(role))
        usage: dict[str, Any] = dict(reply.usage_metadata or {})
        decision = Decision(
            proposals=[
                Proposal(c["name"], dict(c["args"]), "proposed by the model", call_id=c.get("id"))
                for c in reply.tool_calls
            ],
            reply=reply.text if isinstance(reply.content, str | list) else "",
            brain=self.name,
            model=self.settings.llm_model,
            prompt_version=prompt.version,
            usage=Usage(1, usage.get("input_tokens", 0), usage.get("output_tokens", 0)),
            done=not reply.tool_calls and not reply.invalid_tool_calls,
        )
        decision.malformed = [
            {
                "id": bad.get("id"),
                "name": bad.get("name"),
                "args": bad.get("args"),
                "error": bad.get("error") or "arguments are not valid JSON",
            }
            for bad in reply.invalid_tool_calls
        ]
        return decision, reply

    # -- Brain protocol ---------------------------------------------------------------------

    def chat(self, history: list[ChatTurn], context: ToolContext) -> Decision:
        """One step of the tool-calling loop; the rules brain answers when the model cannot."""
        return self._guarded(
            "system", history, context, lambda: self.fallback.chat(history, context)
        )

    def decide_case(self, case: dict[str, Any], context: ToolContext) -> Decision:
        """Ask the model about one exception (the hybrid triage only does this when unsure)."""
        turn = ChatTurn("user", untrusted("exception", json.dumps(case, default=str)))
        return self._guarded(
            "triage", [turn], context, lambda: self.fallback.decide_case(case, context)
        )

    def extract(self, prompt: str, history: list[ChatTurn], context: ToolContext) -> Decision:
        """Ask the model with ``prompts/<prompt>.md``; when it cannot answer, the decision comes
        back empty from the rules brain (``brain == "rules"``) so the caller parses instead."""
        return self._guarded(prompt, history, context, lambda: Decision(brain="rules"))

    def _guarded(
        self, prompt: str, history: list[ChatTurn], context: ToolContext, fallback: Any
    ) -> Decision:
        if self.breaker.open:
            decision = fallback()
            decision.notes.append(
                "the language model is unavailable (circuit open); the rules brain answered"
            )
            return decision
        try:
            decision, reply = self._ask(prompt, history, context.role)
        except LLMUnavailable as exc:
            self.breaker.failure()
            decision = fallback()
            decision.usage.failures += 1
            decision.notes.append(f"the language model failed ({exc}); the rules brain answered")
            return decision
        self.breaker.success()
        return decision
