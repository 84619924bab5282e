"""The entries of qwen and copilot transcripts (``entries.entries`` dispatches here), from the
lines the real CLIs wrote (qwen 0.24.4, copilot 1.0.102).

qwen: one record per line, ``type`` ``user`` / ``assistant`` / ``tool_result`` / ``system``,
with a Gemini-style ``message`` (``parts``: ``text``, ``functionCall``, ``functionResponse``,
``thought``); an assistant record carries ``usageMetadata``.

copilot (``events.jsonl``): events ``{"type", "data", "timestamp"}``: ``user.message`` and
``assistant.message`` (``data.content``), ``session.usage_record`` (``data.usage``); the
session's start, resume, turn and shutdown events carry nothing sessmap shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sessmap.transcripts.entries import Entry, Usage, parse_time, tool_summary

_QWEN_QUIET = frozenset({"system"})
_COPILOT_QUIET = frozenset(
    {
        "session.start", "session.resume", "session.shutdown", "session.info", "session.model_change",
        "assistant.turn_start", "assistant.turn_end", "system.message",
    }
)  # fmt: skip


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


# --- qwen --------------------------------------------------------------------------------------


def qwen(value: dict[str, Any], number: int, unknown: dict[str, int]) -> Iterator[Entry]:
    kind = value.get("type")
    time = parse_time(value.get("timestamp"))
    message = value.get("message")
    parts = message.get("parts") if isinstance(message, dict) else None
    parts = [part for part in parts if isinstance(part, dict)] if isinstance(parts, list) else []
    if kind == "user":
        text = "\n".join(p["text"] for p in parts if isinstance(p.get("text"), str))
        if text.strip():
            real = value.get("provenance") in (None, "real_user")
            yield Entry(number, "prompt" if real else "context", "user", text, time)
    elif kind == "assistant":
        yield from _qwen_assistant(parts, number, time)
        usage = value.get("usageMetadata")
        if isinstance(usage, dict):
            yield Entry(number, "usage", "assistant", time=time, usage=qwen_usage(usage))
    elif kind == "tool_result":
        for part in parts:
            response = part.get("functionResponse")
            if isinstance(response, dict):
                name = str(response.get("name") or "tool")
                yield Entry(number, "tool_result", "user", name, time, name)
    elif kind in _QWEN_QUIET:
        yield Entry(number, "other", time=time)
    else:
        unknown[str(kind)] = unknown.get(str(kind), 0) + 1


def _qwen_assistant(parts: list[dict[str, Any]], number: int, time: datetime | None) -> Iterator[Entry]:
    for part in parts:
        call = part.get("functionCall")
        if isinstance(call, dict):
            name = str(call.get("name") or "tool")
            yield Entry(number, "tool_call", "assistant", tool_summary(name, call.get("args")), time, name)
        elif isinstance(part.get("text"), str) and part["text"].strip() and not part.get("thought"):
            yield Entry(number, "reply", "assistant", part["text"], time)


def qwen_usage(usage: dict[str, Any]) -> Usage:
    """Gemini's counts: the prompt's (cached ones included), and the reply's plus thoughts."""
    output = _int(usage.get("candidatesTokenCount")) + _int(usage.get("thoughtsTokenCount"))
    return Usage(_int(usage.get("promptTokenCount")), output, _int(usage.get("cachedContentTokenCount")))


# --- copilot -----------------------------------------------------------------------------------


def copilot(value: dict[str, Any], number: int, unknown: dict[str, int]) -> Iterator[Entry]:
    kind = value.get("type")
    time = parse_time(value.get("timestamp"))
    data = value.get("data")
    data = data if isinstance(data, dict) else {}
    content = data.get("content")
    if kind == "user.message" and isinstance(content, str) and content.strip():
        yield Entry(number, "prompt", "user", content, time)
    elif kind == "assistant.message":
        if isinstance(content, str) and content.strip():
            yield Entry(number, "reply", "assistant", content, time)
    elif kind == "session.usage_record":
        usage = data.get("usage")
        if isinstance(usage, dict):
            yield Entry(number, "usage", "assistant", time=time, usage=copilot_usage(usage))
    elif kind in _COPILOT_QUIET:
        yield Entry(number, "other", time=time)
    else:
        unknown[str(kind)] = unknown.get(str(kind), 0) + 1


def copilot_usage(usage: dict[str, Any]) -> Usage:
    """Anthropic's counts as copilot records them: input beside the cached reads and writes."""
    cache_read, cache_write = _int(usage.get("cacheReadTokens")), _int(usage.get("cacheWriteTokens"))
    return Usage(
        _int(usage.get("inputTokens")) + cache_read + cache_write,
        _int(usage.get("outputTokens")),
        cache_read,
        cache_write,
    )
