"""The guard: what must hold before any tool runs, whoever proposed it.

1. the tool exists and the actor's role may call it;
2. the arguments validate against the tool's model;
3. a permissive action passes its own feasibility checks, tried on the current record in a
   transaction that is always rolled back (so the guard and the tool can never disagree);
4. in unattended triage, governance bounds decide between acting and queueing for approval.

Untrusted text cannot widen any of this: the checks read the record, never the text.
Refusals are audited.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from agent.brains.base import Proposal
from agent.policy import Governance, load_governance
from record import audit
from record.errors import ConflictError
from tools.base import Risk, ToolContext, get_tool
from tools.errors import ToolError

__all__ = ["Guard", "Verdict"]

Mode = Literal["triage", "chat", "reschedule"]


@dataclass(frozen=True)
class Verdict:
    """What the guard decided about one proposal."""

    action: Literal["run", "approve", "refuse"]
    reason: str
    proposal: Proposal
    facts: dict[str, Any] | None = None  # the dry run's result, when there was one

    def as_dict(self) -> dict[str, Any]:
        """Plain data for graph state."""
        return {**self.proposal.as_dict(), "action": self.action, "why": self.reason}


class _Rollback(Exception):
    def __init__(self, result: BaseModel) -> None:
        self.result = result


class Guard:
    """Checks proposals against role, arguments, preconditions and governance."""

    def __init__(self, governance: Governance | None = None) -> None:
        self.governance = governance or load_governance()

    def check(self, ctx: ToolContext, proposal: Proposal, *, mode: Mode) -> Verdict:
        """Decide whether ``proposal`` runs now, waits for a person, or is refused (audited)."""
        try:
            spec = get_tool(proposal.tool)
            if ctx.role not in spec.roles:
                raise ToolError(f"role {ctx.role} may not call {spec.name}", code="forbidden")
            args = spec.args_model.model_validate(proposal.args)
        except ToolError as exc:
            return self._refuse(ctx, proposal, str(exc))
        except ValueError as exc:  # pydantic ValidationError
            return self._refuse(ctx, proposal, f"invalid arguments for {proposal.tool}: {exc}")
        if spec.risk is not Risk.PERMISSIVE:
            return Verdict("run", "read-only or restrictive action", proposal)
        try:
            facts = self.dry_run(ctx, spec.name, args)
        except ToolError as exc:
            return self._refuse(ctx, proposal, str(exc))
        if mode == "chat":
            return Verdict("approve", "lets product move: a person confirms", proposal, facts)
        if mode == "reschedule" and spec.name in ("reschedule_delivery", "send_customer_message"):
            return Verdict("run", "customer-requested change, feasibility checked", proposal, facts)
        allowed, why = self.governance.unattended(spec.name, facts)
        return Verdict("run" if allowed else "approve", why, proposal, facts)

    @staticmethod
    def dry_run(ctx: ToolContext, tool: str, args: BaseModel) -> dict[str, Any]:
        """Run the tool on the current record and roll it back; return its result as facts."""
        spec = get_tool(tool)
        for attempt in range(8):  # it changes nothing, so a conflicting writer only means "again"
            try:
                with ctx.store.transaction():
                    raise _Rollback(spec.fn(ctx, args))
            except _Rollback as done:
                facts = done.result.model_dump(mode="json")
                break
            except ConflictError:
                if attempt == 7:
                    raise
                time.sleep(0.005 * 2**attempt * random.random())
        facts.update(args.model_dump(mode="json"))
        return facts

    @staticmethod
    def _refuse(ctx: ToolContext, proposal: Proposal, reason: str) -> Verdict:
        ctx.store.write(
            lambda cur: audit.append(
                cur,
                actor=ctx.actor,
                role=ctx.role,
                ts=ctx.clock.now(),
                action="guard.refused",
                subject=proposal.exception_id or proposal.args.get("shipment_id"),
                inputs=proposal.as_dict(),
                reason=reason,
                model=ctx.model,
                prompt_version=ctx.prompt_version,
            )
        )
        return Verdict("refuse", reason, proposal)
