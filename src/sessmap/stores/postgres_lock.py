"""The PostgreSQL store's thread lock: a session advisory lock on a connection of its own.

One connection per held (or awaited) lock. The lock lives exactly as long as that connection's
backend holds it, so everything here is about keeping the connection alive while the run is,
and about noticing when it is not:

* Settings travel in the startup packet (``options=-c …``), so they cost no round trip and
  outrank role-, database- and server-wide settings: no ``idle_session_timeout``,
  ``idle_in_transaction_session_timeout`` or ``statement_timeout`` can cut the lock, and
  ``lock_timeout`` is exactly the caller's wait.
* ``client_connection_check_interval`` (PostgreSQL 14+) makes a waiting backend poll its
  socket, so a waiter killed with -9 leaves the queue within that interval instead of when the
  server next writes to it (when its turn comes).
* ``application_name`` says ``sessmap-lock <since> <pid> <host>``: readable by every role in
  ``pg_stat_activity``, it is how a waiter learns who holds the thread.
* While the agent runs, a watcher thread asks the server once a second whether this backend
  still holds the lock; a failed query or a missing lock (server restart, terminated backend)
  is reported once through ``on_lost``.

PostgreSQL's lock manager grants an advisory lock to its waiters in arrival order and hands it
straight to the next one on release (a newcomer cannot barge in), which is the first come,
first served order sessmap promises. Waiting is ``pg_try_advisory_lock`` first (the common,
uncontended case: one round trip), then, when busy, one query for the holder and the queue
length, then ``pg_advisory_lock``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, LiteralString

# Loaded only by postgres.py, after it checked the driver is there: like it, this module may
# import psycopg at the top (the start-up rule is about the file stores' path).
import psycopg  # noqa: TID253
from psycopg import errors as pg_errors  # noqa: TID253
from psycopg import pq  # noqa: TID253

from sessmap.stores.base import LockHolder, LockLost, OnLost, OnWait, Waiting

Connection = psycopg.Connection[tuple[Any, ...]]
Describe = Callable[[str, BaseException], str]

APPLICATION_PREFIX: Final = "sessmap-lock"
_NAME_LENGTH = 63  # NAMEDATALEN - 1: the server keeps no more of application_name
# Server-side TCP keepalives on lock connections: a lock held by a host that vanished without
# closing its socket (power loss, partition) is freed after about idle + interval * count.
LOCK_KEEPALIVES = (30, 10, 3)  # seconds idle, seconds between probes, probes
# How often a waiting backend checks that its client is still there (PostgreSQL 14+). Short,
# because it bounds how long a dead waiter holds up the queue; cheap, because only backends
# running a query (the waiters) poll.
CHECK_INTERVAL_MS = 200
WATCH_INTERVAL_SECONDS = 1.0
# unguard() waits this long for a keepalive query in flight; longer means the network is gone,
# and closing the connection (release) is then the only thing left to do anyway.
_JOIN_SECONDS = 10.0
_MAX_MILLISECONDS = 2**31 - 1
# Settings named by the server's first version that knows them.
_PG14 = 140000

_MATCH: LiteralString = (
    "l.locktype = 'advisory' AND l.objsubid = 1"
    " AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())"
    " AND l.classid::bigint = %(classid)s AND l.objid::bigint = %(objid)s"
)
_QUEUE: LiteralString = (
    "SELECT (SELECT a.application_name FROM pg_catalog.pg_locks l"  # noqa: S608 - constants only
    "  JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
    "  WHERE " + _MATCH + " AND l.granted LIMIT 1),"
    " (SELECT count(*) FROM pg_catalog.pg_locks l WHERE " + _MATCH + " AND NOT l.granted)"
)
_STILL_HELD: LiteralString = (
    "SELECT EXISTS (SELECT FROM pg_catalog.pg_locks l WHERE "  # noqa: S608 - constants only
    + _MATCH
    + " AND l.granted"
    " AND l.pid = pg_backend_pid())"
)
# Waits, then (in the same statement, so no round trip and no moment where the name lies)
# stamps application_name with the server's clock at the grant. OFFSET 0 keeps the subquery
# (with its volatile call) a separate step evaluated before the outer target list.
_WAIT: LiteralString = (
    "SELECT set_config('application_name', format('"  # noqa: S608 - constants only
    + APPLICATION_PREFIX
    + " %%s %%s',"
    " round(extract(epoch FROM clock_timestamp())::numeric, 3), %(rest)s::text), false)"
    " FROM (SELECT pg_advisory_lock(%(id)s) OFFSET 0) AS locked"
)


_BUSY: LiteralString = "SELECT EXISTS (SELECT FROM pg_catalog.pg_locks l WHERE " + _MATCH + ")"  # noqa: S608


def lock_busy(connection: Connection, lock_id: int) -> bool:
    """Whether any backend holds or awaits the advisory lock ``lock_id``: one query, no lock."""
    classid, objid = pg_lock_tag(lock_id)
    row = connection.execute(_BUSY, {"classid": classid, "objid": objid}).fetchone()
    return bool(row and row[0])


def advisory_id(*parts: str) -> int:
    """A stable signed 64-bit advisory lock id (Python's hash() is salted per process)."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def thread_lock_id(schema: str, agent: str, key: str) -> int:
    """The advisory lock id of one thread: the same on every host and every version.

    The schema is part of it so two maps in one database never block each other's threads.
    """
    return advisory_id(schema, agent, key)


def pg_lock_tag(lock_id: int) -> tuple[int, int]:
    """``(classid, objid)`` as ``pg_locks`` shows a bigint advisory lock: the id's high and low
    32 bits, unsigned."""
    unsigned = lock_id & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


def _this_host() -> str:
    return os.uname().nodename  # as presence.this_host(), without importing it here


def application_name(since: float, pid: int, host: str) -> str:
    """``sessmap-lock <since> <pid> <host>``, ``since`` in Unix seconds; host last, so the
    server's truncation (to 63 bytes) only shortens it."""
    return f"{APPLICATION_PREFIX} {since:.3f} {pid} {host}"[:_NAME_LENGTH]


def parse_holder(name: str | None) -> LockHolder | None:
    """The holder an application_name describes; None for anything else (an older sessmap)."""
    parts = (name or "").split(" ", 3)
    if len(parts) != 4 or parts[0] != APPLICATION_PREFIX:
        return None
    try:
        since = datetime.fromtimestamp(float(parts[1]), UTC)
        pid = int(parts[2])
    except (ValueError, OverflowError, OSError):
        return None
    return LockHolder(host=parts[3], pid=pid, since=since)


def lock_options(given: str | None, timeout: float | None, server_version: int, *, check: bool = True) -> str:
    """The ``options`` startup parameter of a lock connection: the URL's own, then ours (later
    ``-c`` settings win, so ours do)."""
    # lock_timeout 0 means "no limit" (and overrides a role's lock_timeout); a positive
    # timeout is at least 1 ms, and at most what the server accepts (an int of ms, 24.8 days).
    # It only matters to pg_advisory_lock: the try never waits.
    milliseconds = 0 if timeout is None else min(_MAX_MILLISECONDS, max(1, round(timeout * 1000)))
    idle, interval, count = LOCK_KEEPALIVES
    settings: list[tuple[str, int]] = [
        ("statement_timeout", 0),
        ("idle_in_transaction_session_timeout", 0),
        ("lock_timeout", milliseconds),
        ("tcp_keepalives_idle", idle),
        ("tcp_keepalives_interval", interval),
        ("tcp_keepalives_count", count),
    ]
    if server_version >= _PG14:
        settings.append(("idle_session_timeout", 0))
        if check:
            settings.append(("client_connection_check_interval", CHECK_INTERVAL_MS))
    ours = " ".join(f"-c {name}={value}" for name, value in settings)
    return f"{given} {ours}" if given else ours


def connect_lock_connection(
    connect: Callable[[dict[str, Any]], Connection],
    given_options: str | None,
    timeout: float | None,
    server_version: int,
) -> Connection:
    """A connection for one thread lock, its settings in the startup packet.

    ``connect(extra)`` opens a connection with ``extra`` connection parameters on top of the
    store's own. A server that cannot check its clients' sockets (some platforms) refuses
    ``client_connection_check_interval``: then connect without it.
    """
    extra: dict[str, Any] = {
        "application_name": application_name(time.time(), os.getpid(), _this_host()),
        "options": lock_options(given_options, timeout, server_version),
    }
    try:
        return connect(extra)
    except psycopg.OperationalError as error:
        if "client_connection_check_interval" not in str(error):
            raise
    extra["options"] = lock_options(given_options, timeout, server_version, check=False)
    return connect(extra)


class PostgresThreadLock:
    """One thread's advisory lock on its own connection: acquired by ``acquire``, watched by
    ``guard`` while the agent runs, given back by ``release``. Implements ``HeldLock``."""

    def __init__(self, connection: Connection, lock_id: int, describe: Describe) -> None:
        self._connection = connection
        self._lock_id = lock_id
        classid, objid = pg_lock_tag(lock_id)
        self._tag = {"classid": classid, "objid": objid}
        self._describe = describe
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._watcher_stuck = False  # still in a query after unguard() gave up waiting for it

    # --- acquiring ------------------------------------------------------------------------

    def acquire(self, timeout: float | None, on_wait: OnWait | None) -> bool:
        """Take the lock; False when busy (``timeout`` 0) or when the wait timed out."""
        connection = self._connection
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_id,)).fetchone()
        if row and row[0]:
            return True
        if timeout is not None and timeout <= 0:
            return False
        if on_wait is not None:
            on_wait(self.waiting())
        try:
            connection.execute(_WAIT, {"rest": f"{os.getpid()} {_this_host()}", "id": self._lock_id})
        except pg_errors.LockNotAvailable:
            return False  # lock_timeout: the server has already taken this backend off the queue
        except BaseException:
            # Interrupted while queued (a signal handler's exception; psycopg itself cancels
            # only on KeyboardInterrupt and SystemExit): cancel, so the server drops this
            # waiter now, not when the connection's close reaches it.
            self._cancel()
            raise
        return True

    def waiting(self) -> Waiting:
        """Who holds the lock and how many wait for it: what a newcomer queues behind."""
        row = self._connection.execute(_QUEUE, self._tag).fetchone()
        if row is None:
            return Waiting(holder=None, ahead=0)
        return Waiting(holder=parse_holder(row[0]), ahead=int(row[1]))

    def _cancel(self) -> None:
        connection = self._connection
        if connection.closed or connection.pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
            return
        # On failure release() closes the connection: the server drops the waiter soon after.
        with contextlib.suppress(psycopg.Error, OSError):
            connection.cancel_safe(timeout=5.0)

    # --- HeldLock ----------------------------------------------------------------------------

    def agent_fds(self) -> tuple[int, ...]:
        # An agent that inherits the socket keeps the TCP session, and so the backend and its
        # lock, alive if sessmap is killed: the server sees the end only when the agent exits.
        return (self._connection.pgconn.socket,)

    def guard(self, agent_pid: int, on_lost: OnLost) -> None:
        # agent_pid is not needed: a connection lock has no lease to renew for the agent.
        del agent_pid
        if self._watcher is not None:
            raise RuntimeError("this thread lock is guarded already")
        self._stop.clear()
        self._watcher = threading.Thread(
            target=self._watch, args=(on_lost,), name="sessmap-postgres-lock-guard", daemon=True
        )
        self._watcher.start()

    def unguard(self) -> None:
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(_JOIN_SECONDS)
            self._watcher_stuck = watcher.is_alive()

    def _watch(self, on_lost: OnLost) -> None:
        while not self._stop.wait(WATCH_INTERVAL_SECONDS):
            reason = self._lost_reason()
            if reason is not None:
                if not self._stop.is_set():
                    on_lost(LockLost(reason, 0.0))
                return

    def _lost_reason(self) -> str | None:
        """Why the lock is gone, or None while this backend still holds it.

        The query is also the keepalive: it proves the connection works end to end, which a
        silent idle socket cannot.
        """
        try:
            row = self._connection.execute(_STILL_HELD, self._tag).fetchone()
        except psycopg.Error as error:
            return self._describe("lost the PostgreSQL connection holding the thread lock", error)
        if row is None or not row[0]:
            return "the PostgreSQL server no longer holds the thread lock"
        return None

    # --- releasing ---------------------------------------------------------------------------

    def release(self) -> None:
        """Stop watching, unlock, close. Never raises for a connection that is already gone."""
        self.unguard()
        connection = self._connection
        # Closing releases the lock too; unlocking first says what we mean and frees the next
        # waiter without waiting for the server to notice the close. Not while a query is still
        # in flight (an interrupted wait, a watcher stuck on a dead network): close at once.
        idle = not connection.closed and connection.pgconn.transaction_status == pq.TransactionStatus.IDLE
        if idle and not self._watcher_stuck:
            with contextlib.suppress(psycopg.Error):
                connection.execute("SELECT pg_advisory_unlock(%s)", (self._lock_id,))
        connection.close()
