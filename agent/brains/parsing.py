"""Deterministic extraction of what people write: shipment references, identifiers, dates and
delivery windows (dates through ``dateparser``, relative to the injected clock).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

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


class WindowError(ValueError):
    """A date or window that cannot be understood or cannot exist (message says which)."""


@dataclass(frozen=True)
class DateWindow:
    """A requested delivery window; ``exact`` is False when only a day part was given."""

    start: datetime
    end: datetime
    phrase: str
    exact: bool = True


_PARTS = {
    "morning": (8, 12),
    "mañana por la mañana": (8, 12),
    "por la mañana": (8, 12),
    "afternoon": (12, 17),
    "por la tarde": (12, 17),
    "tarde": (12, 17),
    "evening": (17, 20),
    "por la noche": (17, 20),
    "noon": (11, 13),
    "mediodía": (11, 13),
}
_RANGE = re.compile(
    r"(?:between|from|entre|de)?\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.|h)?\s*"
    r"(?:and|to|-|–|y|a)\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.|h)\b",
    re.I,
)
_AT = re.compile(r"(?:at|around|a las|@)\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm|h)?\b", re.I)
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_US = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b")


def _hour(h: str, m: str | None, ampm: str | None, default_pm: bool) -> time:
    hour, minute = int(h), int(m or 0)
    suffix = (ampm or "").lower().replace(".", "")
    if suffix == "pm" and hour < 12 or not suffix and default_pm and hour < 8:
        hour += 12
    if suffix == "am" and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise WindowError(f"{h}:{m or '00'} {ampm or ''} is not a time of day")
    return time(hour, minute)


def _window_times(text: str) -> tuple[time, time, str] | None:
    if m := _RANGE.search(text):
        end_suffix = m.group(6)
        start = _hour(m.group(1), m.group(2), m.group(3) or end_suffix, default_pm=True)
        end = _hour(m.group(4), m.group(5), end_suffix, default_pm=True)
        return start, end, m.group(0)
    if m := _AT.search(text):
        start = _hour(m.group(1), m.group(2), m.group(3), default_pm=True)
        end = (datetime.combine(date.today(), start) + timedelta(hours=2)).time()
        return start, end, m.group(0)
    lowered = text.lower()
    for phrase, (a, b) in sorted(_PARTS.items(), key=lambda kv: -len(kv[0])):
        if phrase in lowered:
            return time(a), time(b), phrase
    return None


def _explicit_date(text: str) -> date | None:
    """Dates written with numbers are checked strictly, so 2026-11-31 is an error, not a guess."""
    if m := _ISO.search(text):
        parts = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    elif m := _US.search(text):
        year = int(m.group(3))
        parts = (year + 2000 if year < 100 else year, int(m.group(1)), int(m.group(2)))
    else:
        return None
    try:
        return date(*parts)
    except ValueError as exc:
        raise WindowError(
            f"{m.group(0)} is not a real date ({exc}); please give a valid date"
        ) from None


def _relative_date(text: str, now: datetime) -> date | None:
    import dateparser
    from dateparser.search import search_dates

    settings = {
        "RELATIVE_BASE": now,
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    cleaned = re.sub(r"SHP[\s\-_#]?\d+|APR-\w+|\b\d{14,}\S*", " ", text, flags=re.I)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = search_dates(cleaned, languages=["en", "es"], settings=settings)  # type: ignore[arg-type]
        if not found:
            direct = dateparser.parse(cleaned, languages=["en", "es"], settings=settings)  # type: ignore[arg-type]
            return direct.date() if direct else None
    days = [
        d
        for phrase, d in found
        if not re.fullmatch(r"\s*\d{1,2}(:\d{2})?\s*(am|pm|h)?\s*", phrase, re.I)
    ]
    return days[0].date() if days else None


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
    lowered = text.lower()
    times = _window_times(text)
    if current and re.search(r"same time|misma hora", lowered):
        shift = (
            7
            if re.search(r"next week|semana que viene|próxima semana|proxima semana", lowered)
            else 1
        )
        return DateWindow(
            current[0] + timedelta(days=shift),
            current[1] + timedelta(days=shift),
            "same time next week" if shift == 7 else "same time next day",
        )
    day = _explicit_date(text) or _relative_date(_strip_times(text, times), now)
    if day is None:
        raise WindowError(
            "I could not find a date in the request; which day should it be delivered?"
        )
    start_t, end_t, phrase = times or (time(8), time(17), "business hours")
    start, end = datetime.combine(day, start_t), datetime.combine(day, end_t)
    if end <= start:
        raise WindowError(f"the window {phrase!r} ends before it starts")
    return DateWindow(start, end, phrase, exact=times is not None)


def _strip_times(text: str, times: tuple[time, time, str] | None) -> str:
    return text.replace(times[2], " ") if times else text
