"""A local OpenAI-compatible stub for the benchmarks: scripted tool calls, counted usage.

``POST /v1/chat/completions`` answers like a careful but unimaginative model: when the latest
message is a tool result it replies with a short text (the loop ends); otherwise, if it can find
an exception in the latest user message and ``escalate`` is among the offered tools, it calls
``escalate`` for that exception; else it replies with text. Every reply reports ``usage`` with
tokens estimated as characters / 4 (request messages and tools for the prompt, the reply message
for the completion). ``GET /stats`` returns the counters.

    with StubLLM() as stub:          # uvicorn on 127.0.0.1, a free port, in a daemon thread
        url = stub.base_url          # e.g. http://127.0.0.1:43121/v1
        ...
        stub.stats()                 # {"requests": ..., "prompt_tokens": ..., ...}
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

__all__ = ["StubLLM"]

_DATA = re.compile(r"<untrusted_data[^>]*>\s*(\{.*\})\s*</untrusted_data>", re.S)
_EXCEPTION_ID = re.compile(r"EXC-[0-9a-f]{12}")


def _tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return max(1, -(-len(text) // 4))


def _exception_in(text: str) -> dict[str, Any] | None:
    """The exception a triage prompt carries (its JSON), or at least its id."""
    found = _DATA.search(text)
    if found:
        try:
            data = json.loads(found.group(1))
            if isinstance(data, dict) and data.get("exception_id"):
                return data
        except json.JSONDecodeError:
            pass
    eid = _EXCEPTION_ID.search(text)
    return {"exception_id": eid.group(0)} if eid else None


def _escalation(case: dict[str, Any]) -> dict[str, Any]:
    args = {
        "subject": str(case.get("subject") or case["exception_id"]),
        "summary": f"No playbook for {case.get('kind', 'this exception')}: a person should decide",
        "to": "duty_manager",
        "severity": case.get("severity") if case.get("severity") in ("low", "medium", "high",
                                                                      "critical") else "high",
        "exception_id": case["exception_id"],
    }  # fmt: skip
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": "escalate", "arguments": json.dumps(args)},
            }
        ],
    }


def _content(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def scripted_reply(body: dict[str, Any]) -> dict[str, Any]:
    """The assistant message the stub answers ``body`` (a chat completions request) with."""
    messages = body.get("messages") or [{}]
    last = messages[-1]
    offered = {t.get("function", {}).get("name") for t in body.get("tools") or []}
    if last.get("role") == "tool":
        return {"role": "assistant", "content": "Escalated to the duty manager with the evidence."}
    case = _exception_in(_content(last)) if last.get("role") == "user" else None
    if case and "escalate" in offered:
        return _escalation(case)
    return {"role": "assistant", "content": "I cannot tell what to do; a person should look."}


class StubLLM:
    """The stub server, in a daemon thread; a context manager that starts and stops it."""

    def __init__(self, *, max_requests: int = 20_000, start_timeout_s: float = 10.0) -> None:
        self.max_requests, self.start_timeout_s = max_requests, start_timeout_s
        self._lock = threading.Lock()
        self._counts = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- counters --------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Requests answered and tokens reported since the last :meth:`reset`."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> dict[str, int]:
        """Zero the counters; return what they held."""
        with self._lock:
            held, self._counts = dict(self._counts), dict.fromkeys(self._counts, 0)
        return held

    def _complete(self, body: dict[str, Any]) -> JSONResponse:
        with self._lock:
            if self._counts["requests"] >= self.max_requests:
                return JSONResponse({"error": {"message": "stub request budget spent"}}, 429)
        message = scripted_reply(body)
        prompt = _tokens(body.get("messages", [])) + _tokens(body.get("tools") or [])
        completion = _tokens(message)
        with self._lock:
            self._counts["requests"] += 1
            self._counts["prompt_tokens"] += prompt
            self._counts["completion_tokens"] += completion
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "stub"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    def _app(self) -> FastAPI:
        app = FastAPI(title="Proofline bench LLM stub")

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> JSONResponse:
            return self._complete(await request.json())

        @app.get("/stats")
        def stats() -> dict[str, int]:
            return self.stats()

        return app

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on 127.0.0.1 at a free port (the socket is bound first: no race); return the
        base URL, ending in ``/v1``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="stub-llm", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"the LLM stub did not start within {self.start_timeout_s} s")
            time.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the server to exit and wait for its thread (at most ``timeout_s``)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._server = self._thread = None

    def __enter__(self) -> StubLLM:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
