"""When a delivery should happen, read from what people write (English and Spanish).

Times are found first (ranges, "at 3pm", "after 3", day parts), then the day (ISO, US and
European numeric dates, weekdays, ordinals, "day after tomorrow", holidays), then anything else
through ``dateparser``. Negated days ("not Tuesday", "closed today") and superseded phrasing
("… no wait, make that Friday") are dropped first.
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime, time, timedelta

__all__ = ["WindowError", "clean", "find_day", "find_times"]


class WindowError(ValueError):
    """A date or window that cannot be understood or cannot exist (message says which)."""


_TYPOS = {
    r"\bthrus?day\b": "thursday", r"\bthurs\b": "thursday", r"\bwen(?:d|s)+n?e?s?day\b": "wednesday",
    r"\bwednsday\b": "wednesday", r"\btues\b": "tuesday", r"\btmrw?\b|\btmr\b|\btomoz\b": "tomorrow",
    r"\barvo\b": "afternoon", r"\bmoring\b|\bmornin\b": "morning", r"\baftenoon\b": "afternoon",
}  # fmt: skip
_DAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "lunes": 0, "martes": 1, "miércoles": 2, "miercoles": 2, "jueves": 3, "viernes": 4,
    "sábado": 5, "sabado": 5, "domingo": 6,
}  # fmt: skip
_MONTHS_ES = {
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
}  # fmt: skip
_DAY_WORD = "|".join(sorted(_DAYS, key=len, reverse=True))
_NEGATED = re.compile(
    rf"\b(?:not|no|never|closed|nobody[^.,;!?]*?|can'?t do|cannot do|except)\s+(?:on\s+|the\s+)?"
    rf"(?:today|tomorrow|{_DAY_WORD})\b[^.,;!?]*",
    re.I,
)
_CORRECTION = re.compile(r"\b(?:make (?:that|it)|no wait|i mean|actually|rather|mejor)\b", re.I)

_SUFFIX = r"(a\.?m\.?|p\.?m\.?|a|p|h|hrs?)?"
_RANGE = re.compile(
    rf"(?:between|from|entre(?: las)?|de(?: las)?)?\s*(?<![\d:/.\-])(\d{{1,2}})(?::(\d{{2}}))?\s*{_SUFFIX}\s*"
    rf"(?:-|–|—|to|and|until|till|y(?: las)?|a(?: las)?|hasta(?: las)?)\s*"
    rf"(\d{{1,2}}|noon|mediod[ií]a)(?::(\d{{2}}))?\s*{_SUFFIX}(?![\d/])",
    re.I,
)
_AFTER = re.compile(
    r"\b(?:after|from|desde|después de las)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm|h)?\b", re.I
)
_AT = re.compile(r"(?:\bat|\baround|\ba las|@)\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm|a|p|h)?\b", re.I)
_PARTS = (
    (r"first thing|early morning|primera hora", 8, 10),
    (r"late afternoon|tarde-noche|última hora de la tarde", 15, 17),
    (r"por la mañana|in the morning|\bmorning\b|\bam\b", 8, 12),
    (r"around noon|\bnoon\b|lunchtime|mediod[ií]a", 11, 13),
    (r"por la tarde|de la tarde|\bafternoon\b|\btarde\b", 12, 17),
    (r"\bevening\b|por la noche", 17, 20),
)


def clean(text: str) -> str:
    """Lower-case, fix common typos, keep only the last correction, drop negated days."""
    low = text.lower()
    for pattern, word in _TYPOS.items():
        low = re.sub(pattern, word, low)
    parts = _CORRECTION.split(low)
    if len(parts) > 1:
        low = parts[-1]
    return _NEGATED.sub(" ", low)


def _clock(h: str, m: str | None, suffix: str | None, context: str) -> time:
    hour, minute = (12, 0) if h in ("noon", "mediodia", "mediodía") else (int(h), int(m or 0))
    s = (suffix or "").replace(".", "")
    pm = s in ("p", "pm") or (not s and (re.search(r"tarde|afternoon|evening|noche|\bpm\b", context)
                                         is not None or (hour < 8 and "morning" not in context
                                                         and "mañana" not in context)))  # fmt: skip
    if pm and hour < 12:
        hour += 12
    if s in ("a", "am") and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise WindowError(f"{h}:{m or '00'} {suffix or ''} is not a time of day")
    return time(hour, minute)


def find_times(low: str) -> tuple[time, time, str] | None:
    """The window's start and end, and the phrase that gave them (None: no time given)."""
    if m := _RANGE.search(low):
        end_suffix = m.group(6)
        start_suffix = m.group(3) or (end_suffix if end_suffix not in ("h", "hrs", "hr") else None)
        if (
            m.group(3) is None
            and end_suffix in ("a", "am", "p", "pm")
            and int(m.group(1)) > int(m.group(4) if m.group(4).isdigit() else 12)
        ):
            start_suffix = (
                "am" if end_suffix.startswith("p") else "pm"
            )  # "11-1pm" starts in the morning
        start = _clock(m.group(1), m.group(2), start_suffix, low)
        end = _clock(m.group(4), m.group(5), end_suffix, low)
        return start, end, m.group(0)
    for rx in (_AFTER, _AT):
        if m := rx.search(low):
            start = _clock(m.group(1), m.group(2), m.group(3), low)
            return (
                start,
                (datetime.combine(date(2000, 1, 1), start) + timedelta(hours=2)).time(),
                m.group(0),
            )
    for pattern, a, b in _PARTS:
        if m := re.search(pattern, low):
            return time(a), time(b), m.group(0)
    return None


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def _numeric(low: str, today: date) -> date | None:
    """Numeric dates, checked strictly (2026-11-31 is an error, not a guess)."""
    patterns = (  # (regex, parts -> (year or None, month, day))
        (r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", lambda g: (int(g[0]), int(g[1]), int(g[2]))),
        (r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b", lambda g: _dmy_or_mdy(g, int(g[2]))),
        (r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])", lambda g: _dmy_or_mdy(g, None)),
        (
            rf"\b(\d{{1,2}}) de ({'|'.join(_MONTHS_ES)})",
            lambda g: (None, _MONTHS_ES[g[1]], int(g[0])),
        ),
    )
    for pattern, parts in patterns:
        if m := re.search(pattern, low):
            year, month, day = parts(m.groups())
            y = today.year if year is None else (year + 2000 if year < 100 else year)
            try:
                found = date(y, month, day)
                if year is None and found < today:  # "12/2" in late November: next year's
                    found = date(y + 1, month, day)
            except ValueError as exc:
                raise WindowError(
                    f"{m.group(0)} is not a real date ({exc}); please give a valid date"
                ) from None
            return found
    return None


def _dmy_or_mdy(g: tuple[str, ...], year: int | None) -> tuple[int | None, int, int]:
    a, b = int(g[0]), int(g[1])
    return (year, b, a) if a > 12 else (year, a, b)


def _weekday(low: str, today: date) -> date | None:
    if m := re.search(rf"\b({_DAY_WORD})\b", low):
        ahead = (
            _DAYS[m.group(1)] - today.weekday()
        ) % 7 or 7  # the coming one; today's name: next week
        return today + timedelta(days=ahead)
    return None


def _ordinal(low: str, today: date) -> date | None:
    m = re.search(r"\bthe (\d{1,2})(?:st|nd|rd|th)\b|\b[a-z]{3,9} (\d{1,2})(?:st|nd|rd|th)\b", low)
    if m is None:
        return None
    day = int(m.group(1) or m.group(2))
    month, year = today.month, today.year
    if day < today.day:
        month, year = (1, year + 1) if month == 12 else (month + 1, year)
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise WindowError(f"{m.group(0).strip()} is not a real date ({exc})") from None


def _relative(low: str, today: date) -> date | None:
    if re.search(r"day after tomorrow|pasado mañana", low):
        return today + timedelta(days=2)
    if re.search(r"(?:a|one) week from (?:today|now)|dentro de una semana", low):
        return today + timedelta(days=7)
    if re.search(r"day after thanksgiving|black friday", low):
        return _thanksgiving(today.year) + timedelta(days=1)
    if re.search(r"\bin (\d+) days?\b", low):
        return today + timedelta(days=int(re.search(r"\bin (\d+) days?\b", low).group(1)))  # type: ignore[union-attr]
    if re.search(
        r"\b(?:december|january|february|march|april|may|june|july|august|september|october|november)\b",
        low,
    ):
        return None  # a month name: dateparser reads it
    found = _weekday(low, today) or _ordinal(low, today)
    if found is not None:
        return found
    if re.search(r"\btomorrow\b|(?<!la )\bmañana\b", low):
        return today + timedelta(days=1)
    if re.search(r"\btoday\b|\bhoy\b", low):
        return today
    return None


_DATEISH = re.compile(
    r"\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|ene|abr|ago|dic|week|semana|\bday|día",
    re.I,
)
_BARE_TIME = re.compile(r"\s*\d{1,2}(:\d{2})?\s*(am|pm|h)?\s*", re.I)


def find_day(low: str, now: datetime) -> date | None:
    """The requested day (None: no day in the text)."""
    today = now.date()
    found = _numeric(low, today) or _relative(low, today)
    if found is not None:
        return found
    from dateparser.search import search_dates

    settings = {
        "RELATIVE_BASE": now,
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hits = search_dates(low, languages=["en", "es"], settings=settings) or []  # type: ignore[arg-type]
    days = [d for phrase, d in hits if _DATEISH.search(phrase) and not _BARE_TIME.fullmatch(phrase)]
    return days[0].date() if days else None
