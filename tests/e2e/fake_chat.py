"""OpenAI Chat Completions for the fake model server (``/v1/chat/completions``), streamed as
server-sent ``data:`` chunks ending in ``data: [DONE]``, or as one JSON object when the request
does not ask for a stream. Qwen Code and OpenCode speak this wire format.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})


class Responder(Protocol):
    """What the fake server's request handler offers (``fakemodel._Handler``)."""

    def _send_json(self, status: int, payload: object) -> None: ...

    def _send_data(self, data: bytes, content_type: str) -> None: ...


def chat_answer(handler: Responder, body: dict[str, Any], text: str, number: int) -> None:
    """Answer one Chat Completions request with the assistant message ``text``."""
    model = str(body.get("model") or "fake-model")
    created = int(time.time())
    base = {"id": f"chatcmpl-{number}", "created": created, "model": model}
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    if not body.get("stream"):
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        handler._send_json(200, {**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        return
    chunk = {**base, "object": "chat.completion.chunk"}
    deltas: list[dict[str, Any]] = [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None},
        {"index": 0, "delta": {"content": text}, "finish_reason": None},
        {"index": 0, "delta": {}, "finish_reason": "stop"},
    ]
    chunks = [{**chunk, "choices": [delta]} for delta in deltas]
    # The usage chunk (stream_options.include_usage) has no choices, as OpenAI sends it.
    chunks.append({**chunk, "choices": [], "usage": usage})
    data = b"".join(f"data: {json.dumps(item)}\n\n".encode() for item in chunks) + b"data: [DONE]\n\n"
    handler._send_data(data, "text/event-stream")


def chat_models(handler: Responder) -> None:
    """``GET /v1/models``: one model, for CLIs that list them before a run."""
    model = {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}
    handler._send_json(200, {"object": "list", "data": [model]})
