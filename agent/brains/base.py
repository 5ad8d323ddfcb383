"""What every brain produces: proposed tool calls and a reply. Policy decides what runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Brain", "ChatTurn", "Decision", "Proposal", "Usage"]


@dataclass(frozen=True)
class Proposal:
    """A tool call a brain proposes; the guard decides whether it runs, waits or is refused."""

    tool: str
    args: dict[str, Any]
    reason: str
    exception_id: str | None = None
    call_id: str | None = None  # the model's tool-call id, when a model proposed it

    def as_dict(self) -> dict[str, Any]:
        """Plain data for graph state and audit."""
        return {
            "tool": self.tool,
            "args": self.args,
            "reason": self.reason,
            "exception_id": self.exception_id,
            "call_id": self.call_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposal:
        """Inverse of :meth:`as_dict`."""
        return cls(
            data["tool"],
            dict(data["args"]),
            data.get("reason", ""),
            data.get("exception_id"),
            data.get("call_id"),
        )


@dataclass
class Usage:
    """LLM calls and tokens, as reported by the endpoint (never counted locally)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0

    def add(self, other: Usage) -> None:
        """Accumulate another usage record."""
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.failures += other.failures


@dataclass
class Decision:
    """A brain's answer: proposals to run in order, a reply for the person, and provenance."""

    proposals: list[Proposal] = field(default_factory=list)
    reply: str = ""
    brain: str = "rules"
    model: str | None = None
    prompt_version: str | None = None
    usage: Usage = field(default_factory=Usage)
    notes: list[str] = field(default_factory=list)
    malformed: list[dict[str, Any]] = field(
        default_factory=list
    )  # tool calls whose args did not parse
    done: bool = True  # False: the brain wants to see tool results and think again


@dataclass
class ChatTurn:
    """One message in a conversation, as brains see it."""

    role: str  # user | assistant | tool
    content: str
    tool_call_id: str | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    invalid_tool_calls: list[dict[str, Any]] = field(default_factory=list)


class Brain(Protocol):
    """Anything that can decide triage cases and chat turns."""

    name: str

    def decide_case(self, case: dict[str, Any], context: Any) -> Decision:
        """Decide what to do about one sensed exception."""
        ...

    def chat(self, history: list[ChatTurn], context: Any) -> Decision:
        """Answer the latest user turn with proposals and/or a reply."""
        ...
