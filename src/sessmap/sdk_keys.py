"""The ``project_key`` of a working directory: the folder name claude gives it under
``<config dir>/projects/``, which the Claude Agent SDK's ``SessionStore`` uses as its key.

This module computes it without importing the SDK, so the ``exec`` path (which must stay
light) can use it too.

The rule (claude's ``sanitizePath``, ported by the SDK as ``project_key_for_directory``):
resolve the directory (realpath), normalise it to NFC, replace every character outside
``[a-zA-Z0-9]`` with ``-``; a result over 200 characters is cut at 200 and gets ``-`` plus the
djb2 hash of the unsanitised path, in base 36.

claude is JavaScript: it counts, replaces and hashes UTF-16 code units, so a character outside
the Basic Multilingual Plane (an emoji) becomes ``--``. The Python SDK counts code points and
writes ``-`` there; measured with claude 2.1.197 and 2.1.332, the folder is ``--``. This
follows claude, whose folder is where the transcript is and whose file path the SDK's own
mirror derives its keys from; for every other path the two agree.
"""

from __future__ import annotations

import contextlib
import os
import re

__all__ = ["MAX_SANITIZED_LENGTH", "project_key_for", "sanitize_path"]

MAX_SANITIZED_LENGTH = 200
"""Longer folder names are truncated to this and suffixed with a hash."""

_UNSAFE = re.compile(r"[^a-zA-Z0-9]")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _utf16_units(text: str) -> list[int]:
    """``text`` as JavaScript sees it: UTF-16 code units (lone surrogates kept as they are)."""
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


def _djb2_base36(units: list[int]) -> str:
    """JavaScript's ``hash = (hash << 5) - hash + charCode; hash |= 0`` over ``units``, then
    ``Math.abs(hash).toString(36)``."""
    value = 0
    for unit in units:
        value = ((value << 5) - value + unit) & 0xFFFFFFFF
    if value >= 0x80000000:  # back to a signed 32-bit int, as JS ``|= 0`` leaves it
        value -= 0x100000000
    value = abs(value)
    if value == 0:
        return "0"
    digits: list[str] = []
    while value:
        value, digit = divmod(value, 36)
        digits.append(_BASE36[digit])
    return "".join(reversed(digits))


def sanitize_path(name: str) -> str:
    """``name`` as a project folder name: every non-alphanumeric UTF-16 code unit to ``-``,
    truncated with a hash suffix when longer than ``MAX_SANITIZED_LENGTH``."""
    if name.isascii():
        sanitized = _UNSAFE.sub("-", name)
        units = None
    else:
        units = _utf16_units(name)
        sanitized = "".join(chr(u) if u < 0x80 and chr(u).isalnum() else "-" for u in units)
    if len(sanitized) <= MAX_SANITIZED_LENGTH:
        return sanitized
    hashed = _djb2_base36(units if units is not None else [ord(char) for char in name])
    return f"{sanitized[:MAX_SANITIZED_LENGTH]}-{hashed}"


def project_key_for(cwd: str | os.PathLike[str]) -> str:
    """The SDK's ``project_key_for_directory(cwd)``: the project folder name of ``cwd``."""
    path = os.fspath(cwd)
    with contextlib.suppress(OSError):  # as the SDK does: on error keep the path as given
        path = os.path.realpath(path)
    if not path.isascii():  # ASCII is NFC already; most paths need no unicodedata
        import unicodedata

        path = unicodedata.normalize("NFC", path)
    return sanitize_path(path)
