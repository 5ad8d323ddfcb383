"""The DuckDB store: one database file (or ``:memory:``), versioned migrations, a cursor per
thread, short write transactions that retry on conflicts.

DuckDB lets one process own a database file for writing. A :class:`Store` is that owner: share
it between threads (each thread gets its own cursor) rather than opening the file twice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from record.errors import ConflictError, StoreError

__all__ = ["DEFAULT_DB", "Cursor", "Store", "migrations"]

DEFAULT_DB = "proofline.duckdb"
Cursor = duckdb.DuckDBPyConnection
T = TypeVar("T")

_CONFLICTS = (duckdb.TransactionException, duckdb.ConstraintException)


def migrations() -> list[tuple[int, str, str]]:
    """Return ``(version, name, sql)`` for every migration shipped in ``record/sql``, in order."""
    found = []
    for entry in resources.files("record.sql").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name[4:-4], entry.read_text(encoding="utf-8")))
    return sorted(found)


def _writable(path: Path) -> bool:
    """Writable by us, and not marked read-only (root may write 0444 files; we respect the mark)."""
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)


def _check_path(path: str, read_only: bool) -> None:
    if path == ":memory:":
        return
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise StoreError(
            f"database {path}: folder {folder} does not exist; create it or choose another --db"
        )
    if p.exists() and not read_only and not _writable(p):
        raise StoreError(
            f"database {path} is read-only; make it writable or open it with a read-only command"
        )
    if not p.exists() and not os.access(folder, os.W_OK):
        raise StoreError(f"database {path}: folder {folder} is not writable")


class Store:
    """An open Proofline record.

    Args:
        path: a DuckDB file path, or ``":memory:"``.
        read_only: open without write access (no migrations are applied).
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_DB, *, read_only: bool = False):
        self.path = str(path)
        _check_path(self.path, read_only)
        try:
            self._conn = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        self.read_only = read_only
        self._local = threading.local()
        self._lock = threading.Lock()
        if not read_only:
            self.migrate()

    # -- connections ------------------------------------------------------------------------

    def cursor(self) -> Cursor:
        """Return this thread's cursor (created on first use)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = self._conn.cursor()
            self._local.cursor = cur
            self._local.depth = 0
        return cur

    def close(self) -> None:
        """Close the database; cursors handed out become unusable."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """Run the block in one transaction on this thread's cursor.

        Nested use joins the outer transaction. A write conflict raises :class:`ConflictError`
        after rolling back; use :meth:`write` to retry a whole unit of work instead.
        """
        cur = self.cursor()
        if self._local.depth > 0:
            self._local.depth += 1
            try:
                yield cur
            finally:
                self._local.depth -= 1
            return
        cur.execute("BEGIN TRANSACTION")
        self._local.depth = 1
        try:
            yield cur
            cur.execute("COMMIT")
        except BaseException as exc:
            with suppress(duckdb.Error):  # DuckDB may have aborted the transaction already
                cur.execute("ROLLBACK")
            if isinstance(exc, _CONFLICTS):
                raise ConflictError(f"write conflict, nothing was changed: {exc}") from exc
            raise
        finally:
            self._local.depth = 0

    def in_transaction(self) -> bool:
        """Whether this thread is inside :meth:`transaction`."""
        return getattr(self._local, "depth", 0) > 0

    def write(self, fn: Callable[[Cursor], T], *, attempts: int = 8) -> T:
        """Run ``fn(cursor)`` in a transaction, retrying it on write conflicts with jitter."""
        if getattr(self._local, "depth", 0) > 0:
            return fn(self.cursor())

        @retry(
            retry=retry_if_exception_type(ConflictError),
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=0.005, max=0.25),
            reraise=True,
        )
        def _attempt() -> T:
            with self.transaction() as cur:
                return fn(cur)

        return _attempt()

    # -- queries ----------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Cursor:
        """Execute one statement on this thread's cursor and return it."""
        cur = self.cursor()
        return cur.execute(sql, params) if params is not None else cur.execute(sql)

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict]:
        """Run a query and return its rows as dicts."""
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def row(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> dict | None:
        """Run a query and return its first row as a dict, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        """Run a query and return the first column of its first row (None when empty)."""
        found = self.execute(sql, params).fetchone()
        return found[0] if found else None

    # -- schema and metadata ----------------------------------------------------------------

    def migrate(self) -> int:
        """Apply every migration not yet applied; return the schema version."""
        cur = self.cursor()
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        done = {v for (v,) in cur.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, name, sql in migrations():
            if version in done:
                continue
            try:
                with self.transaction() as tx:
                    tx.execute(sql)
                    tx.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [version, name, datetime.now(UTC).replace(tzinfo=None)],
                    )
            except duckdb.Error as exc:
                raise StoreError(f"migration {version:03d}_{name} failed: {exc}") from exc
        return self.schema_version()

    def schema_version(self) -> int:
        """Return the highest applied migration version (0 for an empty database)."""
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations") or 0)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """Return a metadata value (e.g. ``network_now``), or ``default``."""
        value = self.scalar("SELECT value FROM meta WHERE key = ?", [key])
        return default if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value in its own short transaction (or the caller's)."""
        self.write(
            lambda cur: cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])
        )
