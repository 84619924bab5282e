"""A line on stderr as ``typer.echo(message, err=True)`` writes it, without loading Typer: the
fast path's messages must be byte-for-byte the full app's."""

from __future__ import annotations

import sys


def echo_err(message: str) -> None:
    """ANSI codes stripped when stderr is not a terminal; on a stream claiming ASCII, UTF-8
    bytes (Click's choice)."""
    stream = sys.stderr
    text = message + "\n"
    if "\033" in text and not isatty(stream):
        import re

        text = re.sub(r"\033\[[;?0-9]*[a-zA-Z]", "", text)
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and _is_ascii(getattr(stream, "encoding", None) or "ascii"):
        stream.flush()
        buffer.write(text.encode("utf-8", "replace"))
        buffer.flush()
        return
    stream.write(text)
    stream.flush()


def isatty(stream: object) -> bool:
    """Whether ``stream`` is a terminal; a replaced or closed stream is not."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def _is_ascii(encoding: str) -> bool:
    import codecs

    try:
        return codecs.lookup(encoding).name == "ascii"
    except LookupError:
        return False
