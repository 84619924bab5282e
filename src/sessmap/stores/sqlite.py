"""The default store: one SQLite file in WAL mode, migrated on open (SPEC §2).

Any number of processes may share the file: every read-modify-write runs inside
``BEGIN IMMEDIATE`` (the write lock is taken before reading, so no update is lost) and
waits up to ``BUSY_TIMEOUT`` for other writers. A file that is not a healthy sessmap store
of a schema this code knows is inspected read-only and refused, untouched.

The migrations and the check of a file's recorded history are in sqlite_schema.py; rows and
SQL text in sqlite_rows.py; reading a file without changing it in sqlite_file.py.
"""

from __future__ import annotations

import contextlib
import fnmatch
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessmap.errors import InvalidInput, SessmapError, StoreError
from sessmap.model import Mapping, format_timestamp, now
from sessmap.stores import locks
from sessmap.stores.base import (
    Closing,
    HeldLock,
    ImportResult,
    Keep,
    OnConflict,
    OnWait,
    Query,
    Removed,
    TranscriptStore,
    by_session_order,
    conflict,
    holds_session,
    not_found,
    renamed,
)
from sessmap.stores.migrations import migrate
from sessmap.stores.sqlite_file import BUSY_TIMEOUT, MIGRATIONS_TABLE, applied_migrations, while_busy
from sessmap.stores.sqlite_rows import (
    INSERT,
    PARENT_EXISTS,
    SELECT,
    UPDATE,
    UPSERT,
    from_row,
    prefix_upper_bound,
    select_statement,
    to_row,
    where_clause,
)
from sessmap.stores.sqlite_schema import (
    Migration,
    applied_version,
    m001_create_mappings,
    m002_add_host_agent_home_history,
    m004_add_generation,
    m005_index_session_id,
    m006_create_started_sessions,
    newer_schema,
)
from sessmap.stores.sqlite_transcripts import SQLiteTranscripts, m003_create_transcripts
from sessmap.validation import validate_key

if TYPE_CHECKING:
    from sessmap.stores.started import StartedSessions

__all__ = [
    "BUSY_TIMEOUT",
    "MIGRATIONS",
    "MIGRATIONS_TABLE",
    "SCHEMA_VERSION",
    "SQLiteStore",
    "prefix_upper_bound",
    "select_statement",
    "where_clause",
]

# Append only: an applied migration is never edited (sqlite_schema.py). Read at each use, so
# a test can pretend the code knows one more.
MIGRATIONS: tuple[Migration, ...] = (
    m001_create_mappings,
    m002_add_host_agent_home_history,
    m003_create_transcripts,  # in sqlite_transcripts.py, beside the code that uses its tables
    m004_add_generation,
    m005_index_session_id,
    m006_create_started_sessions,
)
SCHEMA_VERSION = len(MIGRATIONS)
_DELETE_BATCH = 1000
"""Rows ``delete_matching`` reads at a time: what its memory holds, whatever it deletes."""


def inspect_file(path: Path) -> int:
    """The schema version recorded in ``path`` (0: a new store), read without changing it.

    ``StoreError`` if the file is corrupt, truncated, another program's database, or newer.
    """
    return applied_version(path, applied_migrations(path), MIGRATIONS)


class SQLiteStore(Closing):
    """The mapping store in one SQLite file (``sqlite:PATH``)."""

    shared: bool = False
    reads_imports_unlocked = True  # staged in a TEMP table (sqlite_import.py)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:{path}"
        self._locks_dir = locks.locks_dir_for(path)
        locks.refuse_symlink(path)
        # SQLite would open a FIFO or a device at any of these, and block or act on it.
        for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"):
            locks.refuse_special(path.with_name(name))
        version = inspect_file(path)
        # SQLite in WAL mode writes even to read, so a read-only file is refused up front.
        locks.refuse_read_only(path)
        if not path.exists():
            locks.make_private_dir(path.parent)
            locks.create_private_file(path)
        self._db = self._connect()
        try:
            if version < SCHEMA_VERSION:
                self._migrate(version)
        except BaseException:
            self._db.close()
            raise
        self.schema_version = SCHEMA_VERSION
        self._transcripts = SQLiteTranscripts(self._db, self._transaction, self._errors)
        self.transcripts: TranscriptStore = self._transcripts
        self._started: StartedSessions | None = None

    @property
    def started(self) -> StartedSessions:
        if self._started is None:  # made on first use: a get, or an exec that resumes, needs none
            from sessmap.stores.started_sql import SQLiteStarted

            self._started = SQLiteStarted(self._db, self._transaction, self._errors)
        return self._started

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT.total_seconds())
        except sqlite3.Error as err:
            raise StoreError(f"cannot open {self.path}: {err}") from None
        try:
            while_busy(lambda: db.execute("PRAGMA journal_mode = WAL"))
            db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable at checkpoints, never corrupt
            db.create_function("sessmap_fnmatchcase", 2, fnmatch.fnmatchcase, deterministic=True)
        except sqlite3.Error as err:
            db.close()
            raise StoreError(f"cannot open {self.path}: {err}") from None
        return db

    def _migrate(self, version: int) -> None:
        """Apply what is missing, each migration with its record in one transaction."""
        named = [(migration.__name__, migration) for migration in MIGRATIONS]
        migrate(version, named, self._apply_migration, newer_schema(self.path))

    def _apply_migration(self, version: int, name: str, migration: Migration) -> None:
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS sessmap_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = db.execute("SELECT version, name FROM sessmap_migrations").fetchall()
            # Another process may have migrated since we looked.
            if version <= applied_version(self.path, applied, MIGRATIONS):
                return
            migration(db)
            db.execute(
                "INSERT INTO sessmap_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, format_timestamp(now())),
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: the write lock is held from the first read to the commit."""
        db = self._db
        with self._errors():
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            if db.in_transaction:  # the body may have rolled back on purpose
                db.execute("COMMIT")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as err:
            raise StoreError(f"{self.url}: {err}") from None

    def _read(self, row: tuple[Any, ...]) -> Mapping:
        try:
            return from_row(row)
        except InvalidInput as err:
            raise StoreError(
                f"{self.url}: stored mapping {row[1]!r} (agent {row[0]}) is damaged: {err}",
                reason="damaged-store",
                path=str(self.path),
            ) from None

    def _get(self, db: sqlite3.Connection, agent: str, key: str) -> Mapping | None:
        row = db.execute(f"{SELECT} WHERE agent = ? AND key = ?", (agent, key)).fetchone()
        return None if row is None else self._read(row)

    # --- the Store protocol ---

    def get(self, agent: str, key: str) -> Mapping | None:
        with self._errors():
            return self._get(self._db, agent, key)

    def insert(self, mapping: Mapping, *, replace: bool = False, require_parent: bool = False) -> None:
        row = to_row(mapping.validate())
        parent = mapping.parent
        if require_parent and parent is not None:
            # One write transaction with the parent's check: a rename cannot come in between.
            with self._transaction() as db:
                if db.execute(PARENT_EXISTS, (parent.agent, parent.key)).fetchone() is None:
                    raise not_found(parent.agent, parent.key)
                try:
                    db.execute(UPSERT if replace else INSERT, row)
                except sqlite3.IntegrityError:
                    raise conflict(mapping.agent, mapping.key) from None
            return
        with self._errors():
            if replace:
                self._db.execute(UPSERT, row)
                return
            try:
                self._db.execute(INSERT, row)
            except sqlite3.IntegrityError:
                raise conflict(mapping.agent, mapping.key) from None

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        with self._transaction() as db:
            current = self._get(db, agent, key)
            if current is None:
                raise not_found(agent, key)
            changed = change(current).validate()
            if (changed.agent, changed.key) != (agent, key):
                raise ValueError("update() must not change agent or key; use rename()")
            row = to_row(changed)
            db.execute(UPDATE, (*row[2:], agent, key))
        return changed

    def rename(self, agent: str, old_key: str, new_key: str, updated_at: datetime) -> Mapping:
        validate_key(new_key)
        with self._transaction() as db:
            current = self._get(db, agent, old_key)
            if current is None:
                raise not_found(agent, old_key)
            if self._get(db, agent, new_key) is not None:
                raise conflict(agent, new_key)
            # What the two UPDATEs below leave in the row (a fork of its own old key moves too).
            result = renamed(current, new_key, updated_at)
            db.execute(
                "UPDATE mappings SET key = ?, updated_at = ? WHERE agent = ? AND key = ?",
                (new_key, format_timestamp(updated_at), agent, old_key),
            )
            db.execute(
                "UPDATE mappings SET parent_key = ? WHERE parent_agent = ? AND parent_key = ?",
                (new_key, agent, old_key),
            )
        return result

    def delete(self, agent: str, key: str, expected: Mapping | None = None) -> Mapping | None:
        with self._transaction() as db:
            current = self._get(db, agent, key)
            if current is None or (expected is not None and current != expected):
                return None
            db.execute("DELETE FROM mappings WHERE agent = ? AND key = ?", (agent, key))
        locks.discard_thread_locks(self._locks_dir, [(agent, key)])
        return current

    def query(self, query: Query) -> Iterator[Mapping]:
        sql, params = select_statement(query)
        with self._errors():
            cursor = self._db.execute(sql, params)
            try:
                for row in cursor:
                    yield self._read(row)
            finally:
                cursor.close()

    def count(self, query: Query) -> int:
        where, params = where_clause(query)  # the glob too, with sessmap_fnmatchcase
        with self._errors():
            (found,) = self._db.execute(f"SELECT COUNT(*) FROM mappings{where}", params).fetchone()  # noqa: S608 - constants and parameters
        return int(found)

    def delete_matching(self, query: Query, keep: Keep | None = None, removed: Removed | None = None) -> int:
        # In batches, all in one write transaction (atomic as a whole), so memory holds one batch
        # whatever goes. Each batch is the first rows still matching (deleting while a SELECT on
        # the same table is stepping is undefined in SQLite), past the ones kept so far: with
        # the write lock held the scan order of the planner's index (last seen, for an age) is
        # stable, and the kept rows are the ones at its start.
        where, params = where_clause(query)
        page = f"{SELECT}{where} LIMIT {_DELETE_BATCH} OFFSET ?"
        count = kept = 0
        with self._transaction() as db:
            while rows := db.execute(page, [*params, kept]).fetchall():
                batch = [self._read(row) for row in rows]
                doomed = [m for m in batch if keep is None or not keep(m)]
                kept += len(batch) - len(doomed)
                db.executemany(
                    "DELETE FROM mappings WHERE agent = ? AND key = ?", [(m.agent, m.key) for m in doomed]
                )
                count += len(doomed)
                # Before the commit: a lock file gone with its row still there is made again by
                # the next run; a run locking meanwhile waits on this transaction, then finds none.
                locks.discard_thread_locks(self._locks_dir, ((m.agent, m.key) for m in doomed))
                if removed is not None:
                    for mapping in doomed:
                        removed(mapping)
        return count

    def by_session(self, prefix: str, limit: int) -> list[Mapping]:
        # Current ids: a range of the session_id index. Earlier ids live in the history JSON of
        # the few mappings that have one; instr() in SQLite picks the candidates, and
        # holds_session keeps those where an id, not some other field, starts with the prefix.
        bound = prefix_upper_bound(prefix)
        current = f"{SELECT} WHERE session_id >= ?" + (" AND session_id < ?" if bound else "")
        earlier = f"{SELECT} WHERE history <> '[]' AND instr(history, ?) > 0"
        with self._errors():
            params = (prefix, bound, limit) if bound else (prefix, limit)
            rows = self._db.execute(f"{current} ORDER BY key, agent LIMIT ?", params).fetchall()
            rows += self._db.execute(earlier, ('"' + prefix,)).fetchall()
        found = {(m.agent, m.key): m for m in map(self._read, rows) if holds_session(m, prefix)}
        return by_session_order(found.values(), limit)

    def insert_many(self, mappings: Iterable[Mapping], on_conflict: OnConflict) -> ImportResult:
        from sessmap.stores import sqlite_import  # only an import needs it

        with self._errors():
            return sqlite_import.insert_many(self._db, self._transaction, mappings, on_conflict)

    def thread_lock(
        self, agent: str, key: str, timeout: float | None, on_wait: OnWait | None = None
    ) -> AbstractContextManager[HeldLock]:
        return locks.thread_lock(self._locks_dir, agent, key, timeout, on_wait)

    def thread_busy(self, agent: str, key: str) -> bool:
        return locks.thread_busy(self._locks_dir, agent, key)

    def check(self) -> list[str]:
        problems: list[str] = []
        with self._errors():
            results = [str(line) for (line,) in self._db.execute("PRAGMA integrity_check")]
            if results != ["ok"]:
                problems.extend(f"SQLite integrity: {line}" for line in results)
            applied = self._db.execute("SELECT version, name FROM sessmap_migrations").fetchall()
            try:
                version = applied_version(self.path, applied, MIGRATIONS)
            except StoreError as err:
                problems.append(str(err))
            else:
                if version != SCHEMA_VERSION:
                    problems.append(f"schema version is {version}; expected {SCHEMA_VERSION}")
            for row in self._db.execute(SELECT):
                try:
                    from_row(row).validate()
                except (SessmapError, TypeError, ValueError) as err:
                    problems.append(f"mapping {row[1]!r} (agent {row[0]}): {err}")
            problems.extend(self._transcripts.check())
        return problems

    def close(self) -> None:
        self._db.close()
