"""The PostgreSQL store's transcripts (SPEC §7), in two tables of the store's schema.

* ``transcripts``: one row per transcript, primary key ``(project_key, session_id, subpath)``
  (``subpath`` "" is the main transcript) with ``lines``, ``size``, ``tail``, ``mtime_ms`` and,
  on a main row only, the session's ``summary``. A row with ``lines = 0`` holds only a summary
  set before anything was appended; it is no transcript. The index ``transcripts_by_session``
  (session_id, project_key) answers ``projects_of`` without a scan.
* ``transcript_entries``: one row per line, primary key ``(project_key, session_id, subpath,
  seq)``, ``seq`` being the 0-based line number, ``line`` the exact bytes (no newline).

An append is one transaction. Its upsert of the transcript's row locks that row, so appenders
on any host queue there, each one's lines take the ``seq`` range after the previous one's, and
readers see a call's lines all at once or not at all. Lines stream in with binary COPY.
A delete removes the ``transcripts`` rows first: waiting on an appender's row lock there
orders it after that append, so the entries delete that follows sees and removes its lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, LiteralString, cast

from psycopg import sql

from sessmap.errors import InvalidInput, StoreError
from sessmap.stores.base import TAIL_BYTES, TranscriptInfo, TranscriptKey

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[tuple[Any, ...]]
    Cursor = psycopg.Cursor[tuple[Any, ...]]

# Rows per FETCH of a read. Lines are usually a few kB, but one holding a pasted image can be
# megabytes, so a batch stays small rather than matching the mapping stream's.
READ_BATCH = 256

# The store's clock, so hosts with skewed clocks still agree on the order of appends.
_NOW_MS: LiteralString = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
_KEY: LiteralString = "project_key = %s AND session_id = %s AND subpath = %s"
_INFO_COLUMNS: LiteralString = "lines, size, tail, mtime_ms"


def create_transcript_tables(cursor: Cursor, schema: sql.Identifier) -> None:
    """Migration: the tables in the module docstring."""
    # COLLATE "C": listings come back in code-point order, as Python sorts str.
    statements: list[LiteralString] = [
        """CREATE TABLE {schema}.transcripts (
            project_key text COLLATE "C" NOT NULL,
            session_id text COLLATE "C" NOT NULL,
            subpath text COLLATE "C" NOT NULL,
            lines bigint NOT NULL CHECK (lines >= 0),
            size bigint NOT NULL CHECK (size >= 0),
            tail bytea NOT NULL,
            mtime_ms bigint NOT NULL,
            summary text,
            PRIMARY KEY (project_key, session_id, subpath),
            CHECK (summary IS NULL OR subpath = '')
        )""",
        "CREATE INDEX transcripts_by_session ON {schema}.transcripts (session_id, project_key)",
        """CREATE TABLE {schema}.transcript_entries (
            project_key text COLLATE "C" NOT NULL,
            session_id text COLLATE "C" NOT NULL,
            subpath text COLLATE "C" NOT NULL,
            seq bigint NOT NULL CHECK (seq >= 0),
            line bytea NOT NULL,
            PRIMARY KEY (project_key, session_id, subpath, seq)
        )""",
    ]
    for statement in statements:
        cursor.execute(sql.SQL(statement).format(schema=schema))


class PostgresTranscripts:
    """``PostgresStore.transcripts``: a TranscriptStore on the store's own connection."""

    def __init__(
        self,
        connection: Callable[[], Connection],
        errors: Callable[[], AbstractContextManager[None]],
        schema: str,
    ) -> None:
        self._connection = connection
        self._errors = errors
        self._info = sql.Identifier(schema, "transcripts")
        self._entries = sql.Identifier(schema, "transcript_entries")
        self._cursor_names = itertools.count()

    def _sql(self, text: LiteralString) -> sql.Composed:
        return sql.SQL(text).format(
            info=self._info,
            entries=self._entries,
            key=sql.SQL(_KEY),
            info_columns=sql.SQL(_INFO_COLUMNS),
            now_ms=sql.SQL(_NOW_MS),
        )

    def append(self, key: TranscriptKey, lines: Iterable[bytes]) -> TranscriptInfo | None:
        params = _params(key)
        iterator = iter(lines)
        first = next(iterator, None)
        if first is None:
            return self.info(key)  # nothing to add: no write, and mtime_ms stays put
        connection = self._connection()
        with self._errors(), connection.transaction(), connection.cursor() as cursor:
            # The no-op update still locks an existing row (and the insert a new one) until
            # commit: the queue every concurrent appender of this transcript waits in.
            cursor.execute(
                self._sql(
                    "INSERT INTO {info} (project_key, session_id, subpath, lines, size, tail, mtime_ms)"
                    " VALUES (%s, %s, %s, 0, 0, '', 0)"
                    " ON CONFLICT (project_key, session_id, subpath) DO UPDATE SET lines = {info}.lines"
                    " RETURNING lines, size, tail"
                ),
                params,
            )
            locked = _one(cursor.fetchone())
            start, size, old_tail = int(locked[0]), int(locked[1]), bytes(locked[2])
            seq, tail = start, bytearray(old_tail)
            with cursor.copy(
                self._sql(
                    "COPY {entries} (project_key, session_id, subpath, seq, line) FROM STDIN (FORMAT BINARY)"
                )
            ) as copy:
                copy.set_types(["text", "text", "text", "int8", "bytea"])
                for line in itertools.chain((first,), iterator):
                    copy.write_row((*params, seq, line))
                    seq += 1
                    size += len(line) + 1
                    _grow_tail(tail, line)
            cursor.execute(
                self._sql(
                    "UPDATE {info} SET lines = %s, size = %s, tail = %s,"
                    " mtime_ms = greatest({now_ms}, mtime_ms + 1)"
                    " WHERE {key} RETURNING {info_columns}"
                ),
                (seq, size, bytes(tail[-TAIL_BYTES:]), *params),
            )
            row = _one(cursor.fetchone())
        return _info(key, row)

    def info(self, key: TranscriptKey) -> TranscriptInfo | None:
        with self._errors():
            statement = self._sql("SELECT {info_columns} FROM {info} WHERE {key} AND lines > 0")
            row = self._connection().execute(statement, _params(key)).fetchone()
        return _info(key, row) if row else None

    def read(self, key: TranscriptKey, start: int = 0) -> Iterator[bytes]:
        statement = self._sql("SELECT line FROM {entries} WHERE {key} AND seq >= %s ORDER BY seq")
        for (line,) in self._stream(statement, (*_params(key), max(0, start))):
            yield line

    def _stream(self, statement: sql.Composed, params: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        name = f"sessmap_transcript_{next(self._cursor_names)}"
        # WITH HOLD, as the store's query(): the caller may append (to this transcript or
        # another) through the same store while it reads, and abandoning the read rolls
        # nothing back. Binary: bytea arrives as it is, not as hex text twice its size.
        with self._errors(), self._connection().cursor(name, withhold=True, binary=True) as cursor:
            cursor.itersize = READ_BATCH
            cursor.execute(statement, params)
            yield from cursor

    def sessions(self, project_key: str) -> list[TranscriptInfo]:
        _check_part(project_key, "project key")
        with self._errors():
            rows = (
                self._connection()
                .execute(
                    self._sql(
                        "SELECT session_id, {info_columns} FROM {info}"
                        " WHERE project_key = %s AND subpath = '' AND lines > 0 ORDER BY session_id"
                    ),
                    (project_key,),
                )
                .fetchall()
            )
        return [_info(TranscriptKey(project_key, row[0]), row[1:]) for row in rows]

    def subpaths(self, project_key: str, session_id: str) -> list[str]:
        params = _params(TranscriptKey(project_key, session_id))[:2]
        with self._errors():
            rows = (
                self._connection()
                .execute(
                    self._sql(
                        "SELECT subpath FROM {info} WHERE project_key = %s AND session_id = %s"
                        " AND subpath <> '' AND lines > 0 ORDER BY subpath"
                    ),
                    params,
                )
                .fetchall()
            )
        return [row[0] for row in rows]

    def delete(self, key: TranscriptKey) -> None:
        params = _params(key)
        if key.subpath == "":
            # A main transcript takes the whole session with it: side files and summary too.
            statements = (
                "DELETE FROM {info} WHERE project_key = %s AND session_id = %s",
                "DELETE FROM {entries} WHERE project_key = %s AND session_id = %s",
            )
            chosen: tuple[str, ...] = params[:2]
        else:
            statements = ("DELETE FROM {info} WHERE {key}", "DELETE FROM {entries} WHERE {key}")
            chosen = params
        connection = self._connection()
        with self._errors(), connection.transaction():
            # Rows first, entries second: see the module docstring.
            for statement in statements:
                connection.execute(self._sql(statement), chosen)

    def set_summary(self, project_key: str, session_id: str, summary: str) -> None:
        params = _params(TranscriptKey(project_key, session_id))
        with self._errors():
            self._connection().execute(
                self._sql(
                    "INSERT INTO {info}"
                    " (project_key, session_id, subpath, lines, size, tail, mtime_ms, summary)"
                    " VALUES (%s, %s, %s, 0, 0, '', {now_ms}, %s)"
                    " ON CONFLICT (project_key, session_id, subpath) DO UPDATE SET summary = EXCLUDED.summary"
                ),
                (*params, summary),
            )

    def summaries(self, project_key: str) -> list[str]:
        _check_part(project_key, "project key")
        with self._errors():
            rows = (
                self._connection()
                .execute(
                    self._sql(
                        "SELECT summary FROM {info} WHERE project_key = %s AND subpath = ''"
                        " AND summary IS NOT NULL ORDER BY session_id"
                    ),
                    (project_key,),
                )
                .fetchall()
            )
        return [row[0] for row in rows]

    def projects_of(self, session_id: str) -> list[str]:
        _check_part(session_id, "session id")
        with self._errors():
            rows = (
                self._connection()
                .execute(
                    self._sql(
                        "SELECT DISTINCT project_key FROM {info} WHERE session_id = %s ORDER BY project_key"
                    ),
                    (session_id,),
                )
                .fetchall()
            )
        return [row[0] for row in rows]

    def stored(self) -> Iterator[tuple[str, str]]:
        statement = self._sql(
            "SELECT DISTINCT project_key, session_id FROM {info} ORDER BY project_key, session_id"
        )
        # Rows of two text columns: exactly the pairs promised.
        yield from cast("Iterator[tuple[str, str]]", self._stream(statement, ()))

    def problems(self) -> list[str]:
        """Transcripts whose entries disagree with their line count, for ``doctor``.

        Two index probes per transcript (the last line is there, none after it) rather than
        counting every line of every transcript.
        """
        statement = self._sql(
            "SELECT project_key, session_id, subpath, lines FROM {info} t WHERE lines > 0 AND ("
            " NOT EXISTS (SELECT 1 FROM {entries} e WHERE e.project_key = t.project_key"
            "  AND e.session_id = t.session_id AND e.subpath = t.subpath AND e.seq = t.lines - 1)"
            " OR EXISTS (SELECT 1 FROM {entries} e WHERE e.project_key = t.project_key"
            "  AND e.session_id = t.session_id AND e.subpath = t.subpath AND e.seq = t.lines))"
            " ORDER BY project_key, session_id, subpath"
        )
        return [
            f"transcript {TranscriptKey(project, session, subpath)!r}: its entries do not match its"
            f" {lines} recorded line(s)"
            for project, session, subpath, lines in self._stream(statement, ())
        ]


def _grow_tail(tail: bytearray, line: bytes) -> None:
    """Roll ``tail`` on past ``line`` and its newline, keeping at least TAIL_BYTES of the end."""
    if len(line) >= TAIL_BYTES:
        tail[:] = line[1 - TAIL_BYTES :] + b"\n"  # a long line alone fills the tail: skip copying it
        return
    tail += line
    tail += b"\n"
    if len(tail) > 2 * TAIL_BYTES:
        del tail[:-TAIL_BYTES]


def _check_part(part: str, name: str) -> None:
    # PostgreSQL text holds neither NUL nor lone surrogates (undecodable file names).
    if "\0" in part:
        raise InvalidInput(f"transcript {name} {part!r} contains a NUL character")
    try:
        part.encode()
    except UnicodeEncodeError:
        raise InvalidInput(f"transcript {name} {part!r} is not valid Unicode") from None


def _params(key: TranscriptKey) -> tuple[str, str, str]:
    _check_part(key.project_key, "project key")
    _check_part(key.session_id, "session id")
    _check_part(key.subpath, "subpath")
    return key.project_key, key.session_id, key.subpath


def _one(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    # An upsert's RETURNING always yields its row, and the row stays locked by the append's
    # transaction until the UPDATE: None means something outside sessmap is at work.
    if row is None:
        raise StoreError("a transcript row vanished while this append held it locked")
    return row


def _info(key: TranscriptKey, row: Any) -> TranscriptInfo:
    lines, size, tail, mtime_ms = row
    return TranscriptInfo(key=key, lines=int(lines), size=int(size), tail=bytes(tail), mtime_ms=int(mtime_ms))
