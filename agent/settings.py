"""Settings: the one place Proofline reads its environment (prefix ``PROOFLINE_``)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from record.clock import Clock, FixedClock, SystemClock
from record.store import DEFAULT_DB, Store

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Proofline settings; every field can be set as ``PROOFLINE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PROOFLINE_", env_file=".env", extra="ignore")

    db: Path = Field(Path(DEFAULT_DB), description="DuckDB database file")
    now: datetime | None = Field(
        None, description="freeze the clock (ISO time, UTC); default: the seeded network's time"
    )
    brain: Literal["rules", "llm"] = Field("rules", description="who decides: rules or llm")
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1"
    )
    llm_model: str = Field("gpt-4o-mini", description="model name at the endpoint")
    llm_api_key: SecretStr = Field(SecretStr("not-needed"), description="API key for the endpoint")
    llm_timeout_s: float = Field(30.0, description="timeout of one LLM request, seconds")
    llm_max_retries: int = Field(3, description="retries of 429/5xx/timeouts per LLM call")
    llm_backoff_s: float = Field(0.5, description="base of the random exponential backoff, seconds")
    llm_breaker_threshold: int = Field(3, description="failed turns in a row that open the circuit")
    llm_breaker_cooldown_s: float = Field(60.0, description="seconds the circuit stays open")
    llm_max_steps: int = Field(8, description="tool-calling steps per turn at most")
    llm_max_tokens: int = Field(20_000, description="tokens per turn at most")
    verification_url: str | None = Field(
        None, description="GS1 Lightweight Messaging verification responder; default: the record"
    )
    requester_gln: str = Field(
        "0614141000005", description="our GLN, sent with verification requests"
    )
    messaging_webhook_url: str | None = Field(
        None, description="SMS/e-mail provider webhook; default: outbox only"
    )
    http_timeout_s: float = Field(5.0, description="timeout for gateway HTTP calls, seconds")

    def open_store(self, *, read_only: bool = False) -> Store:
        """Open the configured database."""
        return Store(self.db, read_only=read_only)

    def clock(self, store: Store | None = None) -> Clock:
        """The clock to use: a frozen one if ``now`` is set or the record is a simulated network."""
        if self.now is not None:
            return FixedClock(self.now)
        anchor = store.get_meta("network_now") if store is not None else None
        return FixedClock(datetime.fromisoformat(anchor)) if anchor else SystemClock()


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached; tests build their own ``Settings``)."""
    return Settings()
