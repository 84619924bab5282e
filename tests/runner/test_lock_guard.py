"""The agent under its thread's lock: stopped when the lock is lost, and the fence that keeps
a run that lost its lock from overwriting the run that took the thread.

The store-level faults (a PostgreSQL restart, Redis down, a stopped holder) are in
tests/stores/test_postgres_lock.py and test_redis_lock.py, and through ``sessmap exec`` in
tests/reliability/test_lock_faults.py. Here a lock that reports itself lost on cue stands in for
them, so the runner's side (SIGTERM, SIGKILL after the grace, the report) is checked exactly.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents, wait_for

from sessmap.config import Config
from sessmap.runner import ExecRequest, ExecResult
from sessmap.runner.run import Run
from sessmap.stores import open_store
from sessmap.stores.base import LockLost, OnLost

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process groups and /proc are Linux")


class LosingLock:
    """A held lock that reports itself lost ``after`` seconds into the agent's run."""

    def __init__(self, after: float, grace: float) -> None:
        self.after, self.grace = after, grace
        self.guarded: list[int] = []
        self.unguarded = threading.Event()

    def agent_fds(self) -> tuple[int, ...]:
        return ()

    def guard(self, agent_pid: int, on_lost: OnLost) -> None:
        self.guarded.append(agent_pid)
        lost = LockLost("the server dropped it", self.grace)
        timer = threading.Timer(self.after, lambda: self.unguarded.is_set() or on_lost(lost))
        timer.daemon = True
        timer.start()

    def unguard(self) -> None:
        self.unguarded.set()


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[FakeAgents]:
    yield FakeAgents.create(tmp_path / "sandbox")


def run_with(
    agents: FakeAgents, lock: LosingLock, command: list[str], key: str = "k", **env: str
) -> tuple[ExecResult, list[str]]:
    """One run under ``lock`` (in place of the store's), as ``run_exec`` runs it."""
    notes: list[str] = []
    request = ExecRequest(
        key=key,
        command=command,
        provider="claude",
        cwd=str(agents.work),
        env={**agents.env, **env},
        stdin=os.open(os.devnull, os.O_RDONLY),
        capture_output=True,
        forward_signals=False,
    )
    with open_store(agents.store_url) as store:
        result = Run.open(request, store, Config(path=Path(os.devnull)), notes.append).run(lock)
    return result, notes


def test_a_lost_lock_stops_the_agent_with_sigterm_and_says_so(agents: FakeAgents) -> None:
    lock = LosingLock(after=0.5, grace=10)
    started = time.monotonic()
    result, notes = run_with(
        agents, lock, ["claude", "-p", "hi"], FAKEAGENT_SLEEP="30", FAKEAGENT_SIGNALS="1"
    )
    assert time.monotonic() - started < 10
    assert result.exit_code == 128 + 15
    assert result.error is not None and "lost the lock" in result.error
    assert "the server dropped it" in result.error
    assert any("lost the lock" in note for note in notes)
    assert lock.guarded and lock.unguarded.is_set()
    assert any(entry.get("signal") == 15 for entry in agents.runs())
    mapping = agents.mapping("k")
    # Nothing after the loss: the start was recorded (the id, the run), the turn was not.
    assert mapping is not None and mapping.turns == 0 and mapping.generation == 1


@pytest.mark.slow
def test_an_agent_that_ignores_sigterm_is_killed_when_the_grace_runs_out(agents: FakeAgents) -> None:
    lock = LosingLock(after=0.3, grace=1.0)
    script = agents.root / "stubborn"
    script.write_text("#!/bin/sh\ntrap '' TERM\nsleep 30 & wait; sleep 30\n")
    script.chmod(0o755)
    started = time.monotonic()
    result, _ = run_with(agents, lock, [str(script)], key="k2")
    assert result.exit_code == 128 + 9
    assert 1.0 <= time.monotonic() - started < 8


def test_a_lock_that_holds_changes_nothing(agents: FakeAgents) -> None:
    lock = LosingLock(after=30, grace=1.0)
    result, notes = run_with(agents, lock, ["claude", "-p", "hi"], FAKEAGENT_SLEEP="0.2")
    assert result.exit_code == 0 and result.error is None
    assert notes == []


@pytest.mark.slow
def test_every_start_is_recorded_before_the_agent_runs(agents: FakeAgents) -> None:
    """``last_used_at`` and a new generation are written at the start (SPEC §1: last exec
    start), so a thread that is running right now never looks idle to prune."""
    first = agents.sessmap("exec", "k3", "--", "claude", "-p", "one")
    assert first.returncode == 0, first.stderr
    ready = agents.root / "ready"
    env = {"FAKEAGENT_SLEEP": "5", "FAKEAGENT_READY": str(ready)}
    process = agents.start("exec", "k3", "--", "claude", "-p", "two", env=env)
    try:
        wait_for(ready.exists, what="the agent to start")
        during = agents.mapping("k3")
        assert during is not None and during.generation == 2 and during.turns == 1
        assert during.last_used_at is not None and during.last_used_at >= during.created_at
    finally:
        process.kill()
        process.communicate()


def test_a_run_whose_thread_was_taken_over_does_not_overwrite_it(agents: FakeAgents) -> None:
    """The fence: when another run started on the thread while this one ran (as after a lost
    lock), this run's end-of-run write is refused, reported, and the agent's status kept."""
    assert agents.sessmap("exec", "k4", "--", "claude", "-p", "one").returncode == 0
    takeover = agents.root / "takeover.py"
    takeover.write_text(
        "import sys\nfrom sessmap.stores import open_store\n"
        "with open_store(sys.argv[1]) as store:\n"
        "    store.update('default', 'k4', lambda m: m.evolve(generation=m.generation + 1, last_exit=99))\n"
    )
    agent = agents.root / "agent-taken-over"
    agent.write_text(f'#!/bin/sh\n{sys.executable} {takeover} "$SESSMAP_STORE"\nexit 3\n')
    agent.chmod(0o755)
    status = agents.root / "status.json"
    result = agents.sessmap("exec", "--status", str(status), "k4", "--provider", "claude", "--", str(agent))
    assert result.returncode == 3
    assert b"another run started on thread 'k4'" in result.stderr
    assert "another run started" in status.read_text()
    mapping = agents.mapping("k4")
    assert mapping is not None and mapping.last_exit == 99 and mapping.turns == 1  # the other run's
