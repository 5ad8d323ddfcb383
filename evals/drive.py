"""Driving the agent for one run, through ``agent.service`` only: a triage run (repeated if the
case asks), chat turns (answering pending approvals as the case says), or a reschedule request.
LLM calls and tokens are added up from what the brain's decisions report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from evals.cases import Case
from tools.base import Role

__all__ = ["Meter", "close", "drive", "settings_for"]


class Meter:
    """Adds up the usage every decision of a brain reports (the endpoint's own counts).

    It wraps the brain's public ``chat`` and ``decide_case`` methods on this run's runtime only.
    """

    def __init__(self) -> None:
        self.calls = self.prompt_tokens = self.completion_tokens = self.failures = 0
        self.notes: list[str] = []

    def attach(self, brain: Any) -> None:
        """Meter ``brain``'s decisions."""
        for name in ("chat", "decide_case"):
            original = getattr(brain, name)

            def metered(*args: Any, _fn: Any = original, **kwargs: Any) -> Any:
                decision = _fn(*args, **kwargs)
                usage = decision.usage
                self.calls += usage.calls
                self.prompt_tokens += usage.prompt_tokens
                self.completion_tokens += usage.completion_tokens
                self.failures += usage.failures
                self.notes += [n for n in decision.notes if "language model" in n]
                return decision

            setattr(brain, name, metered)

    def as_dict(self) -> dict[str, int]:
        """Calls, tokens and failures."""
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "failures": self.failures}  # fmt: skip


def settings_for(base: Any, brain: str, db: Path, now: Any) -> Any:
    """The run's settings: the base (LLM endpoint etc.) on this copy, clock frozen at the
    network's now, external gateways off (an eval never calls a real messaging provider)."""
    from agent.settings import Settings

    base = base if base is not None else Settings()
    return base.model_copy(update={"db": db, "brain": brain, "now": now,
                                   "verification_url": None, "messaging_webhook_url": None})  # fmt: skip


def _chat(case: Case, rt: Any, brain: str, thread: str, append: str | None) -> dict[str, Any]:
    from agent import service

    replies, events, approval = [], [], None
    for i, turn in enumerate(case.input.chat_turns()):
        if turn.message is not None:
            text = f"{turn.message} {append}" if append and i == 0 else turn.message
            out = service.chat(
                rt,
                thread,
                text,
                actor=turn.actor or case.input.actor,
                role=cast(Role, turn.role or case.input.role),
                brain=brain,
            )
        elif service.pending_interrupt(rt, thread, brain) is None:
            replies.append(f"[eval: no approval was pending to {turn.decision}]")
            continue
        else:
            out = service.resume_chat(rt, thread, decision=turn.decision or "approve",
                                      actor=turn.actor or "ops:lead", role=turn.role or "ops_manager",  # type: ignore[arg-type]
                                      reason=turn.reason, brain=brain)  # fmt: skip
        replies.append(str(out.get("reply") or ""))
        events += out.get("events", [])
        approval = out.get("approval")
    reply = "\n".join(r for r in replies if r)
    return {"reply": reply, "events": events, "approval": approval}


def drive(case: Case, rt: Any, brain: str, thread: str, append: str | None) -> dict[str, Any]:
    """Run the case's input through the agent; return its outcome (reply, status, events ...)."""
    from agent import service

    kind = case.input.kind
    if kind == "triage":
        summaries = [service.run_triage(rt, brain) for _ in range(case.input.repeat)]
        return {"reply": "", "summary": summaries[-1], "runs": len(summaries)}
    if kind == "chat":
        return _chat(case, rt, brain, thread, append)
    text = f"{case.input.text} {append}" if append else case.input.text
    out = service.reschedule(rt, text or "", actor=case.input.actor, role=case.input.role)  # type: ignore[arg-type]
    return {**out, "reply": out.get("message") or ""}


def close(rt: Any, store: Any, keep: bool) -> None:
    """Close the run's checkpointer and store."""
    conn = getattr(getattr(rt, "checkpointer", None), "conn", None)
    if conn is not None:
        conn.close()
    if store is not None:
        if not keep:  # the copy is deleted next: writing it back to disk is wasted time
            store.execute("PRAGMA disable_checkpoint_on_shutdown")
        store.close()
