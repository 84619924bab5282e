"""A transcript's lines, read from a file (or a store's copy) as a stream of bytes.

``read_lines(path)`` streams ``Line(number, data, complete)``; ``read_spans`` gives the same
lines as spans of the chunks read (``summary``'s fast path reads them in place, without a
copy or a ``Line`` each). Both cut a line over ``MAX_LINE`` the same way, so they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import NamedTuple

MAX_LINE = 32 << 20
"""A line longer than this is skipped with a note rather than held in memory whole."""
CHUNK = 1 << 17
"""Read size: small enough that the reads reuse the same memory (a 1 MB read faults in fresh
pages each time, which costs more than the reading)."""


class Line(NamedTuple):
    number: int
    data: bytes
    complete: bool = True
    """False for a last line with no newline (cut short, or still being written)."""


class Block(NamedTuple):
    """Consecutive lines. ``complete`` False: one line cut short (the file's unfinished last
    line, or the first ``MAX_LINE`` bytes of a longer one)."""

    lines: list[bytes]
    complete: bool


def read_lines(path: Path) -> Iterator[Line]:
    """The lines of ``path``, streamed in large reads (no line is split, none held twice)."""
    with path.open("rb", buffering=0) as stream:
        yield from split_lines(iter(partial(stream.read, CHUNK), b""))


class Span(NamedTuple):
    """Consecutive lines ``data[start:end]`` (newline-separated, the last newline not in it),
    read in place: no line is copied out. ``complete`` and ``utf8`` (here for every line of the
    span) as in ``Block``."""

    data: bytes
    start: int
    end: int
    complete: bool
    utf8: bool


def read_spans(path: Path) -> Iterator[Span]:
    """``spans`` of the file at ``path``."""
    with path.open("rb", buffering=0) as stream:
        yield from spans(iter(partial(stream.read, CHUNK), b""))


def lines_of(raw: Iterable[bytes]) -> Iterator[Line]:
    """Numbered ``Line``s from lines without their newline (a store's ``read``)."""
    for number, data in enumerate(raw, start=1):
        yield Line(number, data)


def split_lines(chunks: Iterable[bytes]) -> Iterator[Line]:
    """``Line``s from a stream of byte chunks; a line over ``MAX_LINE`` comes as its first
    ``MAX_LINE`` bytes with ``complete`` False, and the rest of it is dropped."""
    number = 0
    for block in blocks(chunks):
        for data in block.lines:
            number += 1
            yield Line(number, data, block.complete)


def blocks(chunks: Iterable[bytes]) -> Iterator[Block]:
    """The lines of a stream of byte chunks, one ``Block`` per chunk. A line over ``MAX_LINE``
    (checked after each chunk) comes as its first ``MAX_LINE`` bytes, the rest dropped."""
    tail: list[bytes] = []  # the unfinished line's pieces: joined once, when it ends
    size, skipping = 0, False
    for chunk in chunks:
        parts = chunk.split(b"\n")
        rest = parts.pop()
        if parts:
            if skipping:
                del parts[0]  # the end of a line too long to keep
                skipping = False
            elif tail:
                tail.append(parts[0])
                parts[0] = b"".join(tail)
            tail, size = [], 0
            if parts:
                yield Block(parts, True)
        if rest and not skipping:
            tail.append(rest)
            size += len(rest)
            if size > MAX_LINE:
                yield Block([b"".join(tail)[:MAX_LINE]], False)
                tail, size, skipping = [], 0, True
    if tail:
        yield Block([b"".join(tail)], False)


def spans(chunks: Iterable[bytes]) -> Iterator[Span]:
    """The lines of a stream of byte chunks as ``Span``s: the same lines as ``blocks`` (cut
    the same way), but those wholly inside a chunk stay in it."""
    tail: list[bytes] = []
    size, skipping = 0, False
    for chunk in chunks:
        first = chunk.find(b"\n")
        if first >= 0:
            if skipping:
                skipping = False
            else:
                line = b"".join((*tail, chunk[:first])) if tail else chunk[:first]
                yield Span(line, 0, len(line), True, False)
            tail, size = [], 0
            last = chunk.rfind(b"\n")
            if last > first:
                yield Span(chunk, first + 1, last, True, _utf8_span(chunk, first + 1, last))
            rest = chunk[last + 1 :]
        else:
            rest = chunk
        if rest and not skipping:
            tail.append(rest)
            size += len(rest)
            if size > MAX_LINE:
                yield Span(b"".join(tail)[:MAX_LINE], 0, MAX_LINE, False, False)
                tail, size, skipping = [], 0, True
    if tail:
        line = b"".join(tail)
        yield Span(line, 0, len(line), False, False)


def _utf8_span(chunk: bytes, start: int, end: int) -> bool:
    """Whether ``chunk[start:end]`` is UTF-8: whole lines, so no character is cut at its ends;
    checked without a copy when the chunk is ASCII."""
    if chunk.isascii():
        return True
    try:
        str(memoryview(chunk)[start:end], "utf-8")
    except UnicodeDecodeError:
        return False
    return True
