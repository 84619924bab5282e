"""The SQLite store's rows and SQL text: how a Mapping is a row, and how a Query is a SELECT.

SQL text comes only from the constants here; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping as ReadOnlyDict
from datetime import datetime
from typing import Any

from sessmap.errors import InvalidInput
from sessmap.model import HistoryEntry, Mapping, Parent, State, format_timestamp, parse_timestamp
from sessmap.stores.base import Query

# The age TTLs are measured from; indexed as this exact expression, so queries must use it verbatim.
LAST_SEEN = "COALESCE(last_used_at, created_at)"

# --- Rows ------------------------------------------------------------------------------------

_COLUMNS = (
    "agent",
    "key",
    "provider",
    "session_id",
    "state",
    "cwd",
    "created_at",
    "updated_at",
    "last_used_at",
    "turns",
    "last_exit",
    "parent_agent",
    "parent_key",
    "parent_session_id",
    "labels",
    "host",
    "agent_home",
    "history",
    "generation",
)
COLUMN_LIST = ", ".join(_COLUMNS)
ASSIGN_EXCLUDED = ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS[2:])
# Built from the constant column list above, never from input (hence the S608 waivers).
SELECT = f"SELECT {COLUMN_LIST} FROM mappings"  # noqa: S608
INSERT = f"INSERT INTO mappings ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"  # noqa: S608
PARENT_EXISTS = "SELECT 1 FROM mappings WHERE agent = ? AND key = ?"
INSERT_NEW = f"{INSERT} ON CONFLICT (agent, key) DO NOTHING"
UPSERT = f"{INSERT} ON CONFLICT (agent, key) DO UPDATE SET {ASSIGN_EXCLUDED}"
UPDATE = (
    "UPDATE mappings SET "  # noqa: S608
    + ", ".join(f"{column} = ?" for column in _COLUMNS[2:])
    + " WHERE agent = ? AND key = ?"
)
_ORDER_BY = {
    ("last-used", False): f"{LAST_SEEN} DESC, key, agent",
    ("last-used", True): f"{LAST_SEEN}, key, agent",
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
        format_timestamp(mapping.created_at),
        format_timestamp(mapping.updated_at),
        format_timestamp(mapping.last_used_at) if mapping.last_used_at else None,
        mapping.turns,
        mapping.last_exit,
        parent.agent if parent else None,
        parent.key if parent else None,
        parent.session_id if parent else None,
        _labels_to_json(mapping.labels),
        mapping.host,
        mapping.agent_home,
        _history_to_json(mapping.history),
        mapping.generation,
    )


# json loads only for mappings with labels or history: most have none, and `get`/`exec` start
# faster without.


def _labels_to_json(labels: ReadOnlyDict[str, str]) -> str:
    if not labels:
        return "{}"
    import json

    return json.dumps(dict(labels), ensure_ascii=False, sort_keys=True)


def _labels_from_json(labels: Any) -> dict[str, str]:
    import json

    try:
        label_dict = json.loads(labels)
    except (TypeError, ValueError):
        raise InvalidInput(f"labels are not JSON: {labels!r}") from None
    if not isinstance(label_dict, dict):
        raise InvalidInput(f"labels are not a JSON object: {labels!r}")
    return label_dict


def _history_to_json(history: tuple[HistoryEntry, ...]) -> str:
    if not history:
        return "[]"
    import json

    return json.dumps([entry.to_dict() for entry in history], ensure_ascii=False)


def _history_from_json(history: Any) -> tuple[HistoryEntry, ...]:
    if history == "[]":
        return ()
    import json

    try:
        entries = json.loads(history)
    except (TypeError, ValueError):
        raise InvalidInput(f"history is not JSON: {history!r}") from None
    if not isinstance(entries, list):
        raise InvalidInput(f"history is not a JSON list: {history!r}")
    return tuple(HistoryEntry.from_dict(entry) for entry in entries)


def from_row(row: tuple[Any, ...]) -> Mapping:
    """A Mapping from a stored row; ``InvalidInput`` if the row is damaged."""
    (agent, key, provider, session_id, state, cwd, created, updated, last_used, turns, last_exit) = row[:11]
    parent_agent, parent_key, parent_session_id, labels, host, agent_home, history, generation = row[11:]
    label_dict = {} if labels == "{}" else _labels_from_json(labels)
    state_value: State = state
    # Validated on read, as the JSON and Redis stores do: a row written by hand (session_id
    # '--yolo') must never reach an agent's argv. About 2 us a row (benchmarks/bench.py).
    mapping = Mapping(
        agent=agent,
        key=key,
        provider=provider,
        session_id=session_id,
        state=state_value,
        cwd=cwd,
        created_at=parse_timestamp(created),
        updated_at=parse_timestamp(updated),
        last_used_at=parse_timestamp(last_used) if last_used is not None else None,
        turns=turns,
        last_exit=last_exit,
        parent=Parent(parent_agent, parent_key, parent_session_id) if parent_key is not None else None,
        labels=label_dict,
        host=host,
        agent_home=agent_home,
        history=_history_from_json(history),
        generation=generation,
    )
    try:
        return mapping.validate()
    except (TypeError, ValueError, AttributeError) as err:  # a value of the wrong type in the row
        raise InvalidInput(f"a field holds a value of the wrong type ({err})") from None


# --- Queries: SQL text comes only from constants; every value is a parameter. -----------------


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: no bound).

    SQLite compares TEXT as UTF-8 bytes, which orders like code points, so
    ``prefix <= key < bound`` is exactly ``key.startswith(prefix)`` and runs as an index range.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000  # surrogates cannot be stored; skip them
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _glob_literal_prefix(pattern: str) -> str:
    for index, char in enumerate(pattern):
        if char in "*?[":
            return pattern[:index]
    return pattern


def _cutoff(moment: datetime) -> tuple[str, bool]:
    """Stored times are whole seconds: (cutoff text, whether it had a fraction cut off)."""
    return format_timestamp(moment), moment.microsecond != 0


def where_clause(query: Query) -> tuple[str, list[Any]]:
    """``WHERE …`` (or "") and its parameters for the filter half of ``query``."""
    clauses: list[str] = []
    params: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        clauses.append(sql)
        params.extend(values)

    def add_prefix(prefix: str) -> None:
        add("key >= ?", prefix)
        bound = prefix_upper_bound(prefix)
        if bound is not None:
            add("key < ?", bound)

    if query.agent is not None:
        add("agent = ?", query.agent)
    if query.provider is not None:
        add("provider = ?", query.provider)
    if query.prefix:
        add_prefix(query.prefix)
    if query.match is not None:
        if literal := _glob_literal_prefix(query.match):
            add_prefix(literal)
        # GLOB equals fnmatchcase for * and ?, not for brackets ([!a] vs [^a], an unclosed [).
        if "[" in query.match:
            add("sessmap_fnmatchcase(key, ?)", query.match)
        else:
            add("key GLOB ?", query.match)
    for name, value in query.labels:
        add(
            "EXISTS (SELECT 1 FROM json_each(mappings.labels) AS label"
            " WHERE label.key = ? AND label.value = ?)",
            name,
            value,
        )
    if query.seen_before is not None:
        text, fractional = _cutoff(query.seen_before)
        add(f"{LAST_SEEN} <= ?" if fractional else f"{LAST_SEEN} < ?", text)
    if query.seen_since is not None:
        text, fractional = _cutoff(query.seen_since)
        add(f"{LAST_SEEN} > ?" if fractional else f"{LAST_SEEN} >= ?", text)
    if query.state is not None:
        add("state = ?", query.state)
    if query.parent is not None:
        add("parent_agent = ? AND parent_key = ?", *query.parent)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def select_statement(query: Query) -> tuple[str, list[Any]]:
    where, params = where_clause(query)
    sql = f"{SELECT}{where} ORDER BY {_ORDER_BY[query.sort, query.reverse]}"
    if query.limit is not None:
        sql += " LIMIT ?"
        params.append(max(query.limit, 0))
    return sql, params
