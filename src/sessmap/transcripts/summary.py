"""What a conversation is, from one pass over its transcript: title, first and last prompt,
message and tool-call counts, size, tokens, and a cost where the agent wrote one.

``summarize(lines, provider)`` reads ``entries.Line``s (or a file, in large blocks) once. Most
bytes of a real transcript are tool results and long replies that add nothing to these facts,
so each line is first sniffed by its raw bytes (``sniff.py``): a line sniffed as a tool result
or bookkeeping is skipped, an assistant line gives its usage from a small slice (read only for
the last line of each response), prompts are counted and only the first and last parsed, and
only the rest (titles, costs, and any line the sniff is not sure of) is parsed whole by
``entries``. A sniff that is unsure always parses: the result is the same as parsing every
line (tests/transcripts/test_summary.py checks both ways agree), only faster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sessmap.transcripts.entries import Entry, Line, Note, Usage, one_line, parse_line, unknown_note
from sessmap.transcripts.lines import read_lines, read_spans

TITLE_WIDTH = 80
PROMPT_WIDTH = 200


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        from sessmap.model import format_timestamp

        return {"text": self.text, "at": format_timestamp(self.at) if self.at else None}


@dataclass(slots=True)
class Summary:
    """The facts of one transcript; ``to_dict`` gives them under their stable names."""

    title: str | None = None
    title_source: Literal["agent", "first_prompt"] | None = None
    first_prompt: Prompt | None = None
    last_prompt: Prompt | None = None
    prompts: int = 0
    replies: int = 0
    tool_calls: int = 0
    lines: int = 0
    size: int = 0
    tokens: Usage | None = None
    cost_usd: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return self.prompts + self.replies

    def to_dict(self) -> dict[str, Any]:
        tokens = self.tokens
        return {
            "title": self.title,
            "title_source": self.title_source,
            "first_prompt": self.first_prompt.to_dict() if self.first_prompt else None,
            "last_prompt": self.last_prompt.to_dict() if self.last_prompt else None,
            "messages": self.messages,
            "prompts": self.prompts,
            "replies": self.replies,
            "tool_calls": self.tool_calls,
            "lines": self.lines,
            "size": self.size,
            "tokens": None
            if tokens is None
            else {
                "input": tokens.input,
                "output": tokens.output,
                "cache_read": tokens.cache_read,
                "cache_write": tokens.cache_write,
            },
            "cost_usd": self.cost_usd,
            "notes": list(self.notes),
        }


Counts = tuple[int, int, int, int]
"""Token counts as ``Usage`` holds them: input (cached included), output, cache reads, writes;
plain tuples in the loop (a frozen dataclass costs more to make than a line costs to sniff)."""


class TokenTotals:
    """Tokens summed from usage records: each claude API response once (its lines repeat its
    usage; the last line's counts are final), codex running totals as the sum of their rises
    (a total that drops started over, as a resumed session's may)."""

    __slots__ = ("group", "pending", "previous", "seen", "sums")

    def __init__(self) -> None:
        self.sums = [0, 0, 0, 0]
        self.seen = False
        # The newest line of the open response: its counts, or a way to read them when the
        # response closes (the fast path reads only the last line of each response).
        self.pending: Counts | Callable[[], Counts] | None = None
        self.group: str | None = None
        self.previous: Counts | None = None

    def add(self, usage: Usage) -> None:
        counts = (usage.input, usage.output, usage.cache_read, usage.cache_write)
        if usage.running:
            self.add_running(counts)
        else:
            self.add_response(usage.group, counts)

    def add_running(self, counts: Counts) -> None:
        """A running total: what it rose by since the previous one counts."""
        self.seen = True
        previous = self.previous
        if previous is None or counts[0] < previous[0]:
            self._plus(counts)
        else:
            fresh, output, read, write = previous
            self._plus((counts[0] - fresh, counts[1] - output, counts[2] - read, counts[3] - write))
        self.previous = counts

    def add_response(self, group: str | None, counts: Counts | Callable[[], Counts]) -> None:
        """One line's counts of the response ``group``, or a function reading them."""
        self.seen = True
        if self.pending is not None and group is not None and group == self.group:
            self.pending = counts  # another line of the same response
            return
        self.close_group()
        self.pending, self.group = counts, group

    def close_group(self) -> None:
        """A user turn or tool result came: the next usage is a new response even if the API
        reused a message id (fake servers do)."""
        pending = self.pending
        if pending is not None:
            self._plus(pending if isinstance(pending, tuple) else pending())
        self.pending, self.group = None, None

    def _plus(self, counts: Counts) -> None:
        sums = self.sums
        sums[0] += counts[0]
        sums[1] += counts[1]
        sums[2] += counts[2]
        sums[3] += counts[3]

    def pending_counts(self) -> Counts | None:
        """The open response's counts (a pending reader is read now)."""
        pending = self.pending
        if pending is not None and not isinstance(pending, tuple):
            pending = self.pending = pending()
        return pending

    def result(self) -> Usage | None:
        self.close_group()
        sums = self.sums
        return Usage(sums[0], sums[1], sums[2], sums[3]) if self.seen else None

    def state(self) -> dict[str, Any]:
        """What ``restore`` needs to go on from here (plain JSON values)."""
        pending = self.pending_counts()
        return {
            "sums": list(self.sums),
            "seen": self.seen,
            "pending": list(pending) if pending is not None else None,
            "group": self.group,
            "previous": list(self.previous) if self.previous is not None else None,
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> TokenTotals:
        """The totals ``state`` gave; ValueError (or TypeError, KeyError) for any other shape."""
        totals = cls()
        totals.sums = list(_counts(state["sums"]))
        totals.seen = _bool(state["seen"])
        totals.pending = None if state["pending"] is None else _counts(state["pending"])
        totals.group = _text(state["group"])
        totals.previous = None if state["previous"] is None else _counts(state["previous"])
        return totals


class _Builder:
    """Folds entries (and sniffed lines) into a ``Summary``."""

    def __init__(self, provider: str) -> None:
        self.summary = Summary()
        self.tokens = TokenTotals()
        self.agent_title: str | None = None
        self.costs, self.priced = 0.0, False
        self.last_total: float | None = None
        self.last_run: str | None = None
        self.first: Entry | None = None
        # The newest prompt, or a way to read it: only the last one is ever read.
        self.last: Entry | Callable[[], Entry | None] | None = None
        # claude writes one line per content block: the lines of one response are one reply.
        self.one_reply_per_turn = provider == "claude"
        self.in_reply = False

    def entry(self, entry: Entry) -> None:
        kind = entry.kind
        if kind == "prompt":
            self.prompt(entry)
        elif kind == "reply":
            self.reply()
        elif kind == "tool_call":
            self.summary.tool_calls += 1
        elif kind == "tool_result":
            self.turn_break()
        elif kind == "usage" and entry.usage is not None:
            self.usage(entry.usage)
        elif kind == "title":
            self.agent_title = entry.text
        if entry.cost_usd is not None:
            self.costs += entry.cost_usd
            self.priced = True
        if entry.cost_total is not None:
            self.cost_total(entry.cost_total, entry.run)

    def cost_total(self, total: float, run: str | None) -> None:
        """A process's running total: its rises add up; a new process (or a total that drops)
        starts over."""
        previous = self.last_total if run == self.last_run else None
        self.costs += total if previous is None or total < previous else total - previous
        self.last_total, self.last_run, self.priced = total, run, True

    def prompt(self, entry: Entry | Callable[[], Entry | None]) -> None:
        if self.first is None:
            self.first = entry if isinstance(entry, Entry) else entry()
            self.last = self.first
        else:
            self.last = entry
        self.summary.prompts += 1
        self.turn_break()

    def reply(self) -> None:
        if not self.in_reply:
            self.summary.replies += 1
            self.in_reply = self.one_reply_per_turn

    def usage(self, usage: Usage) -> None:
        self.tokens.add(usage)

    def turn_break(self) -> None:
        """A prompt or a tool result: what comes next is a new response."""
        self.tokens.close_group()
        self.in_reply = False

    def done(
        self, notes: list[Note], unknown: dict[str, int], lines: int, size: int, complete: bool
    ) -> Summary:
        """The summary of ``lines`` lines of ``size`` bytes (the newlines counted; the last
        line had none unless ``complete``)."""
        self.summary.lines = lines
        self.summary.size = size - (0 if lines == 0 or complete else 1)
        if unknown:
            notes.append(unknown_note(unknown))
        return self.finish(notes)

    def finish(self, notes: list[Note]) -> Summary:
        summary = self.summary
        summary.tokens = self.tokens.result()
        summary.cost_usd = round(self.costs, 10) if self.priced else None
        last = self.last if isinstance(self.last, Entry) or self.last is None else self.last()
        for name, entry in (("first_prompt", self.first), ("last_prompt", last or self.first)):
            if entry is not None:
                setattr(summary, name, Prompt(one_line(entry.text, PROMPT_WIDTH), entry.time))
        if self.agent_title:
            summary.title, summary.title_source = one_line(self.agent_title, TITLE_WIDTH), "agent"
        elif summary.first_prompt is not None:
            summary.title = one_line(summary.first_prompt.text, TITLE_WIDTH)
            summary.title_source = "first_prompt"
        summary.notes = [note.message for note in notes]
        return summary

    def state(self) -> dict[str, Any]:
        """What ``restore`` needs to go on from here, as plain JSON values: the counts so far,
        and the first and last prompt as ``finish`` will show them (read now if pending)."""
        summary = self.summary
        last = self.last if isinstance(self.last, Entry) or self.last is None else self.last()
        self.last = last
        return {
            "counts": [summary.prompts, summary.replies, summary.tool_calls],
            "tokens": self.tokens.state(),
            "agent_title": self.agent_title,
            "costs": self.costs,
            "priced": self.priced,
            "last_total": self.last_total,
            "last_run": self.last_run,
            "first": _prompt_state(self.first),
            "last": _prompt_state(last),
            "in_reply": self.in_reply,
        }

    @classmethod
    def restore(cls, provider: str, state: dict[str, Any]) -> _Builder:
        """The builder ``state`` gave; ValueError (or TypeError, KeyError) for any other shape."""
        builder = cls(provider)
        prompts, replies, tool_calls = (_int(value) for value in state["counts"])
        builder.summary = Summary(prompts=prompts, replies=replies, tool_calls=tool_calls)
        builder.tokens = TokenTotals.restore(state["tokens"])
        builder.agent_title = _text(state["agent_title"])
        builder.costs = _float(state["costs"])
        builder.priced = _bool(state["priced"])
        builder.last_total = None if state["last_total"] is None else _float(state["last_total"])
        builder.last_run = _text(state["last_run"])
        builder.first = _prompt_entry(state["first"])
        builder.last = _prompt_entry(state["last"])
        builder.in_reply = _bool(state["in_reply"])
        return builder


def _prompt_state(entry: Entry | None) -> list[Any] | None:
    """A prompt as ``finish`` reads it: its text on one line (cut as shown: cutting again
    changes nothing) and its time."""
    if entry is None:
        return None
    return [one_line(entry.text, PROMPT_WIDTH), entry.time.isoformat() if entry.time else None]


def _prompt_entry(state: object) -> Entry | None:
    if state is None:
        return None
    if not isinstance(state, list) or len(state) != 2:
        raise ValueError("not a prompt")
    text, at = state
    moment = None if at is None else datetime.fromisoformat(_text(at) or "")
    return Entry(0, "prompt", "user", _text(text) or "", moment)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("not an integer")
    return value


def _float(value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError("not a number")
    return float(value)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("not true or false")
    return value


def _text(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError("not a string")
    return value


def _counts(value: object) -> Counts:
    if not isinstance(value, list) or len(value) != 4:
        raise ValueError("not four counts")
    return (_int(value[0]), _int(value[1]), _int(value[2]), _int(value[3]))


def summarize(
    lines: Iterable[Line] | Path, provider: str, *, sniff: bool = True, cache: bool = False
) -> Summary:
    """The summary of a ``provider`` transcript (its lines, or the file at a path);
    ``sniff=False`` parses every line (the reference the fast path is tested against);
    ``cache=True`` reads a file on from its saved summary (``summary_cache``), same result."""
    fast = sniff and provider in ("claude", "codex")  # qwen's and copilot's lines: all parsed
    if isinstance(lines, Path):
        if fast and cache:
            from sessmap.transcripts.summary_cache import summarize_file

            return summarize_file(lines, provider)
        if fast:
            from sessmap.transcripts.sniff import summarize_spans

            return summarize_spans(read_spans(lines), provider)
        lines = read_lines(lines)
    sniffer = _sniffer(provider) if fast else None
    builder, notes, unknown = _Builder(provider), list[Note](), dict[str, int]()
    count = size = 0
    line = Line(0, b"")
    for line in lines:
        data = line.data
        count += 1
        size += len(data) + 1
        # Only valid UTF-8 takes the fast path: the parser notes bad bytes.
        if (
            sniffer is None
            or not line.complete
            or not (data.isascii() or _utf8(data))
            or not sniffer(data, builder)
        ):
            for entry in parse_line(line, provider, notes, unknown):
                builder.entry(entry)
    return builder.done(notes, unknown, count, size, line.complete)


def _sniffer(provider: str) -> Callable[[bytes, _Builder], bool]:
    from sessmap.transcripts import sniff

    return sniff._claude_fast if provider == "claude" else sniff._codex_fast


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
