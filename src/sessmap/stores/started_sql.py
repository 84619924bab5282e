"""``Store.started`` (stores/started.py) on SQLite and PostgreSQL: a ``started_sessions`` table
keyed by session id, beside ``mappings``. The migrations that make it: SQLite's in
sqlite_schema.py (loaded on every open), PostgreSQL's here."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, LiteralString

from sessmap.model import format_timestamp
from sessmap.stores.started import StartedSession, damaged_record

if TYPE_CHECKING:
    import sqlite3

    from psycopg import sql

    from sessmap.stores.postgres_schema import Connection, Cursor

# Constants only, never input (hence the S608 waivers).
_COLUMNS: LiteralString = "session_id, provider, agent, key, host, agent_home, cwd, started_at"
_ON_CONFLICT: LiteralString = (
    " ON CONFLICT (session_id) DO UPDATE SET provider = excluded.provider, agent = excluded.agent,"
    " key = excluded.key, host = excluded.host, agent_home = excluded.agent_home, cwd = excluded.cwd,"
    " started_at = excluded.started_at"
)
# SQLite: a list of ids is one JSON parameter, so no statement depends on its length.
_SQLITE_IDS: LiteralString = "session_id IN (SELECT value FROM json_each(?))"
_SQLITE_UPSERT = f"INSERT INTO started_sessions ({_COLUMNS}) VALUES ({', '.join('?' * 8)}){_ON_CONFLICT}"  # noqa: S608
_SQLITE_SELECT = f"SELECT {_COLUMNS} FROM started_sessions"  # noqa: S608
_SQLITE_DELETE = f"DELETE FROM started_sessions WHERE {_SQLITE_IDS}"  # noqa: S608
_PG_UPSERT: LiteralString = (
    "INSERT INTO {table} (" + _COLUMNS + ") VALUES (%s, %s, %s, %s, %s, %s, %s, %s)" + _ON_CONFLICT  # noqa: S608
)
_PG_SELECT: LiteralString = "SELECT " + _COLUMNS + " FROM {table}"  # noqa: S608


def _row(started: StartedSession) -> tuple[Any, ...]:
    return (*started[:7], format_timestamp(started.started_at))


def _record(row: tuple[Any, ...]) -> StartedSession:
    # Checked as the file stores check theirs: a column may hold anything an UPDATE put there.
    try:
        return StartedSession.from_dict(dict(zip(StartedSession._fields, row, strict=True)))
    except ValueError as err:
        raise damaged_record(f"started_sessions, session {row[0]!r}", err) from None


# --- SQLite ------------------------------------------------------------------------------------


class SQLiteStarted:
    """``SQLiteStore.started``, on the store's own connection and write transactions."""

    def __init__(
        self,
        db: sqlite3.Connection,
        transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
        errors: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._db = db
        self._transaction = transaction
        self._errors = errors

    def add(self, started: StartedSession) -> None:
        with self._transaction() as db:
            db.execute(_SQLITE_UPSERT, _row(started))

    def get_many(self, session_ids: Iterable[str]) -> dict[str, StartedSession]:
        ids = json.dumps(sorted(set(session_ids)))
        with self._errors():
            rows = self._db.execute(f"{_SQLITE_SELECT} WHERE {_SQLITE_IDS}", (ids,)).fetchall()
        return {row[0]: _record(row) for row in rows}

    def all(self) -> Iterator[StartedSession]:
        with self._errors():
            rows = self._db.execute(f"{_SQLITE_SELECT} ORDER BY session_id").fetchall()
        return iter([_record(row) for row in rows])

    def forget(self, session_ids: Iterable[str]) -> None:
        ids = sorted(set(session_ids))
        if ids:
            with self._transaction() as db:
                db.execute(_SQLITE_DELETE, (json.dumps(ids),))


# --- PostgreSQL --------------------------------------------------------------------------------


def create_started_sessions(cursor: Cursor, schema: sql.Identifier) -> None:
    """Migration: the ``started_sessions`` table."""
    from psycopg import sql

    cursor.execute(
        sql.SQL(
            """CREATE TABLE {schema}.started_sessions (
                session_id text COLLATE "C" PRIMARY KEY,
                provider text NOT NULL,
                agent text NOT NULL,
                key text NOT NULL,
                host text,
                agent_home text,
                cwd text,
                started_at text NOT NULL
            )"""
        ).format(schema=schema)
    )


class PostgresStarted:
    """``PostgresStore.started``, on the store's own connection."""

    def __init__(
        self,
        connection: Callable[[], Connection],
        errors: Callable[[], AbstractContextManager[None]],
        schema: str,
    ) -> None:
        from psycopg import sql

        self._connection = connection
        self._errors = errors
        self._table = sql.Identifier(schema, "started_sessions")

    def _sql(self, text: LiteralString) -> sql.Composed:
        from psycopg import sql

        return sql.SQL(text).format(table=self._table)

    def add(self, started: StartedSession) -> None:
        connection = self._connection()
        with self._errors(), connection.transaction(), connection.cursor() as cursor:
            cursor.execute(self._sql(_PG_UPSERT), _row(started))

    def get_many(self, session_ids: Iterable[str]) -> dict[str, StartedSession]:
        ids = sorted(set(session_ids))
        if not ids:
            return {}
        connection = self._connection()
        query = self._sql(_PG_SELECT + " WHERE session_id = ANY(%s)")
        with self._errors(), connection.transaction(), connection.cursor() as cursor:
            cursor.execute(query, (ids,))
            return {row[0]: _record(row) for row in cursor.fetchall()}

    def all(self) -> Iterator[StartedSession]:
        connection = self._connection()
        with self._errors(), connection.transaction(), connection.cursor() as cursor:
            cursor.execute(self._sql(_PG_SELECT + " ORDER BY session_id"))
            return iter([_record(row) for row in cursor.fetchall()])

    def forget(self, session_ids: Iterable[str]) -> None:
        ids = sorted(set(session_ids))
        if not ids:
            return
        connection = self._connection()
        with self._errors(), connection.transaction(), connection.cursor() as cursor:
            cursor.execute(self._sql("DELETE FROM {table} WHERE session_id = ANY(%s)"), (ids,))
