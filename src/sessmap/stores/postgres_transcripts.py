"""The PostgreSQL store's transcripts (SPEC §7), in two tables of the store's schema.

* ``transcripts``: one row per transcript, primary key ``(project_key, session_id, subpath)``
  (``subpath`` "" is the main transcript) with ``lines``, ``size``, ``tail``, ``mtime_ms`` and,
  on a main row only, the session's ``summary``. A row with ``lines = 0`` holds only a summary
  set before anything was appended; it is no transcript. The index ``transcripts_by_session``
  (session_id, project_key) answers ``projects_of`` without a scan.
* ``transcript_entries``: the lines in chunks, primary key ``(project_key, session_id,
  subpath, seq)``: ``seq`` is the chunk's first line number (0-based), ``lines`` how many lines
  it holds and ``data`` their exact bytes joined by b"\n" (a line never holds one). A chunk
  holds up to ``CHUNK_LINES`` lines or about ``CHUNK_BYTES`` bytes, never part of a line: a
  longer line is a chunk of its own. Chunks never span two appends, so every line count an
  info row has recorded ends a chunk. ``data`` is stored out of line uncompressed (STORAGE
  EXTERNAL): reads cost the transfer, not a decompression.

An append is one transaction. Its upsert of the transcript's row locks that row, so appenders
on any host queue there, each one's lines take the ``seq`` range after the previous one's, and
readers see a call's lines all at once or not at all. Chunks stream in with binary COPY, packed
as the lines arrive. A read fetches a few chunks per statement by keyset (no cursor stays open
between the lines it yields), up to the line count recorded when it began.
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

# A chunk's limits (module docstring): a 10 MB transcript is about ten rows.
CHUNK_BYTES = 1 << 20
CHUNK_LINES = 2000
# Chunks per statement of a read: a few MiB held at once, a few round trips per 10 MB.
READ_BATCH = 4
# Rows per FETCH of a listing (stored(), problems()): short rows.
LIST_BATCH = 256

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
            lines integer NOT NULL CHECK (lines > 0),
            data bytea NOT NULL,
            PRIMARY KEY (project_key, session_id, subpath, seq)
        )""",
        # Chunks out of line, uncompressed: pglz costs several times the transfer to read a
        # chunk back (and more to write it), for bytes that are a copy of an agent's file.
        "ALTER TABLE {schema}.transcript_entries ALTER COLUMN data SET STORAGE EXTERNAL",
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
            seq, size, tail = int(locked[0]), int(locked[1]), bytearray(locked[2])
            with cursor.copy(
                self._sql(
                    "COPY {entries} (project_key, session_id, subpath, seq, lines, data)"
                    " FROM STDIN (FORMAT BINARY)"
                )
            ) as copy:
                copy.set_types(["text", "text", "text", "int8", "int4", "bytea"])
                for count, data in _chunks(itertools.chain((first,), iterator), tail):
                    copy.write_row((*params, seq, count, data))
                    seq += count
                    size += len(data) + 1
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
        params = _params(key)
        start = max(0, start)
        # The first batch in one statement with the info row: its line count (one snapshot
        # with the chunks) bounds the read, so lines appended while the caller iterates,
        # through this store or another, are not mixed in. The chunk holding ``start`` is the
        # last one beginning at or before it: found by the index, not by reading the ones before.
        first = self._sql(
            "SELECT e.seq, e.lines, e.data, t.lines FROM {info} t JOIN {entries} e"
            " ON e.project_key = t.project_key AND e.session_id = t.session_id AND e.subpath = t.subpath"
            " WHERE t.project_key = %s AND t.session_id = %s AND t.subpath = %s"
            " AND e.seq < t.lines AND e.seq + e.lines > %s"
            " AND e.seq >= (SELECT coalesce(max(seq), 0) FROM {entries} WHERE {key} AND seq <= %s)"
            " ORDER BY e.seq LIMIT %s"
        )
        rest = self._sql(
            "SELECT seq, lines, data FROM {entries} WHERE {key} AND seq >= %s AND seq < %s"
            " ORDER BY seq LIMIT %s"
        )
        # Plain statements, each complete before a line is yielded: the caller may append
        # through this store between lines, and abandoning the read leaves nothing open.
        # Binary: bytea arrives as it is, not as hex text twice its size.
        with self._errors(), self._connection().cursor(binary=True) as cursor:
            cursor.execute(first, (*params, start, *params, start, READ_BATCH))
            rows = cursor.fetchall()
        if not rows:
            return
        end = int(rows[0][3])
        expected = start  # the line the next chunk must begin with (the first may begin before)
        while rows:
            rows.reverse()  # pop from the end: each chunk is freed once its lines are out
            while rows:
                seq, count, data = rows.pop()[:3]
                if seq != expected and not (expected == start and seq < start):
                    raise StoreError(f"transcript {key!r} is damaged: no chunk at line {expected}")
                lines = bytes(data).split(b"\n")
                del data
                if len(lines) != count:
                    raise StoreError(
                        f"transcript {key!r} is damaged: the chunk at line {seq} holds"
                        f" {len(lines)} line(s), not {count}"
                    )
                expected = seq + count
                yield from lines[start - seq :] if start > seq else lines
                del lines
            if expected >= end:
                return
            with self._errors(), self._connection().cursor(binary=True) as cursor:
                cursor.execute(rest, (*params, expected, end, READ_BATCH))
                rows = cursor.fetchall()
        raise StoreError(f"transcript {key!r} is damaged: no chunk at line {expected}")

    def _stream(self, statement: sql.Composed, params: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        name = f"sessmap_transcript_{next(self._cursor_names)}"
        # WITH HOLD, as the store's query(): the caller may use the store while it iterates,
        # and abandoning the listing rolls nothing back.
        with self._errors(), self._connection().cursor(name, withhold=True, binary=True) as cursor:
            cursor.itersize = LIST_BATCH
            cursor.execute(statement, params)
            yield from cursor

    def _rows(self, text: LiteralString, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._errors():
            return self._connection().execute(self._sql(text), params).fetchall()

    def sessions(self, project_key: str) -> list[TranscriptInfo]:
        _check_part(project_key, "project key")
        rows = self._rows(
            "SELECT session_id, {info_columns} FROM {info}"
            " WHERE project_key = %s AND subpath = '' AND lines > 0 ORDER BY session_id",
            (project_key,),
        )
        return [_info(TranscriptKey(project_key, row[0]), row[1:]) for row in rows]

    def subpaths(self, project_key: str, session_id: str) -> list[str]:
        params = _params(TranscriptKey(project_key, session_id))[:2]
        rows = self._rows(
            "SELECT subpath FROM {info} WHERE project_key = %s AND session_id = %s"
            " AND subpath <> '' AND lines > 0 ORDER BY subpath",
            params,
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
        rows = self._rows(
            "SELECT summary FROM {info} WHERE project_key = %s AND subpath = ''"
            " AND summary IS NOT NULL ORDER BY session_id",
            (project_key,),
        )
        return [row[0] for row in rows]

    def projects_of(self, session_id: str) -> list[str]:
        _check_part(session_id, "session id")
        rows = self._rows(
            "SELECT DISTINCT project_key FROM {info} WHERE session_id = %s ORDER BY project_key",
            (session_id,),
        )
        return [row[0] for row in rows]

    def stored(self) -> Iterator[tuple[str, str]]:
        statement = self._sql(
            "SELECT DISTINCT project_key, session_id FROM {info} ORDER BY project_key, session_id"
        )
        # Rows of two text columns: exactly the pairs promised.
        yield from cast("Iterator[tuple[str, str]]", self._stream(statement, ()))

    def problems(self) -> list[str]:
        """Transcripts whose chunks disagree with their line count, for ``doctor``.

        The chunks' line counts must add up to the recorded one, each chunk beginning where
        the one before it ends. Only the chunks' headers are read (about one row per MiB),
        never their data.
        """
        statement = self._sql(
            "SELECT t.project_key, t.session_id, t.subpath, t.lines FROM {info} t LEFT JOIN ("
            " SELECT project_key, session_id, subpath, sum(lines) AS lines, bool_and(seq = after) AS joined"
            " FROM (SELECT project_key, session_id, subpath, seq, lines, coalesce(lag(seq + lines)"
            "  OVER (PARTITION BY project_key, session_id, subpath ORDER BY seq), 0) AS after"
            "  FROM {entries}) c"
            " GROUP BY project_key, session_id, subpath) e"
            " ON e.project_key = t.project_key AND e.session_id = t.session_id AND e.subpath = t.subpath"
            " WHERE t.lines > 0 AND (e.lines IS DISTINCT FROM t.lines OR NOT e.joined)"
            " ORDER BY t.project_key, t.session_id, t.subpath"
        )
        return [
            f"transcript {TranscriptKey(project, session, subpath)!r}: its entries do not match its"
            f" {lines} recorded line(s)"
            for project, session, subpath, lines in self._stream(statement, ())
        ]


def _chunks(lines: Iterable[bytes], tail: bytearray) -> Iterator[tuple[int, bytearray]]:
    """``lines`` packed as they arrive into chunks (module docstring): ``(line count, data)``
    each, ``tail`` rolled on past every line; ``InvalidInput`` for a line with a newline (it
    would read back as two)."""
    data, count = bytearray(), 0
    for line in lines:
        if b"\n" in line:
            raise InvalidInput(f"transcript line {line[:60]!r}… contains a newline; entries are single lines")
        if count and (count >= CHUNK_LINES or len(data) + 1 + len(line) > CHUNK_BYTES):
            yield count, data
            data, count = bytearray(), 0
        if count:
            data += b"\n"
        data += line
        count += 1
        _grow_tail(tail, line)
    if count:
        yield count, data


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
