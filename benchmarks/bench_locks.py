"""The rows of "Threads as fair queues": what the fair, guarded lock costs, and how fast it hands
a thread to the next run in line.

Called from ``bench.py``'s ``main()`` with its ``Bench``.

* Uncontended ``exec`` with the fair-queue lock vs the same ``exec`` with 0.1.0's lock, per
  store. Both locks are timed in one driver process, interleaved, the fastest of
  ``--repeat`` rounds each: acquire, guard an agent (what exec does: Redis starts its keeper
  there) and release, with nobody else on the thread. 0.1.0's locks are copied below, exactly
  as they locked. The ratio is the whole uncontended ``exec -- /bin/true`` on that store (timed
  as its own process) over the same ``exec`` with the old lock's cost in place of the new one's.
* Hand-over latency, per store: a run holds a thread while another process waits its turn;
  from the moment the holder releases to the moment the waiter holds the lock (both clocks
  are this host's ``time.time()``), the median of ``--repeat`` hand-overs, against the budget
  (20 ms on file stores, 50 ms on server stores).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

import bench as b

BUDGET_MS = {"SQLite": 20.0, "JSON": 20.0, "PostgreSQL": 50.0, "Redis": 50.0}

# 0.1.0's thread locks, for the baseline, and the new one, timed in one process.
COST_DRIVER = r"""
import contextlib, fcntl, hashlib, json, os, secrets, sys, threading, time
from sessmap.stores import open_store

url, repeat = sys.argv[1], int(sys.argv[2])
agent, key = "default", "bench:lock-cost"

@contextlib.contextmanager
def old_file_lock(locks_dir):
    # sessmap 0.1.0: stores/locks.py thread_lock, uncontended (a blocking flock, no queue).
    if not locks_dir.exists():
        locks_dir.mkdir(0o700, parents=True)
    digest = hashlib.sha256(f"{agent}\0{key}".encode()).hexdigest()
    fd = os.open(locks_dir / f"{digest}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)

@contextlib.contextmanager
def old_postgres_lock(store):
    # sessmap 0.1.0: a connection of its own, keepalive SETs, pg_advisory_lock, unlock, close.
    from psycopg import sql
    from sessmap.stores.postgres import thread_lock_id
    lock_id = thread_lock_id(store._schema_name, agent, key)
    connection = store._connect()
    connection.execute(
        "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10;"
        " SET tcp_keepalives_count = 3; SET statement_timeout = 0"
    )
    connection.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(0)))
    connection.execute("SELECT pg_advisory_lock(%s)", (lock_id,))
    try:
        yield
    finally:
        connection.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))
        connection.close()

OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call"
RENEW = OURS + "('pexpire', KEYS[1], ARGV[2]) end return 0"
RELEASE = OURS + "('del', KEYS[1]) end return 0"

@contextlib.contextmanager
def old_redis_lock(store):
    # sessmap 0.1.0: SET NX PX, a renewer thread for the run, compare-and-delete.
    client, lock_key = store._client, store._name("lock", agent, key)
    ttl_ms, token = round(store.lock_ttl.total_seconds() * 1000), secrets.token_hex(16)
    while not client.set(lock_key, token, nx=True, px=ttl_ms):
        time.sleep(0.01)
    stopped = threading.Event()
    def renew():
        while not stopped.wait(ttl_ms / 3000):
            client.eval(RENEW, 1, lock_key, token, ttl_ms)
    renewer = threading.Thread(target=renew, daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stopped.set()
        renewer.join()
        client.eval(RELEASE, 1, lock_key, token)

def ignore(lost):
    pass

with open_store(url) as store:
    kind = type(store).__name__
    if kind in ("SQLiteStore", "JSONStore"):
        old = lambda: old_file_lock(store._locks_dir)
    elif kind == "PostgresStore":
        old = lambda: old_postgres_lock(store)
    else:
        old = lambda: old_redis_lock(store)

    def new():
        with store.thread_lock(agent, key, None) as lock:
            lock.guard(os.getpid(), ignore)  # the agent: any live process serves
            lock.unguard()

    def old_run():
        with old():
            pass

    best = {}
    for number in range(repeat):
        order = [("new", new), ("old", old_run)]
        for name, action in order if number % 2 == 0 else reversed(order):
            start = time.perf_counter()
            action()
            seconds = time.perf_counter() - start
            best[name] = min(seconds, best.get(name, seconds))
print(json.dumps(best))
"""

# The waiter: queue on the thread, then say when it holds it.
WAITER = r"""
import sys, time
from sessmap.stores import open_store

url = sys.argv[1]
with open_store(url) as store:
    with store.thread_lock("default", "bench:hand-over", None, lambda waiting: print("queued", flush=True)):
        print(time.time(), flush=True)
"""

HAND_OVER_DRIVER = r"""
import json, subprocess, sys, time
from sessmap.stores import open_store

url, repeat, waiter = sys.argv[1], int(sys.argv[2]), sys.argv[3]
latencies = []
with open_store(url) as store:
    for _ in range(repeat):
        with store.thread_lock("default", "bench:hand-over", None):
            process = subprocess.Popen(
                [sys.executable, "-c", waiter, url], stdout=subprocess.PIPE, text=True
            )
            assert process.stdout is not None
            if process.stdout.readline().strip() != "queued":
                sys.exit("the waiter did not queue")
            time.sleep(0.2)  # it is blocked in the queue by now
            released = time.time()
        acquired = float(process.stdout.readline())
        process.wait()
        latencies.append(acquired - released)
print(json.dumps(latencies))
"""


def _driver(argv: list[str], env: dict[str, str]) -> object:
    done = subprocess.run([sys.executable, "-c", *argv], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: a lock driver failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


class Locks:
    def __init__(self, bench: b.Bench) -> None:
        self.bench = bench
        self.folder = bench.folder / "locks"
        self.folder.mkdir()
        self.urls: dict[str, str] = {
            "SQLite": f"sqlite:{self.folder / 'sessions.db'}",
            "JSON": f"json:{self.folder / 'sessions.json'}",
        }
        self.skipped: dict[str, str] = {}
        self.servers: dict[str, str | None] = {
            "PostgreSQL": bench.options.postgres,
            "Redis": bench.options.redis,
        }

    def connect(self) -> None:
        opened, self.skipped = b.open_server_stores(self.servers)
        self.urls.update(opened)

    def close(self) -> None:
        b.drop_server_stores(
            self.servers, {kind: self.urls[kind] for kind in self.servers if kind in self.urls}
        )

    def uncontended_exec(self, kind: str) -> None:
        name = f"{kind} uncontended `exec -- /bin/true`, fair-queue lock vs the 0.1.0 lock"
        if kind not in self.urls:
            self.bench.add(b.Row(name, "—", "—", None, None, self.skipped[kind]))
            return
        url = self.urls[kind]
        key = "bench:lock-exec"
        argv = [b.SESSMAP, "--store", url, "exec", key, "--", "/bin/true"]
        first = [*argv[:5], "--provider", "true", "--cwd", str(self.bench.workdir), *argv[5:]]
        b.run(first, env=self.bench.env)  # creates the thread: every measured run resumes it
        best = b.interleaved({"exec": lambda: b.run(argv, env=self.bench.env)}, self.bench.repeat)
        cost = _driver([COST_DRIVER, url, str(self.bench.repeat * 4)], self.bench.env)
        assert isinstance(cost, dict)
        whole = best["exec"].seconds
        with_old = whole - cost["new"] + cost["old"]
        self.bench.add(
            b.Row(
                name,
                b.ms(whole),
                b.ms(with_old),
                whole / with_old,
                1.1,
                f"the lock alone: {cost['new'] * 1e6:.0f} µs vs {cost['old'] * 1e6:.0f} µs "
                "(acquire, guard an agent, release)",
            )
        )

    def hand_over(self, kind: str) -> None:
        budget = BUDGET_MS[kind]
        name = f"{kind} hand-over latency to the next queued run (median) vs a {budget:g} ms budget"
        if kind not in self.urls:
            self.bench.add(b.Row(name, "—", "—", None, None, self.skipped[kind]))
            return
        argv = [HAND_OVER_DRIVER, self.urls[kind], str(self.bench.repeat), WAITER]
        latencies = _driver(argv, self.bench.env)
        assert isinstance(latencies, list)
        median = statistics.median(latencies)
        self.bench.add(
            b.Row(
                name,
                b.ms(median),
                f"{budget:g} ms",
                median * 1000 / budget,
                1.0,
                f"slowest of {len(latencies)}: {b.ms(max(latencies))}",
            )
        )


def add_rows(bench: b.Bench) -> None:
    rows = Locks(bench)
    try:
        rows.connect()
        kinds = ["SQLite", "JSON", "PostgreSQL", "Redis"]
        for kind in kinds:
            rows.uncontended_exec(kind)
        for kind in kinds:
            rows.hand_over(kind)
    finally:
        rows.close()
