"""The SQLite store's ``insert_many``: staged outside the write lock, merged in one statement.

An import used to insert row by row inside ``BEGIN IMMEDIATE``, so every other writer (an
``exec`` recording its turn) waited for the whole import, its parsing and validation too, and
gave up after the busy timeout. Now the rows are validated and written to a TEMP table first:
the connection's temp database is private to it, so filling it, in batches, takes no lock on
the store. Only the merge (one ``INSERT … SELECT``, SQLite's own speed) holds the write lock,
and it is one transaction: the import still lands all at once or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from itertools import islice
from typing import Any

from sessmap.model import Mapping
from sessmap.stores.base import ImportResult, OnConflict
from sessmap.stores.sqlite_rows import ASSIGN_EXCLUDED, COLUMN_LIST, to_row

# Rows per temp-table transaction: big enough to be fast, small enough to bound memory.
BATCH = 5_000
_STAGED = "temp.sessmap_import"
# Constants only, never input (hence the S608 waivers).
_CREATE = f"CREATE TEMP TABLE sessmap_import AS SELECT 0 AS seq, {COLUMN_LIST} FROM main.mappings WHERE 0"  # noqa: S608
_STAGE_INSERT = f"INSERT INTO {_STAGED} (seq, {COLUMN_LIST}) VALUES ({', '.join('?' * 20)})"  # noqa: S608
_STAGE_REPLACE = f"{_STAGE_INSERT} ON CONFLICT (agent, key) DO UPDATE SET {ASSIGN_EXCLUDED}"
_STAGE_KEEP = f"{_STAGE_INSERT} ON CONFLICT (agent, key) DO NOTHING"
_EXISTING = (
    f"SELECT s.seq, s.agent, s.key FROM {_STAGED} AS s "  # noqa: S608
    "JOIN main.mappings AS m ON m.agent = s.agent AND m.key = s.key ORDER BY s.seq"
)
_COUNT_EXISTING = (
    f"SELECT COUNT(*) FROM {_STAGED} AS s "  # noqa: S608
    "JOIN main.mappings AS m ON m.agent = s.agent AND m.key = s.key"
)
# "WHERE true": SQLite's parser needs it between a SELECT and its ON CONFLICT.
_MERGE = (
    f"INSERT INTO main.mappings ({COLUMN_LIST}) "  # noqa: S608
    f"SELECT {COLUMN_LIST} FROM {_STAGED} WHERE true ON CONFLICT (agent, key)"
)
_MERGE_REPLACE = f"{_MERGE} DO UPDATE SET {ASSIGN_EXCLUDED}"
_MERGE_KEEP = f"{_MERGE} DO NOTHING"

Transaction = Callable[[], AbstractContextManager[sqlite3.Connection]]


def insert_many(
    db: sqlite3.Connection, transaction: Transaction, mappings: Iterable[Mapping], on_conflict: OnConflict
) -> ImportResult:
    """``Store.insert_many``: ``db`` is the store's connection, ``transaction`` its write
    transaction (``BEGIN IMMEDIATE`` … ``COMMIT``)."""
    db.execute(f"DROP TABLE IF EXISTS {_STAGED}")
    db.execute(_CREATE)
    try:
        db.execute("CREATE UNIQUE INDEX temp.sessmap_import_key ON sessmap_import (agent, key)")
        staged, repeats = _stage(db, mappings, on_conflict)
        with transaction() as locked:
            if on_conflict == "fail":
                conflicts = sorted([*locked.execute(_EXISTING), *repeats])
                if conflicts:
                    return ImportResult(conflicts=tuple((agent, key) for _, agent, key in conflicts))
            (existing,) = locked.execute(_COUNT_EXISTING).fetchone()
            locked.execute(_MERGE_REPLACE if on_conflict == "replace" else _MERGE_KEEP)
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.execute(f"DROP TABLE IF EXISTS {_STAGED}")
    inserted = staged - int(existing)
    later = int(existing) + len(repeats)  # a key the file repeats meets its own earlier line
    if on_conflict == "replace":
        return ImportResult(inserted=inserted, replaced=later)
    return ImportResult(inserted=inserted, skipped=later)


def _stage(
    db: sqlite3.Connection, mappings: Iterable[Mapping], on_conflict: OnConflict
) -> tuple[int, list[tuple[int, str, str]]]:
    """Validate and write every mapping to the temp table: (rows staged, repeated keys as
    ``(position, agent, key)``). A repeat replaces its earlier line with ``replace``; otherwise
    the first line stays."""
    numbered = enumerate(mappings)
    staged = 0
    repeats: list[tuple[int, str, str]] = []
    while batch := list(islice(numbered, BATCH)):
        rows = [(position, *to_row(mapping.validate())) for position, mapping in batch]
        db.execute("BEGIN")  # writes only the temp database: no lock on the store
        # A batch with no key seen before goes in with one call; one with a repeat is done
        # again row by row, to tell which lines repeat.
        if db.executemany(_STAGE_KEEP, rows).rowcount == len(rows):
            staged += len(rows)
        else:
            db.execute("ROLLBACK")
            db.execute("BEGIN")
            staged += _stage_rows(db, rows, on_conflict, repeats)
        db.execute("COMMIT")
    return staged, repeats


def _stage_rows(
    db: sqlite3.Connection,
    rows: list[tuple[Any, ...]],
    on_conflict: OnConflict,
    repeats: list[tuple[int, str, str]],
) -> int:
    """One batch, row by row: how many were new; each repeat goes to ``repeats``."""
    staged = 0
    for row in rows:
        if db.execute(_STAGE_KEEP, row).rowcount:
            staged += 1
            continue
        repeats.append((row[0], row[1], row[2]))
        if on_conflict == "replace":
            db.execute(_STAGE_REPLACE, row)
    return staged
