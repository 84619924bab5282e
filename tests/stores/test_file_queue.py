"""The file stores' thread-lock queue (stores/file_queue.py), with real processes.

Each waiter is its own Python process. A waiter says ``waiting`` from its ``on_wait`` (called
once its ticket is taken), and the next one starts only after that, so the arrival order is
exactly the start order and any other order served is the queue's fault, not start-up jitter.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.support.backends import FILE_KINDS, backend_params, store_path

from sessmap.errors import Busy, StoreError
from sessmap.stores import Store, open_store
from sessmap.stores.base import Waiting
from sessmap.stores.locks import locks_dir_for, thread_lock_path

KEY = "slack:C1:1700000000.000100"

# argv: url, name, timeout ("-" for none), hold ("stdin": until a line comes; else seconds), log.
# Prints JSON events: waiting (from on_wait), locked, busy. While holding it appends
# "name acquired released" to the log, so the log's line order is the order the lock was held.
WAITER = r"""
import json, os, sys, time
from sessmap.errors import Busy, StoreError
from sessmap.stores import open_store

url, name, timeout, hold, log = sys.argv[1:6]
timeout = None if timeout == "-" else float(timeout)

def say(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)

def on_wait(waiting):
    holder = waiting.holder
    say("waiting", ahead=waiting.ahead, holder=None if holder is None else
        {"host": holder.host, "pid": holder.pid, "since": holder.since.isoformat()})

with open_store(url) as store:
    try:
        with store.thread_lock("default", sys.argv[6] if len(sys.argv) > 6 else "k", timeout, on_wait):
            acquired = time.monotonic()
            say("locked", pid=os.getpid())
            if hold == "stdin":
                sys.stdin.readline()
            else:
                time.sleep(float(hold))
            released = time.monotonic()
            with open(log, "a") as out:
                out.write(f"{name} {acquired} {released}\n")
    except Busy:
        say("busy")
        sys.exit(75)
"""


@dataclass
class Waiter:
    name: str
    process: subprocess.Popen[str]
    events: list[dict[str, object]] = field(default_factory=list)

    def next_event(self) -> dict[str, object]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"{self.name} exited ({self.process.wait()}) without a word"
        event: dict[str, object] = json.loads(line)
        self.events.append(event)
        return event

    def expect(self, event: str) -> dict[str, object]:
        got = self.next_event()
        assert got["event"] == event, (self.name, got)
        return got

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()


class Queue:
    """Waiter processes on one store thread, and the log of who held it when."""

    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log
        self.waiters: list[Waiter] = []

    def start(self, name: str, timeout: float | None, hold: str = "0.05", umask: int | None = None) -> Waiter:
        argv = [sys.executable, "-c", WAITER, self.url, name, "-" if timeout is None else str(timeout)]
        process = subprocess.Popen(
            [*argv, hold, str(self.log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=None if umask is None else (lambda: os.umask(umask) and None),
        )
        waiter = Waiter(name, process)
        self.waiters.append(waiter)
        return waiter

    def holder(self) -> Waiter:
        """A process holding the lock until told to release it."""
        waiter = self.start("holder", None, hold="stdin")
        waiter.expect("locked")
        return waiter

    def queued(self, name: str, timeout: float | None, hold: str = "0.05") -> Waiter:
        """A waiter that has taken its place in the queue."""
        waiter = self.start(name, timeout, hold)
        waiter.expect("waiting")
        return waiter

    def held(self) -> list[tuple[str, float, float]]:
        """(name, acquired, released) in the order the lock was held."""
        rows = [line.split() for line in self.log.read_text().splitlines()]
        return [(name, float(acquired), float(released)) for name, acquired, released in rows]

    def close(self) -> None:
        for waiter in self.waiters:
            if waiter.process.poll() is None:
                waiter.process.kill()
            waiter.process.wait()
            for stream in (waiter.process.stdin, waiter.process.stdout):
                if stream is not None:
                    stream.close()


@pytest.fixture
def file_kind(request: pytest.FixtureRequest) -> str:
    """SQLite, unless a test asks for both: the stores share this code, only the paths differ."""
    kind: str = getattr(request, "param", "sqlite")
    return kind


BOTH_FILE_STORES = pytest.mark.parametrize("file_kind", backend_params(FILE_KINDS), indirect=True)


@pytest.fixture
def store_file(tmp_path: Path, file_kind: str) -> Path:
    return store_path(tmp_path, file_kind)


@pytest.fixture
def url(store_file: Path, file_kind: str) -> str:
    return f"{file_kind}:{store_file}"


@pytest.fixture
def queue(url: str, tmp_path: Path) -> Iterator[Queue]:
    made = Queue(url, tmp_path / "held.log")
    yield made
    made.close()


def queue_dir(store_file: Path, key: str = "k") -> Path:
    return thread_lock_path(locks_dir_for(store_file), "default", key).with_suffix(".queue")


def tickets(store_file: Path) -> list[str]:
    return sorted(path.name for path in queue_dir(store_file).glob("*.ticket"))


def wait_all(waiters: list[Waiter], timeout: float = 30) -> list[int]:
    return [waiter.process.wait(timeout=timeout) for waiter in waiters]


# --- order ------------------------------------------------------------------------------------


@BOTH_FILE_STORES
@pytest.mark.parametrize("timeout", [None, 60.0], ids=["no-limit", "wait-timeout"])
@pytest.mark.slow
def test_waiters_are_served_in_arrival_order(queue: Queue, timeout: float | None) -> None:
    holder = queue.holder()
    waiters = [queue.queued(f"w{n}", timeout) for n in range(8)]
    holder.release()
    assert wait_all([holder, *waiters]) == [0] * 9
    held = queue.held()
    assert [name for name, _, _ in held] == ["holder"] + [f"w{n}" for n in range(8)]
    # One at a time, and each picks up straight after the one before lets go.
    hand_overs = [acquired - released for (_, _, released), (_, acquired, _) in itertools.pairwise(held)]
    assert min(hand_overs) >= 0
    assert statistics.median(hand_overs) <= 0.020, hand_overs


@pytest.mark.slow
def test_mixed_wait_modes_share_one_queue(queue: Queue) -> None:
    """Waiters with and without a limit queue together: no kind of waiter jumps the queue."""
    holder = queue.holder()
    waiters = [queue.queued(f"w{n}", 60.0 if n % 2 else None) for n in range(6)]
    holder.release()
    assert wait_all([holder, *waiters]) == [0] * 7
    assert [name for name, _, _ in queue.held()] == ["holder"] + [f"w{n}" for n in range(6)]


def _fake_ticket(store_file: Path, number: int) -> int:
    """A queued waiter as the queue sees one: a ticket file held with a flock (its fd)."""
    folder = queue_dir(store_file)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(folder / f"{number}.ticket", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_free_lock_is_not_taken_past_a_queued_waiter(url: str, store_file: Path) -> None:
    """Between a release and the head of the queue taking over, the lock is free for a moment:
    a run arriving then must still queue behind the waiters, not jump in."""
    with open_store(url) as store:
        with store.thread_lock("default", "k", 0):
            pass  # the lock file exists, and is free
        ticket = _fake_ticket(store_file, 0)
        try:
            with pytest.raises(Busy):
                store.thread_lock("default", "k", 0).__enter__()
            started = time.monotonic()
            with pytest.raises(Busy):
                store.thread_lock("default", "k", 0.2).__enter__()
            assert time.monotonic() - started >= 0.2
            assert tickets(store_file) == ["0.ticket"]  # the quitter's own ticket went
        finally:
            os.unlink(queue_dir(store_file) / "0.ticket")
            os.close(ticket)  # the waiter got the lock and left the queue
        with store.thread_lock("default", "k", 0):
            pass


def test_an_abandoned_ticket_does_not_block_the_free_lock(url: str, store_file: Path) -> None:
    """A ticket still linked but no longer held is a waiter that was killed: it is cleared."""
    with open_store(url) as store:
        with store.thread_lock("default", "k", 0):
            pass
        os.close(_fake_ticket(store_file, 0))
        assert tickets(store_file) == ["0.ticket"]
        with store.thread_lock("default", "k", 0):
            pass
        assert tickets(store_file) == []


# --- leaving the queue ------------------------------------------------------------------------


@pytest.mark.slow
def test_waiters_killed_in_the_queue_do_not_stall_it(queue: Queue, store_file: Path) -> None:
    holder = queue.holder()
    waiters = [queue.queued(f"w{n}", None) for n in range(5)]
    for dead in (waiters[0], waiters[2]):  # the head, blocked on the lock, and one mid-queue
        dead.process.send_signal(signal.SIGKILL)
        dead.process.wait()
    holder.release()
    alive = [waiters[1], waiters[3], waiters[4]]
    assert wait_all([holder, *alive], timeout=10) == [0] * 4
    held = queue.held()
    assert [name for name, _, _ in held] == ["holder", "w1", "w3", "w4"]
    hand_overs = [acquired - released for (_, _, released), (_, acquired, _) in itertools.pairwise(held)]
    assert max(hand_overs) < 0.5, hand_overs
    assert tickets(store_file) == []  # abandoned tickets were cleared on the way


@pytest.mark.slow
def test_a_waiter_that_times_out_leaves_the_queue_at_once(queue: Queue, store_file: Path) -> None:
    holder = queue.holder()
    first = queue.queued("first", None, hold="0.3")
    impatient = queue.queued("impatient", 1.0)
    last = queue.queued("last", None)
    started = time.monotonic()
    assert impatient.expect("busy") and impatient.process.wait(timeout=10) == 75
    assert 0.9 <= time.monotonic() - started < 2.0
    assert len(tickets(store_file)) == 2  # its ticket went with it
    holder.release()
    assert wait_all([holder, first, last]) == [0, 0, 0]
    held = queue.held()
    assert [name for name, _, _ in held] == ["holder", "first", "last"]
    # The one behind the quitter (it was waiting on the quitter's ticket) is served right after.
    assert held[2][1] - held[1][2] < 0.1


@pytest.mark.slow
def test_a_waiter_stopped_with_ctrl_c_leaves_the_queue_at_once(queue: Queue, store_file: Path) -> None:
    holder = queue.holder()
    first = queue.queued("first", None)
    interrupted = queue.queued("interrupted", 60.0)
    last = queue.queued("last", None)
    interrupted.process.send_signal(signal.SIGINT)
    assert interrupted.process.wait(timeout=10) != 0
    assert len(tickets(store_file)) == 2
    holder.release()
    assert wait_all([holder, first, last]) == [0, 0, 0]
    assert [name for name, _, _ in queue.held()] == ["holder", "first", "last"]


def test_try_once_does_not_queue(queue: Queue, url: str, store_file: Path) -> None:
    queue.holder()
    with open_store(url) as store:
        started = time.monotonic()
        with pytest.raises(Busy, match=r"thread 'k' \(agent default\) is busy"):
            store.thread_lock("default", "k", 0).__enter__()
        assert time.monotonic() - started < 0.5
    assert not queue_dir(store_file).exists() or tickets(store_file) == []


# --- on_wait ----------------------------------------------------------------------------------


def test_on_wait_tells_the_holder_and_how_many_are_ahead(queue: Queue) -> None:
    before = datetime.now(UTC)
    holder = queue.holder()
    holder_pid = holder.events[-1]["pid"]
    reports = [queue.queued(f"w{n}", None).events[-1] for n in range(3)]
    assert [report["ahead"] for report in reports] == [0, 1, 2]
    for report in reports:
        seen = report["holder"]
        assert isinstance(seen, dict)
        assert (seen["host"], seen["pid"]) == (os.uname().nodename, holder_pid)
        since = datetime.fromisoformat(str(seen["since"]))
        assert before - timedelta(seconds=1) <= since <= datetime.now(UTC)
    # A killed waiter is not counted.
    queue.waiters[2].process.kill()
    queue.waiters[2].process.wait()
    assert queue.queued("w3", None).events[-1]["ahead"] == 2


def test_on_wait_is_not_called_when_the_thread_is_free(url: str) -> None:
    calls: list[Waiting] = []
    with open_store(url) as store, store.thread_lock("default", "k", None, calls.append):
        pass
    assert calls == []


def test_an_older_sessmap_holding_the_lock_still_excludes(url: str, store_file: Path) -> None:
    """0.1.0 flocks the same file and writes nothing into it: busy, holder unknown."""
    with open_store(url) as store, store.thread_lock("default", "k", 0):
        pass  # the lock file exists
    old_holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
            str(thread_lock_path(locks_dir_for(store_file), "default", "k")),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert old_holder.stdout is not None and old_holder.stdout.readline() == "locked\n"
        calls: list[Waiting] = []
        with open_store(url) as store, pytest.raises(Busy):
            store.thread_lock("default", "k", 0.2, calls.append).__enter__()
        assert calls == [Waiting(holder=None, ahead=0)]
    finally:
        old_holder.kill()
        old_holder.wait()
        assert old_holder.stdout is not None
        old_holder.stdout.close()


# --- the agent inherits the lock --------------------------------------------------------------

HOLDER_WITH_AGENT = r"""
import subprocess, sys, time
from sessmap.stores import open_store
with open_store(sys.argv[1]) as store, store.thread_lock("default", "k", None) as held:
    agent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             pass_fds=held.agent_fds())
    print(agent.pid, flush=True)
    if sys.stdin.readline():  # a line: leave the lock normally while the agent still runs
        pass
print("released", flush=True)
time.sleep(600)
"""


@pytest.fixture
def holder_with_agent(url: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER_WITH_AGENT, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    agent_pid = int(holder.stdout.readline())
    try:
        yield holder, agent_pid
    finally:
        holder.kill()
        holder.wait()
        with_streams = (holder.stdin, holder.stdout)
        for stream in with_streams:
            if stream is not None:
                stream.close()
        try:
            os.kill(agent_pid, signal.SIGKILL)
            os.waitpid(agent_pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _agent_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_agent_keeps_the_lock_when_its_sessmap_is_killed(
    holder_with_agent: tuple[subprocess.Popen[str], int], url: str
) -> None:
    holder, agent_pid = holder_with_agent
    holder.kill()
    holder.wait()
    with open_store(url) as store:
        for _ in range(3):  # the agent, now an orphan, still holds it
            with pytest.raises(Busy):
                store.thread_lock("default", "k", 0.1).__enter__()
        os.kill(agent_pid, signal.SIGKILL)  # a dead process holds no flock, reaped or not
        started = time.monotonic()
        with store.thread_lock("default", "k", 5):
            assert time.monotonic() - started < 1


def test_leaving_the_lock_frees_it_even_while_the_agent_still_runs(
    holder_with_agent: tuple[subprocess.Popen[str], int], url: str
) -> None:
    holder, agent_pid = holder_with_agent
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write("done\n")
    holder.stdin.flush()
    assert holder.stdout.readline() == "released\n"
    assert not _agent_gone(agent_pid)
    with open_store(url) as store, store.thread_lock("default", "k", 0):
        pass


# --- waiting with a limit: the alarm, and the fallback outside the main thread ----------------


@pytest.mark.slow
def test_a_timed_wait_leaves_the_alarm_as_it_found_it(queue: Queue, url: str) -> None:
    queue.holder()
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        with open_store(url) as store:
            started = time.monotonic()
            with pytest.raises(Busy):
                store.thread_lock("default", "k", 0.3).__enter__()
            assert 0.3 <= time.monotonic() - started < 0.6
            assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
            assert fired == []
            # A timer someone else armed is left running (the wait polls instead), and fires.
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            with pytest.raises(Busy):
                store.thread_lock("default", "k", 0.2).__enter__()
            remaining, _ = signal.getitimer(signal.ITIMER_REAL)
            assert 0 < remaining <= 0.3
            time.sleep(remaining + 0.1)
            assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _lock_in_a_thread(store: Store, timeout: float, outcome: list[str]) -> threading.Thread:
    def run() -> None:
        try:
            with store.thread_lock("default", "k", timeout, lambda waiting: outcome.append("waiting")):
                outcome.append("locked")
        except Busy:
            outcome.append("busy")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_timed_wait_outside_the_main_thread_keeps_its_place(queue: Queue, url: str) -> None:
    holder = queue.holder()
    outcome: list[str] = []
    with open_store(url) as store:
        thread = _lock_in_a_thread(store, 30, outcome)
        deadline = time.monotonic() + 10
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.01)
        later = queue.queued("later", None)
        holder.release()
        thread.join(timeout=20)
    assert outcome == ["waiting", "locked"]
    assert wait_all([holder, later]) == [0, 0]
    assert [name for name, _, _ in queue.held()] == ["holder", "later"]


def test_a_timed_wait_outside_the_main_thread_gives_up_in_time(queue: Queue, url: str) -> None:
    queue.holder()
    outcome: list[str] = []
    with open_store(url) as store:
        started = time.monotonic()
        _lock_in_a_thread(store, 0.3, outcome).join(timeout=10)
        assert 0.3 <= time.monotonic() - started < 1.0
    assert outcome == ["waiting", "busy"]


def test_queue_files_are_private(queue: Queue, store_file: Path) -> None:
    holder = queue.holder()
    waiter = queue.start("w0", None, umask=0o277)  # would make the files 0400, the folder 0500
    waiter.expect("waiting")
    folder = queue_dir(store_file)
    assert folder.stat().st_mode & 0o777 == 0o700
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    holder.release()
    assert wait_all([holder, waiter]) == [0, 0]
    lock = thread_lock_path(locks_dir_for(store_file), "default", "k")
    assert lock.stat().st_mode & 0o777 == 0o600
    assert lock.read_bytes().strip() == b""  # the holder record goes with the holder


@BOTH_FILE_STORES
def test_a_link_planted_at_the_queue_folder_is_not_followed(
    queue: Queue, url: str, store_file: Path, tmp_path: Path
) -> None:
    queue.holder()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    queue_dir(store_file).symlink_to(elsewhere)
    with open_store(url) as store, pytest.raises(StoreError, match="cannot lock"):
        store.thread_lock("default", "k", 1).__enter__()
    assert list(elsewhere.iterdir()) == []


def test_a_held_lock_file_is_flocked(url: str, store_file: Path) -> None:
    """What ``agent_fds`` hands out is the lock itself: its descriptor holds the flock."""
    with open_store(url) as store, store.thread_lock("default", "k", 0) as held:
        (fd,) = held.agent_fds()
        other = os.open(thread_lock_path(locks_dir_for(store_file), "default", "k"), os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
        assert not os.get_inheritable(fd)  # only an agent given it explicitly gets it
        held.guard(os.getpid(), lambda lost: None)
        held.unguard()
