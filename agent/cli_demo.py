"""``proofline demo``: the shift lead's morning view on the embedded defaults."""

from __future__ import annotations

import time

from agent._cli_common import DbOption, console, open_store
from agent.cli_record import run_sensing, show_exceptions
from record import audit, synth

__all__ = ["demo"]


def demo(db: DbOption = None) -> None:
    """Seed the demo network if the database is empty, sense exceptions and report on them."""
    started = time.perf_counter()
    store = open_store(db)
    if not store.scalar("SELECT count(*) FROM shipments"):
        console.print(f"[bold]Seeding the demo network into {store.path}[/] (scale 1, seed 7)…")
        summary = synth.generate(store, scale=1.0, seed=7)
        console.print(f"  {summary}")
    cases, counts = run_sensing(store)
    show_exceptions(cases)
    console.print(
        f"exceptions recorded: {counts.get('new', 0)} new, {counts.get('updated', 0)} updated, "
        f"{counts.get('unchanged', 0)} unchanged"
    )
    status = audit.verify(store)
    console.print(f"[{'green' if status.ok else 'bold red'}]{status.describe()}[/]")
    console.print(f"done in {time.perf_counter() - started:.1f} s")
