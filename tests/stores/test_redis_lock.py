"""The Redis thread lock as a fair queue, and its lease kept for the agent, on a real server.

First come, first served across processes (in both waiting modes), waiters that leave the
queue when they give up or die, ``on_wait``'s holder and place, a quick hand-over, and the held
lock's ``guard``: a keeper process that renews the lease while the agent lives, even with
sessmap stopped or killed, and ``on_lost`` when Redis is gone or the lock was taken.

The outage test runs on a private redis-server of its own (a free port, no persistence), so
stopping it disturbs nobody; the rest use the machine's server through tests/support/servers.py.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.support.private_servers import private_redis_server
from tests.support.servers import prefix_of, redis_client, redis_url

from sessmap.errors import Busy
from sessmap.stores.base import LockHolder, LockLost, Waiting
from sessmap.stores.redis import RedisStore
from sessmap.stores.redis_lock import TAKEN, LockNames

pytestmark = pytest.mark.server

KEY = "slack:C1:1700000000.000100"

# A waiter process: takes the lock once per line on stdin, then prints when it held it.
WAITER = """
import sys, time
from sessmap.stores import open_store
url, key, timeout = sys.argv[1], sys.argv[2], sys.argv[3]
with open_store(url) as store:
    print("ready", flush=True)
    for line in sys.stdin:
        with store.thread_lock("default", key, None if timeout == "none" else float(timeout)):
            start = time.monotonic()
            time.sleep(0.02)
            end = time.monotonic()
        print(repr(start), repr(end), flush=True)
"""

# A run holding the lock with an agent child that lives ARGV[2] seconds, guarded.
HOLDER = """
import subprocess, sys, time
from sessmap.stores import open_store
with open_store(sys.argv[1]) as store, store.thread_lock("default", sys.argv[3], None) as held:
    started = time.monotonic()
    agent = subprocess.Popen(["sleep", sys.argv[2]])
    held.guard(agent.pid, lambda lost: None)
    print(agent.pid, repr(started), flush=True)
    agent.wait()
    held.unguard()
"""


@pytest.fixture
def url_1s() -> Iterator[str]:
    with redis_url(lock_ttl="1s") as url:
        yield url


def names_of(url: str, key: str = KEY) -> LockNames:
    prefix = prefix_of(url)
    return LockNames.of(prefix, f"{prefix}:lock:default:{key}")


def read_line(process: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the process said nothing in time"
    return process.stdout.readline().strip()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(script: str, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        started.append(process)
        return process

    yield start
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()


def start_waiters(spawn: Callable[..., subprocess.Popen[str]], url: str, n: int, timeout: str) -> list[Any]:
    waiters = [spawn(WAITER, url, KEY, timeout) for _ in range(n)]
    for waiter in waiters:
        assert read_line(waiter, 30) == "ready"
    return waiters


def go(waiter: subprocess.Popen[str]) -> None:
    assert waiter.stdin is not None
    waiter.stdin.write("go\n")
    waiter.stdin.flush()


def held_span(waiter: subprocess.Popen[str]) -> tuple[float, float]:
    start, end = read_line(waiter).split()
    return float(start), float(end)


# --- first come, first served ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("timeout", ["none", "30"], ids=["for-ever", "with-timeout"])
def test_waiters_are_served_in_arrival_order(
    timeout: str, url_1s: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    waiters = start_waiters(spawn, url_1s, 8, timeout)
    with RedisStore(url_1s) as store:
        for _trial in range(3):
            order = random.sample(range(len(waiters)), len(waiters))
            with store.thread_lock("default", KEY, 0):
                for index in order:
                    go(waiters[index])
                    time.sleep(random.uniform(0.2, 0.3))
            spans = {index: held_span(waiters[index]) for index in order}
            served = sorted(order, key=lambda index: spans[index][0])
            assert served == order
            ends = [spans[index][1] for index in served]
            assert all(end <= spans[after][0] for end, after in zip(ends, served[1:], strict=False))


@pytest.mark.slow
def test_a_killed_waiter_stalls_the_queue_for_less_than_the_ttl(
    url_1s: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    client = redis_client()
    queue = names_of(url_1s).queue
    waiters = start_waiters(spawn, url_1s, 4, "none")
    with RedisStore(url_1s) as store:
        with store.thread_lock("default", KEY, 0):
            for number, waiter in enumerate(waiters, start=1):
                go(waiter)
                wait_until(lambda number=number: client.zcard(queue) == number)  # type: ignore[misc]
            waiters[0].kill()  # the head of the queue, its lease still running
            waiters[0].wait()
        released = time.monotonic()
        spans = [held_span(waiter) for waiter in waiters[1:]]
    assert [start for start, _ in spans] == sorted(start for start, _ in spans)
    assert spans[0][0] - released < 1.0 + 0.2  # the lease (2/3 of the TTL) and a margin
    assert client.zcard(queue) == 0  # the dead ticket is gone
    client.close()


def test_a_waiter_that_times_out_raises_busy_and_leaves_the_queue(url_1s: str) -> None:
    client = redis_client()
    queue = names_of(url_1s).queue
    errors: list[BaseException] = []
    acquired: list[float] = []

    def wait(store: RedisStore, timeout: float | None) -> None:
        try:
            with store.thread_lock("default", KEY, timeout):
                acquired.append(time.monotonic())
        except Busy as error:
            errors.append(error)

    with RedisStore(url_1s) as holder, RedisStore(url_1s) as quitter, RedisStore(url_1s) as patient:
        with holder.thread_lock("default", KEY, 0):
            quits = threading.Thread(target=wait, args=(quitter, 0.4))
            started = time.monotonic()
            quits.start()
            wait_until(lambda: client.zcard(queue) == 1)
            waits = threading.Thread(target=wait, args=(patient, None))
            waits.start()
            wait_until(lambda: client.zcard(queue) == 2)
            quits.join()
            assert time.monotonic() - started >= 0.4
            assert client.zcard(queue) == 1  # it left at once, not when its lease lapsed
            # An exception while queued (here from on_wait) leaves the queue too.
            with pytest.raises(RuntimeError):

                def fail(waiting: Waiting) -> None:
                    raise RuntimeError("interrupted")

                quitter.thread_lock("default", KEY, None, on_wait=fail).__enter__()
            assert client.zcard(queue) == 1
        released = time.monotonic()
        waits.join()
    [error] = errors
    assert isinstance(error, Busy)
    assert (error.agent, error.key) == ("default", KEY)
    assert acquired[0] - released < 0.1  # the one behind the quitter got it straight away
    client.close()


def test_on_wait_tells_the_holder_and_the_place_in_the_queue(url_1s: str) -> None:
    told: dict[str, list[Waiting]] = {"first": [], "second": [], "once": [], "free": []}
    with (
        RedisStore(url_1s) as holder,
        RedisStore(url_1s) as first,
        RedisStore(url_1s) as second,
        RedisStore(url_1s) as once,
    ):
        with once.thread_lock("default", KEY, None, on_wait=told["free"].append):
            pass
        before = datetime.now(UTC) - timedelta(milliseconds=1)
        with holder.thread_lock("default", KEY, 0):
            after = datetime.now(UTC)
            with pytest.raises(Busy):  # trying once never queues, so never waits
                once.thread_lock("default", KEY, 0, on_wait=told["once"].append).__enter__()
            threads = []
            for name, store in (("first", first), ("second", second)):

                def wait(store: RedisStore = store, name: str = name) -> None:
                    with store.thread_lock("default", KEY, 10, on_wait=told[name].append):
                        pass

                thread = threading.Thread(target=wait)
                thread.start()
                wait_until(lambda name=name: len(told[name]) == 1)  # type: ignore[misc]
                threads.append(thread)
        for thread in threads:
            thread.join()
    assert told["free"] == told["once"] == []
    [(holder_info, ahead_first)] = told["first"]
    [(holder_second, ahead_second)] = told["second"]
    assert (ahead_first, ahead_second) == (0, 1)
    assert isinstance(holder_info, LockHolder)
    assert holder_info == holder_second
    assert (holder_info.host, holder_info.pid) == (os.uname().nodename, os.getpid())
    assert before <= holder_info.since <= after


@pytest.mark.slow
def test_the_lock_is_handed_over_quickly(url_1s: str) -> None:
    client = redis_client()
    queue = names_of(url_1s).queue
    latencies: list[float] = []
    with RedisStore(url_1s) as holder, RedisStore(url_1s) as waiter:
        for _round in range(6):
            got: list[tuple[float, Any]] = []

            def take(got: list[tuple[float, Any]] = got) -> None:
                with waiter.thread_lock("default", KEY, None) as held:
                    got.append((time.perf_counter(), held))

            with holder.thread_lock("default", KEY, 0):
                thread = threading.Thread(target=take)
                thread.start()
                wait_until(lambda: client.zcard(queue) == 1)
                time.sleep(0.3)  # well into its wait: no polling luck
                released = time.perf_counter()
            thread.join()
            [(acquired, held)] = got
            latencies.append(acquired - released)
            assert held.agent_fds() == ()  # a lease cannot be inherited: guard keeps it instead
    assert statistics.median(latencies) < 0.05, latencies
    client.close()


# --- guard: the lease kept for the agent ------------------------------------------------------


@pytest.fixture
def agent() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


@pytest.mark.slow
def test_a_redis_outage_is_reported_before_the_lease_lapses(agent: subprocess.Popen[bytes]) -> None:
    ttl = 2.0
    reports: list[tuple[float, LockLost]] = []
    with (
        private_redis_server() as (server_url, server),
        RedisStore(f"{server_url}?lock_ttl=2s") as store,
        store.thread_lock("default", KEY, 0) as held,
    ):
        held.guard(agent.pid, lambda lost: reports.append((time.monotonic(), lost)))
        time.sleep(0.2)
        server.kill()
        server.wait()
        down = time.monotonic()
        wait_until(lambda: bool(reports), timeout=ttl)
        time.sleep(0.5)  # once, however long the outage lasts
        held.unguard()
    [(told, lost)] = reports
    assert "cannot renew the thread's lock in Redis" in lost.reason
    assert lost.grace > 0
    assert told - down < ttl
    assert told + lost.grace <= down + ttl  # the last renewal was before the outage


def test_a_lock_taken_by_another_run_is_reported_at_once(url_1s: str, agent: subprocess.Popen[bytes]) -> None:
    client = redis_client()
    reports: list[LockLost] = []
    with RedisStore(url_1s) as store, store.thread_lock("default", KEY, 0) as held:
        held.guard(agent.pid, reports.append)
        client.set(names_of(url_1s).lock, "another run", px=5000)
        wait_until(lambda: bool(reports), timeout=1.0)  # the keeper's next renewal sees it
        held.unguard()
    assert reports == [LockLost(TAKEN, 0.0)]
    assert client.get(names_of(url_1s).lock) == "another run"  # release left it alone
    client.close()


def _busy(store: RedisStore) -> bool:
    try:
        with store.thread_lock("default", KEY, 0):
            return False
    except Busy:
        return True


@pytest.mark.slow
def test_a_stopped_holder_keeps_the_lock_while_its_agent_lives(
    url_1s: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    holder = spawn(HOLDER, url_1s, "5", KEY)
    _, started = read_line(holder).split()
    os.kill(holder.pid, signal.SIGSTOP)
    with RedisStore(url_1s) as other:
        for _check in range(8):  # four TTLs
            assert _busy(other)
            time.sleep(0.5)
        os.kill(holder.pid, signal.SIGCONT)
        with other.thread_lock("default", KEY, 5):
            acquired = time.monotonic()
    assert acquired >= float(started) + 5 - 0.1  # only once the agent had exited
    assert holder.wait(5) == 0


@pytest.mark.slow
def test_a_killed_holder_keeps_the_lock_until_its_agent_exits(
    url_1s: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    holder = spawn(HOLDER, url_1s, "3", KEY)
    agent_pid, started = read_line(holder).split()
    holder.kill()
    holder.wait()
    try:
        with RedisStore(url_1s) as other:
            for _check in range(4):  # two TTLs
                assert _busy(other)
                time.sleep(0.5)
            with other.thread_lock("default", KEY, 5):
                acquired = time.monotonic()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(agent_pid), signal.SIGKILL)
    exited = float(started) + 3
    assert exited - 0.1 <= acquired <= exited + 0.5  # freed by the keeper the moment it exited
