"""Dependencies of the routes: settings, the runtime (one per app and database), the caller.

The runtime comes from the settings dependency, so a test that overrides ``get_settings`` with
``app.dependency_overrides`` gets a runtime over its own database. Every request acts as
``key:<key_id>`` with the key's role: the tools and the guard see that role, so neither a route
nor the agent can do more than the caller may.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agent.http import auth
from agent.runtime import Runtime
from agent.settings import Settings, get_settings
from record.store import Store
from tools.base import Role, ToolContext, get_tool

__all__ = [
    "Actor",
    "Backend",
    "BackendDep",
    "ClaimedThread",
    "ContextDep",
    "CurrentActor",
    "RuntimeDep",
    "SettingsDep",
    "StoreDep",
    "ThreadId",
    "backend_for_app",
    "close_backends",
    "presented_key",
    "require_roles",
    "require_tool",
]

SettingsDep = Annotated[Settings, Depends(get_settings)]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="Proofline API key")
_bearer = HTTPBearer(auto_error=False, description="The API key as a bearer token")


@dataclass
class Backend:
    """The runtime of one database and the locks that serialize work on it."""

    runtime: Runtime
    triage_lock: threading.Lock = field(default_factory=threading.Lock)
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)
    busy_threads: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def hold_thread(self, thread_id: str) -> Iterator[str]:
        """Hold a chat thread for one turn; a concurrent turn on it gets 409."""
        with self.lock:
            if thread_id in self.busy_threads:
                raise HTTPException(
                    409, f"thread {thread_id} is busy with another turn; retry when it is done"
                )
            self.busy_threads.add(thread_id)
        try:
            yield thread_id
        finally:
            with self.lock:
                self.busy_threads.discard(thread_id)

    @contextmanager
    def exclusive(self, lock: threading.Lock, what: str) -> Iterator[None]:
        """Run one ``what`` at a time; a concurrent one gets 409 instead of waiting."""
        if not lock.acquire(blocking=False):
            raise HTTPException(409, f"{what} is already running; retry when it is done")
        try:
            yield
        finally:
            lock.release()

    def close(self) -> None:
        """Close the checkpointer's connection and the store."""
        conn = getattr(self.runtime.checkpointer, "conn", None)
        if conn is not None:
            conn.close()
        self.runtime.store.close()


def _backends(app: Any) -> tuple[threading.Lock, dict[str, Backend]]:
    state = app.state
    if not hasattr(state, "backends"):
        state.backends_lock, state.backends = threading.Lock(), {}
    return state.backends_lock, state.backends


def _backend(app: Any, settings: Settings) -> Backend:
    lock, backends = _backends(app)
    key = settings.model_dump_json()
    with lock:
        if key not in backends:
            backends[key] = Backend(Runtime.from_settings(settings))
        return backends[key]


def get_backend(request: Request, settings: SettingsDep) -> Backend:
    """The app's backend for these settings (created on first use)."""
    return _backend(request.app, settings)


def backend_for_app(app: FastAPI) -> Backend:
    """The backend a request would get (for code outside dependency injection)."""
    provider = app.dependency_overrides.get(get_settings, get_settings)
    return _backend(app, provider())


def close_backends(app: FastAPI) -> None:
    """Close every backend the app opened."""
    lock, backends = _backends(app)
    with lock:
        for backend in backends.values():
            backend.close()
        backends.clear()


BackendDep = Annotated[Backend, Depends(get_backend)]


def get_runtime(backend: BackendDep) -> Runtime:
    """The runtime: store, clock, gateways, brains, guard, checkpointer."""
    return backend.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_store(rt: RuntimeDep) -> Store:
    """The record."""
    return rt.store


StoreDep = Annotated[Store, Depends(get_store)]


@dataclass(frozen=True)
class Actor:
    """Who is calling: the API key's id, role and name."""

    key_id: str
    role: Role
    name: str | None = None

    @property
    def actor(self) -> str:
        """The actor as the audit log records it."""
        return f"key:{self.key_id}"


def presented_key(api_key: str | None, bearer: HTTPAuthorizationCredentials | None) -> str | None:
    """The key from ``X-API-Key``, else from ``Authorization: Bearer``."""
    return api_key or (bearer.credentials if bearer else None)


def current_actor(
    store: StoreDep,
    api_key: Annotated[str | None, Security(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Actor:
    """The caller, from the API key; 401 without a valid one."""
    presented = presented_key(api_key, bearer)
    challenge = {"WWW-Authenticate": "Bearer"}
    if not presented:
        raise HTTPException(
            401, "missing API key: send it as X-API-Key or Authorization: Bearer", challenge
        )
    key = auth.authenticate(store, presented)
    if key is None:
        raise HTTPException(401, "unknown or revoked API key; ask for a new one", challenge)
    return Actor(key.key_id, key.role, key.name)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: Role) -> Callable[[Actor], Actor]:
    """A dependency admitting only ``roles`` (403 for the others)."""

    def check(actor: CurrentActor) -> Actor:
        if actor.role not in roles:
            raise HTTPException(
                403, f"role {actor.role} may not do this; it is open to {', '.join(roles)}"
            )
        return actor

    return check


def require_tool(name: str) -> Callable[[Actor], Actor]:
    """A dependency admitting the roles that may call tool ``name`` (checked before streaming)."""

    def check(actor: CurrentActor) -> Actor:
        roles = get_tool(name).roles
        if actor.role not in roles:
            raise HTTPException(
                403,
                f"role {actor.role} may not call {name}; it is open to {', '.join(sorted(roles))}",
            )
        return actor

    return check


def tool_context(rt: RuntimeDep, actor: CurrentActor) -> ToolContext:
    """A tool context acting for the caller."""
    return rt.context(actor.actor, actor.role)


ContextDep = Annotated[ToolContext, Depends(tool_context)]


ThreadId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9._:-]{1,100}$", description="Conversation id: letters, digits, . _ : -"
    ),
]


def claim_thread(backend: BackendDep, thread_id: ThreadId) -> Iterator[str]:
    """The path's chat thread, held until the response has been sent."""
    with backend.hold_thread(thread_id):
        yield thread_id


ClaimedThread = Annotated[str, Depends(claim_thread)]
