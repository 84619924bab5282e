"""Reading a mapping's JSON form (export lines, JSON store rows): ``Mapping.from_dict``.

Loaded on first use, so a lookup in the SQLite store (which keeps mappings in columns) skips it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sessmap import model
from sessmap.errors import InvalidInput
from sessmap.model import (
    DEFAULT_AGENT,
    FIELDS,
    HistoryEntry,
    Mapping,
    Parent,
    State,
    _string,
    parse_timestamp,
)

_FIELDS = frozenset(FIELDS)


def mapping_from_dict(cls: type[Mapping], data: Any) -> Mapping:
    """``cls`` (Mapping) built and validated from ``data``; see ``Mapping.from_dict``."""
    if not isinstance(data, dict):
        raise InvalidInput("a mapping must be a JSON object")
    unknown = set(data) - _FIELDS
    if unknown:
        raise InvalidInput(f"unknown mapping field(s): {', '.join(sorted(unknown))}")
    for name in ("key", "provider"):
        if name not in data:
            raise InvalidInput(f"mapping is missing {name!r}")
    # model.now, looked up now: tests freeze the clock there
    created = _optional_timestamp(data.get("created_at")) or model.now()
    parent = data.get("parent")
    if parent is not None:
        if not isinstance(parent, dict) or set(parent) - {"agent", "key", "session_id"}:
            raise InvalidInput("parent must be an object with agent, key and session_id")
        parent = Parent(
            agent=_string(parent.get("agent", DEFAULT_AGENT), "parent.agent"),
            key=_string(parent.get("key"), "parent.key"),
            session_id=_optional_string(parent.get("session_id"), "parent.session_id"),
        )
    labels = data.get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise InvalidInput("labels must be an object of strings")
    history = data.get("history")
    history = [] if history is None else history
    if not isinstance(history, list):
        raise InvalidInput("history must be a list")
    session_id = _optional_string(data.get("session_id"), "session_id")
    state = data.get("state") or ("active" if session_id else "pending")
    mapping = cls(
        key=_string(data["key"], "key"),
        agent=_string(data.get("agent", DEFAULT_AGENT), "agent"),
        provider=_string(data["provider"], "provider"),
        session_id=session_id,
        state=cast(State, state),
        cwd=_optional_string(data.get("cwd"), "cwd"),
        created_at=created,
        updated_at=_optional_timestamp(data.get("updated_at")) or created,
        last_used_at=_optional_timestamp(data.get("last_used_at")),
        turns=data.get("turns", 0),
        last_exit=data.get("last_exit"),
        parent=parent,
        labels=labels,
        host=_optional_string(data.get("host"), "host"),
        agent_home=_optional_string(data.get("agent_home"), "agent_home"),
        history=tuple(HistoryEntry.from_dict(entry) for entry in history),
        generation=data.get("generation", 0),
    )
    return mapping.validate()


def _optional_string(value: Any, name: str) -> str | None:
    return None if value is None else _string(value, name)


def _optional_timestamp(value: Any) -> datetime | None:
    return None if value is None else parse_timestamp(_string(value, "timestamp"))
