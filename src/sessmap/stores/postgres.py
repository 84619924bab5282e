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

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, LiteralString, NoReturn

from sessmap.errors import Busy, Conflict, InvalidInput, NotFound, SessmapError, StoreError
from sessmap.model import HistoryEntry, Mapping, Parent, validate_key
from sessmap.stores.base import HeldLock, ImportResult, OnConflict, OnWait, Query, TranscriptStore
from sessmap.urls import mask_password, passwords_in, pop_parameters, redact

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.types.json import Jsonb
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    raise StoreError("the PostgreSQL store needs psycopg: pip install 'sessmap[postgres]'") from None

# Load psycopg themselves: only once the driver is known to be there.
from sessmap.stores.postgres_lock import PostgresThreadLock, connect_lock_connection
from sessmap.stores.postgres_transcripts import PostgresTranscripts, create_transcript_tables

Connection = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]

DEFAULT_SCHEMA = "sessmap"
CONNECT_TIMEOUT_SECONDS = 5
STREAM_BATCH = 2_000
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SESSMAP_PARAMETERS = ("schema",)

# Column order of every SELECT and INSERT below; last_seen is generated, never written.
_COLUMNS: LiteralString = (
    "agent, key, provider, session_id, state, cwd, created_at, updated_at, last_used_at, "
    "turns, last_exit, parent_agent, parent_key, parent_session_id, labels, host, agent_home, history, "
    "generation"
)
_ASSIGN_ALL: LiteralString = (
    "provider = EXCLUDED.provider, session_id = EXCLUDED.session_id, state = EXCLUDED.state, "
    "cwd = EXCLUDED.cwd, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, "
    "last_used_at = EXCLUDED.last_used_at, turns = EXCLUDED.turns, last_exit = EXCLUDED.last_exit, "
    "parent_agent = EXCLUDED.parent_agent, parent_key = EXCLUDED.parent_key, "
    "parent_session_id = EXCLUDED.parent_session_id, labels = EXCLUDED.labels, "
    "host = EXCLUDED.host, agent_home = EXCLUDED.agent_home, history = EXCLUDED.history, "
    "generation = EXCLUDED.generation"
)
_PLACEHOLDERS: LiteralString = ", ".join(["%s"] * 19)


# --- migrations: append only; an applied migration is never edited -----------------------


def _create_mappings(cursor: Cursor, schema: sql.Identifier) -> None:
    # key is COLLATE "C" so ORDER BY key is code-point order, as Python sorts str, and so
    # prefix LIKE can use the btree index.
    statements: list[LiteralString] = [
        """CREATE TABLE {schema}.mappings (
            agent text NOT NULL,
            key text COLLATE "C" NOT NULL,
            provider text NOT NULL,
            session_id text,
            state text NOT NULL CHECK (state IN ('active', 'pending', 'pending-fork')),
            cwd text,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            last_used_at timestamptz,
            last_seen timestamptz GENERATED ALWAYS AS (COALESCE(last_used_at, created_at)) STORED,
            turns bigint NOT NULL DEFAULT 0 CHECK (turns >= 0),
            last_exit bigint,
            parent_agent text,
            parent_key text COLLATE "C",
            parent_session_id text,
            labels jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            -- (key, agent): one index serves get, uniqueness, key order and key prefixes.
            PRIMARY KEY (key, agent),
            CHECK (state <> 'active' OR session_id IS NOT NULL),
            CHECK (state <> 'pending-fork' OR parent_key IS NOT NULL)
        )""",
        "CREATE INDEX mappings_by_last_seen ON {schema}.mappings (last_seen, key, agent)",
        "CREATE INDEX mappings_by_created ON {schema}.mappings (created_at, key, agent)",
        "CREATE INDEX mappings_by_parent ON {schema}.mappings (parent_agent, parent_key)"
        " WHERE parent_key IS NOT NULL",
        "CREATE INDEX mappings_by_labels ON {schema}.mappings USING gin (labels jsonb_path_ops)",
    ]
    for statement in statements:
        cursor.execute(sql.SQL(statement).format(schema=schema))


def _add_host_and_history(cursor: Cursor, schema: sql.Identifier) -> None:
    # Rows written before this migration ran with no host or agent home and no earlier sessions.
    cursor.execute(
        sql.SQL(
            "ALTER TABLE {schema}.mappings ADD COLUMN host text, ADD COLUMN agent_home text,"
            " ADD COLUMN history jsonb NOT NULL DEFAULT '[]'::jsonb"
        ).format(schema=schema)
    )


def _add_generation(cursor: Cursor, schema: sql.Identifier) -> None:
    # Rows from before count as generation 0: the next run's start raises it.
    cursor.execute(
        sql.SQL(
            "ALTER TABLE {schema}.mappings ADD COLUMN generation bigint NOT NULL DEFAULT 0"
            " CHECK (generation >= 0)"
        ).format(schema=schema)
    )


MIGRATIONS: list[tuple[str, Callable[[Cursor, sql.Identifier], None]]] = [
    ("create_mappings", _create_mappings),
    ("add_host_and_history", _add_host_and_history),
    ("create_transcripts", create_transcript_tables),
    ("add_generation", _add_generation),
]
SCHEMA_VERSION = len(MIGRATIONS)


def _advisory_id(*parts: str) -> int:
    """A stable signed 64-bit advisory lock id (Python's hash() is salted per process)."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def thread_lock_id(schema: str, agent: str, key: str) -> int:
    """The advisory lock id of one thread: the same on every host and every version.

    The schema is part of it so two maps in one database never block each other's threads.
    """
    return _advisory_id(schema, agent, key)


class PostgresStore:
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
            columns=sql.SQL(_COLUMNS),
            assign_all=sql.SQL(_ASSIGN_ALL),
            placeholders=sql.SQL(_PLACEHOLDERS),
            **parts,
        )

    # --- schema -------------------------------------------------------------------------

    def _applied_version(self, cursor: Cursor) -> int:
        # Read pg_class itself, not to_regclass(): a backend that just waited for the migration
        # lock may still hold a cached "no such table" and would migrate a second time.
        cursor.execute(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'schema_migrations')",
            (self._schema_name,),
        )
        row = cursor.fetchone()
        if row is None or not row[0]:
            return 0
        cursor.execute(self._sql("SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations"))
        version = cursor.fetchone()
        return int(version[0]) if version else 0

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"PostgreSQL store {self.url} has schema version {version}, newer than this sessmap "
                f"understands ({SCHEMA_VERSION}); it was left untouched",
                hint="upgrade sessmap",
            )

    def _migrate(self) -> int:
        with self._errors():
            cursor = self._conn.cursor()
            version = self._applied_version(cursor)
            self._refuse_newer(version)
            if version == SCHEMA_VERSION:
                return version
            with self._conn.transaction():
                # Hosts opening a fresh database together queue here; the later ones find the
                # work done when they re-read the version under the lock.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_advisory_id("sessmap-migrate"),))
                version = self._applied_version(cursor)
                self._refuse_newer(version)
                if version == SCHEMA_VERSION:
                    return version  # another host migrated while this one waited
                cursor.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {schema}"))
                cursor.execute(
                    self._sql(
                        "CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                        " version integer PRIMARY KEY, name text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())"
                    )
                )
                for number, (name, migration) in enumerate(MIGRATIONS[version:], start=version + 1):
                    migration(cursor, self._schema)
                    cursor.execute(
                        self._sql("INSERT INTO {schema}.schema_migrations (version, name) VALUES (%s, %s)"),
                        (number, name),
                    )
            return SCHEMA_VERSION

    # --- rows -----------------------------------------------------------------------------

    @staticmethod
    def _row(mapping: Mapping) -> tuple[Any, ...]:
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

    @staticmethod
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

    # --- the Store protocol -----------------------------------------------------------------

    def get(self, agent: str, key: str) -> Mapping | None:
        with self._errors():
            row = self._connection.execute(
                self._sql("SELECT {columns} FROM {table} WHERE agent = %s AND key = %s"), (agent, key)
            ).fetchone()
        return self._mapping(row) if row else None

    def insert(self, mapping: Mapping, *, replace: bool = False) -> None:
        mapping.validate()
        on_conflict = (
            sql.SQL("DO UPDATE SET {}").format(sql.SQL(_ASSIGN_ALL)) if replace else sql.SQL("DO NOTHING")
        )
        with self._errors():
            cursor = self._connection.execute(
                self._sql(
                    "INSERT INTO {table} ({columns}) VALUES ({placeholders})"
                    " ON CONFLICT (agent, key) {on_conflict}",
                    on_conflict=on_conflict,
                ),
                self._row(mapping),
            )
        if cursor.rowcount == 0:
            raise Conflict(f"mapping {mapping.key!r} (agent {mapping.agent}) exists already")

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        connection = self._connection
        with self._errors(), connection.transaction():
            row = connection.execute(
                self._sql("SELECT {columns} FROM {table} WHERE agent = %s AND key = %s FOR UPDATE"),
                (agent, key),
            ).fetchone()
            if row is None:
                _not_found(agent, key)
            changed = change(self._mapping(row))
            if (changed.agent, changed.key) != (agent, key):
                raise ValueError("update() must not change agent or key; use rename()")
            changed.validate()
            connection.execute(
                self._sql(
                    "INSERT INTO {table} ({columns}) VALUES ({placeholders})"
                    " ON CONFLICT (agent, key) DO UPDATE SET {assign_all}"
                ),
                self._row(changed),
            )
        return changed

    def rename(self, agent: str, old_key: str, new_key: str, updated_at: datetime) -> Mapping:
        validate_key(new_key)
        if new_key == old_key:  # UPDATE would "succeed"; NEW exists (it is OLD), as elsewhere
            if self.get(agent, old_key) is None:
                _not_found(agent, old_key)
            raise Conflict(f"mapping {new_key!r} (agent {agent}) exists already")
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
                        _not_found(agent, old_key)
            except pg_errors.UniqueViolation:
                raise Conflict(f"mapping {new_key!r} (agent {agent}) exists already") from None
        return self._mapping(row)

    def delete(self, agent: str, key: str) -> Mapping | None:
        with self._errors():
            row = self._connection.execute(
                self._sql("DELETE FROM {table} WHERE agent = %s AND key = %s RETURNING {columns}"),
                (agent, key),
            ).fetchone()
        return self._mapping(row) if row else None

    def query(self, query: Query) -> Iterator[Mapping]:
        where, params = self._where(query)
        order = _ORDER[(query.sort, query.reverse)]
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
                mapping = self._mapping(row)
                if query.match is not None and not query.matches(mapping):
                    continue
                yield mapping
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return

    def _where(self, query: Query) -> tuple[sql.Composable, list[Any]]:
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
                return [self._mapping(row) for row in rows]
            # A glob: lock the candidates, keep what fnmatchcase accepts, delete exactly those.
            candidates = connection.execute(
                self._sql("SELECT {columns} FROM {table} WHERE {where} FOR UPDATE", where=where),
                params,
            ).fetchall()
            deleted = [m for m in map(self._mapping, candidates) if query.matches(m)]
            with connection.cursor() as cursor:
                cursor.executemany(
                    self._sql("DELETE FROM {table} WHERE agent = %s AND key = %s"),
                    [(m.agent, m.key) for m in deleted],
                )
        return deleted

    def insert_many(self, mappings: Iterable[Mapping], on_conflict: OnConflict) -> ImportResult:
        connection = self._connection
        result = ImportResult()
        with self._errors(), connection.transaction(), connection.cursor() as cursor:
            total = self._stage(cursor, mappings)
            # Writers wait while the staged rows merge (not while they stream in), so the
            # counts below are exact and a `fail` import cannot race a concurrent create.
            cursor.execute(self._sql("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
            if on_conflict == "fail":
                conflicts = self._staged_conflicts(cursor)
                if conflicts:
                    result = ImportResult(conflicts=conflicts)
                    raise psycopg.Rollback()  # undoes the staging; the transaction block swallows it
                cursor.execute(
                    self._sql("INSERT INTO {table} ({columns}) SELECT {columns} FROM staged ORDER BY seq")
                )
                return ImportResult(inserted=total)
            cursor.execute(
                self._sql(
                    "SELECT count(*) FROM (SELECT DISTINCT agent, key FROM staged) s"
                    " WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.agent = s.agent AND t.key = s.key)"
                )
            )
            counted = cursor.fetchone()
            fresh = int(counted[0]) if counted else 0
            if on_conflict == "skip":
                cursor.execute(
                    self._sql(
                        "INSERT INTO {table} ({columns}) SELECT {columns} FROM staged ORDER BY seq"
                        " ON CONFLICT (agent, key) DO NOTHING"
                    )
                )
                return ImportResult(inserted=fresh, skipped=total - fresh)
            # replace: the last line for an (agent, key) wins, as if applied one by one.
            cursor.execute(
                self._sql(
                    "INSERT INTO {table} ({columns}) SELECT {columns} FROM"
                    " (SELECT DISTINCT ON (agent, key) * FROM staged ORDER BY agent, key, seq DESC) last"
                    " ON CONFLICT (agent, key) DO UPDATE SET {assign_all}"
                )
            )
            return ImportResult(inserted=fresh, replaced=total - fresh)
        return result

    def _stage(self, cursor: Cursor, mappings: Iterable[Mapping]) -> int:
        """COPY the stream into a temporary table; an error while reading it rolls all back."""
        cursor.execute(
            """CREATE TEMPORARY TABLE staged (
                seq bigint, agent text, key text COLLATE "C", provider text, session_id text,
                state text, cwd text, created_at timestamptz, updated_at timestamptz,
                last_used_at timestamptz, turns bigint, last_exit bigint, parent_agent text,
                parent_key text COLLATE "C", parent_session_id text, labels jsonb,
                host text, agent_home text, history jsonb, generation bigint
            ) ON COMMIT DROP"""
        )
        total = 0
        with cursor.copy(self._sql("COPY staged (seq, {columns}) FROM STDIN")) as copy:
            for mapping in mappings:
                mapping.validate()
                copy.write_row((total, *self._row(mapping)))
                total += 1
        cursor.execute("ANALYZE staged")
        return total

    def _staged_conflicts(self, cursor: Cursor) -> tuple[tuple[str, str], ...]:
        cursor.execute(
            self._sql(
                "SELECT agent, key FROM ("
                " SELECT seq, agent, key,"
                "  row_number() OVER (PARTITION BY agent, key ORDER BY seq) AS nth,"
                "  EXISTS (SELECT 1 FROM {table} t WHERE t.agent = s.agent AND t.key = s.key) AS existed"
                " FROM staged s) numbered"
                " WHERE existed OR nth > 1 ORDER BY seq"
            )
        )
        return tuple((agent, key) for agent, key in cursor)

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
            version = self._applied_version(self._connection.cursor())
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

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_ORDER: dict[tuple[str, bool], LiteralString] = {
    ("last-used", False): "last_seen DESC, key, agent",
    ("last-used", True): "last_seen, key, agent",
    ("created", False): "created_at DESC, key, agent",
    ("created", True): "created_at, key, agent",
    ("key", False): "key, agent",
    ("key", True): "key DESC, agent DESC",
}


def _not_found(agent: str, key: str) -> NoReturn:
    raise NotFound(f"no mapping for {key!r} (agent {agent})")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _history(entries: Any) -> tuple[HistoryEntry, ...]:
    # _row wrote validated entries: one that no longer parses was edited outside sessmap, which
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
