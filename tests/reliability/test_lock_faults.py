"""The thread lock under faults, through the installed ``sessmap exec`` on every store.

The fake agent holds a flock on a marker file while it runs (``FAKEAGENT_MARK``): an agent that
finds the mark already held is a second agent on a thread whose first still lives, and records
the overlap. Each case checks there is none, and that what happened is reported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents, wait_for
from tests.support.backends import backend_params, store_url_in

# Each kills or stops a running exec and waits out the aftermath: seconds apiece.
pytestmark = pytest.mark.slow


@pytest.fixture(params=backend_params())
def agents(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeAgents]:
    """Each store; Redis with the test servers' short lock TTL (2s, tests/support/servers.py)."""
    sandbox = FakeAgents.create(tmp_path / "sandbox")
    with store_url_in(str(request.param), tmp_path) as url:
        sandbox.env["SESSMAP_STORE"] = url
        sandbox.env["FAKEAGENT_MARK"] = str(tmp_path / "mark")
        yield sandbox


def overlaps(agents: FakeAgents) -> list[str]:
    path = Path(agents.env["FAKEAGENT_MARK"] + ".overlaps")
    return path.read_text().splitlines() if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_killed_exec_leaves_its_agent_holding_the_thread(agents: FakeAgents) -> None:
    """kill -9 of ``sessmap exec`` mid-run: the agent runs on, and the next run on the thread
    waits for it instead of running beside it; then it resumes the same session."""
    ready = agents.root / "ready"
    holder = agents.start(
        "exec", "t", "--", "claude", "-p", "one", env={"FAKEAGENT_SLEEP": "3", "FAKEAGENT_READY": str(ready)}
    )
    try:
        wait_for(ready.exists, what="the first agent")
        os.kill(holder.pid, signal.SIGKILL)  # sessmap only: the agent is its child, not killed
        holder.wait()
        orphan = agents.turns()[-1]["pid"]
        assert alive(orphan)
        second = agents.sessmap("exec", "t", "--wait-timeout", "30s", "--", "claude", "-p", "two")
        assert second.returncode == 0, second.stderr
        assert not alive(orphan)  # the second run started only once the first agent was gone
        assert overlaps(agents) == []
        first_run, second_run = agents.turns()[-2:]
        assert second_run["session_id"] == first_run["session_id"]  # recorded before the start
        assert second_run["history"] == ["one"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(holder.pid, signal.SIGKILL)
        holder.communicate()


def test_a_killed_exec_does_not_block_the_thread_after_its_agent_exits(agents: FakeAgents) -> None:
    """The lock lives exactly as long as the agent: the moment the orphan exits, the thread is
    free to a run that does not wait (Redis: the keeper releases it as the agent ends)."""
    ready = agents.root / "ready"
    holder = agents.start(
        "exec", "t", "--", "claude", "-p", "one", env={"FAKEAGENT_SLEEP": "1", "FAKEAGENT_READY": str(ready)}
    )
    try:
        wait_for(ready.exists, what="the first agent")
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        orphan = agents.turns()[-1]["pid"]
        wait_for(lambda: not alive(orphan), what="the orphaned agent to end")
        deadline = time.monotonic() + 1.0  # the keeper / the server notice within this
        while True:
            result = agents.sessmap("exec", "t", "--no-wait", "--", "claude", "-p", "two")
            if result.returncode != 75 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert result.returncode == 0, result.stderr
        assert overlaps(agents) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(holder.pid, signal.SIGKILL)
        holder.communicate()


def test_a_waiter_killed_in_the_queue_blocks_no_one(agents: FakeAgents) -> None:
    """Runs queue behind a holder; one in the middle is killed with -9 while it waits; the
    others are served in arrival order, and the killed one never runs."""
    ready = agents.root / "ready"
    holder = agents.start(
        "exec",
        "q",
        "--",
        "claude",
        "-p",
        "one",
        env={"FAKEAGENT_SLEEP": "1.5", "FAKEAGENT_READY": str(ready)},
    )
    queued: list[subprocess.Popen[bytes]] = []
    try:
        wait_for(ready.exists, what="the holder's agent")
        for prompt in ("w1", "doomed", "w2"):
            time.sleep(0.3)
            queued.append(agents.start("exec", "q", "--", "claude", "-p", prompt))
        time.sleep(0.3)
        os.kill(queued[1].pid, signal.SIGKILL)
        for process in (holder, queued[0], queued[2]):
            process.communicate(timeout=60)
            assert process.returncode == 0, process.stderr
        assert [run["argv"][-1] for run in agents.turns()] == ["one", "w1", "w2"]
        assert overlaps(agents) == []
    finally:
        for process in (holder, *queued):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def test_a_stopped_exec_keeps_its_thread_until_it_goes_on(agents: FakeAgents) -> None:
    """SIGSTOP of ``sessmap exec`` (Ctrl-Z of sessmap alone, a debugger, a frozen VM): its lock
    does not lapse (Redis: the keeper renews it, here with a 2 s TTL), so a queued run waits;
    once sessmap goes on and records its turn, the queued run is served."""
    ready = agents.root / "ready"
    holder = agents.start(
        "exec", "t", "--", "claude", "-p", "one", env={"FAKEAGENT_SLEEP": "1", "FAKEAGENT_READY": str(ready)}
    )
    waiter: subprocess.Popen[bytes] | None = None
    try:
        wait_for(ready.exists, what="the first agent")
        os.kill(holder.pid, signal.SIGSTOP)
        waiter = agents.start("exec", "t", "--wait-timeout", "60s", "--", "claude", "-p", "two")
        time.sleep(5)  # more than two lock TTLs, with the first agent done after one second
        assert waiter.poll() is None, waiter.communicate()
        assert [run["argv"][-1] for run in agents.turns()] == ["one"]
        os.kill(holder.pid, signal.SIGCONT)
        assert holder.wait(timeout=30) == 0
        _, stderr = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, stderr
        assert [run["argv"][-1] for run in agents.turns()] == ["one", "two"]
        assert overlaps(agents) == []
        mapping = agents.mapping("t")
        assert mapping is not None and mapping.turns == 2  # neither turn lost
    finally:
        for process in (holder, waiter):
            if process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)
                    os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
