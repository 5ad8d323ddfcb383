"""CLI commands over the record: seed, sense, epcis import/export, audit verify/export."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent._cli_common import DbOption, JsonOption, console, fail, open_store, print_json
from record import audit, epcis, sensing, synth
from record.models import ExceptionCase

__all__ = ["register", "show_exceptions"]

epcis_app = typer.Typer(
    help="Exchange EPCIS documents (import 2.0 JSON / 1.2 XML, export 2.0 JSON)."
)
audit_app = typer.Typer(help="Verify and export the hash-chained audit log.")


def register(app: typer.Typer) -> None:
    """Add the record commands to ``app``."""
    app.command()(seed)
    app.command()(sense)
    app.add_typer(epcis_app, name="epcis")
    app.add_typer(audit_app, name="audit")


def seed(
    db: DbOption = None,
    scale: Annotated[float, typer.Option(help="network size; 1 is the demo, 20 ~1M units")] = 1.0,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same network)")] = 7,
    clean: Annotated[bool, typer.Option(help="delete an existing database first")] = False,
    no_inject: Annotated[bool, typer.Option("--no-inject", help="no injected exceptions")] = False,
    json_out: JsonOption = False,
) -> None:
    """Generate a synthetic network (locations, products, serialized units, shipments, readings)."""
    if scale <= 0 or scale > 100:
        fail(f"--scale {scale}: must be greater than 0 and at most 100")
    store = open_store(db)
    if store.scalar("SELECT count(*) FROM shipments"):
        if not clean:
            fail(f"{store.path} already holds a network; pass --clean to replace it")
        store.close()
        for path in (Path(store.path), Path(store.path + ".wal")):
            path.unlink(missing_ok=True)
        store = open_store(db)
    with _progress(json_out) as progress:
        task = progress.add_task("seeding", total=1.0)
        summary = synth.generate(
            store,
            scale=scale,
            seed=seed,
            inject=not no_inject,
            progress=lambda step, done: progress.update(task, description=step, completed=done),
        )
    counts = summary.as_dict() if hasattr(summary, "as_dict") else vars(summary)
    if json_out:
        print_json({"db": store.path, **counts})
        return
    table = Table(title=f"Seeded {store.path} (scale {scale}, seed {seed})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in counts.items():
        table.add_row(name, f"{count:,}" if isinstance(count, int) else str(count))
    console.print(table)


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not sys.stdout.isatty(),
        transient=True,
    )


def sense(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Sense every exception kind in the record and store them as open exceptions."""
    store = open_store(db)
    cases, counts = run_sensing(store)
    if json_out:
        print_json({"counts": counts, "exceptions": [c.model_dump(mode="json") for c in cases]})
        return
    show_exceptions(cases)
    console.print(
        f"recorded: {counts.get('new', 0)} new, {counts.get('updated', 0)} updated, "
        f"{counts.get('unchanged', 0)} unchanged"
    )


def run_sensing(store) -> tuple[list[ExceptionCase], dict]:  # type: ignore[no-untyped-def]
    """Sense, record the exceptions and audit the run; return the cases and the counts."""
    from agent.settings import Settings

    now = Settings().clock(store).now()
    cases = sensing.sense(store, now=now)
    counts = sensing.record_exceptions(store, cases, now)
    return cases, counts


def show_exceptions(cases: list[ExceptionCase], *, evidence_items: int = 4) -> None:
    """Print exceptions grouped by kind with a short line of evidence each."""
    by_kind = Counter(c.kind for c in cases)
    table = Table(title=f"{len(cases)} exceptions sensed", show_lines=False)
    for col in ("kind", "severity", "subject", "evidence"):
        table.add_column(col, overflow="fold")
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    for case in sorted(cases, key=lambda c: (c.kind, order[c.severity], c.subject)):
        table.add_row(case.kind, case.severity, case.subject, _brief(case.evidence, evidence_items))
    console.print(table)
    console.print(", ".join(f"{k}: {n}" for k, n in sorted(by_kind.items())))


def _brief(evidence: dict, items: int) -> str:
    parts = []
    for key, value in evidence.items():
        if isinstance(value, list | dict):
            value = f"[{len(value)} items]"
        parts.append(f"{key}={value}")
        if len(parts) == items:
            break
    return "; ".join(parts)


@epcis_app.command("import")
def epcis_import(
    files: Annotated[list[Path], typer.Argument(help="EPCIS 2.0 JSON(-LD) or 1.2 XML documents")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import EPCIS documents; each one is all-or-nothing."""
    store = open_store(db)
    results = []
    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file")
        result = epcis.import_document(store, path, actor="cli", filename=path.name)
        results.append(result)
        if not json_out:
            console.print(f"[green]imported[/] {path.name}: {_describe_import(result)}")
    if json_out:
        print_json([_as_dict(r) for r in results])


def _as_dict(value: object) -> dict:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if dump else dict(vars(value))


def _describe_import(result: object) -> str:
    data = _as_dict(result)
    return ", ".join(f"{k}={v}" for k, v in data.items() if k not in ("warnings",))


@epcis_app.command("export")
def epcis_export(
    db: DbOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="output file (default: stdout)")] = None,
) -> None:
    """Export the custody events as one EPCIS 2.0 JSON document."""
    store = open_store(db, read_only=True)
    document = epcis.export_document(store)
    if out is None:
        print_json(document)
        return
    import json

    out.write_text(json.dumps(document, indent=2), encoding="utf-8")
    count = len(document["epcisBody"]["eventList"])
    console.print(f"wrote {count} events to {out}")


@audit_app.command("verify")
def audit_verify(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Recompute the hash chain; exit 1 and name the first broken entry if it was tampered with."""
    status = audit.verify(open_store(db, read_only=True))
    if json_out:
        print_json(vars(status))
    else:
        colour = "green" if status.ok else "bold red"
        console.print(f"[{colour}]{status.describe()}[/]")
    if not status.ok:
        raise SystemExit(1)


@audit_app.command("export")
def audit_export(
    db: DbOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="output file (default: stdout)")] = None,
    start: Annotated[int, typer.Option(help="first sequence number")] = 1,
    end: Annotated[int | None, typer.Option(help="last sequence number")] = None,
) -> None:
    """Export audit entries as JSON lines, ending with the head hash."""
    store = open_store(db, read_only=True)
    if out is None:
        audit.export(store, sys.stdout, start=start, end=end)
        return
    head = audit.export(store, out, start=start, end=end)
    console.print(f"wrote audit entries to {out}; head hash {head}")
