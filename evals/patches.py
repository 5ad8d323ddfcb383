"""Setup patches: a small vocabulary of ops that put a case's situation into a fresh record.

Setup patches are data, not agent actions: they are not audited, and the run's baseline is taken
after them. They are applied in order:

``drift``            ``{shipment, slope_c_per_10min, minutes: 60, from_c: null}`` — the shipment's
                     last ``minutes`` of readings become a linear drift (°C per 10 min) from the
                     reading at the window's start (or ``from_c``), one reading every 5 min up to now.
``readings``         ``{shipment, temps: [..], every_min: 5}`` — the last readings, oldest first.
``set``              ``{table, where: {col: value | [values]}, values: {col: value}}`` — update
                     matching rows (at least one must match).
``note``             ``{shipment, text, append: false}`` — untrusted text in ``shipments.notes``.
``insert``           ``{table, rows: [{col: value}, ...]}``.
``delete``           ``{table, where}``.
``recall_lot``       ``{shipment}`` or ``{gtin, lot}`` — the manufacturer recalled the lot (of the
                     shipment's first declared unit): ``lots.status = 'recalled'``.
``epcis``            ``{document: {...}}`` (EPCIS 2.0 JSON) or ``{file: path}`` — imported as a
                     partner would send it, hostile extension fields included.
``sense``            record what sensing finds now (exceptions as a triage run would see them).
``clear_exceptions`` sense, then resolve every unresolved exception (a clean board).
``only_kinds``       ``{kinds: [..], subjects: [..]}`` — sense, then resolve every exception not of
                     those kinds (and, if given, not on those subjects/shipments): a focused case.

A case whose first patch is one of the last three starts from a cached template on which sensing
already ran (that first patch then does not sense again).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from record.store import Store

__all__ = ["OPS", "SENSING_OPS", "SetupError", "apply_patches", "presensed", "sense"]

SENSING_OPS = frozenset({"sense", "clear_exceptions", "only_kinds"})


class SetupError(Exception):
    """A case's setup cannot be applied (an infrastructure failure, not the agent's)."""


Op = Callable[[Store, dict[str, Any], datetime], str]


def _where(where: dict[str, Any]) -> tuple[str, list[Any]]:
    if not where:
        raise SetupError("a where clause is required")
    parts, params = [], []
    for col, value in where.items():
        _ident(col)
        if isinstance(value, list):
            parts.append(f"{col} IN ({', '.join('?' * len(value))})")
            params += value
        else:
            parts.append(f"{col} IS NULL" if value is None else f"{col} = ?")
            params += [] if value is None else [value]
    return " AND ".join(parts), params


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise SetupError(f"{name!r} is not a plain column or table name")
    return name


def _cell(value: Any) -> Any:
    return (
        json.dumps(value)
        if isinstance(value, dict | list) and not _is_list_of_scalars(value)
        else value
    )


def _is_list_of_scalars(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def _set(store: Store, op: dict[str, Any], now: datetime) -> str:
    table, values = _ident(op["table"]), op["values"]
    where, params = _where(op["where"])
    assigns = ", ".join(f"{_ident(c)} = ?" for c in values)
    matched = store.scalar(f"SELECT count(*) FROM {table} WHERE {where}", params)
    if not matched:
        raise SetupError(f"set: no {table} row matches {op['where']}")
    store.execute(
        f"UPDATE {table} SET {assigns} WHERE {where}", [*map(_cell, values.values()), *params]
    )
    return f"set {table} {op['where']} {values}"


def _insert(store: Store, op: dict[str, Any], now: datetime) -> str:
    table = _ident(op["table"])
    for row in op["rows"]:
        cols = ", ".join(_ident(c) for c in row)
        store.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})",
                      [_cell(v) for v in row.values()])  # fmt: skip
    return f"insert {len(op['rows'])} row(s) into {table}"


def _delete(store: Store, op: dict[str, Any], now: datetime) -> str:
    table = _ident(op["table"])
    where, params = _where(op["where"])
    store.execute(f"DELETE FROM {table} WHERE {where}", params)
    return f"delete from {table} where {op['where']}"


def _note(store: Store, op: dict[str, Any], now: datetime) -> str:
    ship, text = op["shipment"], op["text"]
    old = store.row("SELECT notes FROM shipments WHERE shipment_id = ?", [ship])
    if old is None:
        raise SetupError(f"note: no shipment {ship}")
    notes = f"{old['notes']} {text}" if op.get("append") and old["notes"] else text
    store.execute("UPDATE shipments SET notes = ? WHERE shipment_id = ?", [notes, ship])
    return f"note on {ship}: {notes[:80]!r}"


def _asset_of(store: Store, ship: str) -> str:
    row = store.row("SELECT asset_id FROM shipments WHERE shipment_id = ?", [ship])
    if row is None or row["asset_id"] is None:
        raise SetupError(f"{ship} has no asset to read temperatures from")
    return str(row["asset_id"])


def _replace_readings(
    store: Store, ship: str, temps: list[float], every: int, now: datetime
) -> None:
    asset = _asset_of(store, ship)
    start = now - timedelta(minutes=every * (len(temps) - 1))
    store.execute(
        "DELETE FROM sensor_readings WHERE shipment_id = ? AND ts >= ? AND ts <= ?",
        [ship, start, now],
    )
    rows = [
        (asset, ship, start + timedelta(minutes=every * i), round(t, 2))
        for i, t in enumerate(temps)
    ]
    store.cursor().executemany(
        "INSERT INTO sensor_readings (asset_id, shipment_id, ts, temp_c) VALUES (?, ?, ?, ?)", rows
    )


def _drift(store: Store, op: dict[str, Any], now: datetime) -> str:
    ship, slope, minutes = (
        op["shipment"],
        float(op["slope_c_per_10min"]),
        int(op.get("minutes", 60)),
    )
    start = now - timedelta(minutes=minutes)
    base = op.get("from_c")
    if base is None:
        base = store.scalar(
            "SELECT temp_c FROM sensor_readings WHERE shipment_id = ? AND ts <= ? ORDER BY ts DESC LIMIT 1",
            [ship, start],
        )
    if base is None:
        base = store.scalar(
            "SELECT setpoint_c FROM assets WHERE asset_id = ?", [_asset_of(store, ship)]
        )
    if base is None:
        raise SetupError(f"drift: no reading or setpoint to start {ship}'s drift from")
    temps = [float(base) + slope * (5 * i) / 10 for i in range(minutes // 5 + 1)]
    _replace_readings(store, ship, temps, 5, now)
    return f"drift {ship}: {slope:+g} °C/10 min over {minutes} min from {float(base):.2f} °C to {temps[-1]:.2f} °C"


def _readings(store: Store, op: dict[str, Any], now: datetime) -> str:
    temps = [float(t) for t in op["temps"]]
    _replace_readings(store, op["shipment"], temps, int(op.get("every_min", 5)), now)
    return f"readings {op['shipment']}: {temps}"


def _recall(store: Store, op: dict[str, Any], now: datetime) -> str:
    if "shipment" in op:
        row = store.row(
            "SELECT gtin, lot FROM shipment_units WHERE shipment_id = ? AND lot IS NOT NULL"
            " ORDER BY gtin, serial LIMIT 1", [op["shipment"]],
        )  # fmt: skip
        if row is None:
            raise SetupError(f"recall_lot: {op['shipment']} declares no lot")
        gtin, lot = row["gtin"], row["lot"]
    else:
        gtin, lot = op["gtin"], op["lot"]
    if not store.scalar("SELECT count(*) FROM lots WHERE gtin = ? AND lot = ?", [gtin, lot]):
        raise SetupError(f"recall_lot: no lot {gtin}/{lot}")
    store.execute("UPDATE lots SET status = 'recalled' WHERE gtin = ? AND lot = ?", [gtin, lot])
    return f"recall lot {gtin}/{lot}"


def _epcis(store: Store, op: dict[str, Any], now: datetime) -> str:
    from record import epcis

    source: Any = Path(op["file"]) if "file" in op else json.dumps(op["document"])
    result = epcis.import_document(store, source, actor=op.get("actor", "partner:epcis"), now=now,
                                   filename=op.get("filename", "partner.json"))  # fmt: skip
    return f"epcis import: {result.summary()}"


def sense(store: Store, now: datetime) -> None:
    """Record what sensing finds now (as a triage run's first step would)."""
    from record import sensing

    sensing.record_exceptions(store, sensing.sense(store, now=now), now)


def _resolve_except(store: Store, now: datetime, keep: str, params: list[Any]) -> int:
    before = int(store.scalar("SELECT count(*) FROM exceptions WHERE status <> 'resolved'") or 0)
    store.execute(
        "UPDATE exceptions SET status = 'resolved', resolution = 'eval setup: outside this case',"
        f" updated_at = ? WHERE status <> 'resolved' AND NOT ({keep})", [now, *params],
    )  # fmt: skip
    after = int(store.scalar("SELECT count(*) FROM exceptions WHERE status <> 'resolved'") or 0)
    return before - after


def _sense_op(store: Store, op: dict[str, Any], now: datetime) -> str:
    if not op.get("_presensed"):
        sense(store, now)
    return "sense"


def _clear(store: Store, op: dict[str, Any], now: datetime) -> str:
    if not op.get("_presensed"):
        sense(store, now)
    return f"clear_exceptions: {_resolve_except(store, now, 'FALSE', [])} resolved"


def _only(store: Store, op: dict[str, Any], now: datetime) -> str:
    if not op.get("_presensed"):
        sense(store, now)
    kinds, subjects = list(op.get("kinds", [])), list(op.get("subjects", []))
    keep, params = "TRUE", []
    if kinds:
        keep, params = f"kind IN ({', '.join('?' * len(kinds))})", kinds
    if subjects:
        marks = ", ".join("?" * len(subjects))
        keep += f" AND (subject IN ({marks}) OR shipment_id IN ({marks}))"
        params += subjects + subjects
    kept = store.scalar(
        f"SELECT count(*) FROM exceptions WHERE status <> 'resolved' AND {keep}", params
    )
    if not kept:
        raise SetupError(
            f"only_kinds: sensing found no unresolved exception of {kinds} on {subjects or 'any subject'}"
        )
    return f"only_kinds {kinds} {subjects}: {_resolve_except(store, now, keep, params)} others resolved"


OPS: dict[str, Op] = {
    "drift": _drift, "readings": _readings, "set": _set, "note": _note, "insert": _insert,
    "delete": _delete, "recall_lot": _recall, "epcis": _epcis, "sense": _sense_op,
    "clear_exceptions": _clear, "only_kinds": _only,
}  # fmt: skip


def presensed(patches: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> bool:
    """Whether the patches start by sensing (so the sensed template can be used)."""
    return bool(patches) and patches[0].get("op") in SENSING_OPS


def apply_patches(store: Store, patches: tuple[dict[str, Any], ...] | list[dict[str, Any]], now: datetime,
                  *, sensed: bool = False) -> list[str]:  # fmt: skip
    """Apply ``patches`` in order; return one line per patch saying what it did.

    ``sensed``: the store comes from a sensed template, so a sensing first patch skips sensing.

    Raises:
        SetupError: an unknown op, or one that does not fit the record (names the patch).
    """
    done = []
    for i, patch in enumerate(patches):
        name = patch.get("op")
        if name not in OPS:
            raise SetupError(f"patch {i}: unknown op {name!r}; ops are {', '.join(sorted(OPS))}")
        try:
            args = {k: v for k, v in patch.items() if k != "op"}
            if i == 0 and sensed and name in SENSING_OPS:
                args["_presensed"] = True
            done.append(OPS[name](store, args, now))
        except SetupError as exc:
            raise SetupError(f"patch {i} ({name}): {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise SetupError(f"patch {i} ({name}): bad or missing field: {exc}") from exc
    return done
