"""The audit log: append-only, hash-chained, written in the same transaction as the change.

Each entry's hash is SHA-256 over the previous entry's hash and a canonical JSON encoding of the
entry (sorted keys, no spaces, UTC timestamps in ISO form). The head (last sequence and hash) is
also kept in ``meta`` under ``audit_head``, so that cutting entries off the end is detected too.
Someone who can rewrite the whole table and the head can forge a consistent chain: keep exported
head hashes elsewhere (``export`` prints it) and compare.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from record.clock import utc_naive
from record.models import AuditEntry
from record.store import Cursor, Store

__all__ = ["GENESIS", "ChainStatus", "append", "canonical_json", "entries", "export", "verify"]

GENESIS = "0" * 64
_FIELDS = (
    "seq",
    "ts",
    "actor",
    "role",
    "action",
    "subject",
    "inputs",
    "result",
    "reason",
    "model",
    "prompt_version",
    "idempotency_key",
    "prev_hash",
    "hash",
)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def canonical_json(value: Any) -> str:
    """Encode ``value`` canonically: sorted keys, compact separators, UTF-8 text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def _digest(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


def _body(row: dict[str, Any]) -> dict[str, Any]:
    """The hashed part of an entry: every field but the hash, JSON columns as stored text."""
    return {k: row[k] for k in _FIELDS if k not in ("hash", "prev_hash")}


def append(
    cur: Cursor,
    *,
    actor: str,
    action: str,
    ts: datetime,
    subject: str | None = None,
    inputs: Any = None,
    result: Any = None,
    reason: str | None = None,
    role: str | None = None,
    model: str | None = None,
    prompt_version: str | None = None,
    idempotency_key: str | None = None,
) -> AuditEntry:
    """Append one entry on ``cur`` — call it inside the transaction that makes the change."""
    last = cur.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    row: dict[str, Any] = {
        "seq": seq,
        "ts": utc_naive(ts),
        "actor": actor,
        "role": role,
        "action": action,
        "subject": subject,
        "inputs": None if inputs is None else canonical_json(inputs),
        "result": None if result is None else canonical_json(result),
        "reason": reason,
        "model": model,
        "prompt_version": prompt_version,
        "idempotency_key": idempotency_key,
        "prev_hash": prev,
    }
    row["hash"] = _digest(prev, _body(row))
    cur.execute(
        f"INSERT INTO audit_log ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})",
        [row[k] for k in _FIELDS],
    )
    cur.execute("INSERT OR REPLACE INTO meta VALUES ('audit_head', ?)", [f"{seq}:{row['hash']}"])
    return AuditEntry.from_row(row)


@dataclass(frozen=True)
class ChainStatus:
    """The result of :func:`verify`."""

    ok: bool
    entries: int
    head_hash: str
    first_broken: int | None = None
    problem: str | None = None

    def describe(self) -> str:
        """One line a person can read."""
        if self.ok:
            return f"audit chain intact: {self.entries} entries, head {self.head_hash[:16]}…"
        return f"audit chain BROKEN at entry {self.first_broken}: {self.problem}"


def _rows(store: Store, where: str = "", params: list[Any] | None = None) -> Iterator[dict]:
    cur = store.cursor().execute(
        f"SELECT {', '.join(_FIELDS)} FROM audit_log {where} ORDER BY seq", params or []
    )
    while batch := cur.fetchmany(5000):
        for values in batch:
            yield dict(zip(_FIELDS, values, strict=True))


def verify(store: Store) -> ChainStatus:
    """Recompute the chain; name the first entry that was changed, removed, moved or inserted."""
    prev, expected_seq, count = GENESIS, 1, 0
    for row in _rows(store):
        seq = row["seq"]
        if seq != expected_seq:
            what = "missing" if seq > expected_seq else "out of order"
            return ChainStatus(
                False,
                count,
                prev,
                expected_seq,
                f"entry {expected_seq} is {what} (found {seq} next)",
            )
        if row["prev_hash"] != prev:
            return ChainStatus(
                False, count, prev, seq, "previous-hash link does not match the entry before it"
            )
        if _digest(prev, _body(row)) != row["hash"]:
            return ChainStatus(False, count, prev, seq, "content does not match its hash")
        prev, expected_seq, count = row["hash"], seq + 1, count + 1
    head = store.get_meta("audit_head")
    if head is not None and head != f"{count}:{prev}":
        head_seq = int(head.split(":", 1)[0])
        return ChainStatus(
            False,
            count,
            prev,
            min(head_seq, count + 1),
            f"recorded head is entry {head_seq} but the log ends at {count}",
        )
    return ChainStatus(True, count, prev)


def entries(
    store: Store,
    *,
    subject: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since_seq: int = 0,
    limit: int = 200,
) -> list[AuditEntry]:
    """Query entries, newest last."""
    where: list[str] = ["seq > ?"]
    params: list[Any] = [since_seq]
    for column, value in (("subject", subject), ("action", action), ("actor", actor)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    rows = store.rows(
        f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
        [*params, limit],
    )
    return [AuditEntry.from_row(r) for r in rows]


def export(store: Store, out: IO[str] | Path, *, start: int = 1, end: int | None = None) -> str:
    """Write entries ``start..end`` as JSON lines, then a final head line; return the head hash."""
    where, params = "WHERE seq >= ?", [start]
    if end is not None:
        where += " AND seq <= ?"
        params.append(end)
    if isinstance(out, Path):
        with out.open("w", encoding="utf-8") as fh:
            return export(store, fh, start=start, end=end)
    head, count = GENESIS, 0
    for row in _rows(store, where, params):
        out.write(canonical_json(row) + "\n")
        head, count = row["hash"], count + 1
    out.write(canonical_json({"head_hash": head, "entries": count}) + "\n")
    return head
