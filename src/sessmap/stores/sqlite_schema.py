"""The SQLite store's schema: the migrations of the mappings table (the transcript tables' one
is in sqlite_transcripts.py) and the check of a file's recorded history against them. Append
only: an applied migration is never edited; the ordered list is ``MIGRATIONS`` in sqlite.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sessmap.errors import StoreError
from sessmap.stores.migrations import NewerSchema, refuse_newer
from sessmap.stores.sqlite_rows import LAST_SEEN

Migration = Callable[[sqlite3.Connection], None]


# --- Migrations: append only; an applied migration is never edited. -------------------------


def m001_create_mappings(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE mappings (
            agent TEXT NOT NULL,
            key TEXT NOT NULL,
            provider TEXT NOT NULL,
            session_id TEXT,
            state TEXT NOT NULL,
            cwd TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_used_at TEXT,
            turns INTEGER NOT NULL DEFAULT 0,
            last_exit INTEGER,
            parent_agent TEXT,
            parent_key TEXT,
            parent_session_id TEXT,
            labels TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (agent, key)
        )
        """
    )
    # Newest first is the default listing order, so the time indexes run that way.
    db.execute("CREATE INDEX mappings_key ON mappings (key, agent)")
    db.execute(f"CREATE INDEX mappings_last_seen ON mappings ({LAST_SEEN} DESC, key, agent)")
    db.execute("CREATE INDEX mappings_created ON mappings (created_at DESC, key, agent)")
    db.execute("CREATE INDEX mappings_parent ON mappings (parent_agent, parent_key)")


def m002_add_host_agent_home_history(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE mappings ADD COLUMN host TEXT")
    db.execute("ALTER TABLE mappings ADD COLUMN agent_home TEXT")
    # JSON: a list of {"session_id", "ended_at", "reason"}, newest first, as Mapping.to_dict has it.
    db.execute("ALTER TABLE mappings ADD COLUMN history TEXT NOT NULL DEFAULT '[]'")


def m004_add_generation(db: sqlite3.Connection) -> None:
    # Rows from before count as generation 0: the next run's start raises it.
    db.execute("ALTER TABLE mappings ADD COLUMN generation INTEGER NOT NULL DEFAULT 0")


def m005_index_session_id(db: sqlite3.Connection) -> None:
    # `which`: a session id (or its prefix) back to its mapping, as an index range.
    db.execute("CREATE INDEX mappings_session_id ON mappings (session_id)")


def m006_create_started_sessions(db: sqlite3.Connection) -> None:
    # Found only by session id: WITHOUT ROWID keeps it one b-tree.
    db.execute(
        """
        CREATE TABLE started_sessions (
            session_id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            agent TEXT NOT NULL,
            key TEXT NOT NULL,
            host TEXT,
            agent_home TEXT,
            cwd TEXT,
            started_at TEXT NOT NULL
        ) WITHOUT ROWID
        """
    )


# --- The recorded schema ----------------------------------------------------------------------


def newer_schema(path: Path) -> NewerSchema:
    """The SQLite store's wording for a file written by a newer sessmap."""

    def error(version: int, latest: int) -> StoreError:
        return StoreError(
            f"{path} was written by a newer sessmap (schema {version}, this one knows {latest}); "
            "upgrade sessmap",
            reason="newer-schema",
            version=version,
            latest=latest,
        )

    return error


def applied_version(path: Path, applied: list[tuple[Any, Any]], migrations: Sequence[Migration]) -> int:
    """The newest version in ``applied`` (rows of ``sessmap_migrations``; 0: none), checked
    against ``migrations``: a newer schema or another history is refused (``StoreError``)."""
    if not applied:
        return 0
    newest = refuse_newer(max(int(version) for version, _ in applied), len(migrations), newer_schema(path))
    known = {version: migration.__name__ for version, migration in enumerate(migrations, start=1)}
    for version, name in applied:
        if known.get(version) != name:
            raise StoreError(f"{path} has an unknown schema history (migration {version} is {name!r})")
    return newest
