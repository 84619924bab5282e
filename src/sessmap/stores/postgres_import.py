"""The PostgreSQL store's import: stream the mappings into a staging table with COPY, then
merge them into the map in one statement, all in one transaction (all or nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, LiteralString

import psycopg  # noqa: TID253 - loaded only once postgres.py found the driver
from psycopg import sql  # noqa: TID253

from sessmap.model import Mapping
from sessmap.stores.base import ImportResult, OnConflict
from sessmap.stores.postgres_rows import ASSIGN_ALL, COLUMNS, PLACEHOLDERS, to_row

if TYPE_CHECKING:
    Connection = psycopg.Connection[tuple[Any, ...]]
    Cursor = psycopg.Cursor[tuple[Any, ...]]


def _statement(table: sql.Identifier, text: LiteralString) -> sql.Composed:
    """``text`` with the store's table and column lists filled in (all constants or quoted)."""
    return sql.SQL(text).format(
        table=table,
        columns=sql.SQL(COLUMNS),
        assign_all=sql.SQL(ASSIGN_ALL),
        placeholders=sql.SQL(PLACEHOLDERS),
    )


def insert_many(
    connection: Connection, table: sql.Identifier, mappings: Iterable[Mapping], on_conflict: OnConflict
) -> ImportResult:
    """``Store.insert_many`` on ``connection``; psycopg errors propagate."""
    result = ImportResult()
    with connection.transaction(), connection.cursor() as cursor:
        total = _stage(cursor, table, mappings)
        # Writers wait while the staged rows merge (not while they stream in), so the
        # counts below are exact and a `fail` import cannot race a concurrent create.
        cursor.execute(_statement(table, "LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        if on_conflict == "fail":
            conflicts = _staged_conflicts(cursor, table)
            if conflicts:
                result = ImportResult(conflicts=conflicts)
                raise psycopg.Rollback()  # undoes the staging; the transaction block swallows it
            cursor.execute(
                _statement(table, "INSERT INTO {table} ({columns}) SELECT {columns} FROM staged ORDER BY seq")
            )
            return ImportResult(inserted=total)
        cursor.execute(
            _statement(
                table,
                "SELECT count(*) FROM (SELECT DISTINCT agent, key FROM staged) s"
                " WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.agent = s.agent AND t.key = s.key)",
            )
        )
        counted = cursor.fetchone()
        fresh = int(counted[0]) if counted else 0
        if on_conflict == "skip":
            cursor.execute(
                _statement(
                    table,
                    "INSERT INTO {table} ({columns}) SELECT {columns} FROM staged ORDER BY seq"
                    " ON CONFLICT (agent, key) DO NOTHING",
                )
            )
            return ImportResult(inserted=fresh, skipped=total - fresh)
        # replace: the last line for an (agent, key) wins, as if applied one by one.
        cursor.execute(
            _statement(
                table,
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM"
                " (SELECT DISTINCT ON (agent, key) * FROM staged ORDER BY agent, key, seq DESC) last"
                " ON CONFLICT (agent, key) DO UPDATE SET {assign_all}",
            )
        )
        return ImportResult(inserted=fresh, replaced=total - fresh)
    return result


def _stage(cursor: Cursor, table: sql.Identifier, mappings: Iterable[Mapping]) -> int:
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
    with cursor.copy(_statement(table, "COPY staged (seq, {columns}) FROM STDIN")) as copy:
        for mapping in mappings:
            mapping.validate()
            copy.write_row((total, *to_row(mapping)))
            total += 1
    cursor.execute("ANALYZE staged")
    return total


def _staged_conflicts(cursor: Cursor, table: sql.Identifier) -> tuple[tuple[str, str], ...]:
    cursor.execute(
        _statement(
            table,
            "SELECT agent, key FROM ("
            " SELECT seq, agent, key,"
            "  row_number() OVER (PARTITION BY agent, key ORDER BY seq) AS nth,"
            "  EXISTS (SELECT 1 FROM {table} t WHERE t.agent = s.agent AND t.key = s.key) AS existed"
            " FROM staged s) numbered"
            " WHERE existed OR nth > 1 ORDER BY seq",
        )
    )
    return tuple((agent, key) for agent, key in cursor)
