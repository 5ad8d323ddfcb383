"""Clocks. The record keeps UTC timestamps without a zone; every clock returns those."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "FixedClock", "SystemClock", "utc_naive"]


def utc_naive(moment: datetime) -> datetime:
    """Return ``moment`` in UTC without tzinfo (naive input is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


class Clock(Protocol):
    """Anything with ``now()`` returning a naive UTC datetime."""

    def now(self) -> datetime:
        """Return the current time, UTC, without tzinfo."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """Return the machine's current UTC time."""
        return datetime.now(UTC).replace(tzinfo=None)


class FixedClock:
    """A clock that stands still (or moves only when told): for tests and simulated networks."""

    def __init__(self, at: datetime) -> None:
        self.at = utc_naive(at)

    def now(self) -> datetime:
        """Return the fixed time."""
        return self.at

    def advance(self, **delta: float) -> None:
        """Move the clock forward, e.g. ``advance(minutes=10)``."""
        from datetime import timedelta

        self.at = self.at + timedelta(**delta)
