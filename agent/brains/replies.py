"""How the rules brain words its answers, from tool results (plain, short, with identifiers)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tools.base import ToolContext

__all__ = [
    "approvals",
    "at_risk",
    "decided",
    "gate_failed",
    "rerouted",
    "rescheduled",
    "status",
    "swapped",
    "temperature",
    "trail",
    "why_held",
]

_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def _t(value: Any) -> str:
    return str(value).replace("T", " ")[:16] if value else "—"


def at_risk(result: dict[str, Any]) -> str:
    """What is at risk: counts by severity, then the most severe items."""
    items = result.get("exceptions", [])
    if not items:
        return "Nothing is at risk: there are no unresolved exceptions."
    counts = Counter(e["severity"] for e in items)
    head = ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=_ORDER.__getitem__))
    lines = [f"{result.get('total', len(items))} unresolved exceptions ({head}). Most urgent:"]
    for e in sorted(items, key=lambda e: _ORDER[e["severity"]])[:8]:
        lines.append(
            f"- {e['severity']}: {e['kind']} on {e.get('shipment_id') or e['subject']} ({e['status']})"
        )
    return "\n".join(lines)


def status(view: dict[str, Any]) -> str:
    """A shipment's status line, window, ETA and open exceptions."""
    dest = view.get("destination", {}) or {}
    lines = [
        f"{view['shipment_id']} is {view['status']}: {view.get('origin', {}).get('name')} → {dest.get('name')}.",
        f"Promised {_t(view.get('promised_start'))}–{_t(view.get('promised_end'))[11:]}, ETA {_t(view.get('eta'))}.",
    ]
    opened = view.get("open_exceptions") or []
    if opened:
        lines.append(
            "Open exceptions: " + ", ".join(f"{e['kind']} ({e['severity']})" for e in opened)
        )
    if view.get("untrusted_notes"):
        lines.append(
            f'Note on file (from a partner, not verified): "{view["untrusted_notes"][:160]}"'
        )
    return " ".join(lines)


def why_held(view: dict[str, Any]) -> str:
    """Why a shipment is held: the hold reasons and the exceptions behind them."""
    if view["status"] != "held":
        return f"{view['shipment_id']} is not on hold; it is {view['status']}."
    reasons = [h.get("reason") or h.get("summary") or str(h) for h in view.get("holds", [])]
    opened = [f"{e['kind']} ({e['severity']})" for e in view.get("open_exceptions", [])]
    text = f"{view['shipment_id']} is on hold"
    if reasons:
        text += ": " + "; ".join(str(r) for r in reasons[:3])
    if opened:
        text += ". Open exceptions: " + ", ".join(opened)
    return text + "."


def trail(result: dict[str, Any]) -> str:
    """A custody trail in time order."""
    events = result.get("events", [])
    lines = [
        f"Custody trail of {result['key']} ({result.get('total_events', len(events))} events"
        + (f"; packed in {' → '.join(result['ancestors'])}" if result.get("ancestors") else "")
        + "):"
    ]
    for e in events[:12]:
        where = e.get("location_name") or e.get("read_point") or e.get("biz_location") or ""
        lines.append(
            f"- {_t(e.get('event_time'))} {e.get('biz_step') or e.get('event_type')} "
            f"{e.get('disposition') or ''} {where}".rstrip()
        )
    for p in result.get("epods", [])[:2]:
        lines.append(f"- ePOD signed by {p.get('signed_by')} at {_t(p.get('signed_at'))}")
    return "\n".join(lines)


def temperature(result: dict[str, Any]) -> str:
    """Temperature summary against the range and budget."""
    points = result.get("points", [])
    last = points[-1] if points else {}
    return (
        f"{result['subject']}: {result.get('readings', 0)} readings; range {result.get('temp_min_c')}–"
        f"{result.get('temp_max_c')} °C; latest {last.get('avg_c', '—')} °C. Out of range "
        f"{result.get('minutes_out_of_range', 0):.0f} min of a {result.get('budget_minutes')} min budget "
        f"({result.get('budget_left_minutes')} left)."
    )


def rerouted(result: dict[str, Any]) -> str:
    """Outcome of a reroute."""
    keeps = "keeps" if result.get("keeps_window") else "misses"
    return (
        f"{result['shipment_id']} now goes through depot {result['depot_id']}; new ETA "
        f"{_t(result.get('new_eta'))}, which {keeps} the promised window."
    )


def swapped(result: dict[str, Any]) -> str:
    """Outcome of an asset swap."""
    asset = result.get("new_asset_id") or result.get("asset_id")
    return f"{result.get('shipment_id')} moves to {asset}; ETA {_t(result.get('new_eta') or result.get('eta'))}."


def rescheduled(result: dict[str, Any]) -> str:
    """Outcome of a reschedule."""
    start = result.get("window_start") or result.get("promised_start")
    end = result.get("window_end") or result.get("promised_end")
    return f"{result.get('shipment_id')} is rescheduled to {_t(start)}–{_t(end)[11:]}."


def gate_failed(shipment: str, result: dict[str, Any]) -> str:
    """Why the release gate failed."""
    reasons = result.get("counts_by_reason") or result.get("reasons") or result.get("failures")
    return f"{shipment} failed the release gate and stays where it is: {reasons}."


def approvals(ctx: ToolContext) -> str:
    """Pending approvals."""
    from agent.approvals import list_approvals

    pending = list_approvals(ctx)
    if not pending:
        return "No approvals are waiting."
    lines = [f"{len(pending)} approvals waiting:"]
    for a in pending[:10]:
        lines.append(
            f"- {a['approval_id']}: {a['tool']} {a['args'].get('shipment_id', '')} — {a['reason'][:100]}"
        )
    return "\n".join(lines)


def decided(row: dict[str, Any]) -> str:
    """Outcome of approving or rejecting."""
    return f"{row['approval_id']} ({row['tool']} {row['args'].get('shipment_id', '')}) is {row['status']}."
