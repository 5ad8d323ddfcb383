"""Named references: cases name the shipments they need by what they are, not by id.

The synthetic network is deterministic per seed and scale, but its ids move when the generator
changes. A case therefore binds names in ``setup.bind`` (resolved in order on the fresh copy,
before patches) and writes ``{{name}}`` wherever the id goes — in patches, the message, the
expectations. A binding is one of:

``{ship: {col: value | [values], ...}, where: "<SQL condition>", index: 0}``
    the ``index``-th shipment (by id) with those properties, among: every ``shipments`` column,
    ``temp_class`` (crt/refrigerated/frozen/mixed), ``dest_kind`` (pharmacy, hospital, dc, ...),
    ``consent`` (the destination has a contact with consent for sms/email). ``clean: true`` is a
    preference, not a filter: shipments no injected fault touches (and without notes) come
    first, others follow when the network has none left. Shipments bound earlier are skipped.
``{truth: <kind>, field: shipment_id | subject, index: 0, status: [..]}``
    the injected fault of that kind (from ``synth_truth``); ``status`` guards the shipment's
    status the case was written for, so a changed generator is a setup error, not a failure.
``{sql: "SELECT ...", params: [...]}``
    the first column of the first row (``{{earlier}}`` names may appear in the text/params).
``{value: ...}``
    a constant.

Strings may use ``{{name|filter}}`` (date, time, md, mdfull, weekday; num: SHP-1042 → 1042).
A name that cannot be bound is a setup error (infrastructure), never an agent failure.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from record.store import Store

__all__ = ["BindError", "render", "resolve"]

_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*([a-z_]+)\s*)?\}\}")
_FILTERS = {
    "date": lambda d: d.strftime("%Y-%m-%d"),
    "time": lambda d: d.strftime("%H:%M"),
    "md": lambda d: f"{d:%b} {d.day}",  # Nov 27
    "mdfull": lambda d: f"{d:%B} {d.day}",  # November 27
    "weekday": lambda d: d.strftime("%A"),
}

SHIPMENT_VIEW = """
WITH cls AS (
    SELECT su.shipment_id, CASE WHEN count(DISTINCT p.temp_class) = 1 THEN any_value(p.temp_class)
                                ELSE 'mixed' END AS temp_class
    FROM shipment_units su JOIN products p USING (gtin) GROUP BY 1),
consent AS (
    SELECT location_id, bool_or(consent AND channel IN ('sms', 'email')) AS consent
    FROM contacts GROUP BY 1),
touched AS (
    SELECT shipment_id FROM synth_truth WHERE shipment_id IS NOT NULL
    UNION SELECT unnest(CAST(json_extract_string(details, '$.shipments[*]') AS VARCHAR[]))
    FROM synth_truth WHERE json_exists(details, '$.shipments')
    UNION SELECT shipment_id FROM shipments WHERE notes IS NOT NULL)
SELECT s.*, coalesce(cls.temp_class, 'none') AS temp_class, l.kind AS dest_kind,
       coalesce(c.consent, FALSE) AS consent, t.shipment_id IS NULL AS clean
FROM shipments s
LEFT JOIN cls USING (shipment_id)
LEFT JOIN locations l ON l.location_id = s.destination_id
LEFT JOIN consent c ON c.location_id = s.destination_id
LEFT JOIN (SELECT DISTINCT shipment_id FROM touched) t USING (shipment_id)
"""


class BindError(Exception):
    """A name a case needs cannot be bound on this network."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes") if not value.second else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _filtered(value: Any, name: str | None) -> str:
    if name is None:
        return str(value)
    if name == "num":
        return str(value).rsplit("-", 1)[-1]
    if name not in _FILTERS:
        raise BindError(f"unknown filter |{name}; filters are {', '.join(_FILTERS)}")
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return str(_FILTERS[name](moment))


class Unbound(BindError):
    """A ``{{name}}`` that has no value (yet)."""


def render(value: Any, names: dict[str, Any]) -> Any:
    """``value`` with every ``{{name}}`` (or ``{{name|filter}}``) replaced; a string that is only
    a name keeps the value's type. Filters: date, time, md (Nov 27), mdfull, weekday, and num
    (the number of an id: SHP-1042 → 1042)."""
    if isinstance(value, str):
        whole = _NAME.fullmatch(value.strip())
        if whole and whole.group(1) in names and whole.group(2) is None:
            return names[whole.group(1)]

        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in names:
                raise Unbound(f"{{{{{m.group(1)}}}}} is used but never bound")
            return _filtered(names[m.group(1)], m.group(2))

        return _NAME.sub(sub, value)
    if isinstance(value, list | tuple):
        return [render(v, names) for v in value]
    if isinstance(value, dict):
        return {k: render(v, names) for k, v in value.items()}
    return value


def _ship(
    store: Store, spec: dict[str, Any], index: int, taken: set[str], extra: str | None
) -> Any:
    where, params = ([f"({extra})"] if extra else []), []
    prefer_clean = bool(spec.pop("clean", False))
    for col, want in spec.items():
        if not re.fullmatch(r"[a-z_]+", col):
            raise BindError(f"bad column {col!r}")
        if isinstance(want, list):
            where.append(f"{col} IN ({', '.join('?' * len(want))})")
            params += want
        else:
            where.append(f"{col} IS NULL" if want is None else f"{col} = ?")
            params += [] if want is None else [want]
    sql = f"SELECT shipment_id FROM ({SHIPMENT_VIEW}) v"
    sql += f" WHERE {' AND '.join(where)}" if where else ""
    order = " ORDER BY clean DESC, shipment_id" if prefer_clean else " ORDER BY shipment_id"
    found = [
        r["shipment_id"] for r in store.rows(sql + order, params) if r["shipment_id"] not in taken
    ]
    if len(found) <= index:
        raise BindError(f"no shipment #{index} with {spec} (found {len(found)})")
    return found[index]


def _one(store: Store, name: str, spec: dict[str, Any], taken: set[str]) -> Any:
    index = int(spec.get("index", 0))
    if "ship" in spec:
        return _ship(store, dict(spec["ship"] or {}), index, taken, spec.get("where"))
    if "truth" in spec:
        field = spec.get("field", "shipment_id")
        if field not in ("shipment_id", "subject", "kind"):
            raise BindError(f"{name}: truth field must be shipment_id or subject")
        rows = store.rows(
            f"SELECT {field}, shipment_id FROM synth_truth WHERE kind = ? ORDER BY subject",
            [spec["truth"]],
        )
        if len(rows) <= index:
            raise BindError(f"{name}: no injected {spec['truth']} #{index}")
        if "status" in spec:
            status = store.scalar(
                "SELECT status FROM shipments WHERE shipment_id = ?", [rows[index]["shipment_id"]]
            )
            if status not in spec["status"]:
                wanted = " or ".join(spec["status"])
                raise BindError(
                    f"{name}: the injected {spec['truth']} is on a {status} shipment; the case needs "
                    f"one that is {wanted} (did the generator change?)"
                )
        return rows[index][field]
    if "sql" in spec:
        row = store.execute(spec["sql"], list(spec.get("params", []))).fetchone()
        if row is None or row[0] is None:
            raise BindError(f"{name}: the query found nothing: {spec['sql'][:120]}")
        return _plain(row[0])
    if "value" in spec:
        return spec["value"]
    raise BindError(f"{name}: a binding is ship, truth, sql or value; got {sorted(spec)}")


def resolve(store: Store, bindings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Bind every name; a binding that uses other names waits until they are bound."""
    names: dict[str, Any] = {}
    pending = dict(bindings)
    while pending:
        progressed = False
        for name, raw in list(pending.items()):
            try:
                spec = render(raw, names)
            except Unbound:
                continue
            names[name] = _one(store, name, spec, {v for v in names.values() if isinstance(v, str)})
            del pending[name]
            progressed = True
        if not progressed:
            raise BindError(
                f"cannot bind {', '.join(pending)}: they use names that are never bound"
            )
    return names
