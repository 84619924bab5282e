"""Durations as people type them: ``90s``, ``15m``, ``12h``, ``30d``, ``2w``, ``1d12h``."""

from __future__ import annotations

import re
from datetime import timedelta

from sessmap.errors import InvalidInput

_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"([0-9]+)([wdhms])")
_WHOLE = re.compile(r"(?:[0-9]+[wdhms])+")  # ASCII digits only: \d would take "١d"
# timedelta's own ceiling is 999,999,999 days; stay far below it so arithmetic on dates never overflows.
_MAX_SECONDS = 100 * 365 * 86_400


def parse_duration(text: str) -> timedelta:
    """Parse ``1d12h`` into a timedelta. Units must come largest first, each at most once."""
    spec = text.strip().lower()
    if not _WHOLE.fullmatch(spec):
        raise InvalidInput(
            f"invalid duration {text!r}", hint="use a number and a unit: 90s, 15m, 12h, 30d, 2w, 1d12h"
        )
    parts = _PART.findall(spec)
    units = [unit for _, unit in parts]
    order = list(_UNIT_SECONDS)
    if len(set(units)) != len(units) or units != sorted(units, key=order.index):
        raise InvalidInput(f"invalid duration {text!r}: give each unit once, largest first (like 1d12h)")
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if seconds > _MAX_SECONDS:
        raise InvalidInput(f"invalid duration {text!r}: more than 100 years")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest spelling that parses back to ``delta`` (whole seconds): ``1d12h``, ``0s``."""
    remaining = int(delta.total_seconds())
    if remaining < 0:
        raise ValueError("durations are never negative")
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
