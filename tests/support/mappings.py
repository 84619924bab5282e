"""Mappings and moments for tests: fixed times, never the clock, unless a test asks for "ago"."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sessmap.model import Mapping

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
"""The default ``created_at`` of ``make_mapping`` (the store tests' fixed moment)."""


def make_mapping(key: str, **fields: Any) -> Mapping:
    """A valid active claude mapping created at T0; ``fields`` override any attribute."""
    values: dict[str, Any] = {
        "key": key,
        "provider": "claude",
        "session_id": "s-" + hashlib.sha256(key.encode()).hexdigest()[:12],
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return Mapping(**values).validate()


def ago(**delta: float) -> str:
    """A timestamp ``delta`` before now, in the stored format."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
