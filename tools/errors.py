"""Tool errors: business refusals a person (or a model) can act on.

ProoflineError
└── ToolError                 a refusal: the record is unchanged; the message says why and what to do
    ├── UnknownTool           no tool by that name
    ├── ToolArgumentError     arguments that do not validate (each field named)
    ├── PermissionDenied      the caller's role may not use the tool
    └── IdempotencyConflict   an idempotency key reused with other arguments
"""

from __future__ import annotations

from record.errors import ProoflineError

__all__ = [
    "IdempotencyConflict",
    "PermissionDenied",
    "ToolArgumentError",
    "ToolError",
    "UnknownTool",
]


class ToolError(ProoflineError):
    """A business refusal; nothing was changed.

    Args:
        message: what was wrong and what to do about it.
        code: a short machine-readable reason, e.g. ``not_verified``, ``depot_cannot_hold``.
    """

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


class UnknownTool(ToolError):
    """No tool is registered under that name."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="unknown_tool")


class ToolArgumentError(ToolError):
    """Arguments that do not validate; ``fields`` maps each bad field to its problem."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message, code="invalid_arguments")
        self.fields = fields or {}


class PermissionDenied(ToolError):
    """The caller's role may not call this tool."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="forbidden")


class IdempotencyConflict(ToolError):
    """The idempotency key was already used with other arguments."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="idempotency_conflict")
