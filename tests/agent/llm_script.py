"""Scripted OpenAI-compatible replies for respx (tests only)."""

from __future__ import annotations

import json
from typing import Any

import httpx

BASE = "http://llm.test/v1"


def completion(
    content: str | None = None,
    tool_calls: list[tuple[str, Any]] | None = None,
    *,
    prompt_tokens: int = 120,
    completion_tokens: int = 30,
) -> httpx.Response:
    """A chat.completion reply; ``tool_calls`` are (name, args) with args a dict or a raw string."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for i, (name, args) in enumerate(tool_calls)
        ]
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return httpx.Response(200, json=body)


def llm_settings(**extra: Any) -> dict[str, Any]:
    """Settings overrides that point the LLM brain at the respx mock, with fast retries."""
    return {
        "brain": "llm",
        "llm_base_url": BASE,
        "llm_model": "test-model",
        "llm_max_retries": 2,
        "llm_backoff_s": 0.001,
        "llm_timeout_s": 2.0,
        **extra,
    }
