"""``summary``'s fast path: claude and codex lines read by their raw bytes, a few C-speed
searches each, bounded to a line's head and tail (a search over a whole 10 MB transcript costs
more than reading it), never a guess.

Why a byte search can be trusted: inside a JSON string every quote is escaped, so ``"type":``
(a quote, the key, a quote not after a backslash, a colon) is always structure, a key of some
object. Which object is settled by what is around it: no ``{`` between the line's start and
``"message":`` means a top-level key, no ``}`` between a key and the line's last byte means a
top-level key too. A long string (a prompt, a reply, a tool's output) is skipped by looking for
its closing quote alone (``_string_end``), and what follows it must be the exact structure
expected (``_members_end`` steps over a compact object). Keys the parser would let win by
coming later (duplicates) are looked for in the tail. Anything else (other key orders,
whitespace, arrays, escapes in keys, text starting with a space or ``<``) is left to the full
parse: each function returns True when it took the line into the builder, False when the line
must be parsed whole.

Where the package was built with it, ``_sniff.c`` (through ``native_sniff``) applies these same
rules to whole runs of lines in C, and hands each line it is not sure of back to ``Scan``: a
rule changed here must change there (the tests run every summary both ways).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

from sessmap.transcripts import native_sniff
from sessmap.transcripts.entries import Entry, Line, Note, claude_usage, parse_line
from sessmap.transcripts.lines import Span
from sessmap.transcripts.summary import Counts, Summary, _Builder

_QUOTE, _BACKSLASH, _COMMA, _OPEN, _CLOSE = 34, 92, 44, 123, 125
_HEAD = 1024
"""How far into a line its ``"message":`` key is looked for."""


def summarize_spans(spans: Iterable[Span], provider: str) -> Summary:
    """``summary.summarize`` of a claude or codex transcript read as ``lines.spans``."""
    scan = Scan(provider)
    scan.feed(spans)
    return scan.result()


class Scan:
    """A summary being read: fed spans (from the start, or from where a saved one left off, at
    the start of a line: ``summary_cache``), then ``result``."""

    def __init__(self, provider: str, builder: _Builder | None = None) -> None:
        self.provider = provider
        self.builder = builder if builder is not None else _Builder(provider)
        self.notes: list[Note] = []
        self.unknown: dict[str, int] = {}
        self.number = self.size = 0
        self.complete = True
        self.native = native_sniff.for_builder(
            provider, self.builder, lambda line: prompt_reader(line, provider)
        )

    def feed(self, spans: Iterable[Span]) -> None:
        builder, provider, notes, unknown = self.builder, self.provider, self.notes, self.unknown
        fast = _claude_span if provider == "claude" else _codex_span

        number, size, complete, native = self.number, self.size, self.complete, self.native

        def parse(number: int, data: bytes, complete: bool = True) -> None:
            if native is not None:
                native.sync()  # the builder must hold what C read before Python adds to it
            for entry in parse_line(Line(number, data, complete), provider, notes, unknown):
                builder.entry(entry)

        for data, start, end, complete, utf8 in spans:
            size += end - start + 1
            if not complete:
                number += 1
                parse(number, data[start:end], False)
                continue
            find, at = data.find, start
            while True:
                if native is not None:  # C takes what it can; the line it stops at is read here
                    at, taken, stop = native.lines(data, at, end, utf8)
                    number += taken
                    if stop < 0:
                        break
                else:
                    stop = find(b"\n", at, end)
                    if stop < 0:
                        stop = end
                number += 1
                # Only valid UTF-8 takes the fast path: the parser notes bad bytes.
                if not (utf8 or _utf8(data[at:stop])) or not fast(data, at, stop, builder):
                    parse(number, data[at:stop])
                if stop == end:
                    break
                at = stop + 1
        if native is not None:
            native.sync()
        self.number, self.size, self.complete = number, size, complete

    def result(self) -> Summary:
        return self.builder.done(self.notes, self.unknown, self.number, self.size, self.complete)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _string_end(data: bytes, at: int) -> int:
    """The index of the quote that ends the JSON string whose text starts at ``at`` (-1: the
    line ends first): the first quote after an even number of backslashes."""
    end = data.find(b'"', at)
    while end > 0 and data[end - 1] == _BACKSLASH:
        run = end - 1
        while data[run - 1] == _BACKSLASH:  # stops at the string's opening quote at the latest
            run -= 1
        if (end - run) % 2 == 0:
            return end
        end = data.find(b'"', end + 1)
    return end


_SCALAR = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def _members_end(data: bytes, at: int, depth: int = 0) -> int:
    """``at`` at a key (or the ``}``) of a compact JSON object: the index after the object's
    closing brace; -1 for anything unexpected (whitespace, arrays, escapes in keys)."""
    if data[at] == _CLOSE:
        return at + 1
    while depth < 8 and data[at] == _QUOTE:
        key = data.find(b'"', at + 1)
        if key < 0 or data[key + 1] != 58 or data.find(b"\\", at, key) >= 0:  # 58: ":"
            return -1
        value = key + 2
        first = data[value]
        if first == _QUOTE:
            at = _string_end(data, value + 1) + 1
        elif first == _OPEN:
            at = _members_end(data, value + 1, depth + 1)
        else:
            found = _SCALAR.match(data, value)
            at = found.end() if found else -1
        if at <= 0:
            return -1
        if data[at] == _CLOSE:
            return at + 1
        if data[at] != _COMMA:
            return -1
        at += 1
    return -1


# --- claude ----------------------------------------------------------------------------------

_CLAUDE_QUIET_HEADS = tuple(
    f'{{"type":"{name}"'.encode()
    for name in (
        "queue-operation",
        "last-prompt",
        "mode",
        "file-history-snapshot",
        "progress",
        "api-request",
        "api-request-blob",
        "api-request-shape",
        "atis-latch",
        "tools-used",
    )
)
_USER_TYPE = b'"type":"user",'
_USER_MESSAGE = b'{"role":"user","content":'
_RESULT = re.compile(rb'\[\{"tool_use_id":"[^"\\]*","type":"tool_result","content":"')
_RESULT_END = re.compile(rb'"(?:,"is_error":(?:true|false))?\}\]\}')
_ASSISTANT = re.compile(
    rb'\{(?:"model":"[^"\\]*",)?"id":"([^"\\]*)","type":"message","role":"assistant",'
    rb'(?:"model":"[^"\\]*",)?"content":\[\{"type":"([a-z_]+)",'
)
_NOT_PLAIN = frozenset(b'"<#\\') | frozenset(range(33)) | frozenset(range(128, 256))
"""First bytes of a text the fast path leaves to the parser: empty, an injected tag, an AGENTS.md
heading, an escape, a space or control, or any non-ASCII (which may be a space to ``strip``):
a blank text is no prompt and no reply."""


def _claude_span(data: bytes, start: int, end: int, builder: _Builder) -> bool:
    return _claude_fast(data[start:end], builder)


def _claude_fast(data: bytes, builder: _Builder) -> bool:
    if data.startswith(_CLAUDE_QUIET_HEADS):
        return True
    try:
        at = data.find(b'"message":', 0, _HEAD)
        if at < 0:
            return _claude_bookkeeping(data)
        if data[at - 1] != _COMMA or data.find(b"{", 1, at) >= 0:
            return False  # "message" first, or inside an object that comes before it
        body = at + len(b'"message":')
        if at > 15 and data.startswith(_USER_TYPE, at - len(_USER_TYPE)):
            return data[at - 15] in b",{" and _claude_user(data, at, body, builder)
        if data.find(b'"type"', 0, at) >= 0 or data.find(b'"costUSD"', 0, at) >= 0:
            return False
        return _claude_assistant(data, body, builder)
    except IndexError:  # a line that ends where structure was expected: the parser says why
        return False


def _claude_user(data: bytes, at: int, body: int, builder: _Builder) -> bool:
    if not data.startswith(_USER_MESSAGE, body):
        return False
    content = body + len(_USER_MESSAGE)
    if data[content] == _QUOTE:  # a prompt as one string
        text = content + 1
        end = _string_end(data, text)
        if end < 0 or not data.startswith(b'"}', end) or data[text] in _NOT_PLAIN:
            return False
        tail = end + 2
        for key in (b'"isMeta"', b'"isCompactSummary"'):
            if data.find(key, 0, at) >= 0 or data.find(key, tail) >= 0:
                return False
        if not _tail_is_quiet(data, tail):
            return False
        _later_prompt(data, "claude", builder)
        return True
    result = _RESULT.match(data, content)
    if result is None:
        return False  # a prompt in blocks, a result in blocks, several results: read whole
    closed = _RESULT_END.match(data, _string_end(data, result.end()))
    if closed is None or not _tail_is_quiet(data, closed.end()):
        return False
    builder.turn_break()
    return True


def _tail_is_quiet(data: bytes, tail: int) -> bool:
    """No second ``type`` or ``message`` key after the message (the parser would take it)."""
    return data.endswith(b"}") and data.find(b'"type"', tail) < 0 and data.find(b'"message"', tail) < 0


def _claude_assistant(data: bytes, body: int, builder: _Builder) -> bool:
    head = _ASSISTANT.match(data, body)
    if head is None:
        return False
    kind, at = head.group(2), head.end()
    if kind == b"text":
        # The common case, checked inline: {"type":"text","text":"…"}]
        text = at + len(b'"text":"')
        if not data.startswith(b'"text":"', at) or data[text] in _NOT_PLAIN:
            return False
        end = _string_end(data, text)
        after = end + 4 if data.startswith(b'"}],', end) else -1
    elif kind in (b"thinking", b"redacted_thinking", b"tool_use", b"server_tool_use"):
        end = _members_end(data, at)
        after = end + 2 if data.startswith(b"],", end) else -1
    else:
        return False
    if after < 0:
        return False  # several blocks, or one of a shape not expected: read whole
    usage = data.find(b'"usage":{', after, after + 512)
    if usage < 0 or data.find(b"{", after, usage) >= 0 or data.find(b"}", after, usage) >= 0:
        return False  # not the message's own usage
    if not _assistant_tail(data, usage):
        return False
    if kind == b"text":
        builder.reply()
    elif kind in (b"tool_use", b"server_tool_use"):
        builder.summary.tool_calls += 1
    group = head.group(1).decode()
    builder.tokens.add_response(group, lambda: _usage_at(data, usage + len(b'"usage":')))
    return True


def _assistant_tail(data: bytes, usage: int) -> bool:
    """After the usage: one ``type`` key, ``assistant``, at the top level; no other message,
    no cost (a line with ``costUSD`` is parsed, to count its cost)."""
    kind = data.find(b'"type":"assistant"', usage)
    return (
        kind > 0
        and data.endswith(b"}")
        and data.count(b'"type"', usage) == 1
        and data.find(b"}", kind, len(data) - 1) < 0
        and data.find(b'"message"', usage) < 0
        and data.find(b'"costUSD"', usage) < 0
    )


def _claude_bookkeeping(data: bytes) -> bool:
    """A line with no message: a large attachment is skipped (its top-level type, the last key
    ``type`` with no ``}`` after it but the line's own); the rest (titles, costs) is parsed."""
    if len(data) <= 2048:
        return False
    kind = data.rfind(b'"type":"attachment"', len(data) - 600)
    return (
        kind > 0
        and data.find(b"}", kind, len(data) - 1) < 0
        and data.find(b'"type"', kind + 6) < 0
        and data.endswith(b"}")
    )


def _later_prompt(data: bytes, provider: str, builder: _Builder) -> None:
    """A plain prompt: counted now, read whole only if it turns out to be the first or last."""
    builder.prompt(prompt_reader(data, provider))


def prompt_reader(data: bytes, provider: str) -> Callable[[], Entry | None]:
    """Reads the prompt of the line ``data`` when called."""

    def read() -> Entry | None:
        found = parse_line(Line(0, data), provider, [], {})
        return next((entry for entry in found if entry.kind == "prompt"), None)

    return read


_USAGE = re.compile(
    rb'\{"input_tokens":(\d+),"cache_creation_input_tokens":(\d+),"cache_read_input_tokens":(\d+),'
    rb'"output_tokens":(\d+)[,}]'
)
_DECODER = json.JSONDecoder()


def _usage_at(data: bytes, at: int) -> Counts:
    found = _USAGE.match(data, at)
    if found is not None:
        fresh, write, read, output = found.groups()
        cache_write, cache_read = int(write), int(read)
        return (int(fresh) + cache_read + cache_write, int(output), cache_read, cache_write)
    try:
        value, _ = _DECODER.raw_decode(data[at : at + 4096].decode("utf-8", "replace"))
    except ValueError:
        value = None
    usage = claude_usage(value if isinstance(value, dict) else {})
    return (usage.input, usage.output, usage.cache_read, usage.cache_write)


# --- codex -----------------------------------------------------------------------------------

_CODEX_HEAD = re.compile(
    rb'\{"timestamp":"[^"\\]*",(?:"ordinal":\d+,)?"type":"([a-z_]+)","payload":\{"type":"([a-z_]+)"'
)
_CODEX_RESULTS = frozenset({b"function_call_output", b"custom_tool_call_output"})
_CODEX_CALLS = frozenset({b"function_call", b"custom_tool_call", b"local_shell_call"})
_CODEX_REPLY = b'"role":"assistant","content":[{"type":"output_text","text":"'
_CODEX_PROMPT = b'"role":"user","content":[{"type":"input_text","text":"'
_CODEX_TOTAL = re.compile(
    rb',"info":\{"total_token_usage":\{"input_tokens":(\d+),"cached_input_tokens":(\d+),'
    rb'(?:"cache_write_input_tokens":(\d+),)?"output_tokens":(\d+)[,}]'
)


def _codex_fast(data: bytes, builder: _Builder) -> bool:
    return _codex_span(data, 0, len(data), builder)


def _codex_span(data: bytes, start: int, end: int, builder: _Builder) -> bool:
    """The line ``data[start:end]``, read in place."""
    head = _CODEX_HEAD.match(data, start, end)
    if head is None:
        return False
    kind, inner = head.groups()
    if kind == b"event_msg":
        if inner == b"token_count":
            total = _CODEX_TOTAL.match(data, head.end(), end)  # payload.info.total_token_usage
            if total is None:
                return False
            fresh, cached, write, output = total.groups()
            builder.tokens.add_running((int(fresh), int(output), int(cached), int(write or 0)))
            return True
        return inner != b"thread_name_updated"
    if kind != b"response_item":
        return False
    if inner in _CODEX_RESULTS:
        builder.turn_break()
    elif inner in _CODEX_CALLS:
        builder.summary.tool_calls += 1
    elif inner == b"message":
        return _codex_message(data, start, end, builder)
    elif inner not in (b"reasoning", b"web_search_call"):
        return False
    return True


def _codex_message(data: bytes, start: int, end: int, builder: _Builder) -> bool:
    near = min(start + 400, end)
    at = data.find(_CODEX_PROMPT, start, near)
    if at >= 0:
        text = at + len(_CODEX_PROMPT)
        if text >= end or data[text] in _NOT_PLAIN:
            return False
        _later_prompt(data[start:end], "codex", builder)
        return True
    at = data.find(_CODEX_REPLY, start, near)
    text = at + len(_CODEX_REPLY)
    if at < 0 or text >= end or data[text] in _NOT_PLAIN:
        return False  # not an assistant reply, or one whose first text may be blank
    builder.reply()
    return True
