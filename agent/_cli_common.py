"""Helpers shared by the CLI command modules: options, output, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from agent.settings import Settings
from record.audit import canonical_json
from record.store import Store

__all__ = ["DbOption", "JsonOption", "console", "err_console", "fail", "open_store", "print_json"]

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db", help="DuckDB database file (default: $PROOFLINE_DB or ./proofline.duckdb)"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]


def settings_for(db: Path | None) -> Settings:
    """Settings from the environment, with ``--db`` taking precedence."""
    settings = Settings()
    return settings.model_copy(update={"db": db}) if db is not None else settings


def open_store(db: Path | None, *, read_only: bool = False) -> Store:
    """Open the database named by ``--db`` or the settings."""
    return settings_for(db).open_store(read_only=read_only)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(json.loads(canonical_json(value)), indent=2) + "\n")


def fail(message: str, *, code: int = 2) -> NoReturn:
    """Print a one-line reason on stderr and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(code)
