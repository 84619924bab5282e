"""Mappings and moments for tests: fixed times, never the clock, unless a test asks for "ago"."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sessmap.model import Mapping

if TYPE_CHECKING:
    from sessmap.stores import Store

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


def record_started(store: Store, *mappings: Mapping) -> None:
    """Record every session of ``mappings`` as one sessmap started (at T0, where the mapping's
    last run was), as ``exec`` does: what ``--purge`` needs before it deletes anything."""
    from sessmap.stores.started import StartedSession

    for mapping in mappings:
        for session_id in mapping.session_ids():
            store.started.add(
                StartedSession(
                    session_id,
                    mapping.provider,
                    mapping.agent,
                    mapping.key,
                    mapping.host,
                    mapping.agent_home,
                    mapping.cwd,
                    T0,
                )
            )


def ago(**delta: float) -> str:
    """A timestamp ``delta`` before now, in the stored format."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
