"""Validation against the official GS1 EPCIS 2.0 JSON Schema, with messages a person can act on.

The schema is read from a file (never copied into the project) and its validator is built once
per path, with its local ``$ref``s inlined (resolving them on every use is what makes the
Python validator slow). Errors come back as ``"<field path>: <rule>"``: ``required`` errors
name the missing field, ``anyOf`` errors are explained by the branch that came closest, and
``propertyNames`` errors name the offending field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from record.errors import ProoflineError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

# jsonschema is imported when first needed: with its format extras installed, importing it
# takes seconds (rfc3987-syntax builds a grammar), which every CLI command would otherwise pay.

__all__ = ["DEFAULT_SCHEMA", "Problem", "json_path", "schema_problems", "validator"]

DEFAULT_SCHEMA = (
    Path(__file__).resolve().parents[1].parent / "shared/fixtures/epcis/EPCIS-JSON-Schema.json"
)

Problem = tuple[str, str, frozenset[str]]
"""``(path, message, related paths)``: related paths are the deeper fields an error is about."""


@lru_cache(maxsize=4)
def validator(path: Path = DEFAULT_SCHEMA) -> Validator:
    """Return the validator for the schema at ``path`` (built once, with a FormatChecker).

    The validator class is the one the schema's ``$schema`` declares (draft-07 for EPCIS 2.0).

    Raises:
        ProoflineError: If the schema file is missing or is not a JSON Schema.
    """
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProoflineError(
            f"EPCIS JSON Schema {path} cannot be read ({exc}); pass schema_path= the official "
            "EPCIS-JSON-Schema.json from https://ref.gs1.org/standards/epcis/"
        ) from exc
    cls = validator_for(schema, default=Draft7Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ProoflineError(f"EPCIS JSON Schema {path} is not a valid JSON Schema: {exc}") from exc
    compiled = _inline_refs(schema) if cls is Draft7Validator else schema
    return cls(compiled, format_checker=cls.FORMAT_CHECKER)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace local ``#/definitions/...`` references by the definitions themselves.

    This is the one-time "compile" step: resolving ``$ref`` on every use is what makes the
    Python validator slow (2-3x on large documents). It is only used where it cannot change a
    result: draft-07 (what the EPCIS schema declares), where a ``$ref`` object's other keywords
    are ignored; local references only; no reference cycle. Otherwise the schema is kept as is.
    """
    definitions = schema.get("definitions")
    if not isinstance(definitions, dict):
        return schema
    done: dict[str, Any] = {}

    def inline(node: Any, trail: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [inline(item, trail) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = unquote(ref).removeprefix("#/definitions/")
            if name == unquote(ref) or "/" in name or name not in definitions or name in trail:
                raise _KeepRefs
            if name not in done:
                done[name] = inline(definitions[name], (*trail, name))
            return done[name]
        return {key: inline(value, trail) for key, value in node.items()}

    try:
        return inline(schema, ())
    except _KeepRefs:
        return schema


class _KeepRefs(Exception):
    """The schema has a reference that cannot be inlined safely."""


def json_path(parts: Iterable[str | int]) -> str:
    """Render a path as ``epcisBody.eventList[1].bizStep``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _branches(error: ValidationError) -> str:
    """For an anyOf whose branches each miss required fields: 'a, or b, or c and d'."""
    groups: dict[int, list[str]] = {}
    for sub in error.context or []:
        match = re.match(r"'(.+)' is a required property", sub.message)
        branch = sub.relative_schema_path[0] if sub.relative_schema_path else 0
        if sub.validator != "required" or not match or not isinstance(branch, int):
            return ""
        groups.setdefault(branch, []).append(match[1])
    return ", or ".join(" and ".join(names) for names in groups.values())


def _property_name(error: ValidationError) -> bool:
    return "propertyNames" in error.schema_path


def _any_of(path: str, error: ValidationError) -> Problem:
    from jsonschema.exceptions import best_match

    subs = list(error.context or [])
    related = frozenset(json_path(s.absolute_path) for s in subs)
    if _property_name(error):
        return (
            _join(path, str(error.instance)),
            "is not a field of this object; EPCIS defines no such field here and extension "
            "fields must be namespaced (prefix:name)",
            related,
        )
    deeper = [s for s in subs if len(s.absolute_path) > len(error.absolute_path)]
    if deeper:
        inner = _translate(best_match(deeper))
        return inner[0], inner[1], related | inner[2]
    needs = _branches(error)
    if needs:
        return path, f"needs {needs}", related
    closest = best_match(subs) if subs else error
    return path, f"{_short(error.instance)} matches no allowed form ({closest.message})", related


def _translate(error: ValidationError) -> Problem:
    path = json_path(error.absolute_path)
    kind = error.validator
    none: frozenset[str] = frozenset()
    if kind in ("anyOf", "oneOf"):
        return _any_of(path, error)
    if kind == "required":
        match = re.match(r"'(.+)' is a required property", error.message)
        return (_join(path, match[1]) if match else path), "is required", none
    if kind == "additionalProperties":
        names = re.findall(r"'([^']+)'", error.message.split("(", 1)[-1])
        field = _join(path, names[0]) if len(names) == 1 else path
        return field, f"{', '.join(map(repr, names))} is not allowed here", none
    if _property_name(error):
        return (
            _join(path, str(error.instance)),
            f"field name is not a valid {error.validator_value}",
            none,
        )
    if kind == "enum":
        allowed = ", ".join(map(repr, list(error.validator_value)[:10]))
        return path, f"{_short(error.instance)} is not one of {allowed}", none
    if kind == "type":
        return path, f"{_short(error.instance)} is not of type {error.validator_value}", none
    if kind == "format":
        return path, f"{_short(error.instance)} is not a valid {error.validator_value}", none
    return path, error.message, none


def schema_problems(
    doc: Any, schema_path: Path = DEFAULT_SCHEMA, *, known: Sequence[str] = ()
) -> list[str]:
    """Validate ``doc``; return ``"path: rule"`` for each problem not already reported.

    Args:
        doc: The parsed JSON document.
        schema_path: The EPCIS JSON Schema file.
        known: Paths already reported by more specific checks; schema errors about the same
            field (or, for anyOf errors, about any field they relate to) are dropped.
    """
    seen = set(known)
    out: list[str] = []
    for error in validator(schema_path).iter_errors(doc):
        path, message, related = _translate(error)
        if path in seen or related & set(known):
            continue
        seen.add(path)
        out.append(f"{path or '(document)'}: {message}")
    return out
