"""The ``proofline`` command line: one Typer app assembled from the command modules."""

from __future__ import annotations

import sys

import typer

from agent import cli_agent, cli_keys, cli_record
from agent._cli_common import console, fail
from agent.cli_demo import demo
from agent.cli_tools import tool_app
from record.errors import InputError, NotFoundError, ProoflineError
from tools.errors import ToolError

__all__ = ["app", "main"]

app = typer.Typer(
    name="proofline",
    help="Proofline: DSCSA-grade operations assistant for healthcare supply chains.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
cli_record.register(app)
cli_agent.register(app)
cli_keys.register(app)
app.add_typer(tool_app, name="tool")
app.command()(demo)


def _add_evals() -> None:
    # The CLI is the one place that composes both sides: evals drive the agent from outside,
    # and the agent's code never imports evals.
    from evals.cli import register

    register(app)


_add_evals()


def main() -> None:
    """Console-script entry point: run the app, turning Proofline errors into one-line reasons."""
    try:
        app()
    except (InputError, NotFoundError, ToolError) as exc:
        fail(str(exc), code=2)
    except ProoflineError as exc:
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
