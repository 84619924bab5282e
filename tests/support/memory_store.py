"""A Store held in this process's memory, for tests of the core that need no files or servers.

It follows the Store protocol (src/sessmap/stores/base.py) and runs in the contract suites
(tests/stores/test_contract.py, test_transcripts.py) as the backend ``memory``. Handles opened
on the same ``memory:NAME`` URL (``MemoryStore.at``) share one store, as two handles on one
file would; ``MemoryStore()`` is a private store of its own. Nothing outside this process can
open it, so the tests that start other processes skip it (see tests/support/backends.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from sessmap.errors import Busy
from sessmap.model import Mapping
from sessmap.stores.base import (
    TAIL_BYTES,
    ImportResult,
    Keep,
    LockHolder,
    OnConflict,
    OnLost,
    OnWait,
    Query,
    Removed,
    TranscriptInfo,
    TranscriptKey,
    TranscriptStore,
    Waiting,
    by_session_order,
    conflict,
    holds_session,
    not_found,
    renamed,
    reparented,
)
from sessmap.stores.started import StartedSession, StartedSessions
from sessmap.validation import validate_key

Position = tuple[str, str]  # (agent, key)


class MemoryTranscripts:
    """The TranscriptStore of a memory store: lines per key, in order, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: dict[TranscriptKey, list[bytes]] = {}
        self._mtime_ms: dict[TranscriptKey, int] = {}
        self._summaries: dict[tuple[str, str], str] = {}

    def append(self, key: TranscriptKey, lines: Iterable[bytes]) -> TranscriptInfo | None:
        batch = [bytes(line) for line in lines]  # read it all first: a batch is added whole
        with self._lock:
            if batch:
                self._lines.setdefault(key, []).extend(batch)
                self._mtime_ms[key] = int(time.time() * 1000)
            return self._info(key)

    def info(self, key: TranscriptKey) -> TranscriptInfo | None:
        with self._lock:
            return self._info(key)

    def _info(self, key: TranscriptKey) -> TranscriptInfo | None:
        lines = self._lines.get(key)
        if lines is None:
            return None
        size = sum(len(line) + 1 for line in lines)
        tail = b""
        for line in reversed(lines):  # only as many lines as the tail needs
            tail = line + b"\n" + tail
            if len(tail) >= TAIL_BYTES:
                break
        return TranscriptInfo(key, len(lines), size, tail[-TAIL_BYTES:], self._mtime_ms[key])

    def read(self, key: TranscriptKey, start: int = 0) -> Iterator[bytes]:
        with self._lock:
            lines = list(self._lines.get(key, ())[start:])
        yield from lines

    def sessions(self, project_key: str) -> list[TranscriptInfo]:
        with self._lock:
            found = [self._info(key) for key in self._lines if key.project_key == project_key]
        return sorted((info for info in found if info is not None and not info.key.subpath), key=_by_key)

    def subpaths(self, project_key: str, session_id: str) -> list[str]:
        with self._lock:
            return sorted(
                key.subpath
                for key in self._lines
                if (key.project_key, key.session_id) == (project_key, session_id) and key.subpath
            )

    def delete(self, key: TranscriptKey) -> None:
        with self._lock:
            doomed = [
                stored
                for stored in self._lines
                if stored == key or (not key.subpath and (stored.project_key, stored.session_id) == key[:2])
            ]
            for stored in doomed:
                del self._lines[stored], self._mtime_ms[stored]
            if not key.subpath:
                self._summaries.pop((key.project_key, key.session_id), None)

    def set_summary(self, project_key: str, session_id: str, summary: str) -> None:
        with self._lock:
            self._summaries[project_key, session_id] = summary

    def summaries(self, project_key: str) -> list[str]:
        with self._lock:
            return [text for (project, _), text in sorted(self._summaries.items()) if project == project_key]

    def projects_of(self, session_id: str) -> list[str]:
        with self._lock:
            projects = {key.project_key for key in self._lines if key.session_id == session_id}
            projects |= {project for project, session in self._summaries if session == session_id}
        return sorted(projects)

    def stored(self) -> Iterator[tuple[str, str]]:
        with self._lock:
            found = {(key.project_key, key.session_id) for key in self._lines} | set(self._summaries)
        yield from sorted(found)


def _by_key(info: TranscriptInfo) -> TranscriptKey:
    return info.key


class HeldHere:
    """A thread lock of a memory store while held: no descriptor to inherit, nothing to lose."""

    def agent_fds(self) -> tuple[int, ...]:
        return ()

    def guard(self, agent_pid: int, on_lost: OnLost) -> None:
        pass

    def unguard(self) -> None:
        pass


class ThreadLocks:
    """One-run-per-thread locks of one memory store: first come, first served, across threads."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holders: dict[Position, LockHolder] = {}
        self._queues: dict[Position, list[object]] = {}

    @contextlib.contextmanager
    def hold(self, agent: str, key: str, timeout: float | None, on_wait: OnWait | None) -> Iterator[HeldHere]:
        position = (agent, key)
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        with self._changed:
            if position in self._holders or self._queues.get(position):
                if timeout is not None and timeout <= 0:
                    raise Busy(agent, key)  # --no-wait tries once and never queues
                self._wait_turn(position, deadline, on_wait)
            self._holders[position] = LockHolder(socket.gethostname(), os.getpid(), datetime.now(UTC))
        try:
            yield HeldHere()
        finally:
            with self._changed:
                del self._holders[position]
                self._changed.notify_all()

    def busy(self, agent: str, key: str) -> bool:
        with self._changed:
            return (agent, key) in self._holders or bool(self._queues.get((agent, key)))

    def _wait_turn(self, position: Position, deadline: float | None, on_wait: OnWait | None) -> None:
        ticket = object()
        queue = self._queues.setdefault(position, [])
        queue.append(ticket)
        try:
            if on_wait is not None:
                on_wait(Waiting(self._holders.get(position), queue.index(ticket)))
            while position in self._holders or queue[0] is not ticket:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Busy(*position)
                self._changed.wait(remaining)
        finally:
            queue.remove(ticket)
            if not queue:
                del self._queues[position]
            self._changed.notify_all()


class MemoryStarted:
    """The StartedSessions of a memory store: records by session id, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, StartedSession] = {}

    def add(self, started: StartedSession) -> None:
        with self._lock:
            self._records[started.session_id] = started

    def get_many(self, session_ids: Iterable[str]) -> dict[str, StartedSession]:
        with self._lock:
            return {sid: self._records[sid] for sid in set(session_ids) if sid in self._records}

    def all(self) -> Iterator[StartedSession]:
        with self._lock:
            return iter([self._records[sid] for sid in sorted(self._records)])

    def forget(self, session_ids: Iterable[str]) -> None:
        with self._lock:
            for session_id in set(session_ids):
                self._records.pop(session_id, None)


class MemoryData:
    """What every handle on one memory store shares."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # every change is atomic, also across threads
        self.rows: dict[Position, Mapping] = {}
        self.transcripts = MemoryTranscripts()
        self.started = MemoryStarted()
        self.thread_locks = ThreadLocks()


_OPEN: dict[str, MemoryData] = {}
_OPEN_LOCK = threading.Lock()


def forget(url: str) -> None:
    """Drop the store at ``url``: the next ``MemoryStore.at(url)`` starts empty."""
    with _OPEN_LOCK:
        _OPEN.pop(url, None)


class MemoryStore:
    """The Store protocol over a dict of rows keyed by (agent, key)."""

    schema_version = 1
    shared = False
    reads_imports_unlocked = False

    def __init__(self, url: str = "memory:", data: MemoryData | None = None) -> None:
        self.url = url
        self._data = data if data is not None else MemoryData()
        self.rows = self._data.rows  # tests of the core look at the rows directly
        self.transcripts: TranscriptStore = self._data.transcripts
        self.started: StartedSessions = self._data.started

    @classmethod
    def at(cls, url: str) -> MemoryStore:
        """A handle on the store named by ``url`` (``memory:NAME``), made empty on first use."""
        with _OPEN_LOCK:
            data = _OPEN.setdefault(url, MemoryData())
        return cls(url, data)

    def get(self, agent: str, key: str) -> Mapping | None:
        with self._data.lock:
            return self.rows.get((agent, key))

    def insert(self, mapping: Mapping, *, replace: bool = False, require_parent: bool = False) -> None:
        mapping.validate()
        parent = mapping.parent if require_parent else None
        with self._data.lock:
            if parent is not None and (parent.agent, parent.key) not in self.rows:
                raise not_found(parent.agent, parent.key)
            if (mapping.agent, mapping.key) in self.rows and not replace:
                raise conflict(mapping.agent, mapping.key)
            self.rows[mapping.agent, mapping.key] = mapping

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        with self._data.lock:
            current = self.rows.get((agent, key))
            if current is None:
                raise not_found(agent, key)
            changed = change(current).validate()
            if (changed.agent, changed.key) != (agent, key):
                raise ValueError("update() must not change agent or key; use rename()")
            self.rows[agent, key] = changed
            return changed

    def rename(self, agent: str, old_key: str, new_key: str, updated_at: datetime) -> Mapping:
        validate_key(new_key)
        with self._data.lock:
            current = self.rows.get((agent, old_key))
            if current is None:
                raise not_found(agent, old_key)
            if (agent, new_key) in self.rows:
                raise conflict(agent, new_key)
            del self.rows[agent, old_key]
            self.rows[agent, new_key] = result = renamed(current, new_key, updated_at)
            for position, mapping in self.rows.items():
                self.rows[position] = reparented(mapping, agent, old_key, new_key)
            return result

    def delete(self, agent: str, key: str, expected: Mapping | None = None) -> Mapping | None:
        with self._data.lock:
            current = self.rows.get((agent, key))
            if current is None or (expected is not None and current != expected):
                return None
            return self.rows.pop((agent, key))

    def query(self, query: Query) -> Iterator[Mapping]:
        with self._data.lock:
            found = query.ordered(m for m in self.rows.values() if query.matches(m))
        yield from found

    def count(self, query: Query) -> int:
        with self._data.lock:
            return sum(1 for mapping in self.rows.values() if query.matches(mapping))

    def delete_matching(self, query: Query, keep: Keep | None = None, removed: Removed | None = None) -> int:
        with self._data.lock:
            doomed = [m for m in self.rows.values() if query.matches(m) and (keep is None or not keep(m))]
            for mapping in doomed:
                del self.rows[mapping.agent, mapping.key]
                if removed is not None:
                    removed(mapping)
            return len(doomed)

    def thread_busy(self, agent: str, key: str) -> bool:
        return self._data.thread_locks.busy(agent, key)

    def by_session(self, prefix: str, limit: int) -> list[Mapping]:
        with self._data.lock:
            return by_session_order((m for m in self.rows.values() if holds_session(m, prefix)), limit)

    def insert_many(self, mappings: Iterable[Mapping], on_conflict: OnConflict) -> ImportResult:
        with self._data.lock:
            staged = dict(self.rows)  # all or nothing: the rows change only at the end
            inserted = replaced = skipped = 0
            conflicts: list[Position] = []
            for mapping in mappings:
                position = (mapping.validate().agent, mapping.key)
                if position not in staged:
                    inserted += 1
                elif on_conflict == "replace":
                    replaced += 1
                elif on_conflict == "skip":
                    skipped += 1
                    continue
                else:
                    conflicts.append(position)
                    continue
                staged[position] = mapping
            if conflicts:
                return ImportResult(conflicts=tuple(conflicts))
            self.rows.clear()
            self.rows.update(staged)
            return ImportResult(inserted=inserted, replaced=replaced, skipped=skipped)

    def thread_lock(
        self, agent: str, key: str, timeout: float | None, on_wait: OnWait | None = None
    ) -> contextlib.AbstractContextManager[HeldHere]:
        return self._data.thread_locks.hold(agent, key, timeout, on_wait)

    def check(self) -> list[str]:
        return []

    def close(self) -> None:
        pass

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
