"""Prompts are Markdown files in ``prompts/``; their content hash is their version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["PROMPTS_DIR", "Prompt", "load_prompt", "untrusted"]

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"


@dataclass(frozen=True)
class Prompt:
    """A prompt's text and its version (``name@sha256[:12]``)."""

    name: str
    text: str
    version: str


@lru_cache
def load_prompt(name: str, folder: Path = PROMPTS_DIR) -> Prompt:
    """Load ``prompts/<name>.md``."""
    text = (folder / f"{name}.md").read_text(encoding="utf-8")
    return Prompt(name, text, f"{name}@{hashlib.sha256(text.encode()).hexdigest()[:12]}")


def untrusted(source: str, text: str) -> str:
    """Mark partner-supplied text as data for a model (closing tags inside it are defused)."""
    safe = text.replace("</untrusted_data", "&lt;/untrusted_data")
    return f'<untrusted_data source="{source}">\n{safe}\n</untrusted_data>'
