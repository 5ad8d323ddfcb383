"""CLI commands for the agent: triage, ask, chat, reschedule, approvals, approve, reject."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.table import Table

from agent import approvals as approvals_mod
from agent import service
from agent._cli_common import DbOption, JsonOption, console, fail, print_json, settings_for
from agent.runtime import Runtime
from tools.base import ALL_ROLES, Role

__all__ = ["register", "runtime_for", "show_triage"]

BrainOption = Annotated[str | None, typer.Option("--brain", help="rules (default) or llm")]
RoleOption = Annotated[str, typer.Option("--role", help=f"acting role: {', '.join(ALL_ROLES)}")]


def runtime_for(db: DbOption, brain: str | None = None) -> Runtime:
    """A runtime over ``--db`` with ``--brain`` applied."""
    settings = settings_for(db)
    if brain is not None:
        if brain not in ("rules", "llm"):
            fail(f"--brain {brain}: use rules or llm")
        settings = settings.model_copy(update={"brain": brain})
    if settings.brain == "llm" and not settings.llm_base_url:
        fail(
            "--brain llm needs an endpoint: set PROOFLINE_LLM_BASE_URL (and PROOFLINE_LLM_MODEL, "
            "PROOFLINE_LLM_API_KEY)"
        )
    return Runtime.from_settings(settings)


def _role(role: str) -> Role:
    if role not in ALL_ROLES:
        fail(f"--role {role}: use one of {', '.join(ALL_ROLES)}")
    return role  # type: ignore[return-value]


def register(app: typer.Typer) -> None:
    """Add the agent commands to ``app``."""
    for fn in (triage, ask, chat, reschedule, approvals, approve, reject):
        app.command()(fn)


def show_triage(summary: dict, rt: Runtime) -> None:
    """The shift lead's view of a triage run."""
    table = Table(
        title=f"Triage {summary.get('run_id')} ({summary.get('brain')} brain): "
        f"{summary.get('exceptions', 0)} exceptions"
    )
    for col in ("action", "outcome", "count"):
        table.add_column(col)
    for key, count in sorted(summary.get("actions", {}).items()):
        tool, status = key.rsplit(":", 1)
        table.add_row(tool, status, str(count))
    console.print(table)
    console.print(
        f"done {summary.get('done', 0)}, waiting for approval {summary.get('queued', 0)}, "
        f"refused {summary.get('refused', 0)}"
    )


def triage(db: DbOption = None, brain: BrainOption = None, json_out: JsonOption = False) -> None:
    """Sense, decide and act on every open exception (resumes an interrupted run first)."""
    rt = runtime_for(db, brain)
    summary = service.run_triage(rt, brain)
    if json_out:
        print_json(summary)
    else:
        show_triage(summary, rt)


def ask(
    message: Annotated[str, typer.Argument(help='what to ask, e.g. "what is at risk?"')],
    db: DbOption = None,
    role: RoleOption = "ops_manager",
    thread: Annotated[str | None, typer.Option(help="conversation id to continue")] = None,
    brain: BrainOption = None,
    json_out: JsonOption = False,
) -> None:
    """Ask one question or give one command, as a person with ``--role``."""
    rt = runtime_for(db, brain)
    thread_id = thread or f"cli-{uuid.uuid4().hex[:8]}"
    outcome = service.chat(
        rt, thread_id, message, actor=f"cli:{role}", role=_role(role), brain=brain
    )
    if json_out:
        print_json(outcome)
        return
    _show_turn(outcome)


def _show_turn(outcome: dict) -> None:
    for event in outcome["events"]:
        if event["type"] == "tool_call":
            console.print(f"[dim]→ {event['tool']} {event['args']}[/]")
        elif event["type"] in ("refused", "tool_error"):
            console.print(
                f"[yellow]✗ {event['tool']}: {event.get('reason') or event.get('error')}[/]"
            )
        elif event["type"] == "note":
            console.print(f"[dim]{event['content']}[/]")
    if outcome.get("approval"):
        a = outcome["approval"]
        console.print(
            f"[bold yellow]Waiting for approval {a['approval_id']}[/]: {a['tool']} {a['args']} — {a['why']}"
        )
        console.print(f"approve with: proofline approve {a['approval_id']}")
    if outcome.get("reply"):
        console.print(outcome["reply"], highlight=False)


def chat(db: DbOption = None, role: RoleOption = "ops_manager", brain: BrainOption = None) -> None:
    """Interactive chat (empty line or Ctrl-D to leave)."""
    rt = runtime_for(db, brain)
    thread_id = f"cli-{uuid.uuid4().hex[:8]}"
    console.print(
        f'Proofline chat ({rt.settings.brain} brain, role {role}). Ask "help" for what I can do.'
    )
    while True:
        try:
            message = console.input("[bold]you>[/] ").strip()
        except EOFError:
            break
        if not message:
            break
        pending = service.pending_interrupt(rt, thread_id, rt.settings.brain)
        if pending and message.lower() in ("yes", "approve", "y", "no", "reject", "n"):
            decision = "approve" if message.lower() in ("yes", "approve", "y") else "reject"
            outcome = service.resume_chat(
                rt, thread_id, decision=decision, actor=f"cli:{role}", role=_role(role)
            )
        else:
            outcome = service.chat(rt, thread_id, message, actor=f"cli:{role}", role=_role(role))
        _show_turn(outcome)


def reschedule(
    text: Annotated[str, typer.Argument(help="the customer's request, as written")],
    db: DbOption = None,
    role: RoleOption = "contact_center",
    json_out: JsonOption = False,
) -> None:
    """Handle a contact-center reschedule request written in free text."""
    rt = runtime_for(db)
    outcome = service.reschedule(rt, text, actor=f"cli:{role}", role=_role(role))
    if json_out:
        print_json(outcome)
        return
    colour = {"applied": "green", "options": "yellow", "clarify": "cyan", "refused": "red"}[
        outcome["status"]
    ]
    console.print(f"[{colour}]{outcome['status']}[/]: {outcome['message']}", highlight=False)


def approvals(
    db: DbOption = None,
    status: Annotated[str, typer.Option(help="pending, approved, rejected or all")] = "pending",
    json_out: JsonOption = False,
) -> None:
    """List approvals."""
    rt = runtime_for(db)
    rows = approvals_mod.list_approvals(
        rt.context("cli", "auditor"), None if status == "all" else status
    )
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} approvals ({status})")
    for col in ("id", "tool", "shipment", "status", "reason"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["approval_id"],
            r["tool"],
            str(r["args"].get("shipment_id", "")),
            r["status"],
            r["reason"] or "",
        )
    console.print(table)


def approve(
    approval_id: str,
    db: DbOption = None,
    role: RoleOption = "ops_manager",
    json_out: JsonOption = False,
) -> None:
    """Approve a pending action: it runs now, once."""
    _decide(approval_id, db, role, True, None, json_out)


def reject(
    approval_id: str,
    reason: Annotated[str, typer.Option("--reason", help="why")],
    db: DbOption = None,
    role: RoleOption = "ops_manager",
    json_out: JsonOption = False,
) -> None:
    """Reject a pending action; the exception is reopened and the next triage escalates it."""
    _decide(approval_id, db, role, False, reason, json_out)


def _decide(
    approval_id: str, db: DbOption, role: str, approve_it: bool, reason: str | None, json_out: bool
) -> None:
    rt = runtime_for(db)
    ctx = rt.context(f"cli:{role}", _role(role))
    row = approvals_mod.get(ctx, approval_id)
    if row.get("thread_id") and service.pending_interrupt(rt, row["thread_id"]):
        service.resume_chat(
            rt,
            row["thread_id"],
            decision="approve" if approve_it else "reject",
            actor=ctx.actor,
            role=ctx.role,
            reason=reason,
        )
        row = approvals_mod.get(ctx, approval_id)
    else:
        row = approvals_mod.decide(ctx, approval_id, approve=approve_it, reason=reason)
    if json_out:
        print_json(row)
    else:
        console.print(f"{row['approval_id']}: {row['tool']} is [bold]{row['status']}[/]")
