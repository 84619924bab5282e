"""The PostgreSQL store's schema: how it is migrated, and the migrations of the mappings
table (the transcript tables' one is in postgres_transcripts.py). Append only: an applied
migration is never edited; the ordered, named list is ``MIGRATIONS`` in postgres.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, LiteralString

from psycopg import sql  # noqa: TID253 - loaded only once postgres.py found the driver

from sessmap.stores.migrations import NewerSchema, migrate, refuse_newer
from sessmap.stores.postgres_lock import advisory_id

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[tuple[Any, ...]]
    Cursor = psycopg.Cursor[tuple[Any, ...]]

Migration = Callable[["Cursor", sql.Identifier], None]


def applied_version(cursor: Cursor, schema_name: str) -> int:
    """The newest migration recorded in ``<schema_name>.schema_migrations`` (0: none)."""
    # Read pg_class itself, not to_regclass(): a backend that just waited for the migration
    # lock may still hold a cached "no such table" and would migrate a second time.
    cursor.execute(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
        " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'schema_migrations')",
        (schema_name,),
    )
    row = cursor.fetchone()
    if row is None or not row[0]:
        return 0
    schema = sql.Identifier(schema_name)
    cursor.execute(
        sql.SQL("SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations").format(schema=schema)
    )
    version = cursor.fetchone()
    return int(version[0]) if version else 0


def migrate_schema(
    connection: Connection,
    schema_name: str,
    migrations: Sequence[tuple[str, Migration]],
    latest: int,
    newer: NewerSchema,
) -> int:
    """Apply the outstanding ``migrations`` in one transaction under a transaction-scoped
    advisory lock, each with its record; return the schema version (``latest``)."""
    schema = sql.Identifier(schema_name)
    cursor = connection.cursor()
    version = refuse_newer(applied_version(cursor, schema_name), latest, newer)
    if version == latest:
        return version
    with connection.transaction():
        # Hosts opening a fresh database together queue here; the later ones find the
        # work done when they re-read the version under the lock.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_id("sessmap-migrate"),))
        version = refuse_newer(applied_version(cursor, schema_name), latest, newer)
        if version == latest:
            return version  # another host migrated while this one waited
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema}").format(schema=schema))
        cursor.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(schema=schema)
        )

        def apply(number: int, name: str, migration: Migration) -> None:
            migration(cursor, schema)
            cursor.execute(
                sql.SQL("INSERT INTO {schema}.schema_migrations (version, name) VALUES (%s, %s)").format(
                    schema=schema
                ),
                (number, name),
            )

        migrate(version, migrations, apply, newer)
    return latest


def create_mappings(cursor: Cursor, schema: sql.Identifier) -> None:
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


def add_host_and_history(cursor: Cursor, schema: sql.Identifier) -> None:
    # Rows written before this migration ran with no host or agent home and no earlier sessions.
    cursor.execute(
        sql.SQL(
            "ALTER TABLE {schema}.mappings ADD COLUMN host text, ADD COLUMN agent_home text,"
            " ADD COLUMN history jsonb NOT NULL DEFAULT '[]'::jsonb"
        ).format(schema=schema)
    )


def add_generation(cursor: Cursor, schema: sql.Identifier) -> None:
    # Rows from before count as generation 0: the next run's start raises it.
    cursor.execute(
        sql.SQL(
            "ALTER TABLE {schema}.mappings ADD COLUMN generation bigint NOT NULL DEFAULT 0"
            " CHECK (generation >= 0)"
        ).format(schema=schema)
    )


def index_session_id(cursor: Cursor, schema: sql.Identifier) -> None:
    # `which`: a session id prefix back to its mapping. text_pattern_ops serves LIKE 'p%'.
    cursor.execute(
        sql.SQL(
            "CREATE INDEX mappings_by_session_id ON {schema}.mappings (session_id text_pattern_ops)"
        ).format(schema=schema)
    )


# `which`: current ids by the index; earlier ones from the history of the mappings that have
# one (few: a scan, done by the server). Placeholders: the LIKE pattern, the limit, the pattern, the prefix.
BY_SESSION: LiteralString = (
    "(SELECT {columns} FROM {table} WHERE session_id LIKE %s ORDER BY key, agent LIMIT %s)"
    " UNION ALL (SELECT {columns} FROM {table} WHERE history <> '[]'::jsonb"
    " AND (session_id IS NULL OR session_id NOT LIKE %s)"
    " AND EXISTS (SELECT FROM jsonb_array_elements(history) AS e"
    " WHERE starts_with(e->>'session_id', %s)))"
)


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching what starts with ``prefix`` (its % _ and \\ taken literally)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
