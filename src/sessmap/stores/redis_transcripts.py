"""The Redis store's transcripts (SPEC §7), under the store's key prefix ``P``.

Key parts are arbitrary strings (project keys hold ``/`` and ``-``, SDK callers may pass
``:``), so key names carry them as lower-case hex of their UTF-8 (``<p>``, ``<s>``, ``<sub>``
below); the parts themselves are kept as members and fields, where any bytes are fine.

* ``P:tlines:<p>:<s>``, ``P:tlines:<p>:<s>:<sub>``  a list, one entry per line (exact bytes):
                          the main transcript, a side file;
* ``P:tinfo:<p>:<s>[:<sub>]``  hash ``lines``, ``size``, ``tail``, ``mtime_ms`` of that list;
* ``P:tsessions:<p>``     sorted set of the session ids with a main transcript in project p,
                          scored by mtime_ms;
* ``P:tsubpaths:<p>:<s>`` set of the session's side files, as ``<sub>`` (hex);
* ``P:tprojects:<s>``     set of the project keys holding anything of session s;
* ``P:tsummaries:<p>``    hash session id → summary text;
* ``P:tstored``           sorted set of ``<p>:<s>`` at score 0, one per session with anything
                          stored: ``stored()`` pages through it (ZRANGEBYLEX), never KEYS;
* ``P:tstage:<random>``   lines of one append call larger than a batch, while they stream in
                          (expires by itself if that appender dies).

Every write is one Lua script or one MULTI/EXEC, so the list, its info and the indexes never
disagree. An append call that fits one batch (``APPEND_LINES`` lines, ``APPEND_BYTES``) is one
script. A larger one streams its batches into a private staging list, and one script then
moves them onto the transcript and updates its info: a call's lines land contiguously and all
at once, whatever other processes append meanwhile, no command carries more than a batch, and
nobody waits on a lock that a dead appender would hold. (A per-transcript lock would also keep
calls contiguous, but readers would see half a call, and a killed holder stalls every other
appender for the lock's TTL.)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, cast

from sessmap.errors import InvalidInput
from sessmap.stores.base import TAIL_BYTES, TranscriptInfo, TranscriptKey, next_tail

if TYPE_CHECKING:
    import redis

# One append command carries at most this many lines or (a single longer line aside) bytes:
# a 10 MB transcript goes in ten commands, none of which stalls the server or nears its limits.
APPEND_LINES = 500
APPEND_BYTES = 1_000_000
# A read asks for about this many bytes per LRANGE, judged from the lines it got last time.
READ_BYTES = 1_000_000
READ_LINES = 1_000
BATCH = 500  # members per page of the indexes
STAGE_TTL_MS = 3_600_000  # an appender silent this long between two batches has died

_APPEND = f"""
-- KEYS: lines, info, sessions, subpaths, projects, stored, staging
-- ARGV: session id, project key, hex subpath ('' for the main transcript), stored member,
--       lines already staged, bytes added, the last bytes added (up to the tail size), lines...
local staged = tonumber(ARGV[5])
if staged > 0 then
  if redis.call('LLEN', KEYS[7]) ~= staged then
    return redis.error_reply('ERR the lines of this append were lost while it streamed (staging expired)')
  end
  if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('RENAME', KEYS[7], KEYS[1])
    redis.call('PERSIST', KEYS[1])
  else
    for first = 0, staged - 1, {APPEND_LINES} do
      redis.call('RPUSH', KEYS[1], unpack(redis.call('LRANGE', KEYS[7], first, first + {APPEND_LINES - 1})))
    end
    redis.call('UNLINK', KEYS[7])
  end
end
if #ARGV > 7 then
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 8))
end
local lines = redis.call('HINCRBY', KEYS[2], 'lines', staged + #ARGV - 7)
local size = redis.call('HINCRBY', KEYS[2], 'size', ARGV[6])
local tail = ARGV[7]
if #tail < {TAIL_BYTES} then
  tail = string.sub((redis.call('HGET', KEYS[2], 'tail') or '') .. tail, -{TAIL_BYTES})
end
-- The server's clock, so hosts with skewed clocks agree; strictly increasing per transcript.
local clock = redis.call('TIME')
local mtime = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local previous = tonumber(redis.call('HGET', KEYS[2], 'mtime_ms') or '0')
if mtime <= previous then
  mtime = previous + 1
end
local stamp = string.format('%.0f', mtime)
redis.call('HSET', KEYS[2], 'tail', tail, 'mtime_ms', stamp)
if ARGV[3] == '' then
  redis.call('ZADD', KEYS[3], stamp, ARGV[1])
else
  redis.call('SADD', KEYS[4], ARGV[3])
end
redis.call('SADD', KEYS[5], ARGV[2])
redis.call('ZADD', KEYS[6], 0, ARGV[4])
return {{lines, size, tail, stamp}}
"""

# Side files' key names are built here from the subpaths set, which only the script can read
# atomically with the deletion (the store is single-instance Redis, never Cluster).
_DELETE = """
-- KEYS: lines, info, sessions, subpaths, projects, stored, summaries, main info
-- ARGV: session id, project key, hex subpath ('' for the main transcript), stored member,
--       lines key prefix of side files, info key prefix of side files
if ARGV[3] == '' then
  for _, sub in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    redis.call('UNLINK', ARGV[5] .. sub, ARGV[6] .. sub)
  end
  redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[4])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[7], ARGV[1])
else
  redis.call('UNLINK', KEYS[1], KEYS[2])
  redis.call('SREM', KEYS[4], ARGV[3])
  if redis.call('EXISTS', KEYS[8]) == 1 or redis.call('SCARD', KEYS[4]) > 0
      or redis.call('HEXISTS', KEYS[7], ARGV[1]) == 1 then
    return 0
  end
end
redis.call('SREM', KEYS[5], ARGV[2])
redis.call('ZREM', KEYS[6], ARGV[4])
return 1
"""


class RedisTranscripts:
    """``RedisStore.transcripts``: a TranscriptStore on a client that returns bytes."""

    def __init__(
        self, client: redis.Redis, prefix: str, errors: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._errors = errors
        # register_script only hashes the text; the server sees it on first use (EVALSHA).
        self._append_script = client.register_script(_APPEND)
        self._delete_script = client.register_script(_DELETE)

    # --- names --------------------------------------------------------------------------------

    def _name(self, kind: str, *parts: str) -> str:
        return ":".join((self._prefix, kind, *parts))

    def _keys(self, key: TranscriptKey) -> _Names:
        project, session = _hex(key.project_key, "project key"), _hex(key.session_id, "session id")
        sub = _hex(key.subpath, "subpath") if key.subpath else ""
        own = f"{project}:{session}" + (f":{sub}" if sub else "")
        return _Names(
            lines=self._name("tlines", own),
            info=self._name("tinfo", own),
            main_info=self._name("tinfo", project, session),
            sessions=self._name("tsessions", project),
            subpaths=self._name("tsubpaths", project, session),
            projects=self._name("tprojects", session),
            summaries=self._name("tsummaries", project),
            stored=self._name("tstored"),
            member=f"{project}:{session}",
            sub=sub,
            side_lines=self._name("tlines", project, session, ""),
            side_info=self._name("tinfo", project, session, ""),
        )

    # --- writes -------------------------------------------------------------------------------

    def append(self, key: TranscriptKey, lines: Iterable[bytes]) -> TranscriptInfo | None:
        names = self._keys(key)
        iterator = iter(lines)
        batch, size, last = _take(iterator)
        if not batch:
            return self.info(key)  # nothing to add: no write, and mtime_ms stays put
        stage = self._name("tstage", secrets.token_hex(12))
        staged = added = 0
        tail = b""
        try:
            while not last:
                with self._errors(), self._client.pipeline(transaction=False) as pipe:
                    pipe.rpush(stage, *batch)
                    pipe.pexpire(stage, STAGE_TTL_MS)
                    pipe.execute()
                staged += len(batch)
                added += size
                tail = next_tail(tail, batch)
                batch, size, last = _take(iterator)
            with self._errors():
                result = self._append_script(
                    keys=[
                        names.lines,
                        names.info,
                        names.sessions,
                        names.subpaths,
                        names.projects,
                        names.stored,
                        stage,
                    ],
                    args=[
                        key.session_id,
                        key.project_key,
                        names.sub,
                        names.member,
                        staged,
                        added + size,
                        next_tail(tail, batch),
                        *batch,
                    ],
                )
        except BaseException:
            import redis

            # A bad line or a lost connection: the staged part would otherwise linger until it
            # expires. (Had the final script run, it consumed the staging list: nothing to undo.)
            with suppress(redis.RedisError):
                self._client.unlink(stage)
            raise
        count, total, new_tail, stamp = cast("list[Any]", result)
        return TranscriptInfo(
            key, lines=int(count), size=int(total), tail=bytes(new_tail), mtime_ms=int(stamp)
        )

    def delete(self, key: TranscriptKey) -> None:
        names = self._keys(key)
        with self._errors():
            self._delete_script(
                keys=[
                    names.lines,
                    names.info,
                    names.sessions,
                    names.subpaths,
                    names.projects,
                    names.stored,
                    names.summaries,
                    names.main_info,
                ],
                args=[
                    key.session_id,
                    key.project_key,
                    names.sub,
                    names.member,
                    names.side_lines,
                    names.side_info,
                ],
            )

    def set_summary(self, project_key: str, session_id: str, summary: str) -> None:
        names = self._keys(TranscriptKey(project_key, session_id))
        with self._errors(), self._client.pipeline(transaction=True) as pipe:
            pipe.hset(names.summaries, session_id, summary)
            pipe.sadd(names.projects, project_key)
            pipe.zadd(names.stored, {names.member: 0})
            pipe.execute()

    # --- reads --------------------------------------------------------------------------------

    def info(self, key: TranscriptKey) -> TranscriptInfo | None:
        names = self._keys(key)
        with self._errors():
            fields = cast("dict[bytes, bytes]", self._client.hgetall(names.info))
        return _info(key, fields) if fields else None

    def read(self, key: TranscriptKey, start: int = 0) -> Iterator[bytes]:
        name = self._keys(key).lines
        position = max(0, start)  # LRANGE would count a negative start from the end
        count = 64
        while True:
            with self._errors():
                batch = cast("list[bytes]", self._client.lrange(name, position, position + count - 1))
            yield from batch
            if len(batch) < count:
                return
            position += count
            received = sum(map(len, batch)) or 1
            count = max(1, min(READ_LINES, count * READ_BYTES // received))

    def sessions(self, project_key: str) -> list[TranscriptInfo]:
        names = self._keys(TranscriptKey(project_key, ""))
        with self._errors():
            ids = sorted(member.decode() for member in self._sorted(names.sessions))
        found: list[TranscriptInfo] = []
        for start in range(0, len(ids), BATCH):
            keys = [TranscriptKey(project_key, session_id) for session_id in ids[start : start + BATCH]]
            with self._errors(), self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self._keys(key).info)
                replies = cast("list[dict[bytes, bytes]]", pipe.execute())
            # An id without info: its session was deleted since the ids were read.
            found.extend(_info(key, fields) for key, fields in zip(keys, replies, strict=True) if fields)
        return found

    def _sorted(self, name: str) -> list[bytes]:
        return cast("list[bytes]", self._client.zrange(name, 0, -1))

    def subpaths(self, project_key: str, session_id: str) -> list[str]:
        names = self._keys(TranscriptKey(project_key, session_id))
        with self._errors():
            members = cast("set[bytes]", self._client.smembers(names.subpaths))
        return sorted(bytes.fromhex(member.decode()).decode() for member in members)

    def summaries(self, project_key: str) -> list[str]:
        names = self._keys(TranscriptKey(project_key, ""))
        with self._errors():
            kept = cast("dict[bytes, bytes]", self._client.hgetall(names.summaries))
        return [kept[session].decode() for session in sorted(kept)]

    def projects_of(self, session_id: str) -> list[str]:
        names = self._keys(TranscriptKey("", session_id))
        with self._errors():
            members = cast("set[bytes]", self._client.smembers(names.projects))
        return sorted(member.decode() for member in members)

    def stored(self) -> Iterator[tuple[str, str]]:
        index = self._name("tstored")
        low = b"-"
        while True:
            with self._errors():
                page = cast("list[bytes]", self._client.zrangebylex(index, low, b"+", start=0, num=BATCH))
            for member in page:
                project, _, session = member.decode().partition(":")
                yield bytes.fromhex(project).decode(), bytes.fromhex(session).decode()
            if len(page) < BATCH:
                return
            low = b"(" + page[-1]

    def problems(self) -> list[str]:
        """Transcripts whose list and info disagree (edited outside sessmap), for ``doctor``."""
        found: list[str] = []
        for project_key, session_id in self.stored():
            keys = [TranscriptKey(project_key, session_id)]
            keys += [
                TranscriptKey(project_key, session_id, sub) for sub in self.subpaths(project_key, session_id)
            ]
            with self._errors(), self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    names = self._keys(key)
                    pipe.hget(names.info, "lines")
                    pipe.llen(names.lines)
                replies = pipe.execute()
            for key, recorded, length in zip(keys, replies[::2], replies[1::2], strict=True):
                if int(recorded or 0) != length:
                    found.append(
                        f"transcript {key!r}: {length} line(s) stored, {int(recorded or 0)} recorded"
                    )
        return found


@dataclass(frozen=True, slots=True)
class _Names:
    """The key names and members an operation on one transcript touches (see the docstring)."""

    lines: str
    info: str
    main_info: str
    sessions: str
    subpaths: str
    projects: str
    summaries: str
    stored: str
    member: str  # of P:tstored: <p>:<s>
    sub: str  # hex subpath, "" for the main transcript
    side_lines: str  # P:tlines:<p>:<s>: and P:tinfo:<p>:<s>:, which a side file's <sub> ends
    side_info: str


def _hex(part: str, name: str) -> str:
    try:
        return part.encode().hex()
    except UnicodeEncodeError:
        raise InvalidInput(f"transcript {name} {part!r} is not valid Unicode") from None


def _take(lines: Iterator[bytes]) -> tuple[list[bytes], int, bool]:
    """The next batch of ``lines``, its bytes (newlines included), and whether it is the last."""
    batch: list[bytes] = []
    size = 0
    for line in islice(lines, APPEND_LINES):
        batch.append(line)
        size += len(line) + 1
        if size >= APPEND_BYTES:
            break
    if len(batch) < APPEND_LINES and size < APPEND_BYTES:
        return batch, size, True
    return batch, size, False


def _info(key: TranscriptKey, fields: dict[bytes, bytes]) -> TranscriptInfo:
    return TranscriptInfo(
        key=key,
        lines=int(fields[b"lines"]),
        size=int(fields[b"size"]),
        tail=fields.get(b"tail", b""),
        mtime_ms=int(fields.get(b"mtime_ms", b"0")),
    )
