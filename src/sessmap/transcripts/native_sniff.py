"""``sniff``'s fast path in C (``_sniff.c``), when the package was built with it.

Python's loop over a transcript's lines costs more than the sniffing (a 10 MB claude
transcript has 5,500 lines); the C scanner takes whole runs of lines and hands back only the
lines it is not sure of, which ``sniff.Scan`` then reads as before. The summary so far is
copied from the builder into an int64 array (``STATE``), kept there while C takes whole spans,
and copied back (``sync``) before Python reads a line and when a feed ends, so the builder,
the summary cache and the Python path see one state.

Without the compiled module (no compiler when the package was built) everything runs in
Python, with the same result, only slower.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from types import ModuleType

from sessmap.transcripts.entries import Entry
from sessmap.transcripts.summary import Counts, _Builder

STATE = (
    *("replies", "tool_calls", "prompts", "in_reply", "has_first", "seen"),
    *("sum_input", "sum_output", "sum_cache_read", "sum_cache_write"),
    *("has_pending", "pending_input", "pending_output", "pending_cache_read", "pending_cache_write"),
    *("has_previous", "previous_input", "previous_output", "previous_cache_read", "previous_cache_write"),
)
"""The int64 fields ``_sniff.c`` reads and writes, in its order (its enum)."""
_NONE = (0, 0, 0, 0)

PromptReader = Callable[[bytes], Callable[[], Entry | None]]


def _compiled() -> ModuleType | None:
    try:
        from sessmap.transcripts import _sniff  # type: ignore[attr-defined]
    except ImportError:  # built without a C compiler: the Python path does all of it
        return None
    module: ModuleType = _sniff
    return module if len(STATE) == module.STATE_SIZE else None  # a stale build: not trusted


MODULE = _compiled()


class NativeSniff:
    """The C scanner for one summary being read (``sniff.Scan``)."""

    def __init__(self, module: ModuleType, provider: str, builder: _Builder, reader: PromptReader) -> None:
        self.scan = module.scan
        self.claude = provider == "claude"
        self.builder = builder
        self.reader = reader
        self.working = True
        # Between calls that hand back no line the state stays here (no copy to the builder
        # and back each span); ``sync`` puts it in the builder.
        self.state: array[int] | None = None
        self.group: bytes | None = None

    def lines(self, data: bytes, at: int, end: int, utf8: bool) -> tuple[int, int, int]:
        """Reads the lines of ``data[at:end]`` from the first: ``(start, taken, stop)``, the
        number taken and the line ``data[start:stop]`` to read in Python (``stop`` -1: none);
        the builder holds the summary so far when a line is handed back."""
        state = self.state
        if state is None:
            state = self._load() if self.working else None
            if state is None:  # a sum beyond what C holds: Python reads the rest
                self.working = False
                stop = data.find(b"\n", at, end)
                return at, 0, end if stop < 0 else stop
            group = self.builder.tokens.group
            self.group = None if group is None else _encode(group)
        start, taken, stop, prompt_start, prompt_end, self.group = self.scan(
            self.claude, data, at, end, utf8, state, self.group
        )
        self.state = state
        if prompt_start >= 0:  # counted in C; read only if it stays the last
            self.builder.last = self.reader(data[prompt_start:prompt_end])
        if stop >= 0:
            self.sync()
        return start, taken, stop

    def sync(self) -> None:
        """Puts the summary read in C into the builder."""
        if self.state is not None:
            self._store(self.state, self.group)
            self.state = None

    def _load(self) -> array[int] | None:
        builder = self.builder
        summary, tokens = builder.summary, builder.tokens
        pending, previous = tokens.pending_counts(), tokens.previous
        try:
            return array(
                "q",
                (
                    *(summary.replies, summary.tool_calls, summary.prompts),
                    *(builder.in_reply, builder.first is not None, tokens.seen),
                    *tokens.sums,
                    *(pending is not None, *(pending or _NONE)),
                    *(previous is not None, *(previous or _NONE)),
                ),
            )
        except OverflowError:  # past int64: only Python's ints hold it
            return None

    def _store(self, state: array[int], group: bytes | None) -> None:
        builder = self.builder
        summary, tokens = builder.summary, builder.tokens
        summary.replies, summary.tool_calls, summary.prompts = state[0], state[1], state[2]
        builder.in_reply, tokens.seen = bool(state[3]), bool(state[5])
        tokens.sums = list(state[6:10])
        tokens.pending = _counts(state, 10)
        tokens.group = None if group is None else group.decode("utf-8", "surrogatepass")
        tokens.previous = _counts(state, 15)


def _counts(state: array[int], flag: int) -> Counts | None:
    if not state[flag]:
        return None
    return (state[flag + 1], state[flag + 2], state[flag + 3], state[flag + 4])


def _encode(group: str) -> bytes:
    # A parsed message id may hold a lone surrogate (a JSON escape): it must not match any
    # line's raw id, and it cannot: surrogatepass gives bytes no valid UTF-8 line holds.
    return group.encode("utf-8", "surrogatepass")


def for_builder(provider: str, builder: _Builder, reader: PromptReader) -> NativeSniff | None:
    """The C scanner for ``builder``, or None without the compiled module."""
    return None if MODULE is None else NativeSniff(MODULE, provider, builder, reader)
