"""Errors raised by Proofline.

Every error a person can meet derives from :class:`ProoflineError` and says what was wrong
and what to do about it::

    ProoflineError
    ├── InputError                  bad input from a person or a partner; nothing was changed
    │   ├── IdentifierError         a GS1 key, barcode, Digital Link or EPC URN that does not parse
    │   └── EPCISError              an EPCIS document that breaks the schema, the CBV or a format rule
    ├── NotFoundError               an identifier that names nothing in the record
    ├── ConflictError               a write that clashes with another one (retry, or 409 over HTTP)
    └── StoreError                  the database cannot be opened or migrated

Tools add ``ToolError`` (a business refusal) under the same root in ``tools.errors``.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "EPCISError",
    "IdentifierError",
    "InputError",
    "NotFoundError",
    "ProoflineError",
    "StoreError",
]


class ProoflineError(Exception):
    """Root of every error Proofline raises on purpose."""


class InputError(ProoflineError, ValueError):
    """Input that cannot be accepted; the message names the field and the rule."""


class IdentifierError(InputError):
    """A GS1 identifier that is malformed: wrong length, characters or check digit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class EPCISError(InputError):
    """An EPCIS document that cannot be imported; ``errors`` lists every problem found."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


class NotFoundError(ProoflineError, LookupError):
    """An identifier that names nothing in the record."""


class ConflictError(ProoflineError):
    """A write that conflicts with a concurrent write and could not be retried."""


class StoreError(ProoflineError):
    """The database cannot be opened, created or migrated."""
