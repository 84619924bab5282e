"""The entries of a codex rollout (``entries.entries`` dispatches here): ``response_item``
lines (messages, tool calls and their output, reasoning) and ``event_msg`` lines (running token
totals, thread names).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sessmap.transcripts.entries import Entry, _texts, codex_usage, one_line, parse_time, tool_summary

_CODEX_QUIET = frozenset({"session_meta", "turn_context", "world_state", "token_usage_record", "compacted"})
# What codex sends as a user turn that the user did not type.
_CODEX_CONTEXT = ("<environment_context>", "<user_instructions>", "# AGENTS.md instructions", "<permissions")


def codex(value: dict[str, Any], number: int, unknown: dict[str, int]) -> Iterator[Entry]:
    kind = value.get("type")
    payload = value.get("payload")
    time = parse_time(value.get("timestamp"))
    if not isinstance(payload, dict):
        payload = {}
    inner = payload.get("type")
    if kind == "response_item":
        yield from _item(payload, number, time)
    elif kind == "event_msg" and inner == "token_count":
        info = payload.get("info")
        total = info.get("total_token_usage") if isinstance(info, dict) else None
        if isinstance(total, dict):
            yield Entry(number, "usage", time=time, usage=codex_usage(total))
    elif kind == "event_msg" and inner == "thread_name_updated":
        name = payload.get("thread_name") or payload.get("name")
        if isinstance(name, str) and name.strip():
            yield Entry(number, "title", text=name, time=time)
    elif kind == "event_msg" or (isinstance(kind, str) and kind in _CODEX_QUIET):
        yield Entry(number, "other", time=time)
    else:
        name = kind if isinstance(kind, str) else "(none)"
        unknown[name] = unknown.get(name, 0) + 1


def _item(payload: dict[str, Any], number: int, time: datetime | None) -> Iterator[Entry]:
    inner = payload.get("type")
    if inner == "message":
        role = payload.get("role")
        text = _texts(payload.get("content"), ("input_text", "output_text", "text"))
        if role == "assistant":
            if text.strip():
                yield Entry(number, "reply", "assistant", text, time)
        elif role == "user" and text.strip() and not text.lstrip().startswith(_CODEX_CONTEXT):
            yield Entry(number, "prompt", "user", text, time)
        elif text.strip():
            yield Entry(number, "context", role if isinstance(role, str) else None, text, time)
    elif inner in ("function_call", "custom_tool_call"):
        name = str(payload.get("name") or "tool")
        arguments = payload.get("arguments", payload.get("input"))
        yield Entry(number, "tool_call", "assistant", tool_summary(name, arguments), time, name)
    elif inner == "local_shell_call":
        action = payload.get("action")
        command = action.get("command") if isinstance(action, dict) else None
        yield Entry(
            number, "tool_call", "assistant", tool_summary("shell", {"command": command}), time, "shell"
        )
    elif inner in ("function_call_output", "custom_tool_call_output"):
        output = payload.get("output")
        if isinstance(output, dict):
            output = output.get("content") or output.get("output") or ""
        yield Entry(
            number,
            "tool_result",
            "user",
            one_line(_texts(output) if isinstance(output, list) else str(output or "")),
            time,
        )
    else:
        yield Entry(number, "other", time=time)
