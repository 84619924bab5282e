"""The PostgreSQL store: several hosts sharing one map (``postgresql://…``, ``postgres://…``).

Layout: one table ``<schema>.mappings`` (schema ``sessmap`` unless the URL says ``?schema=…``),
``<schema>.schema_migrations``, and the transcript tables ``<schema>.transcripts`` and
``<schema>.transcript_entries`` (postgres_transcripts.py). Migrations are named functions in
an append-only list, applied on open in one transaction under a transaction-scoped advisory
lock, so hosts that start together migrate once. Every write is one statement or one
transaction that locks the rows it reads, so concurrent writers lose nothing.

Thread locks (postgres_lock.py) are session advisory locks, each on a connection of its own
for the whole run: they hold across hosts, and the server's lock queue serves waiters first
come, first served. The connection's settings ride in its startup packet and outrank role- and
database-wide ones, so no idle or statement timeout cuts a held lock. A waiter that gives up
(timeout, interrupt) leaves the queue at once; one killed with -9 within 0.2 s on PostgreSQL
14+ (``client_connection_check_interval``), on older servers only when its turn comes. A holder
that dies frees the thread at once, unless its agent inherited the connection's socket
(``agent_fds``): then when the agent exits. A host that vanishes without closing its socket is
noticed by TCP keepalives, after about a minute. While guarded, a once-a-second query notices a
server restart or a terminated backend (the lock is then gone) and reports it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, LiteralString

from sessmap.errors import Busy, InvalidInput, SessmapError, StoreError
from sessmap.model import Mapping
from sessmap.stores.base import (
    Closing,
    HeldLock,
    ImportResult,
    OnConflict,
    OnWait,
    Query,
    TranscriptStore,
    conflict,
    count_by_reading,
    not_found,
)
from sessmap.stores.migrations import newer_schema
from sessmap.urls import mask_password, passwords_in, pop_parameters, redact
from sessmap.validation import validate_key

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    raise StoreError("the PostgreSQL store needs psycopg: pip install 'sessmap[postgres]'") from None

# Load psycopg themselves: only once the driver is known to be there.
from sessmap.stores import postgres_import
from sessmap.stores.postgres_lock import (
    PostgresThreadLock,
    connect_lock_connection,
    thread_lock_id,
)
from sessmap.stores.postgres_rows import ASSIGN_ALL, COLUMNS, ORDER, PLACEHOLDERS, from_row, to_row, where
from sessmap.stores.postgres_schema import (
    Migration,
    add_generation,
    add_host_and_history,
    applied_version,
    create_mappings,
    migrate_schema,
)
from sessmap.stores.postgres_transcripts import PostgresTranscripts, create_transcript_tables

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore", "thread_lock_id"]

Connection = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]

DEFAULT_SCHEMA = "sessmap"
CONNECT_TIMEOUT_SECONDS = 5
STREAM_BATCH = 2_000
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SESSMAP_PARAMETERS = ("schema",)

# Append only: an applied migration is never edited (postgres_schema.py).
MIGRATIONS: list[tuple[str, Migration]] = [
    ("create_mappings", create_mappings),
    ("add_host_and_history", add_host_and_history),
    ("create_transcripts", create_transcript_tables),
    ("add_generation", add_generation),
]
SCHEMA_VERSION = len(MIGRATIONS)


class PostgresStore(Closing):
    """A Store on PostgreSQL (psycopg 3). One connection per store object, reused."""

    shared = True

    def __init__(self, url: str) -> None:
        self.url = mask_password(url)
        self._secrets = passwords_in(url)
        conninfo, ours = pop_parameters(url, _SESSMAP_PARAMETERS)
        schema = ours.get("schema", DEFAULT_SCHEMA)
        if not _SCHEMA_NAME.fullmatch(schema):
            raise InvalidInput(f"invalid schema={schema!r}: use lower-case letters, digits and _")
        self._conninfo = conninfo
        self._connect_options = self._default_options(conninfo)
        self._schema_name = schema
        self._schema = sql.Identifier(schema)
        self._table = sql.Identifier(schema, "mappings")
        self._cursor_names = itertools.count()
        self._transcripts = PostgresTranscripts(lambda: self._connection, self._errors, schema)
        self.transcripts: TranscriptStore = self._transcripts
        self._conn = self._connect()
        try:
            self.schema_version = self._migrate()
        except BaseException:
            self._conn.close()
            raise

    # --- connections and errors ---------------------------------------------------------

    def _default_options(self, conninfo: str) -> dict[str, Any]:
        try:
            given = conninfo_to_dict(conninfo)
        except psycopg.Error as error:
            raise InvalidInput(self._describe(f"invalid PostgreSQL URL {self.url}", error)) from None
        options: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in given:
            options["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        if "application_name" not in given:
            options["application_name"] = "sessmap"
        return options

    def _connect(self) -> Connection:
        try:
            return psycopg.connect(self._conninfo, **self._connect_options)
        except psycopg.Error as error:
            raise StoreError(self._describe(f"cannot connect to PostgreSQL at {self.url}", error)) from None

    def _describe(self, context: str, error: BaseException) -> str:
        """One line, no password: drivers' messages span lines and may echo connection strings."""
        detail = " ".join(str(error).split()).removeprefix("connection failed: ")
        return redact(f"{context}: {detail}" if detail else context, self._secrets)

    @property
    def _connection(self) -> Connection:
        # A long-lived library user survives a server restart: reconnect on next use.
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as error:
            raise StoreError(self._describe(f"PostgreSQL store {self.url}", error)) from None

    def _sql(self, text: LiteralString, **parts: sql.Composable) -> sql.Composed:
        return sql.SQL(text).format(
            table=self._table,
            schema=self._schema,
            columns=sql.SQL(COLUMNS),
            assign_all=sql.SQL(ASSIGN_ALL),
            placeholders=sql.SQL(PLACEHOLDERS),
            **parts,
        )

    # --- schema -------------------------------------------------------------------------

    def _migrate(self) -> int:
        with self._errors():
            newer = newer_schema(f"PostgreSQL store {self.url}")
            return migrate_schema(self._conn, self._schema_name, MIGRATIONS, SCHEMA_VERSION, newer)

    # --- the Store protocol -----------------------------------------------------------------

    def get(self, agent: str, key: str) -> Mapping | None:
        with self._errors():
            row = self._connection.execute(
                self._sql("SELECT {columns} FROM {table} WHERE agent = %s AND key = %s"), (agent, key)
            ).fetchone()
        return from_row(row) if row else None

    def insert(self, mapping: Mapping, *, replace: bool = False) -> None:
        mapping.validate()
        on_conflict = (
            sql.SQL("DO UPDATE SET {}").format(sql.SQL(ASSIGN_ALL)) if replace else sql.SQL("DO NOTHING")
        )
        with self._errors():
            cursor = self._connection.execute(
                self._sql(
                    "INSERT INTO {table} ({columns}) VALUES ({placeholders})"
                    " ON CONFLICT (agent, key) {on_conflict}",
                    on_conflict=on_conflict,
                ),
                to_row(mapping),
            )
        if cursor.rowcount == 0:
            raise conflict(mapping.agent, mapping.key)

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        connection = self._connection
        with self._errors(), connection.transaction():
            row = connection.execute(
                self._sql("SELECT {columns} FROM {table} WHERE agent = %s AND key = %s FOR UPDATE"),
                (agent, key),
            ).fetchone()
            if row is None:
                raise not_found(agent, key)
            changed = change(from_row(row))
            if (changed.agent, changed.key) != (agent, key):
                raise ValueError("update() must not change agent or key; use rename()")
            changed.validate()
            connection.execute(
                self._sql(
                    "INSERT INTO {table} ({columns}) VALUES ({placeholders})"
                    " ON CONFLICT (agent, key) DO UPDATE SET {assign_all}"
                ),
                to_row(changed),
            )
        return changed

    def rename(self, agent: str, old_key: str, new_key: str, updated_at: datetime) -> Mapping:
        validate_key(new_key)
        if new_key == old_key:  # UPDATE would "succeed"; NEW exists (it is OLD), as elsewhere
            if self.get(agent, old_key) is None:
                raise not_found(agent, old_key)
            raise conflict(agent, new_key)
        connection = self._connection
        with self._errors():
            try:
                with connection.transaction():
                    # Forks first: the mapping may be a fork of its own key, and RETURNING below
                    # must then show its parent moved too. NotFound or Conflict rolls both back.
                    connection.execute(
                        self._sql(
                            "UPDATE {table} SET parent_key = %s WHERE parent_agent = %s AND parent_key = %s"
                        ),
                        (new_key, agent, old_key),
                    )
                    row = connection.execute(
                        self._sql(
                            "UPDATE {table} SET key = %s, updated_at = %s WHERE agent = %s AND key = %s"
                            " RETURNING {columns}"
                        ),
                        (new_key, updated_at, agent, old_key),
                    ).fetchone()
                    if row is None:
                        raise not_found(agent, old_key)
            except pg_errors.UniqueViolation:
                raise conflict(agent, new_key) from None
        return from_row(row)

    def delete(self, agent: str, key: str) -> Mapping | None:
        with self._errors():
            row = self._connection.execute(
                self._sql("DELETE FROM {table} WHERE agent = %s AND key = %s RETURNING {columns}"),
                (agent, key),
            ).fetchone()
        return from_row(row) if row else None

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
            return count_by_reading(self, query)
        where, params = self._where(query)
        with self._errors(), self._connection.cursor() as cursor:
            cursor.execute(self._sql("SELECT count(*) FROM {table} WHERE {where}", where=where), params)
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def delete_matching(self, query: Query) -> list[Mapping]:
        where, params = self._where(query)
        connection = self._connection
        deleted: list[Mapping] = []
        with self._errors(), connection.transaction():
            if query.match is None:
                rows = connection.execute(
                    self._sql("DELETE FROM {table} WHERE {where} RETURNING {columns}", where=where),
                    params,
                ).fetchall()
                return [from_row(row) for row in rows]
            # A glob: lock the candidates, keep what fnmatchcase accepts, delete exactly those.
            candidates = connection.execute(
                self._sql("SELECT {columns} FROM {table} WHERE {where} FOR UPDATE", where=where),
                params,
            ).fetchall()
            deleted = [m for m in map(from_row, candidates) if query.matches(m)]
            with connection.cursor() as cursor:
                cursor.executemany(
                    self._sql("DELETE FROM {table} WHERE agent = %s AND key = %s"),
                    [(m.agent, m.key) for m in deleted],
                )
        return deleted

    def insert_many(self, mappings: Iterable[Mapping], on_conflict: OnConflict) -> ImportResult:
        connection = self._connection
        with self._errors():
            return postgres_import.insert_many(connection, self._table, mappings, on_conflict)

    @contextmanager
    def thread_lock(
        self, agent: str, key: str, timeout: float | None, on_wait: OnWait | None = None
    ) -> Iterator[HeldLock]:
        lock_id = thread_lock_id(self._schema_name, agent, key)
        # A connection of its own: the lock lives exactly as long as it, whatever this store does.
        lock = PostgresThreadLock(self._connect_lock(timeout), lock_id, self._describe)
        try:
            with self._errors():
                if not lock.acquire(timeout, on_wait):
                    raise Busy(agent, key)
            yield lock
        finally:
            lock.release()

    def _connect_lock(self, timeout: float | None) -> Connection:
        """A lock connection, its settings in the startup packet (no round trip of its own)."""
        with self._errors():
            # The store's connection already knows the server's version: no query for it.
            server_version = self._connection.info.server_version
            given = conninfo_to_dict(self._conninfo).get("options")

        def connect(extra: dict[str, Any]) -> Connection:
            return psycopg.connect(self._conninfo, **{**self._connect_options, **extra})

        try:
            return connect_lock_connection(
                connect, None if given is None else str(given), timeout, server_version
            )
        except psycopg.Error as error:
            raise StoreError(self._describe(f"cannot connect to PostgreSQL at {self.url}", error)) from None

    def check(self) -> list[str]:
        problems: list[str] = []
        with self._errors():
            version = applied_version(self._connection.cursor(), self._schema_name)
        if version != SCHEMA_VERSION:
            problems.append(f"schema version {version}, expected {SCHEMA_VERSION}")
        for mapping in self._stream(self._sql("SELECT {columns} FROM {table}"), [], Query()):
            try:
                mapping.validate()
            except SessmapError as error:
                problems.append(f"mapping {mapping.key!r} (agent {mapping.agent}): {error}")
        if version == SCHEMA_VERSION:  # an older schema may not have the transcript tables yet
            problems.extend(self._transcripts.problems())
        return problems

    def close(self) -> None:
        self._conn.close()
