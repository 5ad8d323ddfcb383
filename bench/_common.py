"""Shared pieces of the benchmarks: the machine description, the results files, tables, and the
seeded networks reused across benchmarks.

A seeded network is kept pristine at ``<cache>/scale-<s>.duckdb`` (default cache
``/tmp/proofline-bench``) and reused while its schema version, scale and seed still match; a
benchmark that writes (triage) works on a copy. ``bench/recall.py --db`` can seed the scale-20 one.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CACHE = Path("/tmp/proofline-bench")
SEED = 7
T = TypeVar("T")

console = Console(width=150)

__all__ = [
    "CACHE",
    "RESULTS",
    "ROOT",
    "carry_out",
    "close_runtime",
    "console",
    "cpu_seconds",
    "describe",
    "machine",
    "network",
    "open_runtime",
    "print_table",
    "save",
    "timed",
    "working_copy",
]


def machine() -> dict[str, Any]:
    """The machine and software the figures were taken on (load included: it is shared)."""
    cpu = platform.processor() or platform.machine()
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "os": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def describe(info: dict[str, Any]) -> str:
    """One line for a person."""
    load = " / ".join(f"{x:.2f}" for x in info.get("load_average", []))
    return (
        f"{info['cpu']}, {info['cores']} cores, load {load}, Python {info['python']}, "
        f"DuckDB {info['duckdb']}"
    )


def save(name: str, record: dict[str, Any]) -> Path:
    """Append ``record`` as one JSON line to ``bench/results/<name>-<UTC stamp>.json``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{name}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    body = {"benchmark": name, "at": stamp, **record}
    with out.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(body, default=str) + "\n")
    console.print(f"appended to {out.relative_to(ROOT)}")
    return out


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A right-aligned table on the console."""
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)


def cpu_seconds() -> float:
    """CPU time of this process so far (user + system, every thread, DuckDB's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(wall seconds, result)."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


# -- seeded networks ------------------------------------------------------------------------


def _latest_schema() -> int:
    from record.store import migrations

    return max(version for version, _, _ in migrations())


def _pristine(path: Path, scale: float) -> bool:
    """A complete seed of this scale and seed, on the current schema, never triaged."""
    if not path.exists() or Path(f"{path}.wal").exists():
        return False
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:  # in use by another process, most likely: do not reseed it
        raise SystemExit(f"cannot open {path} to check it: {exc}") from exc
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        version = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
        written = con.execute(
            "SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM exceptions)"
        ).fetchone()
    except duckdb.Error:
        return False
    finally:
        con.close()
    return (
        meta.get("synth_scale") == repr(float(scale))
        and meta.get("synth_seed") == str(SEED)
        and version is not None
        and version[0] == _latest_schema()
        and written is not None
        and written[0] == 0
    )


def network(scale: float, cache: Path = CACHE) -> tuple[Path, float]:
    """The pristine seeded network of ``scale``: reused, or seeded now; (path, seed seconds)."""
    from record.store import Store
    from record.synth import generate

    path = cache / f"scale-{scale:g}.duckdb"
    if _pristine(path, scale):
        return path, 0.0
    cache.mkdir(parents=True, exist_ok=True)
    for stale in (path, Path(f"{path}.wal")):
        stale.unlink(missing_ok=True)
    console.print(f"seeding scale {scale:g} into {path} …")
    with Store(path) as store:
        seconds, _ = timed(lambda: generate(store, scale=scale, seed=SEED))
    return path, seconds


def working_copy(template: Path, folder: Path, name: str = "work") -> Path:
    """A fresh writable copy of ``template`` in ``folder`` (its checkpoints go beside it)."""
    dest = folder / f"{name}.duckdb"
    for old in folder.glob(f"{name}.duckdb*"):
        old.unlink()
    shutil.copyfile(template, dest)
    return dest


def carry_out(rt: Any, ctx: Any, proposal: Any, *, key: str, origin: str) -> tuple[str, str]:
    """What a loop without the graph does with one proposal: the guard, then run or queue.

    Returns ``(status, detail)``: done (the result as JSON), queued, refused or failed (why).
    """
    from agent.approvals import queue
    from tools.base import call_tool
    from tools.errors import ToolError

    verdict = rt.guard.check(ctx, proposal, mode="triage")
    if verdict.action == "refuse":
        return "refused", verdict.reason
    if verdict.action == "approve":
        return "queued", queue(ctx, proposal, origin=origin, why=verdict.reason)
    try:
        result = call_tool(
            ctx, proposal.tool, proposal.args, idempotency_key=key, reason=proposal.reason
        )
    except ToolError as exc:
        return "failed", str(exc)
    return "done", result.model_dump_json()


def open_runtime(path: Path, **settings: Any) -> Any:
    """An agent runtime on the database at ``path`` (settings fields as keywords)."""
    from agent.runtime import Runtime
    from agent.settings import Settings

    return Runtime.from_settings(Settings(db=path, **settings))


def close_runtime(rt: Any) -> None:
    """Close the runtime's database and its checkpoint file."""
    rt.store.close()
    conn = getattr(rt.checkpointer, "conn", None)
    if conn is not None:
        conn.close()
