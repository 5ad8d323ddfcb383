"""The agent's runtime: the store, clock, gateways, brains, guard and checkpointer, built once
from settings and handed to graphs, the CLI and the server.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

import tools  # noqa: F401  (registers every tool)
from agent.brains.base import Brain
from agent.brains.rules import RulesBrain
from agent.guard import Guard
from agent.settings import Settings
from record.clock import Clock
from record.store import Store
from tools.base import Gateways, Role, ToolContext
from tools.gateways import (
    HttpVerificationGateway,
    OutboxMessenger,
    RecordVerificationResponder,
    WebhookMessenger,
)

__all__ = ["Runtime", "checkpointer_for"]


def checkpointer_for(db_path: str) -> BaseCheckpointSaver:
    """LangGraph checkpoints in a SQLite file beside the database (memory for ``:memory:``)."""
    if db_path == ":memory:":
        return InMemorySaver()
    conn = sqlite3.connect(f"{Path(db_path)}.checkpoints.sqlite", check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return SqliteSaver(conn)


@dataclass
class Runtime:
    """Everything a graph needs; one per process (threads share it)."""

    settings: Settings
    store: Store
    clock: Clock
    gateways: Gateways
    checkpointer: BaseCheckpointSaver
    guard: Guard = field(default_factory=Guard)
    rules: RulesBrain = field(default_factory=RulesBrain)
    _llm: Any = None

    @classmethod
    def from_settings(cls, settings: Settings, *, store: Store | None = None) -> Runtime:
        """Open the store and build the gateways named by ``settings``."""
        store = store or settings.open_store()
        return cls(
            settings=settings,
            store=store,
            clock=settings.clock(store),
            gateways=_gateways(settings, store),
            checkpointer=checkpointer_for(store.path),
        )

    def context(self, actor: str, role: Role, brain: Brain | None = None) -> ToolContext:
        """A tool context acting for ``actor``; model and prompt version come from the brain."""
        return ToolContext(
            store=self.store,
            actor=actor,
            role=role,
            clock=self.clock,
            gateways=self.gateways,
            model=getattr(getattr(brain, "settings", None), "llm_model", None) if brain else None,
            prompt_version=getattr(brain, "version", None),
        )

    def brain(self, name: str | None = None) -> Brain:
        """The rules brain, or the LLM brain (created once; it keeps its circuit breaker)."""
        name = name or self.settings.brain
        if name == "rules":
            return self.rules
        if self._llm is None:
            from agent.brains.llm import CircuitBreaker, LLMBrain

            breaker = CircuitBreaker(
                self.settings.llm_breaker_threshold, self.settings.llm_breaker_cooldown_s
            )
            self._llm = LLMBrain(
                self.settings, self.rules, breaker=breaker, backoff_s=self.settings.llm_backoff_s
            )
        return self._llm


def _gateways(settings: Settings, store: Store) -> Gateways:
    verification = (
        HttpVerificationGateway(
            settings.verification_url,
            requester_gln=settings.requester_gln,
            timeout_s=settings.http_timeout_s,
        )
        if settings.verification_url
        else RecordVerificationResponder(store)
    )
    messaging = (
        WebhookMessenger(settings.messaging_webhook_url, timeout_s=settings.http_timeout_s)
        if settings.messaging_webhook_url
        else OutboxMessenger()
    )
    return Gateways(verification=verification, messaging=messaging)
