"""The agent's entry points for the CLI, the server and the evals: triage, chat, reschedule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from agent.graphs.chat import build_chat_graph
from agent.graphs.reschedule import build_reschedule_graph
from agent.graphs.triage import build_triage_graph
from agent.runtime import Runtime
from tools.base import Role

__all__ = [
    "chat",
    "chat_stream",
    "deliver_messages",
    "pending_interrupt",
    "reschedule",
    "resume_chat",
    "run_triage",
    "triage_details",
]


def deliver_messages(rt: Runtime) -> dict[str, Any]:
    """Hand queued customer messages to the messaging gateway (after their transactions commit)."""
    from tools.messaging import deliver_pending

    report = deliver_pending(rt.store, rt.gateways.messaging, clock=rt.clock)
    return report.model_dump(mode="json") if hasattr(report, "model_dump") else dict(vars(report))


def triage_details(rt: Runtime, run_id: str) -> dict[str, Any]:
    """A triage run's cases, plans, verdicts and outcomes, from its checkpoint."""
    state = build_triage_graph(rt).get_state(_config(run_id))
    return dict(state.values)


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": 60}


def run_triage(
    rt: Runtime, brain: str | None = None, *, run_id: str | None = None
) -> dict[str, Any]:
    """Run triage to the end, resuming an unfinished run first (after a crash); return the summary."""
    graph = build_triage_graph(rt)
    unfinished = rt.store.row(
        "SELECT run_id, brain FROM triage_runs WHERE status = 'running' ORDER BY started_at DESC LIMIT 1"
    )
    if unfinished is not None:
        config = _config(unfinished["run_id"])
        if graph.get_state(config).next:
            graph.invoke(None, config, durability="sync")
            deliver_messages(rt)
            return dict(graph.get_state(config).values.get("summary", {}))
        run_id, brain = unfinished["run_id"], unfinished["brain"]
    else:
        brain = brain or rt.settings.brain
        run_id = run_id or f"RUN-{uuid.uuid4().hex[:10]}"
        rt.store.write(
            lambda cur: cur.execute(
                "INSERT INTO triage_runs (run_id, brain, actor, started_at) VALUES (?, ?, ?, ?)",
                [run_id, brain, f"agent:{brain}", rt.clock.now()],
            )
        )
    config = _config(run_id)
    try:
        result = graph.invoke({"run_id": run_id, "brain": brain}, config, durability="sync")
    except Exception:
        # A bug or a failing dependency: close the run so the next one starts afresh. (A killed
        # process leaves it 'running', and the next call resumes it from its checkpoint.)
        rt.store.write(
            lambda cur: cur.execute(
                "UPDATE triage_runs SET status = 'failed', finished_at = ? WHERE run_id = ?",
                [rt.clock.now(), run_id],
            )
        )
        raise
    deliver_messages(rt)
    return dict(result.get("summary", {}))


def pending_interrupt(rt: Runtime, thread_id: str, brain: str = "rules") -> dict[str, Any] | None:
    """The approval a chat thread is waiting for, if any."""
    state = build_chat_graph(rt, brain).get_state(_config(thread_id))
    for task in state.tasks:
        for intr in task.interrupts:
            return dict(intr.value)
    return None


def _outcome(rt: Runtime, graph: Any, thread_id: str) -> dict[str, Any]:
    state = graph.get_state(_config(thread_id))
    waiting = None
    for task in state.tasks:
        for intr in task.interrupts:
            waiting = dict(intr.value)
    values = state.values
    return {
        "thread_id": thread_id,
        "reply": values.get("reply", "") if waiting is None else "",
        "events": values.get("events", []),
        "approval": waiting,
        "brain": values.get("brain_used"),
    }


def chat_stream(
    rt: Runtime,
    thread_id: str,
    message: str,
    *,
    actor: str,
    role: Role,
    brain: str | None = None,
    resume: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Run one chat turn (or resume one), yielding events as the graph produces them."""
    graph = build_chat_graph(rt, brain or rt.settings.brain)
    payload: Any = (
        Command(resume=resume)
        if resume is not None
        else {"message": message, "actor": actor, "role": role}
    )
    # On resume the state already holds this turn's earlier events: yield only what is new.
    seen = (
        len(graph.get_state(_config(thread_id)).values.get("events", []))
        if resume is not None
        else 0
    )
    for update in graph.stream(
        payload, _config(thread_id), stream_mode="values", durability="sync"
    ):
        events = update.get("events", []) if isinstance(update, dict) else []
        if len(events) < seen:
            seen = 0
        yield from events[seen:]
        seen = len(events)
    outcome = _outcome(rt, graph, thread_id)
    deliver_messages(rt)
    if outcome["approval"]:
        yield outcome["approval"]
    yield {"type": "done", **{k: outcome[k] for k in ("thread_id", "reply", "approval", "brain")}}


def chat(
    rt: Runtime, thread_id: str, message: str, *, actor: str, role: Role, brain: str | None = None
) -> dict[str, Any]:
    """One chat turn to the end (or to an approval request)."""
    events = list(chat_stream(rt, thread_id, message, actor=actor, role=role, brain=brain))
    return {**events[-1], "events": events[:-1]}


def resume_chat(
    rt: Runtime,
    thread_id: str,
    *,
    decision: str,
    actor: str,
    role: Role,
    reason: str | None = None,
    brain: str | None = None,
) -> dict[str, Any]:
    """Answer a chat thread's pending approval ('approve' or 'reject') and finish the turn."""
    resume = {"decision": decision, "actor": actor, "role": role, "reason": reason}
    events = list(
        chat_stream(rt, thread_id, "", actor=actor, role=role, brain=brain, resume=resume)
    )
    return {**events[-1], "events": events[:-1]}


def reschedule(
    rt: Runtime, text: str, *, actor: str, role: Role, brain: str | None = None
) -> dict[str, Any]:
    """Handle one contact-center reschedule request; return its outcome."""
    graph = build_reschedule_graph(rt)
    thread = f"reschedule-{uuid.uuid4().hex[:12]}"
    request = {"text": text, "actor": actor, "role": role, "brain": brain or rt.settings.brain}
    state = graph.invoke(request, _config(thread))
    deliver_messages(rt)
    keys = ("status", "message", "shipment_id", "window", "options", "result", "confirmation")
    return {k: state.get(k) for k in keys}
