"""The JSON text sessmap hands to other programs (``--json``, ``list --format jsonl``,
``export``, ``exec --status``): one function, so every output is safe to split into lines.

``json.dumps(..., ensure_ascii=False)`` keeps non-ASCII text readable but leaves U+2028, U+2029
and U+0085 raw. That is valid JSON, yet ``str.splitlines()`` (and JavaScript before ES2019, and
many JSONL readers) treat those as line ends, so one record becomes two broken lines. They can
only occur inside JSON strings, where ``\\uXXXX`` is the same character, so escaping them keeps
the value. Lone surrogates (a path decoded with ``surrogateescape``) are escaped too: raw, they
cannot be encoded as UTF-8, and escaped, ``json.loads`` gives back the very same string.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Line ends for str.splitlines() that json.dumps leaves raw (it escapes U+0000-U+001F itself),
# and the surrogates UTF-8 cannot encode.
_UNSAFE = re.compile("[\x85\u2028\u2029\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON text: non-ASCII kept as is, except what could split a line or not
    encode (see the module's docstring). With ``indent=None``, exactly one line."""
    return _UNSAFE.sub(_escape, json.dumps(value, ensure_ascii=False, indent=indent))
