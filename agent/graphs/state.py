"""Graph states. Plain JSON-able data only, so checkpoints stay portable."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

__all__ = ["ChatInput", "ChatState", "TriageInput", "TriageState"]


class TriageInput(TypedDict):
    """What a caller passes to start a triage run."""

    run_id: str
    brain: str


class TriageState(TriageInput, total=False):
    """What the triage graph keeps between nodes."""

    cases: list[dict[str, Any]]
    """Open exceptions to decide, as ExceptionCase dumps."""
    plans: list[dict[str, Any]]
    """Per case: the brain's proposals, its reason, and notes (e.g. 'needs_judgement')."""
    verdicts: list[dict[str, Any]]
    """Per proposal: the guard's action (run / approve / refuse) and why."""
    outcomes: list[dict[str, Any]]
    """Per proposal: done, queued (with approval id), refused or failed, with the result."""
    usage: dict[str, int]
    """LLM calls and tokens used by the run."""
    summary: dict[str, Any]
    """The shift lead's view of the run."""


class ChatInput(TypedDict):
    """One message from a person."""

    message: str
    actor: str
    role: str


class ChatState(ChatInput, total=False):
    """A conversation: the turns so far and the pending approval, if any."""

    history: Annotated[list[dict[str, Any]], operator.add]
    """ChatTurn dicts, appended by each node."""
    pending: list[dict[str, Any]]
    """Proposals the brain made that have not run yet."""
    events: list[dict[str, Any]]
    """What happened this turn, for streaming: tool calls, results, approvals, the reply."""
    provenance: dict[str, Any]
    """Model and prompt version of the decision whose proposals are pending (for the audit)."""
    steps: int
    malformed_strikes: int
    retry: bool
    """Think again at once: the model's tool arguments did not parse (once)."""
    reply: str
    brain_used: str
