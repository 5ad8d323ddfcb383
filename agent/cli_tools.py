"""``proofline tool list`` and ``proofline tool call``: every tool from a shell."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from agent._cli_common import DbOption, JsonOption, console, fail, print_json
from agent.cli_agent import RoleOption, _role, runtime_for
from tools.base import REGISTRY, call_tool

__all__ = ["tool_app"]

tool_app = typer.Typer(help="List and call the agent's tools directly.")


@tool_app.command("list")
def tool_list(json_out: JsonOption = False) -> None:
    """Every tool with its kind, risk and the roles that may call it."""
    import tools  # noqa: F401

    rows = [
        {
            "name": s.name,
            "kind": s.kind.value,
            "risk": s.risk.value,
            "roles": sorted(s.roles),
            "description": s.description,
        }
        for s in sorted(REGISTRY.values(), key=lambda s: s.name)
    ]
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} tools")
    for col in ("name", "kind", "risk", "roles", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["name"]),
            str(r["kind"]),
            str(r["risk"]),
            ", ".join(r["roles"]),
            str(r["description"]),
        )
    console.print(table)


@tool_app.command("call")
def tool_call(
    name: str,
    args: Annotated[str, typer.Option("--args", help="arguments as a JSON object")] = "{}",
    role: RoleOption = "ops_manager",
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Call one tool as ``--role``; refusals exit 2 with the reason."""
    try:
        parsed = json.loads(args)
    except json.JSONDecodeError as exc:
        fail(f"--args is not valid JSON: {exc.msg} at character {exc.pos}")
    if not isinstance(parsed, dict):
        fail('--args must be a JSON object, e.g. \'{"shipment_id": "SHP-1042"}\'')
    rt = runtime_for(db)
    ctx = rt.context(f"cli:{role}", _role(role))
    result = call_tool(
        ctx, name, parsed, idempotency_key=idempotency_key, reason="called from the CLI"
    )
    if json_out:
        print_json(result.model_dump(mode="json"))
    else:
        console.print_json(result.model_dump_json())
