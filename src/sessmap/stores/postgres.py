"""The PostgreSQL store: several hosts sharing one map (``postgresql://…``, ``postgres://…``).

Layout: one table ``<schema>.mappings`` (schema ``sessmap`` unless the URL says ``?schema=…``),
``<schema>.schema_migrations``, and the transcript tables ``<schema>.transcripts`` and
``<schema>.transcript_entries`` (postgres_transcripts.py). Migrations are named functions in
an append-only list, applied on open in one transaction under a transaction-scoped advisory
lock, so hosts that start together migrate once. Every write is one statement or one
transaction that locks the rows it reads, so concurrent writers lose nothing.
Reads in order, counts and bulk deletes are in postgres_query.py.

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

import contextlib
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
    TranscriptStore,
    conflict,
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
    lock_busy,
    thread_lock_id,
)
from sessmap.stores.postgres_query import STREAM_BATCH, PostgresQueries
from sessmap.stores.postgres_rows import ASSIGN_ALL, COLUMNS, PLACEHOLDERS, from_row, to_row
from sessmap.stores.postgres_schema import (
    Migration,
    add_generation,
    add_host_and_history,
    applied_version,
    create_mappings,
    index_session_id,
    migrate_schema,
)
from sessmap.stores.postgres_transcripts import PostgresTranscripts, create_transcript_tables
from sessmap.stores.started import StartedSessions
from sessmap.stores.started_sql import PostgresStarted, create_started_sessions

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore", "thread_lock_id"]

Connection = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]

DEFAULT_SCHEMA = "sessmap"
CONNECT_TIMEOUT_SECONDS = 5
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SESSMAP_PARAMETERS = ("schema",)

# Append only: an applied migration is never edited (postgres_schema.py).
MIGRATIONS: list[tuple[str, Migration]] = [
    ("create_mappings", create_mappings),
    ("add_host_and_history", add_host_and_history),
    ("create_transcripts", create_transcript_tables),
    ("add_generation", add_generation),
    ("index_session_id", index_session_id),
    ("create_started_sessions", create_started_sessions),
]
SCHEMA_VERSION = len(MIGRATIONS)


class PostgresStore(PostgresQueries, Closing):
    """A Store on PostgreSQL (psycopg 3). One connection per store object, reused."""

    shared = True
    reads_imports_unlocked = False  # COPY holds the connection

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
        self.started: StartedSessions = PostgresStarted(lambda: self._connection, self._errors, schema)
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

    def insert(self, mapping: Mapping, *, replace: bool = False, require_parent: bool = False) -> None:
        mapping.validate()
        on_conflict = (
            sql.SQL("DO UPDATE SET {}").format(sql.SQL(ASSIGN_ALL)) if replace else sql.SQL("DO NOTHING")
        )
        parent = mapping.parent if require_parent else None
        connection = self._connection
        transaction = connection.transaction() if parent is not None else contextlib.nullcontext()
        with self._errors(), transaction:
            # FOR SHARE waits for a rename holding the parent's row (rename locks it first) and
            # then sees it moved; a rename after this waits for the fork and reparents it.
            if parent is not None and (
                connection.execute(
                    self._sql("SELECT 1 FROM {table} WHERE agent = %s AND key = %s FOR SHARE"),
                    (parent.agent, parent.key),
                ).fetchone()
                is None
            ):
                raise not_found(parent.agent, parent.key)
            cursor = connection.execute(
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
                    # The row's lock first: a fork inserting under it (FOR SHARE) finishes before
                    # the forks are moved below, or starts after and finds the key gone.
                    connection.execute(
                        self._sql("SELECT 1 FROM {table} WHERE agent = %s AND key = %s FOR UPDATE"),
                        (agent, old_key),
                    )
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

    def delete(self, agent: str, key: str, expected: Mapping | None = None) -> Mapping | None:
        if expected is None:
            with self._errors():
                row = self._connection.execute(
                    self._sql("DELETE FROM {table} WHERE agent = %s AND key = %s RETURNING {columns}"),
                    (agent, key),
                ).fetchone()
            return from_row(row) if row else None
        connection = self._connection
        with self._errors(), connection.transaction():
            row = connection.execute(
                self._sql("SELECT {columns} FROM {table} WHERE agent = %s AND key = %s FOR UPDATE"),
                (agent, key),
            ).fetchone()
            if row is None or from_row(row) != expected:
                return None  # gone, or changed since it was read: not what the caller decided on
            connection.execute(self._sql("DELETE FROM {table} WHERE agent = %s AND key = %s"), (agent, key))
        return expected

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

    def thread_busy(self, agent: str, key: str) -> bool:
        with self._errors():
            return lock_busy(self._connection, thread_lock_id(self._schema_name, agent, key))

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
        # Raw rows: from_row validates, and one damaged row must not hide the others.
        with self._errors(), self._connection.cursor("sessmap_check", withhold=True) as cursor:
            cursor.itersize = STREAM_BATCH
            cursor.execute(self._sql("SELECT {columns} FROM {table}"))
            for row in cursor:
                try:
                    from_row(row)
                except SessmapError as error:
                    problems.append(f"mapping {row[1]!r} (agent {row[0]}): {error}")
        if version == SCHEMA_VERSION:  # an older schema may not have the transcript tables yet
            problems.extend(self._transcripts.problems())
        return problems

    def close(self) -> None:
        self._conn.close()
