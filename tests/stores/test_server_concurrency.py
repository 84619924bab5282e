"""Many hosts on one server store: separate processes (separate connections, as separate hosts
would have) hammer the same PostgreSQL or Redis store.

Proves: no lost update under concurrent creates and label updates of ONE mapping; thread locks
exclude across processes; a SIGKILLed holder frees the lock (PostgreSQL at once, Redis within
the lock TTL); racing ``sessmap exec`` on one new thread makes exactly one session.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents
from tests.support.backends import SERVER_KINDS, backend_params, store_url_in
from tests.support.servers import postgres_url, redis_url

from sessmap.errors import Busy
from sessmap.model import Mapping
from sessmap.stores import Query, open_store

pytestmark = [pytest.mark.server, pytest.mark.slow]

PROCESSES = 8
ROUNDS = 25
T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)

# Every worker waits for the same wall-clock moment so they really start together.
PRELUDE = """
import sys, time
from datetime import UTC, datetime
from sessmap.errors import Busy
from sessmap.model import Mapping
from sessmap.stores import open_store
url, worker, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
def mapping(key):
    return Mapping(key=key, provider="claude", session_id=f"s-{worker}", created_at=T0, updated_at=T0)
time.sleep(max(0.0, start_at - time.time()))
"""

HAMMER = (
    PRELUDE
    + f"""
with open_store(url) as store:
    for n in range({ROUNDS}):
        store.insert(mapping(f"w{{worker}}-{{n}}"))
        label = f"w{{worker}}-{{n}}"
        store.update(
            "default", "shared",
            lambda m: m.evolve(turns=m.turns + 1, labels={{**m.labels, label: str(n)}}),
        )
"""
)

TRY_ONCE = (
    PRELUDE
    + """
with open_store(url) as store:
    try:
        with store.thread_lock("default", "contended", 0):
            print("acquired", flush=True)
            time.sleep(2)
    except Busy:
        print("busy", flush=True)
"""
)

# A read-modify-write that only the thread lock protects: any overlap loses a count.
COUNT_UNDER_LOCK = (
    PRELUDE
    + """
with open_store(url) as store:
    for _ in range(5):
        with store.thread_lock("default", "counter", None):
            current = store.get("default", "counter")
            time.sleep(0.01)
            store.insert(current.evolve(turns=current.turns + 1), replace=True)
"""
)

HOLD = """
import sys, time
from sessmap.stores import open_store
with open_store(sys.argv[1]) as store, store.thread_lock("default", "held", None):
    print("locked", flush=True)
    time.sleep(600)
"""


@pytest.fixture(params=backend_params(SERVER_KINDS))
def server_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url_in(request.param, tmp_path) as url:
        yield url


def run_together(script: str, url: str, count: int = PROCESSES) -> list[str]:
    """Run ``count`` workers of ``script`` that all start at one moment; their stdouts."""
    start_at = str(time.time() + 2.0)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, str(worker), start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(count)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    return [stdout.strip() for stdout, _ in outputs]


def test_concurrent_creates_and_updates_of_one_mapping_lose_nothing(server_url: str) -> None:
    with open_store(server_url) as store:
        store.insert(Mapping(key="shared", provider="claude", session_id="s", created_at=T0, updated_at=T0))
    run_together(HAMMER, server_url)
    with open_store(server_url) as store:
        shared = store.get("default", "shared")
        assert shared is not None
        assert shared.turns == PROCESSES * ROUNDS
        expected = {f"w{worker}-{n}": str(n) for worker in range(PROCESSES) for n in range(ROUNDS)}
        assert dict(shared.labels) == expected
        created = [m.key for m in store.query(Query(prefix="w", sort="key"))]
        assert len(created) == PROCESSES * ROUNDS


def test_only_one_of_many_processes_gets_a_lock_without_waiting(server_url: str) -> None:
    assert sorted(run_together(TRY_ONCE, server_url)) == ["acquired"] + ["busy"] * (PROCESSES - 1)


def test_waiting_processes_take_the_lock_one_at_a_time(server_url: str) -> None:
    with open_store(server_url) as store:
        store.insert(Mapping(key="counter", provider="claude", session_id="s", created_at=T0, updated_at=T0))
    run_together(COUNT_UNDER_LOCK, server_url)
    with open_store(server_url) as store:
        counter = store.get("default", "counter")
        assert counter is not None and counter.turns == PROCESSES * 5


def seconds_until_free(url: str, limit: float) -> float:
    """Kill a lock holder with SIGKILL; how long until another process can take the lock."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with open_store(url) as store:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
            killed = time.monotonic()
            while time.monotonic() - killed < limit:
                try:
                    with store.thread_lock("default", "held", 0):
                        return time.monotonic() - killed
                except Busy:
                    time.sleep(0.05)
        raise AssertionError(f"the lock was still held {limit}s after its holder was killed")
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


def test_postgres_frees_a_killed_holders_lock_at_once() -> None:
    with postgres_url() as url:
        assert seconds_until_free(url, limit=5) < 1.0


def test_redis_frees_a_killed_holders_lock_within_the_lock_ttl() -> None:
    with redis_url(lock_ttl="2s") as url:
        waited = seconds_until_free(url, limit=10)
    # Held until the TTL runs out (renewed every ttl/3 while alive), never longer than the TTL.
    assert 0.5 < waited <= 2.5


@pytest.mark.parametrize("kind", backend_params(SERVER_KINDS))
def test_racing_execs_on_a_new_thread_make_one_session(kind: str, tmp_path: Path) -> None:
    agents = FakeAgents.create(tmp_path)
    with store_url_in(kind, tmp_path) as url:
        agents.env["SESSMAP_STORE"] = url
        racers = [
            agents.start("exec", "race", "--", "claude", "-p", f"turn {n}", env={"FAKEAGENT_SLEEP": "0.3"})
            for n in range(4)
        ]
        for racer in racers:
            _, stderr = racer.communicate(timeout=120)
            assert racer.returncode == 0, stderr
        runs = agents.turns()
        assert len({run["session_id"] for run in runs}) == 1
        # Each run saw every earlier turn: they ran one after another, never side by side.
        assert sorted(len(run["history"]) for run in runs) == [0, 1, 2, 3]
        mapping = agents.mapping("race")
        assert mapping is not None and mapping.turns == 4
