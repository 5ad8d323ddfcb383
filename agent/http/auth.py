"""API keys: create, list, revoke and authenticate.

A key looks like ``pl_<key_id>_<secret>``. Only ``sha256$<salt>$<digest>`` of the secret is
stored (salted SHA-256 suffices for 256-bit random secrets; see ``record/sql/009_keys.sql``).
Creating and revoking a key are audited in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from record import audit
from record.clock import Clock, SystemClock
from record.errors import InputError, NotFoundError
from record.store import Cursor, Store
from tools.base import ALL_ROLES, Role

__all__ = ["ApiKey", "authenticate", "create_key", "list_keys", "revoke_key"]

_SCHEME = "pl"


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never its secret)."""

    key_id: str
    prefix: str
    role: Role
    name: str | None
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def actor(self) -> str:
        """The actor recorded in the audit log for requests made with this key."""
        return f"key:{self.key_id}"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApiKey:
        """Build from an ``api_keys`` row."""
        fields = ("key_id", "prefix", "role", "name", "created_at", "revoked_at")
        return cls(**{k: row[k] for k in fields})


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def create_key(
    store: Store, role: str, name: str | None = None, *, clock: Clock | None = None
) -> tuple[ApiKey, str]:
    """Create a key for ``role``; return it and the plaintext key (shown once, never stored).

    Raises:
        InputError: ``role`` is not one of the four roles.
    """
    if role not in ALL_ROLES:
        raise InputError(f"role {role!r}: use one of {', '.join(ALL_ROLES)}")
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
    now = (clock or SystemClock()).now()
    prefix = f"{_SCHEME}_{key_id}"

    def _write(cur: Cursor) -> None:
        cur.execute(
            "INSERT INTO api_keys (key_id, prefix, hash, role, name, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [key_id, prefix, f"sha256${salt}${_digest(salt, secret)}", role, name, now],
        )
        audit.append(
            cur,
            actor="system",
            action="api_key.created",
            ts=now,
            subject=key_id,
            inputs={"role": role, "name": name},
        )

    store.write(_write)
    key = ApiKey(key_id=key_id, prefix=prefix, role=role, name=name, created_at=now)  # type: ignore[arg-type]
    return key, f"{prefix}_{secret}"


def list_keys(store: Store) -> list[ApiKey]:
    """Every key, oldest first (revoked ones included)."""
    return [ApiKey.from_row(r) for r in store.rows("SELECT * FROM api_keys ORDER BY created_at")]


def revoke_key(store: Store, key_id: str, *, clock: Clock | None = None) -> ApiKey:
    """Revoke a key (idempotent); return it.

    Raises:
        NotFoundError: no key has that id.
    """
    now = (clock or SystemClock()).now()

    def _write(cur: Cursor) -> None:
        row = cur.execute("SELECT revoked_at FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no API key {key_id!r}; list them with `proofline keys list`")
        if row[0] is None:
            cur.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", [now, key_id])
            audit.append(cur, actor="system", action="api_key.revoked", ts=now, subject=key_id)

    store.write(_write)
    found = store.row("SELECT * FROM api_keys WHERE key_id = ?", [key_id])
    assert found is not None
    return ApiKey.from_row(found)


def authenticate(store: Store, presented: str) -> ApiKey | None:
    """The live key matching ``presented``, or None (unknown, malformed, wrong or revoked)."""
    scheme, _, rest = presented.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    if scheme != _SCHEME or not key_id or not secret or len(presented) > 200:
        return None
    row = store.row("SELECT * FROM api_keys WHERE key_id = ? AND revoked_at IS NULL", [key_id])
    if row is None:
        return None
    algorithm, _, stored = str(row["hash"]).partition("$")
    salt, _, digest = stored.partition("$")
    if algorithm != "sha256" or not hmac.compare_digest(_digest(salt, secret), digest):
        return None
    return ApiKey.from_row(row)
