"""The tool mechanism: registry, context, roles, idempotency and audit.

A tool is ``fn(ctx: ToolContext, args: ArgsModel) -> ResultModel`` registered with :func:`tool`.
:func:`call_tool` is the only way tools run: it checks the role, validates the arguments, and for
a WRITE runs the tool and its audit entry in one transaction, keyed by an idempotency key.
"""

from __future__ import annotations

import hashlib
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal, TypeVar, get_args, get_type_hints

from pydantic import BaseModel, ValidationError

from record import audit
from record.audit import canonical_json
from record.clock import Clock, SystemClock
from record.store import Cursor, Store
from tools.errors import (
    IdempotencyConflict,
    PermissionDenied,
    ToolArgumentError,
    ToolError,
    UnknownTool,
)

__all__ = [
    "ALL_ROLES",
    "Gateways",
    "Kind",
    "REGISTRY",
    "Risk",
    "Role",
    "ToolContext",
    "ToolSpec",
    "call_tool",
    "get_tool",
    "tool",
    "tools_for_role",
]

Role = Literal["ops_manager", "contact_center", "automation", "auditor"]
ALL_ROLES: tuple[Role, ...] = get_args(Role)


class Kind(StrEnum):
    """Whether a tool only reads the record or writes it."""

    READ = "READ"
    WRITE = "WRITE"


class Risk(StrEnum):
    """What a tool can do to product movement."""

    READ = "read"
    RESTRICTIVE = "restrictive"  # stops movement: always allowed to the roles that hold it
    PERMISSIVE = "permissive"  # lets product move: deterministic preconditions decide


@dataclass
class Gateways:
    """External systems behind small gateway objects (embedded defaults when ``None``)."""

    verification: Any = None
    messaging: Any = None


@dataclass
class ToolContext:
    """What a tool may use: never globals, never the environment."""

    store: Store
    actor: str
    role: Role
    clock: Clock = field(default_factory=SystemClock)
    gateways: Gateways = field(default_factory=Gateways)
    model: str | None = None
    prompt_version: str | None = None

    def cursor(self) -> Cursor:
        """This thread's cursor (inside a WRITE tool: the tool's transaction)."""
        return self.store.cursor()

    def with_actor(self, actor: str, role: Role) -> ToolContext:
        """A copy of this context acting for someone else."""
        return replace(self, actor=actor, role=role)


A = TypeVar("A", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class ToolSpec:
    """A registered tool."""

    name: str
    fn: Callable[[ToolContext, Any], BaseModel]
    args_model: type[BaseModel]
    result_model: type[BaseModel]
    kind: Kind
    risk: Risk
    roles: frozenset[str]
    description: str

    def json_schema(self) -> dict[str, Any]:
        """The argument schema a model sees."""
        return self.args_model.model_json_schema()


REGISTRY: dict[str, ToolSpec] = {}


def tool(
    *, kind: Kind, risk: Risk, roles: tuple[Role, ...] | frozenset[str]
) -> Callable[[Callable[[ToolContext, A], R]], Callable[[ToolContext, A], R]]:
    """Register a tool; its name is the function's, its description the docstring's first part."""

    def register(fn: Callable[[ToolContext, A], R]) -> Callable[[ToolContext, A], R]:
        hints = get_type_hints(fn)
        params = list(inspect.signature(fn).parameters)
        REGISTRY[fn.__name__] = ToolSpec(
            name=fn.__name__,
            fn=fn,
            args_model=hints[params[1]],
            result_model=hints["return"],
            kind=kind,
            risk=risk,
            roles=frozenset(roles),
            description=inspect.cleandoc(fn.__doc__ or fn.__name__).split("\n\n")[0],
        )
        return fn

    return register


def get_tool(name: str) -> ToolSpec:
    """Return the tool named ``name`` or raise :class:`UnknownTool` listing what exists."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownTool(f"there is no tool named {name!r}; tools are: {known}") from None


def tools_for_role(role: str) -> list[ToolSpec]:
    """Every tool the role may call, by name."""
    return [spec for _, spec in sorted(REGISTRY.items()) if role in spec.roles]


def _validate(spec: ToolSpec, args: BaseModel | dict[str, Any]) -> BaseModel:
    if isinstance(args, spec.args_model):
        return args
    raw = args.model_dump() if isinstance(args, BaseModel) else args
    try:
        return spec.args_model.model_validate(raw)
    except ValidationError as exc:
        fields = {".".join(map(str, e["loc"])) or "(arguments)": e["msg"] for e in exc.errors()}
        detail = "; ".join(f"{k}: {v}" for k, v in fields.items())
        raise ToolArgumentError(f"{spec.name}: invalid arguments — {detail}", fields) from None


def _audit(ctx: ToolContext, cur: Cursor, spec: ToolSpec, **entry: Any) -> int:
    written = audit.append(
        cur,
        actor=ctx.actor,
        role=ctx.role,
        ts=ctx.clock.now(),
        model=ctx.model,
        prompt_version=ctx.prompt_version,
        **entry,
    )
    return written.seq


def _refuse(ctx: ToolContext, spec: ToolSpec, args: Any, error: ToolError, key: str | None) -> None:
    """Audit a refusal in its own short transaction (the refused change was rolled back)."""
    inputs = args.model_dump(mode="json") if isinstance(args, BaseModel) else args
    ctx.store.write(
        lambda cur: _audit(
            ctx,
            cur,
            spec,
            action=f"{spec.name}.refused",
            subject=_subject(inputs),
            inputs=inputs,
            result={"code": error.code, "error": str(error)},
            reason=str(error),
            idempotency_key=key,
        )
    )


def _subject(inputs: Any) -> str | None:
    if not isinstance(inputs, dict):
        return None
    for name in (
        "shipment_id",
        "subject",
        "exception_id",
        "serial_key",
        "container_id",
        "asset_id",
        "gtin",
        "approval_id",
        "barcode",
    ):
        if inputs.get(name):
            return str(inputs[name])
    return None


def call_tool(
    ctx: ToolContext,
    name: str,
    args: BaseModel | dict[str, Any],
    *,
    idempotency_key: str | None = None,
    reason: str | None = None,
) -> BaseModel:
    """Run a tool for ``ctx.actor``: role check, validation, one transaction with its audit.

    Raises:
        ToolError: a refusal (audited); the record is unchanged.
    """
    spec = get_tool(name)
    if ctx.store.in_transaction():
        raise RuntimeError("call_tool must not run inside an open transaction")
    if ctx.role not in spec.roles:
        denied = PermissionDenied(
            f"role {ctx.role} may not call {name}; it is open to {', '.join(sorted(spec.roles))}"
        )
        _refuse(ctx, spec, args if isinstance(args, dict) else args.model_dump(), denied, None)
        raise denied
    try:
        valid = _validate(spec, args)
    except ToolArgumentError as exc:
        if spec.kind is Kind.WRITE:
            _refuse(ctx, spec, args, exc, idempotency_key)
        raise
    if spec.kind is Kind.READ:
        return spec.fn(ctx, valid)
    try:
        return ctx.store.write(
            lambda cur: _run_write(ctx, cur, spec, valid, idempotency_key, reason)
        )
    except ToolError as exc:
        _refuse(ctx, spec, valid, exc, idempotency_key)
        raise


def _run_write(
    ctx: ToolContext,
    cur: Cursor,
    spec: ToolSpec,
    args: BaseModel,
    key: str | None,
    reason: str | None,
) -> BaseModel:
    inputs = args.model_dump(mode="json")
    args_hash = hashlib.sha256(canonical_json([spec.name, inputs]).encode()).hexdigest()
    if key is not None:
        found = cur.execute(
            "SELECT tool, args_hash, result FROM tool_calls WHERE idempotency_key = ?", [key]
        ).fetchone()
        if found:
            if (found[0], found[1]) != (spec.name, args_hash):
                raise IdempotencyConflict(
                    f"idempotency key {key!r} was first used for {found[0]} with other "
                    "arguments; use a new key for a different request"
                )
            return spec.result_model.model_validate_json(found[2])
    result = spec.fn(ctx, args)
    dumped = result.model_dump(mode="json")
    seq = _audit(
        ctx,
        cur,
        spec,
        action=spec.name,
        subject=_subject(inputs),
        inputs=inputs,
        result=dumped,
        reason=reason,
        idempotency_key=key,
    )
    cur.execute(
        "INSERT INTO tool_calls VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            key or f"auto-{uuid.uuid4()}",
            spec.name,
            args_hash,
            ctx.actor,
            canonical_json(dumped),
            seq,
            ctx.clock.now(),
        ],
    )
    return result
