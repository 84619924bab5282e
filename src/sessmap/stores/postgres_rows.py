"""The PostgreSQL store's rows and SQL text: how a Mapping is a row, and how a Query is a WHERE.

SQL text comes only from the constants here; every value is a parameter.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, LiteralString

from psycopg import sql  # noqa: TID253 - loaded only once postgres.py found the driver
from psycopg.types.json import Jsonb  # noqa: TID253

from sessmap.errors import InvalidInput, StoreError
from sessmap.model import HistoryEntry, Mapping, Parent
from sessmap.stores.base import Query

# Column order of every SELECT and INSERT; last_seen is generated, never written.
COLUMNS: LiteralString = (
    "agent, key, provider, session_id, state, cwd, created_at, updated_at, last_used_at, "
    "turns, last_exit, parent_agent, parent_key, parent_session_id, labels, host, agent_home, history, "
    "generation"
)
ASSIGN_ALL: LiteralString = (
    "provider = EXCLUDED.provider, session_id = EXCLUDED.session_id, state = EXCLUDED.state, "
    "cwd = EXCLUDED.cwd, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, "
    "last_used_at = EXCLUDED.last_used_at, turns = EXCLUDED.turns, last_exit = EXCLUDED.last_exit, "
    "parent_agent = EXCLUDED.parent_agent, parent_key = EXCLUDED.parent_key, "
    "parent_session_id = EXCLUDED.parent_session_id, labels = EXCLUDED.labels, "
    "host = EXCLUDED.host, agent_home = EXCLUDED.agent_home, history = EXCLUDED.history, "
    "generation = EXCLUDED.generation"
)
PLACEHOLDERS: LiteralString = ", ".join(["%s"] * 19)

ORDER: dict[tuple[str, bool], LiteralString] = {
    ("last-used", False): "last_seen DESC, key, agent",
    ("last-used", True): "last_seen, key, agent",
    ("created", False): "created_at DESC, key, agent",
    ("created", True): "created_at, key, agent",
    ("key", False): "key, agent",
    ("key", True): "key DESC, agent DESC",
}


def to_row(mapping: Mapping) -> tuple[Any, ...]:
    parent = mapping.parent
    return (
        mapping.agent,
        mapping.key,
        mapping.provider,
        mapping.session_id,
        mapping.state,
        mapping.cwd,
        mapping.created_at,
        mapping.updated_at,
        mapping.last_used_at,
        mapping.turns,
        mapping.last_exit,
        parent.agent if parent else None,
        parent.key if parent else None,
        parent.session_id if parent else None,
        Jsonb(dict(mapping.labels)),
        mapping.host,
        mapping.agent_home,
        Jsonb([entry.to_dict() for entry in mapping.history]),
        mapping.generation,
    )


def from_row(row: tuple[Any, ...]) -> Mapping:
    """A Mapping from a stored row, validated (a row written by hand must never reach an
    agent's argv); ``StoreError`` if the row is damaged."""
    try:
        return _mapping(row).validate()
    except (InvalidInput, TypeError, ValueError, AttributeError) as error:
        raise StoreError(
            f"stored mapping {row[1]!r} (agent {row[0]}) in the PostgreSQL store is damaged: {error}",
            reason="damaged-store",
        ) from None


def _mapping(row: tuple[Any, ...]) -> Mapping:
    (agent, key, provider, session_id, state, cwd, created, updated, used, turns, last_exit) = row[:11]
    parent_agent, parent_key, parent_session_id, labels, host, agent_home, history, generation = row[11:]
    return Mapping(
        key=key,
        agent=agent,
        provider=provider,
        session_id=session_id,
        state=state,
        cwd=cwd,
        created_at=_utc(created),
        updated_at=_utc(updated),
        last_used_at=_utc(used) if used else None,
        turns=turns,
        last_exit=last_exit,
        parent=Parent(parent_agent, parent_key, parent_session_id) if parent_key is not None else None,
        labels=labels,
        host=host,
        agent_home=agent_home,
        history=_history(history) if history else (),
        generation=generation,
    )


def where(query: Query) -> tuple[sql.Composable, list[Any]]:
    """The filter half of ``query`` as a WHERE condition and its parameters (a glob only
    narrowed to its literal prefix: fnmatchcase decides in Python)."""
    clauses: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []

    def clause(text: LiteralString, *values: Any) -> None:
        clauses.append(sql.SQL(text))
        params.extend(values)

    if query.agent is not None:
        clause("agent = %s", query.agent)
    if query.provider is not None:
        clause("provider = %s", query.provider)
    if query.state is not None:
        clause("state = %s", query.state)
    for prefix in (query.prefix, _glob_prefix(query.match)):
        if prefix:
            clause("key LIKE %s", _like_escape(prefix) + "%")
    for name, value in query.labels:
        clause("labels @> %s", Jsonb({name: value}))
    if query.seen_before is not None:
        clause("last_seen < %s", query.seen_before)
    if query.seen_since is not None:
        clause("last_seen >= %s", query.seen_since)
    if query.parent is not None:
        clause("parent_agent = %s AND parent_key = %s", *query.parent)
    return sql.SQL(" AND ").join(clauses), params


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _history(entries: Any) -> tuple[HistoryEntry, ...]:
    # to_row wrote validated entries: one that no longer parses was edited outside sessmap, which
    # makes it the store's problem (exit 1), not bad input (exit 2).
    try:
        return tuple(HistoryEntry.from_dict(entry) for entry in entries)
    except (InvalidInput, TypeError) as error:
        raise StoreError(f"a mapping's history in the PostgreSQL store is corrupt ({error})") from None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _glob_prefix(pattern: str | None) -> str:
    """The literal start of a glob, which an index can narrow to before fnmatchcase decides."""
    if not pattern:
        return ""
    return re.split(r"[*?\[]", pattern, maxsplit=1)[0]
