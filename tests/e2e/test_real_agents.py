"""``sessmap exec`` with the real claude and codex CLIs. What each run sent to the (fake) model
proves which conversation it continued: a turn's request carries exactly its session's history."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from realagents import Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AGENTS = ("claude", "codex")


def marker(name: str) -> str:
    """A word no other marker, prompt, path or id contains."""
    return f"{name}{uuid.uuid4().hex[:12]}zq"


def ok(sandbox: Sandbox, key: str, agent: str, message: str, *options: str, **kwargs: object) -> str:
    result = sandbox.exec(key, agent, message, *options, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.mark.agents(*AGENTS)
def test_a_thread_remembers_its_turns_and_another_thread_does_not_see_them(
    sandbox: Sandbox, agent: str
) -> None:
    first, second, other = marker("first"), marker("second"), marker("other")
    ok(sandbox, "slack:C1:1", agent, first)
    mapping = sandbox.mapping("slack:C1:1")
    assert mapping.state == "active" and mapping.session_id and mapping.provider == agent
    ok(sandbox, "slack:C1:1", agent, second, cwd=sandbox.dir("somewhere-else"))
    assert first in sandbox.request_with(second).text
    ok(sandbox, "slack:C1:2", agent, other)
    assert first not in sandbox.request_with(other).text
    again = sandbox.mapping("slack:C1:1")
    assert again.session_id == mapping.session_id and again.turns == 2 and again.last_exit == 0
    assert sandbox.mapping("slack:C1:2").session_id != mapping.session_id


@pytest.mark.agents(*AGENTS)
def test_a_fork_carries_the_parents_history_and_the_parent_never_sees_the_forks(
    sandbox: Sandbox, agent: str
) -> None:
    before, in_fork, in_parent, fork_again = (
        marker(n) for n in ("before", "infork", "inparent", "forkagain")
    )
    ok(sandbox, "parent", agent, before)
    assert sandbox.sessmap("fork", "parent", "child").returncode == 0
    ok(sandbox, "child", agent, in_fork)
    parent, child = sandbox.mapping("parent"), sandbox.mapping("child")
    assert child.state == "active" and child.session_id and child.session_id != parent.session_id
    assert before in sandbox.request_with(in_fork).text
    ok(sandbox, "parent", agent, in_parent)
    assert before in sandbox.request_with(in_parent).text
    assert in_fork not in sandbox.request_with(in_parent).text
    ok(sandbox, "child", agent, fork_again)
    history = sandbox.request_with(fork_again).text
    assert before in history and in_fork in history and in_parent not in history
    assert sandbox.mapping("child").session_id == child.session_id
    assert sandbox.mapping("parent").session_id == parent.session_id


@pytest.mark.agents(*AGENTS)
def test_a_deleted_transcript_starts_a_fresh_session_in_the_same_run(sandbox: Sandbox, agent: str) -> None:
    old, new = marker("old"), marker("new")
    ok(sandbox, "t", agent, old)
    stale = sandbox.mapping("t")
    show = sandbox.sessmap("show", "t", "--json")
    assert show.returncode == 0, show.stderr
    transcripts = [
        path for path in sandbox.root.joinpath("home").rglob(f"*{stale.session_id}.jsonl") if path.is_file()
    ]
    assert transcripts, "the agent wrote no transcript where sessmap looks for it"
    for path in transcripts:
        path.unlink()
    stderr = ok(sandbox, "t", agent, new)
    assert "can no longer be resumed" in stderr and "starting a new session" in stderr
    assert old not in sandbox.request_with(new).text
    fresh = sandbox.mapping("t")
    assert fresh.session_id and fresh.session_id != stale.session_id and fresh.turns == 2


@pytest.mark.agents(*AGENTS)
def test_racing_execs_on_a_new_thread_make_one_session_with_both_turns(sandbox: Sandbox, agent: str) -> None:
    one, two = marker("one"), marker("two")
    racers = [sandbox.start("race", agent, one), sandbox.start("race", agent, two)]
    outcomes = [(racer.communicate(timeout=120)[1], racer.returncode) for racer in racers]
    assert [code for _, code in outcomes] == [0, 0], outcomes
    first_text, second_text = sandbox.request_with(one).text, sandbox.request_with(two).text
    # Whichever ran second saw the other's turn: they shared one session.
    assert (one in second_text) != (two in first_text)
    mapping = sandbox.mapping("race")
    assert mapping.turns == 2 and mapping.state == "active"


@pytest.mark.agents(*AGENTS)
def test_no_wait_on_a_busy_thread_exits_75(sandbox: Sandbox, agent: str) -> None:
    slow, blocked = marker("slow"), marker("blocked")
    sandbox.server.slow_marker, sandbox.server.slow_seconds = slow, 4.0
    holder = sandbox.start("busy", agent, slow)
    try:
        assert sandbox.server.slow_request_seen.wait(60), "the first run never reached the model"
        started = time.monotonic()
        result = sandbox.exec("busy", agent, blocked, "--no-wait")
        assert result.returncode == 75, result.stderr
        assert time.monotonic() - started < 3.5  # at once, not after the holder
        assert not sandbox.server.requests_mentioning(blocked)
    finally:
        _, stderr = holder.communicate(timeout=120)
    assert holder.returncode == 0, stderr
    assert sandbox.mapping("busy").turns == 1


@pytest.mark.agents("claude")
def test_the_real_claude_and_its_hooks_see_the_thread_in_their_environment(sandbox: Sandbox) -> None:
    """claude runs its SessionStart hooks with its own environment: what a hook (or a tool)
    reads there is what sessmap gave the agent."""
    seen = sandbox.root / "hook-env.txt"
    settings = sandbox.dir("home") / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    hook = {
        "type": "command",
        "command": f"env | grep -E '^SESSMAP_(KEY|AGENT|SESSION_ID)=' | sort >> {seen}; echo --- >> {seen}",
    }
    settings.write_text(json.dumps({"hooks": {"SessionStart": [{"hooks": [hook]}]}}))
    ok(sandbox, "slack:C9:env", "claude", marker("first"))
    ok(sandbox, "slack:C9:env", "claude", marker("second"))
    session_id = sandbox.mapping("slack:C9:env").session_id
    runs = [block.strip().splitlines() for block in seen.read_text().split("---") if block.strip()]
    expected = ["SESSMAP_AGENT=default", "SESSMAP_KEY=slack:C9:env", f"SESSMAP_SESSION_ID={session_id}"]
    assert runs == [expected, expected]  # the chosen id on the first run, the same on the resume
