"""The default store: one SQLite file in WAL mode, migrated on open (SPEC §2).

Any number of processes may share the file: every read-modify-write runs inside
``BEGIN IMMEDIATE`` (the write lock is taken before reading, so no update is lost) and
waits up to ``BUSY_TIMEOUT`` for other writers. A file that is not a healthy sessmap store
of a schema this code knows is inspected read-only and refused, untouched.
"""

from __future__ import annotations

import contextlib
import fnmatch
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Mapping as ReadOnlyDict
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sessmap.errors import Conflict, InvalidInput, NotFound, SessmapError, StoreError
from sessmap.model import (
    HistoryEntry,
    Mapping,
    Parent,
    State,
    format_timestamp,
    now,
    parse_timestamp,
    validate_key,
)
from sessmap.stores import locks
from sessmap.stores.base import HeldLock, ImportResult, OnConflict, OnWait, Query, TranscriptStore, renamed
from sessmap.stores.sqlite_transcripts import SQLiteTranscripts, m003_create_transcripts

BUSY_TIMEOUT = timedelta(seconds=30)
_SETTLE_SECONDS = 1.0  # how long a file that looks short may take to be whole (a checkpoint)
MIGRATIONS_TABLE = "sessmap_migrations"
_HEADER = b"SQLite format 3\x00"

# The age TTLs are measured from; indexed as this exact expression, so queries must use it verbatim.
LAST_SEEN = "COALESCE(last_used_at, created_at)"

Migration = Callable[[sqlite3.Connection], None]
T = TypeVar("T")


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


MIGRATIONS: tuple[Migration, ...] = (
    m001_create_mappings,
    m002_add_host_agent_home_history,
    m003_create_transcripts,  # in sqlite_transcripts.py, beside the code that uses its tables
    m004_add_generation,
)
SCHEMA_VERSION = len(MIGRATIONS)


# --- Rows ------------------------------------------------------------------------------------

_COLUMNS = (
    "agent",
    "key",
    "provider",
    "session_id",
    "state",
    "cwd",
    "created_at",
    "updated_at",
    "last_used_at",
    "turns",
    "last_exit",
    "parent_agent",
    "parent_key",
    "parent_session_id",
    "labels",
    "host",
    "agent_home",
    "history",
    "generation",
)
# Built from the constant column list above, never from input (hence the S608 waivers).
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM mappings"  # noqa: S608
_INSERT = f"INSERT INTO mappings ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"  # noqa: S608
_INSERT_NEW = f"{_INSERT} ON CONFLICT (agent, key) DO NOTHING"
_UPSERT = f"{_INSERT} ON CONFLICT (agent, key) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in _COLUMNS[2:]
)
_UPDATE = (
    "UPDATE mappings SET "  # noqa: S608
    + ", ".join(f"{column} = ?" for column in _COLUMNS[2:])
    + " WHERE agent = ? AND key = ?"
)
_ORDER_BY = {
    ("last-used", False): f"{LAST_SEEN} DESC, key, agent",
    ("last-used", True): f"{LAST_SEEN}, key, agent",
    ("created", False): "created_at DESC, key, agent",
    ("created", True): "created_at, key, agent",
    ("key", False): "key, agent",
    ("key", True): "key DESC, agent DESC",
}


def _to_row(mapping: Mapping) -> tuple[Any, ...]:
    parent = mapping.parent
    return (
        mapping.agent,
        mapping.key,
        mapping.provider,
        mapping.session_id,
        mapping.state,
        mapping.cwd,
        format_timestamp(mapping.created_at),
        format_timestamp(mapping.updated_at),
        format_timestamp(mapping.last_used_at) if mapping.last_used_at else None,
        mapping.turns,
        mapping.last_exit,
        parent.agent if parent else None,
        parent.key if parent else None,
        parent.session_id if parent else None,
        _labels_to_json(mapping.labels),
        mapping.host,
        mapping.agent_home,
        _history_to_json(mapping.history),
        mapping.generation,
    )


# json loads only for mappings with labels or history: most have none, and `get`/`exec` start
# faster without.


def _labels_to_json(labels: ReadOnlyDict[str, str]) -> str:
    if not labels:
        return "{}"
    import json

    return json.dumps(dict(labels), ensure_ascii=False, sort_keys=True)


def _labels_from_json(labels: Any) -> dict[str, str]:
    import json

    try:
        label_dict = json.loads(labels)
    except (TypeError, ValueError):
        raise InvalidInput(f"labels are not JSON: {labels!r}") from None
    if not isinstance(label_dict, dict):
        raise InvalidInput(f"labels are not a JSON object: {labels!r}")
    return label_dict


def _history_to_json(history: tuple[HistoryEntry, ...]) -> str:
    if not history:
        return "[]"
    import json

    return json.dumps([entry.to_dict() for entry in history], ensure_ascii=False)


def _history_from_json(history: Any) -> tuple[HistoryEntry, ...]:
    if history == "[]":
        return ()
    import json

    try:
        entries = json.loads(history)
    except (TypeError, ValueError):
        raise InvalidInput(f"history is not JSON: {history!r}") from None
    if not isinstance(entries, list):
        raise InvalidInput(f"history is not a JSON list: {history!r}")
    return tuple(HistoryEntry.from_dict(entry) for entry in entries)


def _from_row(row: tuple[Any, ...]) -> Mapping:
    """A Mapping from a stored row; ``InvalidInput`` if the row is damaged."""
    (agent, key, provider, session_id, state, cwd, created, updated, last_used, turns, last_exit) = row[:11]
    parent_agent, parent_key, parent_session_id, labels, host, agent_home, history, generation = row[11:]
    label_dict = {} if labels == "{}" else _labels_from_json(labels)
    state_value: State = state
    return Mapping(
        agent=agent,
        key=key,
        provider=provider,
        session_id=session_id,
        state=state_value,
        cwd=cwd,
        created_at=parse_timestamp(created),
        updated_at=parse_timestamp(updated),
        last_used_at=parse_timestamp(last_used) if last_used is not None else None,
        turns=turns,
        last_exit=last_exit,
        parent=Parent(parent_agent, parent_key, parent_session_id) if parent_key is not None else None,
        labels=label_dict,
        host=host,
        agent_home=agent_home,
        history=_history_from_json(history),
        generation=generation,
    )


# --- Queries: SQL text comes only from constants; every value is a parameter. -----------------


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: no bound).

    SQLite compares TEXT as UTF-8 bytes, which orders like code points, so
    ``prefix <= key < bound`` is exactly ``key.startswith(prefix)`` and runs as an index range.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000  # surrogates cannot be stored; skip them
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _glob_literal_prefix(pattern: str) -> str:
    for index, char in enumerate(pattern):
        if char in "*?[":
            return pattern[:index]
    return pattern


def _cutoff(moment: datetime) -> tuple[str, bool]:
    """Stored times are whole seconds: (cutoff text, whether it had a fraction cut off)."""
    return format_timestamp(moment), moment.microsecond != 0


def where_clause(query: Query) -> tuple[str, list[Any]]:
    """``WHERE …`` (or "") and its parameters for the filter half of ``query``."""
    clauses: list[str] = []
    params: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        clauses.append(sql)
        params.extend(values)

    def add_prefix(prefix: str) -> None:
        add("key >= ?", prefix)
        bound = prefix_upper_bound(prefix)
        if bound is not None:
            add("key < ?", bound)

    if query.agent is not None:
        add("agent = ?", query.agent)
    if query.provider is not None:
        add("provider = ?", query.provider)
    if query.prefix:
        add_prefix(query.prefix)
    if query.match is not None:
        if literal := _glob_literal_prefix(query.match):
            add_prefix(literal)
        # GLOB equals fnmatchcase for * and ?, not for brackets ([!a] vs [^a], an unclosed [).
        if "[" in query.match:
            add("sessmap_fnmatchcase(key, ?)", query.match)
        else:
            add("key GLOB ?", query.match)
    for name, value in query.labels:
        add(
            "EXISTS (SELECT 1 FROM json_each(mappings.labels) AS label"
            " WHERE label.key = ? AND label.value = ?)",
            name,
            value,
        )
    if query.seen_before is not None:
        text, fractional = _cutoff(query.seen_before)
        add(f"{LAST_SEEN} <= ?" if fractional else f"{LAST_SEEN} < ?", text)
    if query.seen_since is not None:
        text, fractional = _cutoff(query.seen_since)
        add(f"{LAST_SEEN} > ?" if fractional else f"{LAST_SEEN} >= ?", text)
    if query.state is not None:
        add("state = ?", query.state)
    if query.parent is not None:
        add("parent_agent = ? AND parent_key = ?", *query.parent)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def select_statement(query: Query) -> tuple[str, list[Any]]:
    where, params = where_clause(query)
    sql = f"{_SELECT}{where} ORDER BY {_ORDER_BY[query.sort, query.reverse]}"
    if query.limit is not None:
        sql += " LIMIT ?"
        params.append(max(query.limit, 0))
    return sql, params


# --- Opening safely --------------------------------------------------------------------------


def _while_busy(action: Callable[[], T]) -> T:
    """``action()``, retried for up to ``BUSY_TIMEOUT`` while another connection holds a lock.

    SQLite does not call the busy handler when a new file switches to WAL or while another
    connection recovers the WAL, so processes racing to open a fresh store would otherwise
    fail at once with "database is locked".
    """
    deadline = time.monotonic() + BUSY_TIMEOUT.total_seconds()
    delay = 0.001
    while True:
        try:
            return action()
        except sqlite3.OperationalError as err:
            busy = (err.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def inspect_file(path: Path) -> int:
    """The schema version recorded in ``path`` (0: a new store), read without changing it.

    ``StoreError`` if the file is corrupt, truncated, another program's database, or newer.
    """
    # Another process may be checkpointing: it grows the file and rewrites the header while we
    # look, and a moment later deletes the WAL. A file that only looks short while that happens
    # is looked at again; a truncated copy stays short.
    deadline = time.monotonic() + _SETTLE_SECONDS
    while True:
        read = _header(path)
        if read is None:
            return 0
        header, size = read
        if not _HEADER.startswith(header[: len(_HEADER)]):
            raise StoreError(
                f"{path} is not a sessmap store (not a SQLite database, or damaged); use another path"
            )
        if len(header) == 100 and _whole(path, header, size):
            break
        if time.monotonic() >= deadline:  # a short header is a file being created, for a moment
            if len(header) < 100:
                raise StoreError(
                    f"{path} is not a sessmap store (not a SQLite database, or damaged); use another path"
                )
            raise StoreError(
                f"{path} is truncated or corrupt ({size} bytes); restore it from a backup or use another path"
            )
        time.sleep(0.02)
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    if header[18] == 2 and not path.with_name(path.name + "-wal").exists():
        # A WAL database nobody has open: even a read-only connection would leave -wal and
        # -shm files behind, so read it as immutable and create nothing.
        uri += "&immutable=1"
    try:
        reader = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as err:
        raise StoreError(f"cannot open {path}: {err}") from None
    try:
        tables = _while_busy(lambda: _table_names(reader))
        if not tables:
            return 0
        if MIGRATIONS_TABLE not in tables:
            raise StoreError(
                f"{path} is not a sessmap store (a SQLite database with other tables); use another path"
            )
        applied = _while_busy(
            lambda: reader.execute("SELECT version, name FROM sessmap_migrations ORDER BY version").fetchall()
        )
    except sqlite3.OperationalError as err:
        raise StoreError(f"cannot open {path}: {err}") from None
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{path} is corrupt ({err}); restore it from a backup or use another path") from None
    finally:
        reader.close()
    return _applied_version(path, applied)


def _table_names(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _header(path: Path) -> tuple[bytes, int] | None:
    """The first 100 bytes and the size (taken after them), or None for a missing or empty file."""
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StoreError(f"cannot read {path}: {err.strerror}") from None
    return (header, size) if header else None  # empty: a new store, or one just being created


def _whole(path: Path, header: bytes, size: int) -> bool:
    """The file is as long as its header says, or a WAL holds the rest (a truncated copy is not)."""
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return True  # a checkpoint may have been cut short; SQLite recovers it from the WAL
    page_size = int.from_bytes(header[16:18], "big")  # header fields are big-endian
    page_size = 65536 if page_size == 1 else page_size
    change_counter = int.from_bytes(header[24:28], "big")
    page_count = int.from_bytes(header[28:32], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    if page_size < 512 or size % page_size != 0:
        return False
    return not (valid_for == change_counter and size < page_count * page_size)


def _applied_version(path: Path, applied: list[tuple[Any, Any]]) -> int:
    if not applied:
        return 0
    newest = max(int(version) for version, _ in applied)
    if newest > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer sessmap (schema {newest}, this one knows {SCHEMA_VERSION}); "
            "upgrade sessmap"
        )
    known = {version: migration.__name__ for version, migration in enumerate(MIGRATIONS, start=1)}
    for version, name in applied:
        if known.get(version) != name:
            raise StoreError(f"{path} has an unknown schema history (migration {version} is {name!r})")
    return newest


class SQLiteStore:
    """The mapping store in one SQLite file (``sqlite:PATH``)."""

    shared: bool = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:{path}"
        self._locks_dir = locks.locks_dir_for(path)
        locks.refuse_symlink(path)
        version = inspect_file(path)
        # SQLite in WAL mode writes even to read, so a read-only file is refused up front.
        locks.refuse_read_only(path)
        if not path.exists():
            locks.make_private_dir(path.parent)
            locks.create_private_file(path)
        self._db = self._connect()
        try:
            if version < SCHEMA_VERSION:
                self._migrate()
        except BaseException:
            self._db.close()
            raise
        self.schema_version = SCHEMA_VERSION
        self._transcripts = SQLiteTranscripts(self._db, self._transaction, self._errors)
        self.transcripts: TranscriptStore = self._transcripts

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT.total_seconds())
        except sqlite3.Error as err:
            raise StoreError(f"cannot open {self.path}: {err}") from None
        try:
            _while_busy(lambda: db.execute("PRAGMA journal_mode = WAL"))
            db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable at checkpoints, never corrupt
            db.create_function("sessmap_fnmatchcase", 2, fnmatch.fnmatchcase, deterministic=True)
        except sqlite3.Error as err:
            db.close()
            raise StoreError(f"cannot open {self.path}: {err}") from None
        return db

    def _migrate(self) -> None:
        """Apply what is missing, each migration with its record in one transaction."""
        for version, migration in enumerate(MIGRATIONS, start=1):
            with self._transaction() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS sessmap_migrations "
                    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                applied = db.execute("SELECT version, name FROM sessmap_migrations").fetchall()
                # Another process may have migrated since we looked.
                if version <= _applied_version(self.path, applied):
                    continue
                migration(db)
                db.execute(
                    "INSERT INTO sessmap_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, migration.__name__, format_timestamp(now())),
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
            return _from_row(row)
        except InvalidInput as err:
            raise StoreError(
                f"{self.url}: stored mapping {row[1]!r} (agent {row[0]}) is damaged: {err}",
                hint="run `sessmap doctor`",
            ) from None

    def _get(self, db: sqlite3.Connection, agent: str, key: str) -> Mapping | None:
        row = db.execute(f"{_SELECT} WHERE agent = ? AND key = ?", (agent, key)).fetchone()
        return None if row is None else self._read(row)

    # --- the Store protocol ---

    def get(self, agent: str, key: str) -> Mapping | None:
        with self._errors():
            return self._get(self._db, agent, key)

    def insert(self, mapping: Mapping, *, replace: bool = False) -> None:
        row = _to_row(mapping.validate())
        with self._errors():
            if replace:
                self._db.execute(_UPSERT, row)
                return
            try:
                self._db.execute(_INSERT, row)
            except sqlite3.IntegrityError:
                raise Conflict(f"mapping {mapping.key!r} (agent {mapping.agent}) exists already") from None

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        with self._transaction() as db:
            current = self._get(db, agent, key)
            if current is None:
                raise NotFound(f"no mapping for {key!r} (agent {agent})")
            changed = change(current).validate()
            if (changed.agent, changed.key) != (agent, key):
                raise ValueError("update() must not change agent or key; use rename()")
            row = _to_row(changed)
            db.execute(_UPDATE, (*row[2:], agent, key))
        return changed

    def rename(self, agent: str, old_key: str, new_key: str, updated_at: datetime) -> Mapping:
        validate_key(new_key)
        with self._transaction() as db:
            current = self._get(db, agent, old_key)
            if current is None:
                raise NotFound(f"no mapping for {old_key!r} (agent {agent})")
            if self._get(db, agent, new_key) is not None:
                raise Conflict(f"mapping {new_key!r} (agent {agent}) exists already")
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

    def delete(self, agent: str, key: str) -> Mapping | None:
        with self._transaction() as db:
            current = self._get(db, agent, key)
            if current is not None:
                db.execute("DELETE FROM mappings WHERE agent = ? AND key = ?", (agent, key))
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

    def delete_matching(self, query: Query) -> list[Mapping]:
        # Set-based: read what goes, then one DELETE with the same WHERE (both on the same index);
        # the write lock held since BEGIN IMMEDIATE keeps the two in agreement.
        where, params = where_clause(query)
        with self._transaction() as db:
            doomed = [self._read(row) for row in db.execute(f"{_SELECT}{where}", params)]
            db.execute(f"DELETE FROM mappings{where}", params)  # noqa: S608 - constants and parameters
        return doomed

    def insert_many(self, mappings: Iterable[Mapping], on_conflict: OnConflict) -> ImportResult:
        inserted = replaced = skipped = 0
        conflicts: list[tuple[str, str]] = []
        with self._transaction() as db:
            for mapping in mappings:
                row = _to_row(mapping.validate())
                # One statement for a new row (the common case); rowcount 0 means it exists.
                if db.execute(_INSERT_NEW, row).rowcount:
                    inserted += 1
                elif on_conflict == "replace":
                    db.execute(_UPSERT, row)
                    replaced += 1
                elif on_conflict == "skip":
                    skipped += 1
                else:
                    conflicts.append((mapping.agent, mapping.key))
            if conflicts:
                db.execute("ROLLBACK")  # all or nothing: the conflicts are the whole answer
                return ImportResult(conflicts=tuple(conflicts))
        return ImportResult(inserted=inserted, replaced=replaced, skipped=skipped)

    def thread_lock(
        self, agent: str, key: str, timeout: float | None, on_wait: OnWait | None = None
    ) -> AbstractContextManager[HeldLock]:
        return locks.thread_lock(self._locks_dir, agent, key, timeout, on_wait)

    def check(self) -> list[str]:
        problems: list[str] = []
        with self._errors():
            results = [str(line) for (line,) in self._db.execute("PRAGMA integrity_check")]
            if results != ["ok"]:
                problems.extend(f"SQLite integrity: {line}" for line in results)
            applied = self._db.execute("SELECT version, name FROM sessmap_migrations").fetchall()
            try:
                version = _applied_version(self.path, applied)
            except StoreError as err:
                problems.append(str(err))
            else:
                if version != SCHEMA_VERSION:
                    problems.append(f"schema version is {version}; expected {SCHEMA_VERSION}")
            for row in self._db.execute(_SELECT):
                try:
                    _from_row(row).validate()
                except (SessmapError, TypeError, ValueError) as err:
                    problems.append(f"mapping {row[1]!r} (agent {row[0]}): {err}")
            problems.extend(self._transcripts.check())
        return problems

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
