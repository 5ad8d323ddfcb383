"""Deterministic extraction of what people write: shipment references, identifiers, dates and
delivery windows (dates through ``dateparser``, relative to the injected clock).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from agent.brains._when import WindowError, clean, find_day, find_times

__all__ = [
    "DateWindow",
    "WindowError",
    "find_approval_ids",
    "find_identifiers",
    "find_routes",
    "find_shipments",
    "parse_date_window",
]

_SHIPMENT = re.compile(r"\b(?:SHP|shp|Shp)[\s\-_#]?(\d{3,6})\b")
_SHIPMENT_BARE = re.compile(
    r"(?:shipment|envío|envio|pedido|order)\s*(?:no\.?|number|#|n[uú]mero)?\s*(\d{4})\b", re.I
)
_APPROVAL = re.compile(r"\bAPR-[0-9a-f]{6,12}\b", re.I)
_ROUTE = re.compile(r"\broute\s+(R\d+)\b|\b(R\d{1,4})\b", re.I)
_SSCC = re.compile(r"\b\d{18}\b")
_UNIT_KEY = re.compile(r"\b\d{14}\.[!-~]{1,20}")
_BARCODE = re.compile(
    r"(\(01\)\d{14}(?:\(\d{2,4}\)[^\s(]+)*|https?://\S+/01/\d{14}\S*|urn:epc:id:\S+|\]d2\S+|01\d{14}\S*)"
)


def find_shipments(text: str) -> list[str]:
    """Shipment ids mentioned, normalized to ``SHP-1042``, in order, without repeats."""
    found = [f"SHP-{m}" for m in _SHIPMENT.findall(text)]
    found += [f"SHP-{m}" for m in _SHIPMENT_BARE.findall(text)]
    return list(dict.fromkeys(found))


def find_approval_ids(text: str) -> list[str]:
    """Approval ids such as ``APR-3f2a9c1e0b``."""
    return list(dict.fromkeys("APR-" + m[4:].lower() for m in _APPROVAL.findall(text)))


def find_routes(text: str) -> list[str]:
    """Route ids such as ``R7``."""
    return list(dict.fromkeys((a or b).upper() for a, b in _ROUTE.findall(text)))


def find_identifiers(text: str) -> list[str]:
    """GS1 identifiers: barcodes (element strings, Digital Links, EPC URNs), unit keys, SSCCs."""
    found = [m for m in _BARCODE.findall(text)]
    found += [m.rstrip(".,;") for m in _UNIT_KEY.findall(text)]
    found += [m for m in _SSCC.findall(text) if not any(m in f for f in found)]
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class DateWindow:
    """A requested delivery window; ``exact`` is False when only a day was given."""

    start: datetime
    end: datetime
    phrase: str
    exact: bool = True


def parse_date_window(
    text: str, now: datetime, *, current: tuple[datetime, datetime] | None = None
) -> DateWindow:
    """The delivery window a message asks for.

    Args:
        text: the request, e.g. "deliver Friday between 2 and 4pm" or "mañana por la tarde".
        now: the clock's time; relative dates are resolved against it.
        current: the currently promised window, for "same time next week" and "a day later".

    Raises:
        WindowError: no date is given, or the date cannot exist.
    """
    low = clean(
        re.sub(r"shp[\s\-_#]?\d+|apr-\w+|\b\d{14,}\S*|\bpo-?\d+|\bord-?\d+", " ", text, flags=re.I)
    )
    times = find_times(low)
    same_time = current is not None and re.search(
        r"same time|same (?:time )?(?:slot|window)|misma hora", low
    )
    if same_time and current is not None:
        if re.search(r"next week|semana que viene|próxima semana|proxima semana", low):
            return DateWindow(
                current[0] + timedelta(days=7),
                current[1] + timedelta(days=7),
                "same time next week",
            )
        if re.search(r"(?:one|a|1) day later|by (?:one|a|1) day|un día después", low):
            return DateWindow(
                current[0] + timedelta(days=1),
                current[1] + timedelta(days=1),
                "same time, a day later",
            )
        if (day := find_day(low, now)) is not None:
            shift = datetime.combine(day, time()) - datetime.combine(current[0].date(), time())
            return DateWindow(current[0] + shift, current[1] + shift, "same time, another day")
    day = find_day(low.replace(times[2], " ") if times else low, now)
    if day is None:
        raise WindowError(
            "I could not find a date in the request; which day should it be delivered?"
        )
    start_t, end_t, phrase = times or (time(8), time(17), "business hours")
    start, end = datetime.combine(day, start_t), datetime.combine(day, end_t)
    if end <= start:
        raise WindowError(
            f"the window {phrase!r} ends before it starts; please give a start and an end"
        )
    return DateWindow(start, end, phrase, exact=times is not None)
