"""The SQLite store's copy of transcripts (SPEC §7): one row per JSONL line, one per transcript.

``transcript_entries`` holds the lines under ``(project_key, session_id, subpath, seq)``;
``transcripts`` what ``info`` answers without reading them (lines, size, tail, mtime_ms);
``transcript_summaries`` the SDK's summary sidecar per session. An append is one
``BEGIN IMMEDIATE`` transaction, so concurrent appenders queue and a batch is never split.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sessmap.errors import InvalidInput
from sessmap.stores.base import TAIL_BYTES, TranscriptInfo, TranscriptKey, next_tail

if TYPE_CHECKING:
    import sqlite3  # the connection is the store's; the JSON store borrows the line helpers

# Lines per executemany, and rows per page of a read or listing: memory stays bounded by a
# batch or a page, whatever the transcript's length. Bytes cap a batch of unusually long lines
# (tool results can be MBs).
BATCH_LINES = 500
BATCH_BYTES = 1 << 20
PAGE_ROWS = 128


# --- Migration (listed in sqlite.MIGRATIONS; append only, never edited once released) --------


def m003_create_transcripts(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE transcript_entries (
            project_key TEXT NOT NULL,
            session_id TEXT NOT NULL,
            subpath TEXT NOT NULL,
            seq INTEGER NOT NULL,
            line BLOB NOT NULL,
            PRIMARY KEY (project_key, session_id, subpath, seq)
        )
        """
    )
    # Found only by key: WITHOUT ROWID keeps each table one b-tree, not a table and its key
    # index (a store's first pages count: an empty store is 16 pages, 64 KiB). The entries keep
    # their rowid: long lines sit better in a table b-tree than in an index.
    db.execute(
        """
        CREATE TABLE transcripts (
            project_key TEXT NOT NULL,
            session_id TEXT NOT NULL,
            subpath TEXT NOT NULL,
            lines INTEGER NOT NULL,
            size INTEGER NOT NULL,
            tail BLOB NOT NULL,
            mtime_ms INTEGER NOT NULL,
            PRIMARY KEY (project_key, session_id, subpath)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE transcript_summaries (
            project_key TEXT NOT NULL,
            session_id TEXT NOT NULL,
            summary TEXT NOT NULL,
            PRIMARY KEY (project_key, session_id)
        ) WITHOUT ROWID
        """
    )
    # projects_of() looks a session up without its project: these keep it a search.
    db.execute("CREATE INDEX transcripts_session ON transcripts (session_id, project_key)")
    db.execute("CREATE INDEX transcript_summaries_session ON transcript_summaries (session_id, project_key)")


# --- SQL: constants only; every value is a parameter. ----------------------------------------

_INFO_COLUMNS = "project_key, session_id, subpath, lines, size, tail, mtime_ms"
_SELECT_INFO = f"SELECT {_INFO_COLUMNS} FROM transcripts"  # noqa: S608 - constants only
_INFO = f"{_SELECT_INFO} WHERE project_key = ? AND session_id = ? AND subpath = ?"
_SESSIONS = f"{_SELECT_INFO} WHERE project_key = ? AND subpath = '' ORDER BY session_id"
_SAVE_INFO = (
    f"INSERT INTO transcripts ({_INFO_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
    " ON CONFLICT (project_key, session_id, subpath) DO UPDATE SET"
    " lines = excluded.lines, size = excluded.size, tail = excluded.tail, mtime_ms = excluded.mtime_ms"
)
_INSERT_ENTRY = (
    "INSERT INTO transcript_entries (project_key, session_id, subpath, seq, line) VALUES (?, ?, ?, ?, ?)"
)
# Rows past what the info row counts exist only if the file was tampered with; they would
# collide with the seq numbers of this append, so they go first.
_DROP_UNCOUNTED = (
    "DELETE FROM transcript_entries WHERE project_key = ? AND session_id = ? AND subpath = ? AND seq >= ?"
)
_PAGE = (
    "SELECT seq, line FROM transcript_entries"
    " WHERE project_key = ? AND session_id = ? AND subpath = ? AND seq >= ? ORDER BY seq LIMIT ?"
)
_SUBPATHS = (
    "SELECT subpath FROM transcripts WHERE project_key = ? AND session_id = ? AND subpath <> ''"
    " ORDER BY subpath"
)
_DELETE_SESSION = (
    "DELETE FROM transcript_entries WHERE project_key = ? AND session_id = ?",
    "DELETE FROM transcripts WHERE project_key = ? AND session_id = ?",
    "DELETE FROM transcript_summaries WHERE project_key = ? AND session_id = ?",
)
_DELETE_SIDE_FILE = (
    "DELETE FROM transcript_entries WHERE project_key = ? AND session_id = ? AND subpath = ?",
    "DELETE FROM transcripts WHERE project_key = ? AND session_id = ? AND subpath = ?",
)
_SET_SUMMARY = (
    "INSERT INTO transcript_summaries (project_key, session_id, summary) VALUES (?, ?, ?)"
    " ON CONFLICT (project_key, session_id) DO UPDATE SET summary = excluded.summary"
)
_SUMMARIES = "SELECT summary FROM transcript_summaries WHERE project_key = ? ORDER BY session_id"
_PROJECTS_OF = (
    "SELECT project_key FROM transcripts WHERE session_id = ?"
    " UNION SELECT project_key FROM transcript_summaries WHERE session_id = ? ORDER BY project_key"
)
_STORED = (
    "SELECT project_key, session_id FROM transcripts"
    " UNION SELECT project_key, session_id FROM transcript_summaries"
    " ORDER BY project_key, session_id LIMIT ?"
)
_STORED_AFTER = (
    "SELECT project_key, session_id FROM transcripts WHERE (project_key, session_id) > (?, ?)"
    " UNION SELECT project_key, session_id FROM transcript_summaries WHERE (project_key, session_id) > (?, ?)"
    " ORDER BY project_key, session_id LIMIT ?"
)
# Cheap: one index seek per transcript, never a scan of the entries.
_COUNTS = (
    "SELECT project_key, session_id, subpath, lines, (SELECT max(seq) + 1 FROM transcript_entries AS e"
    " WHERE e.project_key = t.project_key AND e.session_id = t.session_id AND e.subpath = t.subpath)"
    " FROM transcripts AS t"
)


# --- Line handling, shared with the JSON store's transcript files -----------------------------


def utf8(text: str) -> str:
    """``text`` if a store can keep it: they keep UTF-8, which a lone surrogate cannot be."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"{text[:60]!r} is not valid Unicode (undecodable bytes?)") from None
    return text


def batches(lines: Iterable[bytes]) -> Iterator[list[bytes]]:
    """``lines`` in lists of at most ``BATCH_LINES`` lines or about ``BATCH_BYTES`` bytes,
    pulled as needed; ``InvalidInput`` for a line with a newline (it would read back as two)."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if b"\n" in line:
            raise InvalidInput(f"transcript line {line[:60]!r}… contains a newline; entries are single lines")
        batch.append(line)
        size += len(line)
        if len(batch) >= BATCH_LINES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def tail_after(tail: bytes, batch: list[bytes]) -> bytes:
    """``next_tail`` joining only the lines that reach into the new tail, not the whole batch."""
    start, reach = len(batch), 0
    while start > 0 and reach < TAIL_BYTES:
        start -= 1
        reach += len(batch[start]) + 1
    return next_tail(tail if reach < TAIL_BYTES else b"", batch[start:])


def _parts(key: TranscriptKey) -> tuple[str, str, str]:
    return utf8(key.project_key), utf8(key.session_id), utf8(key.subpath)


def _info(row: tuple[Any, ...]) -> TranscriptInfo:
    project_key, session_id, subpath, lines, size, tail, mtime_ms = row
    return TranscriptInfo(TranscriptKey(project_key, session_id, subpath), lines, size, bytes(tail), mtime_ms)


class SQLiteTranscripts:
    """``Store.transcripts`` of a SQLiteStore, on its connection and transactions."""

    def __init__(
        self,
        db: sqlite3.Connection,
        transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
        errors: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._db = db
        self._transaction = transaction
        self._errors = errors

    def append(self, key: TranscriptKey, lines: Iterable[bytes]) -> TranscriptInfo | None:
        parts = _parts(key)
        stream = iter(lines)
        first = next(stream, None)
        if first is None:
            return self.info(key)  # nothing to add: no write lock taken
        with self._transaction() as db:
            row = db.execute(_INFO, parts).fetchone()
            count, size, tail, previous_ms = (0, 0, b"", 0) if row is None else row[3:]
            tail = bytes(tail)
            db.execute(_DROP_UNCOUNTED, (*parts, count))
            for batch in batches(itertools.chain((first,), stream)):
                db.executemany(_INSERT_ENTRY, ((*parts, count + n, line) for n, line in enumerate(batch)))
                count += len(batch)
                size += sum(len(line) for line in batch) + len(batch)
                tail = tail_after(tail, batch)
            # The store's clock, never behind the previous append: SDK clients order by mtime.
            mtime_ms = max(int(time.time() * 1000), previous_ms + 1)
            db.execute(_SAVE_INFO, (*parts, count, size, tail, mtime_ms))
        return TranscriptInfo(key, count, size, tail, mtime_ms)

    def info(self, key: TranscriptKey) -> TranscriptInfo | None:
        with self._errors():
            row = self._db.execute(_INFO, _parts(key)).fetchone()
        return None if row is None else _info(row)

    def read(self, key: TranscriptKey, start: int = 0) -> Iterator[bytes]:
        # Page by seq rather than hold one cursor open across yields: a pending SELECT pins a
        # read snapshot, and a write on this connection meanwhile (copying one transcript
        # into another, cleanup while listing) fails with "database is locked" as soon as
        # another process has committed since.
        parts = _parts(key)
        seq = max(start, 0)
        while True:
            with self._errors():
                rows = self._db.execute(_PAGE, (*parts, seq, PAGE_ROWS)).fetchall()
            for _, line in rows:
                yield bytes(line)
            if len(rows) < PAGE_ROWS:
                return
            seq = rows[-1][0] + 1

    def sessions(self, project_key: str) -> list[TranscriptInfo]:
        with self._errors():
            return [_info(row) for row in self._db.execute(_SESSIONS, (utf8(project_key),))]

    def subpaths(self, project_key: str, session_id: str) -> list[str]:
        parts = (utf8(project_key), utf8(session_id))
        with self._errors():
            return [subpath for (subpath,) in self._db.execute(_SUBPATHS, parts)]

    def delete(self, key: TranscriptKey) -> None:
        parts = _parts(key)
        with self._transaction() as db:
            if key.subpath:
                for statement in _DELETE_SIDE_FILE:
                    db.execute(statement, parts)
            else:
                for statement in _DELETE_SESSION:
                    db.execute(statement, parts[:2])

    def set_summary(self, project_key: str, session_id: str, summary: str) -> None:
        parts = (utf8(project_key), utf8(session_id), utf8(summary))
        with self._errors():
            self._db.execute(_SET_SUMMARY, parts)

    def summaries(self, project_key: str) -> list[str]:
        with self._errors():
            return [text for (text,) in self._db.execute(_SUMMARIES, (utf8(project_key),))]

    def projects_of(self, session_id: str) -> list[str]:
        session_id = utf8(session_id)
        with self._errors():
            return [project for (project,) in self._db.execute(_PROJECTS_OF, (session_id, session_id))]

    def stored(self) -> Iterator[tuple[str, str]]:
        # Paged for the reason read() is: cleanup deletes while it walks this.
        last: tuple[str, str] | None = None
        while True:
            with self._errors():
                if last is None:
                    rows = self._db.execute(_STORED, (PAGE_ROWS,)).fetchall()
                else:
                    rows = self._db.execute(_STORED_AFTER, (*last, *last, PAGE_ROWS)).fetchall()
            yield from rows
            if len(rows) < PAGE_ROWS:
                return
            last = rows[-1]

    def check(self) -> list[str]:
        """Transcripts whose info row counts other than the lines stored (a hand-edited file)."""
        problems: list[str] = []
        for project_key, session_id, subpath, lines, stored in self._db.execute(_COUNTS):
            if (stored or 0) != lines:
                where = f"{project_key}/{session_id}" + (f"/{subpath}" if subpath else "")
                problems.append(f"transcript {where!r}: its info counts {lines} lines, {stored or 0} stored")
        return problems
