"""A fake model API on 127.0.0.1 for running the real agent CLIs offline.

It answers Anthropic's Messages API (``/v1/messages``, streamed as server-sent events, plus
``count_tokens``), OpenAI's Responses API (``/v1/responses``, streamed) and OpenAI's Chat
Completions (``/v1/chat/completions``, fake_chat.py), and records every request body so a
test can see which earlier turns an agent sent back to the model.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fake_chat import CHAT_PATHS, chat_answer, chat_models


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]

    @property
    def text(self) -> str:
        """The whole body as JSON text: what to search for a marker."""
        return json.dumps(self.body)


@dataclass
class FakeModelServer:
    """Start with ``start()``; ``url`` is the base URL; ``requests`` grows as agents call."""

    requests: list[RecordedRequest] = field(default_factory=list)
    slow_marker: str | None = None
    """Requests that mention this are answered only after ``slow_seconds``."""
    slow_seconds: float = 0.0
    slow_request_seen: threading.Event = field(default_factory=threading.Event)
    shell_marker: str | None = None
    """A Responses request whose newest input is a user turn mentioning this is answered with
    a call of codex's shell tool (``exec_command``) running ``shell_command``."""
    shell_command: str = ""
    tool_marker: str | None = None
    """A Messages request whose newest user turn mentions this is answered with a call of
    claude's tool ``tool_name`` with ``tool_input``; the request carrying its result gets text."""
    tool_name: str = "Read"
    tool_input: dict[str, Any] = field(default_factory=lambda: {"file_path": "/etc/hostname"})
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeModelServer:
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def record(self, path: str, body: dict[str, Any]) -> int:
        with self._lock:
            self.requests.append(RecordedRequest(path, body))
            return next(self._counter)

    def model_requests(self) -> list[RecordedRequest]:
        """Requests that asked for a completion (not token counts or probes)."""
        with self._lock:
            return [r for r in self.requests if r.path in MODEL_PATHS]

    def requests_mentioning(self, marker: str) -> list[RecordedRequest]:
        return [r for r in self.model_requests() if marker in r.text]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()


MODEL_PATHS = frozenset({"/v1/messages", "/v1/responses", *CHAT_PATHS})


class _Handler(BaseHTTPRequestHandler):
    server_owner: FakeModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] in ("/v1/models", "/models"):
            chat_models(self)
            return
        self._send_json(200, {})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"raw": raw.decode("utf-8", "replace")}
        path = self.path.split("?", 1)[0]
        owner = self.server_owner
        if owner.slow_marker and owner.slow_marker in raw.decode("utf-8", "replace"):
            owner.slow_request_seen.set()
            time.sleep(owner.slow_seconds)
        if path.endswith("/count_tokens"):
            self.server_owner.record(path, body)
            self._send_json(200, {"input_tokens": 10})
        elif path == "/v1/messages":
            number = self.server_owner.record(path, body)
            if _asks_for_tool(body, owner.tool_marker):
                self._answer_tool_use(body, number)
            else:
                self._answer_messages(body, f"reply {number}")
        elif path in CHAT_PATHS:
            number = self.server_owner.record(path, body)
            chat_answer(self, body, f"reply {number}", number)
        elif path == "/v1/responses":
            number = self.server_owner.record(path, body)
            if _asks_for_shell(body, owner.shell_marker):
                self._answer_shell_call(owner.shell_command, number)
            else:
                self._answer_responses(f"reply {number}", number)
        else:
            self.server_owner.record(path, body)
            self._send_json(404, {"error": {"type": "not_found", "message": path}})

    def _send_json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_data(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_events(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        data = b"".join(
            f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode() for name, payload in events
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer_tool_use(self, body: dict[str, Any], number: int) -> None:
        """A streamed response whose one block calls the owner's ``tool_name``."""
        owner = self.server_owner
        message = {
            "id": f"msg_tool_{number}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-sonnet-4-5"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
        block = {"type": "tool_use", "id": f"toolu_{number:08d}", "name": owner.tool_name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(owner.tool_input)}
        self._send_events(
            [
                ("message_start", {"type": "message_start", "message": message}),
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                        "usage": {"output_tokens": 7},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
        )

    def _answer_messages(self, body: dict[str, Any], text: str) -> None:
        model = body.get("model", "claude-sonnet-4-5")
        usage = {"input_tokens": 10, "output_tokens": 5}
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            done = {**message, "content": [{"type": "text", "text": text}], "stop_reason": "end_turn"}
            self._send_json(200, done)
            return
        self._send_events(
            [
                ("message_start", {"type": "message_start", "message": message}),
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                ),
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": text},
                    },
                ),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": 5},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
        )

    def _answer_responses(self, text: str, number: int) -> None:
        response_id = f"resp_{number}"
        item = {
            "type": "message",
            "id": f"msg_{number}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        usage = {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15,
        }
        self._send_events(
            [
                ("response.created", {"type": "response.created", "response": {"id": response_id}}),
                ("response.output_item.done", {"type": "response.output_item.done", "item": item}),
                (
                    "response.completed",
                    {"type": "response.completed", "response": {"id": response_id, "usage": usage}},
                ),
            ]
        )

    def _answer_shell_call(self, command: str, number: int) -> None:
        """One function call of codex's ``exec_command``; codex runs it and asks again."""
        item = {
            "type": "function_call",
            "id": f"fc_{number}",
            "call_id": f"call_{number}",
            "name": "exec_command",
            "arguments": json.dumps({"cmd": command}),
            "status": "completed",
        }
        self._send_events(
            [
                ("response.created", {"type": "response.created", "response": {"id": f"resp_{number}"}}),
                ("response.output_item.done", {"type": "response.output_item.done", "item": item}),
                (
                    "response.completed",
                    {"type": "response.completed", "response": {"id": f"resp_{number}", "usage": _USAGE}},
                ),
            ]
        )


_USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 15,
}


def _asks_for_tool(body: dict[str, Any], marker: str | None) -> bool:
    """The newest user or assistant turn is the user's and names ``marker`` (a tool result does
    not); ``system`` messages newer CLIs add after it are passed over."""
    messages = body.get("messages")
    if not marker or not isinstance(messages, list):
        return False
    turns = [m for m in messages if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
    last = turns[-1] if turns else None
    if last is None or last.get("role") != "user":
        return False
    content = last.get("content")
    blocks = content if isinstance(content, list) else []
    if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
        return False
    return marker in json.dumps(last)


def _asks_for_shell(body: dict[str, Any], marker: str | None) -> bool:
    """The newest input item is a user turn naming ``marker`` (not the tool's output, which
    comes next and gets a plain answer). Other roles (``developer``, ``system``) and tool
    kinds (``namespace``) newer CLIs send are simply carried along."""
    items = body.get("input")
    if not marker or not isinstance(items, list) or not items:
        return False
    last = items[-1]
    return isinstance(last, dict) and last.get("role") == "user" and marker in json.dumps(last)
