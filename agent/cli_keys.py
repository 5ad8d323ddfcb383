"""CLI commands for the HTTP server: ``keys create|list|revoke`` and ``serve``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from agent._cli_common import DbOption, JsonOption, console, open_store, print_json, settings_for
from agent.http import auth
from tools.base import ALL_ROLES

__all__ = ["keys_app", "register", "serve"]

keys_app = typer.Typer(help="Manage API keys of the HTTP API (each maps to one role).")


def register(app: typer.Typer) -> None:
    """Add ``keys`` and ``serve`` to ``app``."""
    app.add_typer(keys_app, name="keys")
    app.command()(serve)


def _key_dict(key: auth.ApiKey) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "prefix": key.prefix,
        "role": key.role,
        "name": key.name,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help=f"one of {', '.join(ALL_ROLES)}")],
    name: Annotated[str | None, typer.Option("--name", help="who or what uses it")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create an API key; it is printed once and only its hash is kept."""
    key, plaintext = auth.create_key(open_store(db), role, name)
    if json_out:
        print_json({**_key_dict(key), "key": plaintext})
        return
    console.print(f"[bold]{key.role:<15}[/] {plaintext}", highlight=False, soft_wrap=True)
    console.print(
        f"[dim]key {key.key_id}: shown once; revoke with `proofline keys revoke {key.key_id}`[/]",
        highlight=False,
    )


@keys_app.command("list")
def list_(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List API keys (never their secrets)."""
    keys = auth.list_keys(open_store(db))
    if json_out:
        print_json([_key_dict(k) for k in keys])
        return
    table = Table(title=f"{len(keys)} API keys")
    for col in ("id", "prefix", "role", "name", "created", "revoked"):
        table.add_column(col)
    for k in keys:
        table.add_row(
            k.key_id,
            k.prefix,
            k.role,
            k.name or "",
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id")], db: DbOption = None
) -> None:
    """Revoke an API key: requests with it get 401 from now on."""
    key = auth.revoke_key(open_store(db), key_id)
    console.print(f"key {key.key_id} ({key.role}) revoked at {key.revoked_at:%Y-%m-%d %H:%M:%S}")


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    db: DbOption = None,
) -> None:
    """Serve the HTTP API and the operations console (one process owns the database)."""
    import uvicorn

    from server import create_app

    settings = settings_for(db)
    settings.open_store().close()  # a missing folder or a read-only file: one line, before serving
    console.print(f"Proofline on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=5,  # open event streams (the live board) must not hold a stop
    )
