"""The one Store protocol every backend implements, and the query it answers.

Stores hold complete, validated ``Mapping`` records; they never compute timestamps or choose
ids (the core does), so every store behaves alike and one contract suite covers them all.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol, Self

from sessmap.errors import Conflict, NotFound
from sessmap.model import Mapping, State

if TYPE_CHECKING:
    from sessmap.stores.started import StartedSessions

SortOrder = Literal["last-used", "created", "key"]
OnConflict = Literal["skip", "replace", "fail"]


class Query(NamedTuple):
    """Filters, order and limit for ``list``, ``export`` and ``prune``. All filters are ANDed.

    Time filters compare ``last_seen`` (last use, else creation): ``seen_before`` keeps
    mappings last seen strictly before it (older than), ``seen_since`` those at or after it.
    Order: ``last-used`` and ``created`` newest first, ``key`` A to Z (then agent); ``reverse``
    flips it. Ties are broken by (key, agent) ascending so the order is total.
    """

    agent: str | None = None
    provider: str | None = None
    prefix: str | None = None
    match: str | None = None  # glob on the key, case-sensitive (fnmatchcase)
    labels: tuple[tuple[str, str], ...] = ()
    seen_before: datetime | None = None
    seen_since: datetime | None = None
    state: State | None = None
    parent: tuple[str, str] | None = None  # (agent, key): the forks of that mapping
    sort: SortOrder = "last-used"
    reverse: bool = False
    limit: int | None = None

    def matches(self, mapping: Mapping) -> bool:
        """The filter half of the query, for stores that filter in Python."""
        return (
            (self.agent is None or mapping.agent == self.agent)
            and (self.provider is None or mapping.provider == self.provider)
            and (self.prefix is None or mapping.key.startswith(self.prefix))
            and (self.match is None or fnmatch.fnmatchcase(mapping.key, self.match))
            and all(mapping.labels.get(name) == value for name, value in self.labels)
            and (self.seen_before is None or mapping.last_seen < self.seen_before)
            and (self.seen_since is None or mapping.last_seen >= self.seen_since)
            and (self.state is None or mapping.state == self.state)
            and (
                self.parent is None
                or (mapping.parent is not None and (mapping.parent.agent, mapping.parent.key) == self.parent)
            )
        )

    def ordered(self, mappings: Iterable[Mapping]) -> list[Mapping]:
        """The order-and-limit half of the query, for stores that sort in Python."""
        rows = sorted(mappings, key=lambda m: (m.key, m.agent))
        if self.sort != "key":
            newest_first = not self.reverse
            rows.sort(key=self.sort_time, reverse=newest_first)
        elif self.reverse:
            rows.reverse()
        return rows if self.limit is None else rows[: self.limit]

    def sort_time(self, mapping: Mapping) -> datetime:
        return mapping.created_at if self.sort == "created" else mapping.last_seen


def reparented(mapping: Mapping, agent: str, old_key: str, new_key: str) -> Mapping:
    """``mapping`` with its parent moved to ``new_key`` if it was (agent, old_key): what a
    rename does to the forks of the renamed mapping, itself included when it was forked from
    an earlier mapping of its own key."""
    parent = mapping.parent
    if parent is None or (parent.agent, parent.key) != (agent, old_key):
        return mapping
    return mapping.evolve(parent=parent._replace(key=new_key))


def renamed(mapping: Mapping, new_key: str, updated_at: datetime) -> Mapping:
    """``mapping`` as ``rename`` stores it: re-keyed, stamped, its own parent followed."""
    moved = mapping.evolve(key=new_key, updated_at=updated_at)
    return reparented(moved, mapping.agent, mapping.key, new_key).validate()


# --- what every store shares ------------------------------------------------------------------


def not_found(agent: str, key: str) -> NotFound:
    """The error for a missing (agent, key), worded alike by every store."""
    return NotFound(f"no mapping for {key!r} (agent {agent})", reason="not-found", agent=agent, key=key)


def conflict(agent: str, key: str) -> Conflict:
    """The error for an (agent, key) that exists already, worded alike by every store."""
    return Conflict(f"mapping {key!r} (agent {agent}) exists already", reason="exists", agent=agent, key=key)


class Closing:
    """A store's context manager: ``with store:`` closes it at the end. Subclasses define ``close``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def holds_session(mapping: Mapping, prefix: str) -> bool:
    """True when ``mapping``'s session id, or one in its ``history``, starts with ``prefix``:
    what ``Store.by_session`` selects, for stores that filter in Python."""
    return any(session_id.startswith(prefix) for session_id in mapping.session_ids())


def by_session_order(mappings: Iterable[Mapping], limit: int) -> list[Mapping]:
    """``Store.by_session``'s order and limit: (key, agent), at most ``limit``."""
    return sorted(mappings, key=lambda m: (m.key, m.agent))[:limit]


def count_by_reading(store: Store, query: Query) -> int:
    """``Store.count`` for a store with no cheaper way than reading the matches."""
    return sum(1 for _ in store.query(query._replace(limit=None)))


class ImportResult(NamedTuple):
    inserted: int = 0
    replaced: int = 0
    skipped: int = 0
    conflicts: tuple[tuple[str, str], ...] = ()  # (agent, key) with on_conflict=fail


# --- transcripts (SPEC §7): the Claude Agent SDK's SessionStore model ------------------------

TAIL_BYTES = 4096
"""How much of a transcript's end its info keeps, to tell a local file that merely grew (its
bytes at that offset still match) from one that diverged, without reading either whole."""


class TranscriptKey(NamedTuple):
    """Where a transcript's entries live: ``(project_key, session_id[, subpath])``.

    claude: ``project_key`` is the project folder name (the SDK's ``project_key``), ``subpath``
    a side file such as ``subagents/agent-<id>``; "" is the main transcript. codex rollouts
    use ``project_key`` ``codex``. The parts are opaque strings to a store.
    """

    project_key: str
    session_id: str
    subpath: str = ""


class TranscriptInfo(NamedTuple):
    """What a store knows of one stored transcript without reading it.

    ``lines``: entries stored; ``size``: their bytes, one newline each, as the file holds them;
    ``tail``: the last ``TAIL_BYTES`` (or fewer) of those bytes; ``mtime_ms``: the last append,
    in Unix epoch milliseconds (the store's clock).
    """

    key: TranscriptKey
    lines: int
    size: int
    tail: bytes
    mtime_ms: int


def next_tail(tail: bytes, lines: Iterable[bytes]) -> bytes:
    """The tail after appending ``lines`` (each without its newline) to a transcript ending in ``tail``."""
    joined = tail + b"".join(line + b"\n" for line in lines)
    return joined[-TAIL_BYTES:]


class TranscriptStore(Protocol):
    """Append-only transcript entries, one JSONL line each (bytes, no newline), per key.

    Every store provides one as ``Store.transcripts``. Appends are atomic per call and
    ordered; concurrent appenders lose nothing. Nothing here validates the key's parts beyond
    what storage needs: they come from agents' file names and from SDK callers.
    """

    def append(self, key: TranscriptKey, lines: Iterable[bytes]) -> TranscriptInfo | None:
        """Add ``lines`` at the end (a stream: do not hold it all where the backend can avoid
        it); the info after, or None when nothing was added to a transcript that does not exist."""

    def info(self, key: TranscriptKey) -> TranscriptInfo | None:
        """None when nothing is stored under ``key``."""

    def read(self, key: TranscriptKey, start: int = 0) -> Iterator[bytes]:
        """The lines from line ``start`` (0-based) on, streamed in order; none if absent."""

    def sessions(self, project_key: str) -> list[TranscriptInfo]:
        """The main transcripts (no subpath) stored under ``project_key``."""

    def subpaths(self, project_key: str, session_id: str) -> list[str]:
        """The side files of a session (never "" for the main transcript), sorted."""

    def delete(self, key: TranscriptKey) -> None:
        """Remove a transcript; removing a main transcript also removes its side files."""

    def set_summary(self, project_key: str, session_id: str, summary: str) -> None:
        """Keep an opaque summary text (the SDK's sidecar) beside a session, replacing any."""

    def summaries(self, project_key: str) -> list[str]:
        """The summary texts kept for sessions of ``project_key``."""

    def projects_of(self, session_id: str) -> list[str]:
        """The project keys under which anything of ``session_id`` is stored, sorted."""

    def stored(self) -> Iterator[tuple[str, str]]:
        """Every ``(project_key, session_id)`` with anything stored, each once: for cleanup."""


class LockHolder(NamedTuple):
    """The run holding a thread's lock, as its store recorded it."""

    host: str
    pid: int
    since: datetime


class Waiting(NamedTuple):
    """A run queued on a busy thread, told once to ``thread_lock``'s ``on_wait``."""

    holder: LockHolder | None
    """None when the store cannot tell (the holder is between two writes, or an old version)."""
    ahead: int
    """Runs queued before this one, the holder not counted."""


class LockLost(NamedTuple):
    """The lock of a running agent is gone, or about to lapse (given to ``HeldLock.guard``'s
    ``on_lost``)."""

    reason: str
    grace: float
    """Seconds the agent may take to stop before another run can start (0: it already can)."""


OnWait = Callable[[Waiting], None]
Keep = Callable[[Mapping], bool]
"""``delete_matching``'s exception: true of a row that matches but must stay (pinned, running)."""
Removed = Callable[[Mapping], None]
"""``delete_matching``'s report of each row it deleted, as it goes."""
OnLost = Callable[[LockLost], None]


class HeldLock(Protocol):
    """A thread lock while it is held: what ``Store.thread_lock`` yields."""

    def agent_fds(self) -> tuple[int, ...]:
        """Descriptors for the agent to inherit so that, if sessmap dies, the lock lives until
        the agent exits (a flock, a server connection); empty where a lock cannot be inherited."""

    def guard(self, agent_pid: int, on_lost: OnLost) -> None:
        """Watch the lock while the agent ``agent_pid`` runs: call ``on_lost`` once, from another
        thread, when it is lost or about to lapse. A lock on a lease keeps it renewed while the
        agent lives, even while this process is stopped or after it died."""

    def unguard(self) -> None:
        """Stop watching (the agent has exited). Safe to call when not guarding."""


class Store(Protocol):
    """What every backend provides. Every write is atomic; concurrent writers lose nothing.

    Errors: ``NotFound`` for a missing (agent, key), ``Conflict`` for an existing one,
    ``StoreError`` for anything wrong with the store itself (unreachable, corrupt, foreign,
    newer schema, I/O). A store that raised ``StoreError`` on open has not changed any file.
    """

    url: str
    """Where the store is, for messages; passwords are masked."""

    schema_version: int
    """The schema version of the open store (latest after migrations)."""

    shared: bool
    """True for the server stores (several hosts): they keep transcripts by default."""

    reads_imports_unlocked: bool
    """True when ``insert_many`` reads all of its input before it takes the store's write lock,
    and answers ``get`` meanwhile: a caller need not read a slow pipe into a file first."""

    transcripts: TranscriptStore
    """The store's copy of agents' transcripts (SPEC §7)."""

    @property
    def started(self) -> StartedSessions:
        """The sessions sessmap started, and where (stores/started.py): what ``--purge`` may delete."""

    def get(self, agent: str, key: str) -> Mapping | None: ...

    def insert(self, mapping: Mapping, *, replace: bool = False, require_parent: bool = False) -> None:
        """Add ``mapping``; ``Conflict`` if (agent, key) exists, unless ``replace``.

        ``require_parent`` (``fork``): only while the mapping's ``parent`` exists, else
        ``NotFound`` for the parent; atomic with ``rename``, so a fork never points at a key
        a concurrent rename just moved away."""

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        """Atomically read, apply ``change`` and write back; returns the new mapping.

        ``change`` is pure and may be called more than once (optimistic stores retry); it may
        raise a SessmapError to abort without writing. It must not change agent or key.
        ``NotFound`` if the mapping does not exist.
        """

    def rename(self, agent: str, old_key: str, new_key: str, updated_at: datetime) -> Mapping:
        """Re-key a mapping (and point its forks' ``parent.key`` at the new key), atomically.

        ``NotFound`` if old is missing, ``Conflict`` if new exists.
        """

    def delete(self, agent: str, key: str, expected: Mapping | None = None) -> Mapping | None:
        """Remove and return the mapping, or None if there was none. ``expected``: remove it
        only while it is still exactly that row (as a scan read it), else None: a mapping
        re-created or used since the scan is not deleted by what the scan decided."""

    def query(self, query: Query) -> Iterator[Mapping]:
        """Stream matching mappings in the query's order; memory stays flat for any size."""

    def count(self, query: Query) -> int:
        """How many mappings ``query`` matches (its order and limit ignored)."""

    def delete_matching(self, query: Query, keep: Keep | None = None, removed: Removed | None = None) -> int:
        """Atomically delete what ``query`` matches (order and limit ignored), except the rows
        ``keep`` is true of; how many went. Streamed: each deleted mapping is handed to
        ``removed`` as it goes and none is held, so memory stays flat for any number."""

    def by_session(self, prefix: str, limit: int) -> list[Mapping]:
        """The mappings whose ``session_id``, or a ``history`` entry's, starts with ``prefix``
        (not empty), in (key, agent) order, at most ``limit``; when more match, which of them
        is the store's choice (``which``: a session id back to its thread). The server and
        SQLite stores answer from an index; none sends every mapping to this process."""

    def insert_many(self, mappings: Iterable[Mapping], on_conflict: OnConflict) -> ImportResult:
        """Import, all or nothing: if iterating ``mappings`` raises (a bad line), nothing is
        written and the error propagates. With ``fail``, any existing (agent, key) means nothing
        is written and the result lists the conflicts; ``skip`` keeps existing rows, ``replace``
        overwrites them. ``mappings`` may be a stream of millions: do not hold it all in memory
        where the backend can avoid it (one transaction, batched inserts)."""

    def thread_lock(
        self, agent: str, key: str, timeout: float | None, on_wait: OnWait | None = None
    ) -> AbstractContextManager[HeldLock]:
        """Hold the one-run-per-thread lock for (agent, key) across processes (and hosts, for
        server stores). ``timeout``: None waits for ever, 0 tries once; ``Busy`` when it runs
        out. Waiters are served first come, first served; one that gives up or dies leaves the
        queue (at once, or within a documented bound). ``on_wait`` is called once, before
        waiting, when the thread is busy. A holder that dies releases the lock (at once, or
        within a documented bound) unless its agent inherited it."""

    def thread_busy(self, agent: str, key: str) -> bool:
        """Whether a run holds (or waits for) the thread lock of (agent, key) right now: for
        ``prune`` and ``rename``, which leave a running thread alone. A probe: it creates no
        lock file, key or connection that outlives it, and it never waits."""

    def check(self) -> list[str]:
        """Integrity problems found (empty when healthy), for ``doctor``."""

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc_info: object) -> None: ...
