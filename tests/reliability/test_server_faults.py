"""Server faults while ``sessmap exec`` runs an agent, on servers of the test's own
(tests/support/private_servers.py): a PostgreSQL restart, a database-wide ``idle_session_timeout``, Redis
down for longer than the lock TTL. The fake agent's marker (``FAKEAGENT_MARK``) proves no two
agents ran at once, and ``--status`` and stderr say what happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents, wait_for
from tests.support.private_servers import PrivatePostgres, private_postgres_server, private_redis_server

# Private servers, restarted and stopped under a running exec.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    with private_postgres_server() as server:
        yield server


@pytest.fixture
def agents(tmp_path: Path) -> FakeAgents:
    sandbox = FakeAgents.create(tmp_path / "sandbox")
    sandbox.env["FAKEAGENT_MARK"] = str(tmp_path / "mark")
    return sandbox


def overlaps(agents: FakeAgents) -> list[str]:
    path = Path(agents.env["FAKEAGENT_MARK"] + ".overlaps")
    return path.read_text().splitlines() if path.exists() else []


@contextlib.contextmanager
def running(agents: FakeAgents, status: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``sessmap exec`` on thread ``t`` with a slow agent, until its agent has started."""
    ready = agents.root / "ready"
    ready.unlink(missing_ok=True)
    process = agents.start(
        "exec", "--status", str(status), "t", "--", "claude", "-p", "one",
        env={"FAKEAGENT_READY": str(ready), "FAKEAGENT_SIGNALS": "1", **env},
    )  # fmt: skip
    try:
        wait_for(ready.exists, what="the agent to start")
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def test_a_postgres_restart_mid_run_stops_the_agent_and_says_so(
    agents: FakeAgents, private_postgres: PrivatePostgres
) -> None:
    agents.env["SESSMAP_STORE"] = f"{private_postgres.url}?schema=restart_mid_run"
    status = agents.root / "status.json"
    with running(agents, status, FAKEAGENT_SLEEP="30") as first:
        started = time.monotonic()
        private_postgres.restart()
        _, stderr = first.communicate(timeout=30)
        assert time.monotonic() - started < 15
    assert first.returncode == 128 + signal.SIGTERM, stderr
    assert b"lost the lock of thread 't'" in stderr and b"the agent was stopped" in stderr
    report = json.loads(status.read_text())
    assert report["exit"] == 128 + signal.SIGTERM and "lost the lock" in report["error"]
    assert any(entry.get("signal") == signal.SIGTERM for entry in agents.runs())
    after = agents.sessmap("exec", "t", "--no-wait", "--", "claude", "-p", "two")
    assert after.returncode == 0, after.stderr  # the thread is usable again, and resumes
    assert [run["argv"][-1] for run in agents.turns()] == ["one", "two"]
    assert agents.turns()[-1]["history"] == ["one"]
    assert overlaps(agents) == []


def test_an_idle_session_timeout_does_not_cut_a_run(
    agents: FakeAgents, private_postgres: PrivatePostgres
) -> None:
    """A database-wide ``idle_session_timeout`` shorter than the run: the lock's connection is
    exempt, so a second run cannot start; the store connection it did cut is reconnected for
    the end-of-run write, and the turn is recorded."""
    import psycopg

    agents.env["SESSMAP_STORE"] = f"{private_postgres.url}?schema=idle_timeout"
    with psycopg.connect(private_postgres.url, autocommit=True) as admin:
        admin.execute("ALTER DATABASE postgres SET idle_session_timeout = '500ms'")
    try:
        status = agents.root / "status.json"
        with running(agents, status, FAKEAGENT_SLEEP="2.5") as first:
            time.sleep(1.2)
            busy = agents.sessmap("exec", "t", "--no-wait", "--", "claude", "-p", "two")
            assert busy.returncode == 75, busy.stderr
            _, stderr = first.communicate(timeout=30)
        assert first.returncode == 0, stderr
        report = json.loads(status.read_text())
        assert report["error"] is None and report["turns"] == 1
        assert overlaps(agents) == []
    finally:
        with psycopg.connect(private_postgres.url, autocommit=True) as admin:
            admin.execute("ALTER DATABASE postgres RESET idle_session_timeout")


def test_redis_down_longer_than_the_lock_ttl_stops_the_agent_before_the_lock_lapses(
    agents: FakeAgents,
) -> None:
    with private_redis_server() as (url, server):
        agents.env["SESSMAP_STORE"] = f"{url}?lock_ttl=2s&prefix=down:"
        status = agents.root / "status.json"
        with running(agents, status, FAKEAGENT_SLEEP="30") as first:
            down = time.time()
            server.send_signal(signal.SIGSTOP)  # down: connections hang, as on a lost network
            try:
                _, stderr = first.communicate(timeout=30)
            finally:
                server.send_signal(signal.SIGCONT)
    assert first.returncode == 128 + signal.SIGTERM, stderr
    (stopped,) = [entry["at"] for entry in agents.runs() if entry.get("signal") == signal.SIGTERM]
    # The last renewal was at most a third of the TTL before the outage, so the lease lapses
    # two thirds of the TTL after it at the earliest: the agent was stopped before that.
    assert stopped - down < 2.0 * 2 / 3
    assert b"lost the lock of thread 't'" in stderr
    report = json.loads(status.read_text())
    assert "cannot renew the thread's lock in Redis" in report["error"]
    assert overlaps(agents) == []
