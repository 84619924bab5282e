"""A queued ``exec`` at a terminal says once, on stderr, whom it waits for and its place in the
queue; in a pipe, or with ``-q``, it says nothing. stderr is a real pseudo-terminal here."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import time
from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents, wait_for
from tests.support.cli import sessmap_argv
from tests.support.terminal import read_terminal


@pytest.fixture
def agents(tmp_path: Path) -> FakeAgents:
    return FakeAgents.create(tmp_path / "sandbox")


def queued_stderr(agents: FakeAgents, *global_options: str, terminal: bool) -> str:
    """What a run queued behind a holder and one other waiter writes on stderr."""
    ready = agents.root / "ready"
    holder = agents.start(
        "exec", "t", "--", "claude", "-p", "one", env={"FAKEAGENT_SLEEP": "2", "FAKEAGENT_READY": str(ready)}
    )
    wait_for(ready.exists, what="the holder's agent")
    other = agents.start("exec", "t", "--", "claude", "-p", "two")
    time.sleep(0.4)  # queued first
    controller, follower = pty.openpty() if terminal else os.pipe()
    argv = sessmap_argv(*global_options, "exec", "t", "--", "claude", "-p", "three")
    process = subprocess.Popen(
        argv,
        cwd=agents.work,
        env=agents.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    shown = read_terminal(controller)
    os.close(controller)
    assert process.wait(timeout=60) == 0
    for started in (holder, other):
        started.communicate(timeout=60)
        assert started.returncode == 0
    return shown.decode()


@pytest.mark.slow
def test_a_queued_run_at_a_terminal_says_whom_it_waits_for(agents: FakeAgents) -> None:
    said = queued_stderr(agents, terminal=True)
    lines = [line for line in said.splitlines() if line.strip()]
    assert len(lines) == 1, said
    pattern = (
        r"sessmap: thread 't' \(agent default\) is busy: waiting for pid (\d+) on (\S+) "
        r"\(running since \d\d:\d\d:\d\d\); 1 ahead in the queue"
    )
    match = re.fullmatch(pattern, lines[0].strip())
    assert match, lines[0]
    assert match.group(2) == os.uname().nodename


@pytest.mark.slow
def test_a_queued_run_in_a_pipe_says_nothing(agents: FakeAgents) -> None:
    assert queued_stderr(agents, terminal=False) == ""


@pytest.mark.slow
def test_a_queued_run_with_q_says_nothing(agents: FakeAgents) -> None:
    assert queued_stderr(agents, "-q", terminal=True) == ""
