"""The entries of a claude or codex transcript, one typed record each, read as a stream.

API (kept stable: ``summary.py`` and ``sessmap transcript`` build on it)::

    from sessmap.transcripts.entries import Note, entries, read_lines

    notes: list[Note] = []
    for entry in entries(read_lines(path), "claude", notes):   # or "codex"
        entry.kind      # "prompt" | "reply" | "tool_call" | "tool_result" | "title" | "usage"
                        # | "context" | "other"
        entry.role      # "user", "assistant", "developer", "system", or None
        entry.text      # prompt/reply text; the tool call's one-line summary; the title
        entry.time      # datetime (UTC) or None
        entry.tool      # tool name (tool_call, tool_result), else None
        entry.usage     # Usage (kind "usage" only), else None
        entry.cost_usd  # a cost the agent wrote on the entry, else None
        entry.cost_total  # the cost so far of agent process entry.run, as the agent wrote it
        entry.line      # 1-based line number in the transcript
    notes               # Note(line, message): cut lines, bad bytes, unknown entry types…

``read_lines(path)`` (from ``lines``) streams ``Line(number, data, complete)`` from a file; any iterable of
``Line`` works (a store's copy: ``lines_of(store.transcripts.read(key))``). ``entries`` never
raises on what a transcript holds: a line it cannot read becomes a ``Note``.

Kinds: ``prompt`` what the user typed; ``reply`` the assistant's text; ``tool_call`` /
``tool_result`` one per tool call and per result; ``title`` the agent's own title or summary of
the conversation (claude ``custom-title``/``ai-title``/``summary`` entries, codex thread
names); ``usage`` token counts; ``context`` text the agent injected as a user turn (codex's
``<environment_context>``, claude ``isMeta`` lines and command echoes); ``other`` the rest.

Usage: claude writes one transcript line per content block of an API response, each carrying
that response's ``usage``; ``Usage.group`` (the message id) tells lines of one response apart,
and ``summary.TokenTotals`` counts each response once. codex writes running totals
(``Usage.running``): the latest one is the session's total.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

# Reading lines lives in ``lines``; importable from here as before.
from sessmap.transcripts.lines import MAX_LINE as MAX_LINE
from sessmap.transcripts.lines import Line as Line
from sessmap.transcripts.lines import lines_of as lines_of
from sessmap.transcripts.lines import read_lines as read_lines
from sessmap.transcripts.lines import split_lines as split_lines

Kind = Literal["prompt", "reply", "tool_call", "tool_result", "title", "usage", "context", "other"]

SUMMARY_WIDTH = 120

# claude entry types that carry nothing sessmap shows: known, so no note about them.
_CLAUDE_QUIET = frozenset(
    {
        "queue-operation", "attachment", "last-prompt", "mode", "file-history-snapshot",
        "progress", "system", "permission-mode", "tag", "agent-name", "pr-link",
        "worktree-state", "content-replacement", "agent-setting", "marble-origami-commit",
        "marble-origami-snapshot", "api-request", "api-request-blob", "api-request-shape",
        "atis-latch", "cost-state", "tools-used",
    }
)  # fmt: skip


class Note(NamedTuple):
    """Something in the transcript sessmap could not read as an entry."""

    line: int | None
    message: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts. ``input`` counts every token the model read, cached ones included."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    group: str | None = None
    """claude: the API response (message id) the line belongs to."""
    running: bool = False
    """codex: a running total for the session so far, not one response's."""

    def plus(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
        )

    def minus(self, other: Usage) -> Usage:
        return Usage(
            self.input - other.input,
            self.output - other.output,
            self.cache_read - other.cache_read,
            self.cache_write - other.cache_write,
        )


@dataclass(frozen=True, slots=True)
class Entry:
    line: int
    kind: Kind
    role: str | None = None
    text: str = ""
    time: datetime | None = None
    tool: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    cost_total: float | None = None
    """The cost so far of the agent process ``run`` as the agent wrote it (claude ``cost-state``
    entries, from 2.1.3xx): a running total, so each run's newest one counts, not their sum."""
    run: str | None = None


def decode(line: Line, notes: list[Note]) -> dict[str, Any] | None:
    """The JSON object on ``line``, or None with a note saying why not."""
    if not line.data.strip():
        return None
    try:
        value = json.loads(line.data)
    except UnicodeDecodeError:
        notes.append(
            Note(line.number, f"line {line.number} holds bytes that are not UTF-8 (shown as \ufffd)")
        )
        try:
            value = json.loads(line.data.decode("utf-8", "replace"))
        except ValueError:
            value = None
    except ValueError:
        value = None
    except RecursionError:  # hostile nesting: "[[[[…" ten thousand deep
        value = None
    if isinstance(value, dict):
        return value
    if value is None and not line.complete:
        if len(line.data) >= MAX_LINE:
            message = f"line {line.number} is longer than {MAX_LINE >> 20} MB; skipped"
        else:
            message = f"the last line {line.number} is cut short (the agent may still be writing it); skipped"
        notes.append(Note(line.number, message))
    elif value is None or not isinstance(value, dict):
        notes.append(Note(line.number, f"line {line.number} is not a JSON object; skipped"))
    return None


def entries(lines: Iterable[Line], provider: str, notes: list[Note]) -> Iterator[Entry]:
    """The entries of a ``provider`` ("claude" or "codex") transcript, in order."""
    unknown: dict[str, int] = {}
    for line in lines:
        yield from parse_line(line, provider, notes, unknown)
    if unknown:
        notes.append(unknown_note(unknown))


def parse_line(line: Line, provider: str, notes: list[Note], unknown: dict[str, int]) -> Iterator[Entry]:
    """The entries of one line; ``unknown`` counts the entry types sessmap does not know (for
    ``unknown_note``), so a transcript's thousand odd lines make one note, not a thousand."""
    value = decode(line, notes)
    if value is None:
        return
    try:
        yield from _parser(provider)(value, line.number, unknown)
    except (TypeError, AttributeError, ValueError, KeyError, RecursionError):
        notes.append(Note(line.number, f"line {line.number} has an entry of an unexpected shape; skipped"))


def _parser(provider: str) -> Callable[[dict[str, Any], int, dict[str, int]], Iterator[Entry]]:
    if provider == "claude":
        return _claude
    if provider in ("qwen", "copilot"):
        from sessmap.transcripts import entries_agents  # their formats: only when asked for

        return entries_agents.qwen if provider == "qwen" else entries_agents.copilot
    from sessmap.transcripts.entries_codex import codex

    return codex


def unknown_note(unknown: dict[str, int]) -> Note:
    listed = ", ".join(f"{name} ({count})" for name, count in sorted(unknown.items()))
    return Note(None, f"skipped entries of types sessmap does not know: {listed}")


# --- shared helpers ----------------------------------------------------------------------------


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def one_line(text: str, width: int = SUMMARY_WIDTH) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``width`` with "…"."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "\u2026"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _texts(content: object, kinds: tuple[str, ...] = ("text",)) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [
        block["text"]
        for block in content
        if isinstance(block, dict) and block.get("type") in kinds and isinstance(block.get("text"), str)
    ]
    return "\n".join(parts)


def tool_summary(name: str, arguments: object) -> str:
    """``Bash: ls -la``: a tool call on one line, its most telling argument after its name."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return one_line(f"{name}: {arguments}")
    detail = ""
    if isinstance(arguments, dict):
        for key in (
            "command",
            "cmd",
            "file_path",
            "path",
            "pattern",
            "url",
            "query",
            "description",
            "prompt",
        ):
            value = arguments.get(key)
            if isinstance(value, list):
                value = " ".join(str(part) for part in value)
            if isinstance(value, str) and value:
                detail = value
                break
        else:
            detail = next((v for v in arguments.values() if isinstance(v, str) and v), "")
    return one_line(f"{name}: {detail}" if detail else name)


# --- claude ------------------------------------------------------------------------------------


def _claude(value: dict[str, Any], number: int, unknown: dict[str, int]) -> Iterator[Entry]:
    kind = value.get("type")
    time = parse_time(value.get("timestamp"))
    cost = value.get("costUSD")
    cost_usd = float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None
    if kind == "user":
        yield from _claude_user(value, number, time)
    elif kind == "assistant":
        yield from _claude_assistant(value, number, time, cost_usd)
    elif kind in ("custom-title", "ai-title", "summary"):
        title = value.get("customTitle") or value.get("aiTitle") or value.get("summary")
        if isinstance(title, str) and title.strip():
            yield Entry(number, "title", text=title, time=time)
    elif kind == "cost-state":
        total = value.get("totalCostUSD")
        running = float(total) if isinstance(total, int | float) and not isinstance(total, bool) else None
        run = str(value.get("startTime")) if value.get("startTime") is not None else None
        yield Entry(number, "other", time=time, cost_total=running, run=run)
    elif isinstance(kind, str) and kind in _CLAUDE_QUIET:
        yield Entry(number, "other", role=kind if kind == "system" else None, time=time)
    else:
        name = kind if isinstance(kind, str) else "(none)"
        unknown[name] = unknown.get(name, 0) + 1


def _claude_user(value: dict[str, Any], number: int, time: datetime | None) -> Iterator[Entry]:
    message = value.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                result = (
                    _texts(block.get("content"))
                    if not isinstance(block.get("content"), str)
                    else block["content"]
                )
                yield Entry(number, "tool_result", "user", one_line(result), time)
    text = _texts(content)
    if not text.strip():
        return
    meta = value.get("isMeta") is True or value.get("isCompactSummary") is True
    injected = text.lstrip().startswith(("<command-", "<local-command-", "<system-reminder>"))
    yield Entry(number, "context" if meta or injected else "prompt", "user", text, time)


def _claude_assistant(
    value: dict[str, Any], number: int, time: datetime | None, cost_usd: float | None
) -> Iterator[Entry]:
    message = value.get("message")
    if not isinstance(message, dict):
        return
    content = message.get("content")
    for block in content if isinstance(content, list) else [{"type": "text", "text": content}]:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"].strip():
            yield Entry(number, "reply", "assistant", block["text"], time, cost_usd=cost_usd)
            cost_usd = None  # one cost per line, on its first entry
        elif block.get("type") in ("tool_use", "server_tool_use"):
            name = str(block.get("name") or "tool")
            yield Entry(number, "tool_call", "assistant", tool_summary(name, block.get("input")), time, name)
    usage = message.get("usage")
    if isinstance(usage, dict):
        group = message.get("id") if isinstance(message.get("id"), str) else None
        yield Entry(
            number, "usage", "assistant", time=time, usage=claude_usage(usage, group), cost_usd=cost_usd
        )


def claude_usage(usage: dict[str, Any], group: str | None = None) -> Usage:
    cache_read = _int(usage.get("cache_read_input_tokens"))
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    return Usage(
        _int(usage.get("input_tokens")) + cache_read + cache_write,
        _int(usage.get("output_tokens")),
        cache_read,
        cache_write,
        group=group,
    )


# --- codex (its entries: entries_codex.py) -------------------------------------------------------


def codex_usage(total: dict[str, Any]) -> Usage:
    return Usage(
        _int(total.get("input_tokens")),
        _int(total.get("output_tokens")),
        _int(total.get("cached_input_tokens")),
        _int(total.get("cache_write_input_tokens")),
        running=True,
    )
