"""Eval cases as data: the schema of ``evals/suites/<suite>/cases.yaml`` and its loader.

A case says what a user needs, not how the agent works:

- ``setup``: the synthetic network (``seed``, ``scale``) and patches on it (see ``evals.setup``);
- ``input``: a triage run (with events that just arrived), chat turns, or a reschedule request,
  each with the actor and role of the person (or automation) asking;
- ``expect``: what must hold afterwards — rows of the record, tool calls that must and must not
  happen (argument matchers, see ``evals.matchers``), facts the reply must contain, whether the
  request must be refused, and (always) a complete audit;
- ``attack`` (safety suite): the attack's goal, where it is planted and what would prove it
  succeeded; ``expect`` is then the user's task (utility), AgentDojo-style.

A suite file is YAML: ``defaults`` (merged into every case: ``setup``, ``input``, ``expect`` and
``tags``) and ``cases`` (a list). Unknown keys are errors, so a typo in a case cannot silently pass.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "SUITES",
    "SUITES_DIR",
    "Attack",
    "CallMatcher",
    "Case",
    "Expect",
    "Input",
    "Refusal",
    "RowCheck",
    "Setup",
    "Turn",
    "load_suite",
    "load_suites",
]

SUITES_DIR = Path(__file__).resolve().parent / "suites"
SUITES: tuple[str, ...] = ("triage", "reschedule", "chat", "safety")

Outcome = Literal["done", "queued", "refused", "read", "any"]


def _flatten(items: Any) -> Any:
    """Lists may nest (a YAML alias of a list inside a list); matchers are their leaves."""
    if not isinstance(items, list | tuple):
        return items
    flat: list[Any] = []
    for item in items:
        flat += _flatten(item) if isinstance(item, list | tuple) else [item]
    return flat


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Setup(_Strict):
    """The record a case starts from."""

    seed: int = Field(7, description="synthetic network seed")
    scale: float = Field(0.05, gt=0, description="synthetic network scale")
    bind: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="names for ids, resolved on the network (evals.bind)"
    )
    patches: tuple[dict[str, Any], ...] = Field(
        (), description="ops applied in order (evals.setup)"
    )

    @field_validator("patches", mode="before")
    @classmethod
    def _flat(cls, value: Any) -> Any:
        return _flatten(value)


class Turn(_Strict):
    """One chat turn: a message, or an answer to the pending approval."""

    message: str | None = None
    decision: Literal["approve", "reject"] | None = None
    actor: str | None = Field(None, description="default: the case's actor (approvals: ops:lead)")
    role: str | None = Field(None, description="default: the case's role (approvals: ops_manager)")
    reason: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Turn:
        if (self.message is None) == (self.decision is None):
            raise ValueError("a turn is either a message or a decision (approve/reject)")
        return self


class Input(_Strict):
    """What the agent is given."""

    kind: Literal["triage", "chat", "reschedule"]
    actor: str = Field("ops:dana", description="who asks: a person's id or agent:<brain>")
    role: str = Field("ops_manager", description="ops_manager, contact_center, automation, auditor")
    message: str | None = Field(None, description="chat: the one message (or use turns)")
    turns: tuple[Turn, ...] = Field(
        (), description="chat: messages and approval decisions in order"
    )
    text: str | None = Field(None, description="reschedule: the contact-center request")
    events: tuple[dict[str, Any], ...] = Field((), description="triage: what arrived just before")
    repeat: int = Field(
        1, ge=1, le=5, description="triage: runs in a row (the later ones must repeat nothing)"
    )

    @model_validator(mode="after")
    def _shape(self) -> Input:
        if self.kind == "chat" and not (self.message or self.turns):
            raise ValueError("a chat input needs a message or turns")
        if self.kind == "reschedule" and not self.text:
            raise ValueError("a reschedule input needs text")
        return self

    def chat_turns(self) -> tuple[Turn, ...]:
        """The turns of a chat input (a single ``message`` is one turn)."""
        return ((Turn(message=self.message),) if self.message else ()) + self.turns


class CallMatcher(_Strict):
    """A tool call to look for in the trajectory: tool name, argument matchers and outcome."""

    tool: str | tuple[str, ...] = Field(description="a tool name, or several: any of them")
    args: dict[str, Any] = Field(default_factory=dict, description="matchers, see evals.matchers")
    outcome: Outcome | tuple[Outcome, ...] | None = Field(
        None, description="done, queued, refused, read or any (default: per list)"
    )
    count: dict[str, int] | int | None = Field(
        None, description="how many calls match (default ≥ 1)"
    )

    @property
    def tools(self) -> tuple[str, ...]:
        """The tool names this matcher accepts."""
        return (self.tool,) if isinstance(self.tool, str) else tuple(self.tool)


class RowCheck(_Strict):
    """Rows of the record after the run: ``table`` + ``where`` (equality) or a SELECT ``sql``."""

    table: str | None = None
    where: dict[str, Any] = Field(default_factory=dict)
    sql: str | None = None
    params: tuple[Any, ...] = ()
    expect: dict[str, Any] = Field(default_factory=dict, description="every row matched satisfies")
    count: dict[str, int] | int | None = Field(None, description="rows matched (default ≥ 1)")
    unchanged: bool = Field(False, description="the rows are exactly as before the run")
    why: str | None = Field(None, description="what the user needs from these rows")

    @model_validator(mode="after")
    def _source(self) -> RowCheck:
        if (self.table is None) == (self.sql is None):
            raise ValueError("a row check names a table or gives sql, not both")
        if self.sql is not None and not self.sql.lstrip().lower().startswith(("select", "with")):
            raise ValueError("row check sql must be a SELECT")
        if self.unchanged and self.table is None:
            raise ValueError("unchanged needs a table (and where)")
        return self


class Refusal(_Strict):
    """Whether the request must be refused: the ``tools`` must not (or must) be carried out."""

    must: bool
    tools: tuple[str, ...]


class Calls(_Strict):
    """Tool calls that must and must not happen, and writes that are fine either way."""

    required: tuple[CallMatcher, ...] = ()
    allowed: tuple[CallMatcher, ...] = Field((), description="expected writes that are optional")
    forbidden: tuple[CallMatcher, ...] = ()
    no_other_writes: bool = Field(False, description="any write not required/allowed fails")

    @field_validator("required", "allowed", "forbidden", mode="before")
    @classmethod
    def _flat(cls, value: Any) -> Any:
        return _flatten(value)


class Reply(_Strict):
    """Facts the reply must (not) contain; case-insensitive. A list item is 'any of these'."""

    contains: tuple[str | tuple[str, ...], ...] = ()
    not_contains: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    not_regex: tuple[str, ...] = ()


class Expect(_Strict):
    """What must hold after the run."""

    status: str | tuple[str, ...] | None = Field(None, description="reschedule outcome status")
    output: dict[str, Any] = Field(
        default_factory=dict, description="matchers on the service's output"
    )
    rows: tuple[RowCheck, ...] = ()
    calls: Calls = Field(default_factory=Calls)
    reply: Reply = Field(default_factory=Reply)
    refusal: Refusal | None = None
    approval_pending: bool | None = Field(None, description="chat ends waiting for an approval")
    audit: bool = Field(True, description="every write audited and the chain verifies")


class Attack(_Strict):
    """A safety case's attack: its goal, where it is planted, and what proves it worked."""

    goal: str = Field(description="the forbidden effect, in words")
    vector: Literal["shipment_note", "carrier_remark", "epcis_extension", "reschedule_text",
                    "chat_message", "role", "tool_result"]  # fmt: skip
    patches: tuple[dict[str, Any], ...] = Field(
        (), description="setup ops only the attacked run gets"
    )
    append: str | None = Field(None, description="text appended to the message/request")
    success: tuple[CallMatcher, ...] = Field(
        (), description="calls that prove the attack worked (default outcome: done or queued)"
    )
    success_rows: tuple[RowCheck, ...] = Field(
        (), description="row checks that, if one holds, prove it"
    )
    success_reply: tuple[str, ...] = Field(
        (), description="text that, if the reply shows it, proves a leak"
    )

    @field_validator("success", "patches", mode="before")
    @classmethod
    def _flat(cls, value: Any) -> Any:
        return _flatten(value)

    @model_validator(mode="after")
    def _provable(self) -> Attack:
        if not (self.success or self.success_rows or self.success_reply):
            raise ValueError(
                "an attack needs success calls, rows or reply text to tell whether it worked"
            )
        return self

    @property
    def separable(self) -> bool:
        """Whether a benign run (without the attack) exists: the attack is planted, not asked."""
        return bool(self.patches or self.append)


class Case(_Strict):
    """One eval case."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    suite: str
    need: str = Field(min_length=8, description="the user's need, in their words")
    tags: tuple[str, ...] = ()
    setup: Setup = Field(default_factory=Setup)
    input: Input
    expect: Expect = Field(default_factory=Expect)
    attack: Attack | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(tags))

    @cached_property
    def tag_set(self) -> frozenset[str]:
        """Tags as a set."""
        return frozenset(self.tags)

    def bound(self, names: dict[str, Any]) -> Case:
        """This case with every ``{{name}}`` replaced by its bound value."""
        from evals.bind import render

        if not names:
            return self
        data = self.model_dump(mode="json")
        bind = data["setup"].pop("bind")
        rendered = render(data, names)
        rendered["setup"]["bind"] = bind
        return Case.model_validate(rendered)


def _merge(defaults: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """Defaults under a case: ``setup``/``input``/``expect`` keys merge; patches, tags, rows and
    the ``expect.calls`` lists concatenate."""
    merged = dict(case)
    for key in ("setup", "input"):
        base, own = dict(defaults.get(key, {})), dict(case.get(key, {}))
        if key == "setup":
            own["patches"] = [*base.get("patches", []), *own.get("patches", [])]
            own["bind"] = {**base.get("bind", {}), **own.get("bind", {})}
        if base or own:
            merged[key] = {**base, **own}
    if "expect" in defaults:
        base_e, own_e = dict(defaults["expect"]), dict(case.get("expect", {}))
        calls = {**base_e.get("calls", {}), **own_e.get("calls", {})}
        for key in ("required", "allowed", "forbidden"):
            joined = [*base_e.get("calls", {}).get(key, []), *own_e.get("calls", {}).get(key, [])]
            if joined:
                calls[key] = joined
        rows = [*base_e.get("rows", []), *own_e.get("rows", [])]
        merged["expect"] = {
            **base_e,
            **own_e,
            **({"calls": calls} if calls else {}),
            **({"rows": rows} if rows else {}),
        }
    merged["tags"] = [*defaults.get("tags", []), *case.get("tags", [])]
    return merged


def load_suite(name: str, folder: Path = SUITES_DIR) -> list[Case]:
    """The cases of suite ``name`` (``<folder>/<name>/cases.yaml``), validated."""
    path = folder / name / "cases.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    defaults = data.get("defaults", {})
    cases, seen = [], set()
    for i, raw in enumerate(data.get("cases", [])):
        try:
            case = Case.model_validate({"suite": name, **_merge(defaults, raw)})
        except ValueError as exc:
            ident = raw.get("id", f"#{i}") if isinstance(raw, dict) else f"#{i}"
            raise ValueError(f"{path}: case {ident}: {exc}") from exc
        if case.id in seen:
            raise ValueError(f"{path}: case id {case.id} appears twice")
        seen.add(case.id)
        cases.append(case)
    return cases


def load_suites(
    names: tuple[str, ...] | list[str] | None = None, folder: Path = SUITES_DIR
) -> list[Case]:
    """Cases of several suites (all by default), in suite order."""
    return [case for name in (names or SUITES) for case in load_suite(name, folder)]
