"""The PostgreSQL store's reads in order and bulk deletes: ``query`` streamed through a
server-side cursor, ``count``, ``delete_matching`` in locked pages, and ``by_session``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, LiteralString

from psycopg import sql  # noqa: TID253 - loaded only once postgres.py found the driver

from sessmap.model import Mapping
from sessmap.stores.base import Keep, Query, Removed, by_session_order, count_by_reading
from sessmap.stores.postgres_rows import ORDER, from_row, where
from sessmap.stores.postgres_schema import BY_SESSION, like_prefix

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[tuple[Any, ...]]

STREAM_BATCH = 2_000  # rows per round trip of a server-side cursor, and per page of deletes


class PostgresQueries:
    """``query``, ``count``, ``delete_matching`` and ``by_session`` of the PostgreSQL store
    (PostgresStore's base; it provides the connection, the error wrapper and the SQL text)."""

    _cursor_names: Iterator[int]

    @property
    def _connection(self) -> Connection:
        raise NotImplementedError

    def _errors(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _sql(self, text: LiteralString, **parts: sql.Composable) -> sql.Composed:
        raise NotImplementedError

    def query(self, query: Query) -> Iterator[Mapping]:
        where, params = self._where(query)
        order = ORDER[(query.sort, query.reverse)]
        # The glob is matched in Python (exactly fnmatchcase); LIMIT then has to wait for it.
        limit_in_sql = query.limit is not None and query.match is None
        limit: LiteralString = " LIMIT %s" if limit_in_sql else ""
        statement = self._sql(
            "SELECT {columns} FROM {table} WHERE {where} ORDER BY {order}{limit}",
            where=where,
            order=sql.SQL(order),
            limit=sql.SQL(limit),
        )
        return self._stream(statement, [*params, query.limit] if limit_in_sql else params, query)

    def _stream(self, statement: sql.Composed, params: list[Any], query: Query) -> Iterator[Mapping]:
        remaining = query.limit
        if remaining is not None and remaining <= 0:
            return
        name = f"sessmap_stream_{next(self._cursor_names)}"
        # WITH HOLD lets the cursor live outside a transaction, so the caller may write
        # through this store while it iterates, and abandoning the iterator rolls nothing back.
        with self._errors(), self._connection.cursor(name, withhold=True) as cursor:
            cursor.itersize = STREAM_BATCH
            cursor.execute(statement, params)
            for row in cursor:
                mapping = from_row(row)
                if query.match is not None and not query.matches(mapping):
                    continue
                yield mapping
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return

    def _where(self, query: Query) -> tuple[sql.Composable, list[Any]]:
        return where(query)

    def count(self, query: Query) -> int:
        if query.match is not None:  # the glob is decided in Python (see query)
            return count_by_reading(self, query)  # type: ignore[arg-type]  # the whole PostgresStore
        where, params = self._where(query)
        with self._errors(), self._connection.cursor() as cursor:
            cursor.execute(self._sql("SELECT count(*) FROM {table} WHERE {where}", where=where), params)
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def delete_matching(self, query: Query, keep: Keep | None = None, removed: Removed | None = None) -> int:
        # In pages walked by (key, agent), each locked FOR UPDATE, all in one transaction:
        # memory holds one page however many go. The glob and ``keep`` are decided in Python.
        where, params = self._where(query)
        page = self._sql(
            "SELECT {columns} FROM {table} WHERE {where} AND (key, agent) > (%s, %s)"
            " ORDER BY key, agent LIMIT %s FOR UPDATE",
            where=where,
        )
        connection, count, last = self._connection, 0, ("", "")
        with self._errors(), connection.transaction():
            while rows := connection.execute(page, [*params, *last, STREAM_BATCH]).fetchall():
                batch = [from_row(row) for row in rows]
                last = (batch[-1].key, batch[-1].agent)
                doomed = [m for m in batch if query.matches(m) and (keep is None or not keep(m))]
                with connection.cursor() as cursor:
                    cursor.executemany(
                        self._sql("DELETE FROM {table} WHERE agent = %s AND key = %s"),
                        [(m.agent, m.key) for m in doomed],
                    )
                count += len(doomed)
                if removed is not None:
                    for mapping in doomed:
                        removed(mapping)
        return count

    def by_session(self, prefix: str, limit: int) -> list[Mapping]:
        pattern = like_prefix(prefix)
        with self._errors():
            params = (pattern, limit, pattern, prefix)
            rows = self._connection.execute(self._sql(BY_SESSION), params).fetchall()
        return by_session_order(map(from_row, rows), limit)
