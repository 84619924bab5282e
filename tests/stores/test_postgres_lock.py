"""The PostgreSQL thread lock under contention and faults, on a real server.

First come, first served (PostgreSQL's own lock queue, kept), waiters that leave the queue the
moment they give up or die, ``on_wait``'s holder and queue length, and the held lock's
``HeldLock`` side: a watcher that notices a server restart or a terminated backend, settings
that no role- or database-wide timeout overrides, and a socket an agent inherits so that the
lock outlives a killed sessmap until the agent exits.

The restart test runs on a private cluster of its own (initdb on a free port), so restarting
it disturbs nobody; the rest use the machine's server through tests/support/servers.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from tests.support.backends import store_url
from tests.support.private_servers import PrivatePostgres, private_postgres_server
from tests.support.servers import fresh_postgres_database

from sessmap.errors import Busy
from sessmap.stores import open_store
from sessmap.stores.base import LockHolder, LockLost, Waiting
from sessmap.stores.postgres import PostgresStore, thread_lock_id
from sessmap.stores.postgres_lock import (
    CHECK_INTERVAL_MS,
    PostgresThreadLock,
    application_name,
    connect_lock_connection,
    lock_options,
    parse_holder,
    pg_lock_tag,
)

pytestmark = pytest.mark.server

AGENT = "default"
HOST = os.uname().nodename

# A waiter in a process of its own: imports and connects first ("ready"), then queues when told
# ("go"), reports what on_wait heard, logs its turn in the shared file, holds for a moment.
WAITER = """
import json, os, sys, time
from sessmap.errors import Busy
from sessmap.stores import open_store
url, key, timeout, hold, log = sys.argv[1:6]
def on_wait(waiting):
    holder = waiting.holder
    print(json.dumps({"ahead": waiting.ahead, "pid": holder and holder.pid, "host": holder and holder.host,
                      "since": holder and holder.since.timestamp()}), flush=True)
with open_store(url) as store:
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        with store.thread_lock("default", key, None if timeout == "none" else float(timeout), on_wait):
            with open(log, "a") as turns:
                turns.write(f"{os.getpid()} {time.time()}\\n")
            time.sleep(float(hold))
    except Busy:
        print("busy", flush=True)
        sys.exit(75)
print("done", flush=True)
"""

# A holder whose agent inherits the lock's socket, as exec starts it; the agent lives until its
# stdin (the test's pipe) closes.
HOLDER_WITH_AGENT = """
import subprocess, sys, time
from sessmap.stores import open_store
with open_store(sys.argv[1]) as store, store.thread_lock("default", "k", None) as lock:
    agent = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             pass_fds=lock.agent_fds())
    lock.guard(agent.pid, lambda lost: None)
    print(agent.pid, flush=True)
    time.sleep(600)
"""


# --- helpers ------------------------------------------------------------------------------------


def database_of(url: str) -> str:
    """The store URL without sessmap's own parameters: what psycopg can connect to."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def schema_of(url: str) -> str:
    return dict(piece.partition("=")[::2] for piece in urlsplit(url).query.split("&"))["schema"]


class Server:
    """An admin connection to a store's database, to look at and poke the lock queue."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(database_of(url), autocommit=True, connect_timeout=3)
        self.schema = schema_of(url)

    def _tag(self, key: str) -> dict[str, Any]:
        classid, objid = pg_lock_tag(thread_lock_id(self.schema, AGENT, key))
        return {"classid": classid, "objid": objid}

    def waiters(self, key: str) -> list[int]:
        """The backends queued on the thread's lock, oldest first."""
        rows = self.connection.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = %(classid)s"
            " AND objid::bigint = %(objid)s AND objsubid = 1 AND NOT granted ORDER BY waitstart",
            self._tag(key),
        ).fetchall()
        return [pid for (pid,) in rows]

    def holder(self, key: str) -> int | None:
        """The backend holding the thread's lock."""
        row = self.connection.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = %(classid)s"
            " AND objid::bigint = %(objid)s AND objsubid = 1 AND granted",
            self._tag(key),
        ).fetchone()
        return None if row is None else int(row[0])

    def await_waiters(self, key: str, count: int, within: float = 5.0) -> float:
        """Seconds until exactly ``count`` backends wait on the thread's lock."""
        started = time.monotonic()
        while len(self.waiters(key)) != count:
            assert time.monotonic() - started < within, f"{self.waiters(key)} wait, not {count}"
            time.sleep(0.01)
        return time.monotonic() - started


class Waiter:
    """A waiter process (see WAITER); ``go()`` queues it, ``heard()`` is what on_wait heard."""

    def __init__(self, url: str, key: str, timeout: float | None, log: Path, hold: float = 0.05) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WAITER,
                url,
                key,
                "none" if timeout is None else str(timeout),
                str(hold),
                str(log),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        # A reader thread, so that a line that never comes fails the test instead of hanging it.
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self._lines.put(line.strip())

    def line(self, within: float = 15.0) -> str:
        try:
            return self._lines.get(timeout=within)
        except queue.Empty:
            raise AssertionError(f"waiter {self.process.pid} said nothing for {within} s") from None

    def ready(self) -> None:
        assert self.line() == "ready"

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def heard(self) -> dict[str, Any]:
        """What its on_wait was told."""
        told: dict[str, Any] = json.loads(self.line())
        return told

    def finish(self) -> int:
        self.process.wait(timeout=30)
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with store_url("postgres", tmp_path) as made:
        yield made


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    with open_store(url) as opened:
        assert isinstance(opened, PostgresStore)
        yield opened


@pytest.fixture
def server(url: str) -> Iterator[Server]:
    admin = Server(url)
    yield admin
    admin.connection.close()


@pytest.fixture
def waiters(url: str, tmp_path: Path) -> Iterator[Callable[..., list[Waiter]]]:
    """``waiters(n, key=…, timeout=…)``: n waiter processes, all imported and connected."""
    started: list[Waiter] = []

    def start(
        count: int, *, key: str = "k", timeout: float | None = None, hold: float = 0.05
    ) -> list[Waiter]:
        batch = [Waiter(url, key, timeout, tmp_path / "turns", hold) for _ in range(count)]
        started.extend(batch)
        for waiter in batch:
            waiter.ready()
        return batch

    yield start
    for waiter in started:
        waiter.kill()


def turns(tmp_path: Path) -> list[int]:
    """The pids of the waiters in the order they held the lock."""
    return [int(line.split()[0]) for line in (tmp_path / "turns").read_text().splitlines()]


class Lost:
    """An on_lost that remembers its calls and when the first came."""

    def __init__(self) -> None:
        self.calls: list[LockLost] = []
        self.event = threading.Event()

    def __call__(self, lost: LockLost) -> None:
        self.calls.append(lost)
        self.event.set()


# --- first come, first served ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("timeout", [None, 30.0], ids=["no-limit", "timeout"])
def test_waiters_are_served_in_arrival_order(
    store: PostgresStore,
    server: Server,
    waiters: Callable[..., list[Waiter]],
    timeout: float | None,
    tmp_path: Path,
) -> None:
    queue = waiters(8, timeout=timeout)
    with store.thread_lock(AGENT, "k", 0):
        for place, waiter in enumerate(queue):
            started = time.monotonic()
            waiter.go()
            heard = waiter.heard()
            # Each hears the one holder and everyone queued before it.
            assert (heard["ahead"], heard["pid"], heard["host"]) == (place, os.getpid(), HOST)
            server.await_waiters("k", place + 1)
            time.sleep(max(0.0, 0.2 + 0.1 * (place % 2) - (time.monotonic() - started)))  # 0.2-0.3 s
    assert [waiter.finish() for waiter in queue] == [0] * 8
    assert turns(tmp_path) == [waiter.process.pid for waiter in queue]


@pytest.mark.slow
def test_a_waiter_killed_with_minus_9_leaves_the_queue_at_once(
    store: PostgresStore, server: Server, waiters: Callable[..., list[Waiter]], tmp_path: Path
) -> None:
    first, killed, third, fourth = waiters(4)
    with store.thread_lock(AGENT, "k", 0):
        for place, waiter in enumerate((first, killed, third)):
            waiter.go()
            server.await_waiters("k", place + 1)  # queued in this order
        killed.kill()
        # The server notices within client_connection_check_interval, not at its turn.
        assert server.await_waiters("k", 2, within=2.0) < 1.0
        fourth.go()
        assert fourth.heard()["ahead"] == 2
        server.await_waiters("k", 3)
        released = time.time()
    for waiter in (first, third, fourth):
        assert waiter.finish() == 0
    assert turns(tmp_path) == [first.process.pid, third.process.pid, fourth.process.pid]
    # The next one was served right after the holder let go, not after a dead waiter's turn.
    served = float((tmp_path / "turns").read_text().split()[1])
    assert served - released < 0.5


@pytest.mark.slow
def test_a_waiter_that_times_out_raises_busy_and_leaves_the_queue(
    store: PostgresStore, server: Server, url: str, waiters: Callable[..., list[Waiter]], tmp_path: Path
) -> None:
    (behind,) = waiters(1)
    with open_store(url) as other, store.thread_lock(AGENT, "k", 0):
        heard: list[Waiting] = []
        started = time.monotonic()
        with pytest.raises(Busy) as busy:
            other.thread_lock(AGENT, "k", 0, heard.append).__enter__()
        assert time.monotonic() - started < 0.5  # timeout 0: at once, and no wait to report
        assert (busy.value.agent, busy.value.key, heard) == (AGENT, "k", [])

        done = threading.Event()

        def wait_too_long() -> None:
            with pytest.raises(Busy):
                other.thread_lock(AGENT, "k", 0.8, heard.append).__enter__()
            done.set()

        waiting = threading.Thread(target=wait_too_long)
        started = time.monotonic()
        waiting.start()
        server.await_waiters("k", 1)
        behind.go()
        assert behind.heard()["ahead"] == 1  # queued behind the one that will give up
        server.await_waiters("k", 2)
        waiting.join(5)
        assert done.is_set() and 0.8 <= time.monotonic() - started < 2.0
        assert [w.ahead for w in heard] == [0]
        assert server.await_waiters("k", 1, within=0.2) < 0.2  # the impatient one left at once
    assert behind.finish() == 0
    assert turns(tmp_path) == [behind.process.pid]


class Interrupted(Exception):
    pass


@contextlib.contextmanager
def interrupted_after(seconds: float) -> Iterator[None]:
    """Raise Interrupted in the main thread after ``seconds``, from a signal handler (as a
    program's SIGTERM handler might)."""

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_interrupted_waiter_leaves_the_queue(store: PostgresStore, url: str, server: Server) -> None:
    with open_store(url) as other, store.thread_lock(AGENT, "k", 0):
        with interrupted_after(0.3), pytest.raises(Interrupted):
            other.thread_lock(AGENT, "k", None).__enter__()
        assert server.await_waiters("k", 0, within=2.0) < 1.0


def test_an_exception_while_queued_cancels_the_wait(store: PostgresStore, url: str, server: Server) -> None:
    """A signal handler's exception (psycopg itself cancels only on KeyboardInterrupt and
    SystemExit) takes the waiter off the queue while its connection is still open: a cancel,
    not the close that follows."""
    with open_store(url) as other, store.thread_lock(AGENT, "k", 0):
        assert isinstance(other, PostgresStore)
        lock_id = thread_lock_id(server.schema, AGENT, "k")
        lock = PostgresThreadLock(other._connect_lock(None), lock_id, other._describe)
        try:
            with interrupted_after(0.3), pytest.raises(Interrupted):
                lock.acquire(None, None)
            assert server.await_waiters("k", 0, within=2.0) < 1.0
            assert not lock._connection.closed
        finally:
            lock.release()


# --- on_wait ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_on_wait_names_the_holder_and_counts_those_ahead(
    store: PostgresStore, url: str, server: Server, waiters: Callable[..., list[Waiter]]
) -> None:
    first, second = waiters(2, hold=1.0)
    before = datetime.now(UTC)
    with store.thread_lock(AGENT, "k", 0):
        after = datetime.now(UTC)
        first.go()
        heard = first.heard()
        assert (heard["ahead"], heard["pid"], heard["host"]) == (0, os.getpid(), HOST)
        assert before - timedelta(seconds=0.5) <= datetime.fromtimestamp(heard["since"], UTC) <= after
        second.go()
        assert second.heard()["ahead"] == 1
        server.await_waiters("k", 2)
        time.sleep(1.0)
        handed_over = datetime.now(UTC)
    server.await_waiters("k", 1)
    # The holder now is the first waiter, since it was granted the lock (not since it queued).
    with open_store(url) as other:
        seen: list[Waiting] = []
        with pytest.raises(Busy):
            other.thread_lock(AGENT, "k", 0.05, seen.append).__enter__()
    (waiting,) = seen
    assert waiting.holder is not None and waiting.ahead == 1
    assert (waiting.holder.pid, waiting.holder.host) == (first.process.pid, HOST)
    assert abs(waiting.holder.since - handed_over) < timedelta(seconds=0.5)
    assert (first.finish(), second.finish()) == (0, 0)


def test_on_wait_holder_is_none_for_a_holder_that_does_not_say(store: PostgresStore, url: str) -> None:
    # A lock taken by an older sessmap (application_name "sessmap") or by hand.
    with psycopg.connect(database_of(url), autocommit=True, application_name="sessmap") as foreign:
        foreign.execute("SELECT pg_advisory_lock(%s)", (thread_lock_id(schema_of(url), AGENT, "k"),))
        seen: list[Waiting] = []
        with pytest.raises(Busy):
            store.thread_lock(AGENT, "k", 0.05, seen.append).__enter__()
    assert seen == [Waiting(holder=None, ahead=0)]


# --- faults while held ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    with private_postgres_server() as server:
        yield server


@pytest.mark.slow
def test_a_server_restart_while_guarded_is_reported(private_postgres: PrivatePostgres) -> None:
    url = f"{private_postgres.url}?schema=restart"
    lost = Lost()
    with open_store(url) as store, store.thread_lock(AGENT, "k", 0) as lock:
        lock.guard(os.getpid(), lost)
        time.sleep(1.2)  # a keepalive or so while all is well
        assert lost.calls == []
        restarted = time.monotonic()
        private_postgres.restart()
        assert lost.event.wait(5), "on_lost was not called after the server restarted"
        assert time.monotonic() - restarted < 5
        with open_store(url) as other, other.thread_lock(AGENT, "k", 0):
            pass  # the lock is gone indeed: another run may start
        lock.unguard()
        (call,) = lost.calls
        assert call.grace == 0.0 and "PostgreSQL" in call.reason


@pytest.mark.slow
def test_a_database_wide_idle_session_timeout_does_not_drop_a_held_lock() -> None:
    with fresh_postgres_database() as database:
        with psycopg.connect(database, autocommit=True) as admin:
            name = sql.Identifier(urlsplit(database).path.lstrip("/"))
            admin.execute(sql.SQL("ALTER DATABASE {} SET idle_session_timeout = '500ms'").format(name))
        with psycopg.connect(database, autocommit=True) as plain:  # the setting bites ordinary sessions
            time.sleep(1.0)
            with pytest.raises(psycopg.OperationalError):
                plain.execute("SELECT 1")
        url = f"{database}?schema=idle"
        lost = Lost()
        with open_store(url) as store, store.thread_lock(AGENT, "k", 0) as lock:
            time.sleep(2.0)  # idle and unwatched: no query keeps the session busy
            with open_store(url) as other, pytest.raises(Busy):
                other.thread_lock(AGENT, "k", 0).__enter__()
            lock.guard(os.getpid(), lost)
            time.sleep(1.5)
        assert lost.calls == []


@pytest.mark.slow
def test_a_terminated_lock_backend_is_reported(store: PostgresStore, server: Server) -> None:
    lost = Lost()
    with store.thread_lock(AGENT, "k", 0) as lock:
        lock.guard(os.getpid(), lost)
        backend = server.holder("k")
        assert backend is not None
        server.connection.execute("SELECT pg_terminate_backend(%s)", (backend,))
        assert lost.event.wait(4), "on_lost was not called after the backend was terminated"
        lock.unguard()
    assert len(lost.calls) == 1 and lost.calls[0].grace == 0.0


@pytest.mark.slow
def test_the_agent_that_inherited_the_lock_keeps_it_after_sessmap_is_killed(
    store: PostgresStore, url: str
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER_WITH_AGENT, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    agent_pid = None
    try:
        agent_pid = int(holder.stdout.readline())
        holder.kill()
        holder.wait()
        os.kill(agent_pid, 0)  # the agent still runs...
        for _ in range(4):  # ...and holds the thread, through the holder's death and beyond
            with pytest.raises(Busy):
                store.thread_lock(AGENT, "k", 0).__enter__()
            time.sleep(CHECK_INTERVAL_MS / 1000 + 0.1)
        holder.stdin.close()  # the agent exits
        ended = time.monotonic()
        with store.thread_lock(AGENT, "k", 5):
            assert time.monotonic() - ended < 2.0
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        if agent_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(agent_pid, signal.SIGKILL)


# --- the pieces, without a server -------------------------------------------------------------------


def test_lock_settings_ride_in_the_startup_packet_and_win_over_the_urls() -> None:
    options = lock_options("-c search_path=x -c statement_timeout=5s", 2.5, 150000)
    assert options.startswith("-c search_path=x -c statement_timeout=5s ")  # later -c wins: ours
    for setting in (
        "statement_timeout=0",
        "idle_session_timeout=0",
        "idle_in_transaction_session_timeout=0",
        "lock_timeout=2500",
        f"client_connection_check_interval={CHECK_INTERVAL_MS}",
    ):
        assert f"-c {setting}" in options
    assert "-c lock_timeout=0" in lock_options(None, None, 150000)  # no limit, whatever the role says
    assert "-c lock_timeout=2147483647" in lock_options(None, 1e12, 150000)  # the server's maximum
    older = lock_options(None, None, 130000)  # PostgreSQL 13 knows neither setting
    assert "idle_session_timeout" not in older and "client_connection_check_interval" not in older


def test_a_server_that_refuses_the_socket_check_gets_a_connection_without_it() -> None:
    tried: list[str] = []

    def connect(extra: dict[str, Any]) -> Any:
        tried.append(extra["options"])
        if "client_connection_check_interval" in extra["options"]:
            raise psycopg.OperationalError(
                'invalid value for parameter "client_connection_check_interval": 200'
            )
        return "connection"

    assert connect_lock_connection(connect, None, None, 150000) == "connection"
    assert len(tried) == 2 and "client_connection_check_interval" not in tried[1]
    tried.clear()

    def refuse(extra: dict[str, Any]) -> Any:
        tried.append(extra["options"])
        raise psycopg.OperationalError("connection refused")

    with pytest.raises(psycopg.OperationalError):  # anything else is the caller's error, at once
        connect_lock_connection(refuse, None, None, 150000)
    assert len(tried) == 1


def test_the_holder_is_read_back_from_its_application_name() -> None:
    name = application_name(1_800_000_000.25, 4242, "build-7.example.com")
    assert parse_holder(name) == LockHolder(
        "build-7.example.com", 4242, datetime.fromtimestamp(1_800_000_000.25, UTC)
    )
    assert len(application_name(1.0, 1, "h" * 100)) == 63  # the server keeps no more; host is cut
    for foreign in (None, "", "sessmap", "psql", "sessmap-lock x 1 h", "sessmap-lock 1.0 pid h"):
        assert parse_holder(foreign) is None
    assert pg_lock_tag(-1) == (0xFFFF_FFFF, 0xFFFF_FFFF) and pg_lock_tag(1 << 32 | 5) == (1, 5)
