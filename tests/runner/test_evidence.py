"""``exec`` drops a session only on evidence, and a stale retry gets the stdin the first try read.

Fake agents (tests/fakeagent) stand in for claude here: they keep transcripts where the real
one does and answer "No conversation found" the same way; tests/e2e runs the real binaries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents
from tests.support.cli import run_sessmap

from sessmap.transcripts.presence import this_host

pytestmark = pytest.mark.usefixtures("needs_sessmap")  # skips, or fails under CI, without it

SESSION = "0d3c4b2a-1111-4222-8333-444455556666"


@pytest.fixture
def agents(tmp_path: Path) -> FakeAgents:
    return FakeAgents.create(tmp_path / "sandbox")


def ran_before(agents: FakeAgents, key: str, **fields: object) -> None:
    """A claude mapping that has had a turn, with ``fields`` as its last run recorded them."""
    line = {"key": key, "provider": "claude", "session_id": SESSION, "cwd": str(agents.work), "turns": 1}
    result = agents.sessmap("import", "-", input=(json.dumps({**line, **fields}) + "\n").encode())
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_an_unseen_transcript_is_resumed_and_the_agent_decides(agents: FakeAgents) -> None:
    # Never recorded where it lives (a wrapper, another host): sessmap must not call it stale.
    ran_before(agents, "k")
    result = agents.sessmap("exec", "k", "--", "claude", "-p", "hi", env={"FAKEAGENT_READ_STDIN": "1"})
    attempts = [entry for entry in agents.runs() if "read_stdin" in entry]
    assert len(attempts) == 2  # it resumed, the agent answered "no conversation", then a new session
    turn = agents.turns()[-1]
    assert turn["argv"][:2] == ["--session-id", turn["session_id"]]
    assert "can no longer be resumed: the agent has no conversation with that id" in result.stderr.decode()
    mapping = agents.mapping("k")
    assert mapping is not None and mapping.session_id != SESSION
    assert [(e.session_id, e.reason) for e in mapping.history] == [(SESSION, "stale")]


@pytest.mark.parametrize("source", ["pipe", "file"])
@pytest.mark.slow
def test_the_stale_retry_gets_the_stdin_the_first_attempt_read(
    agents: FakeAgents, tmp_path: Path, source: str
) -> None:
    ran_before(agents, "k", host="another-host", agent_home="/elsewhere/.claude")
    env = {"FAKEAGENT_READ_STDIN": "1"}
    if source == "pipe":
        result = agents.sessmap("exec", "k", "--", "claude", "-p", input=b"PROMPT\n", env=env)
    else:
        prompt = tmp_path / "prompt.txt"
        prompt.write_bytes(b"PROMPT\n")
        with prompt.open("rb") as stdin:
            args = ("exec", "k", "--", "claude", "-p")
            result = run_sessmap(
                *args, stdin=stdin, cwd=agents.work, base_env=agents.env, env=env, text=False
            )
    assert result.returncode == 0, result.stderr
    reads = [entry["read_stdin"] for entry in agents.runs() if "read_stdin" in entry]
    assert reads == ["PROMPT\n", "PROMPT\n"]  # the resume read it, then the fresh session again
    turn = agents.turns()[-1]
    assert turn["stdin"] == "PROMPT\n" and turn["argv"][0] == "--session-id"


@pytest.mark.slow
def test_a_transcript_proven_gone_is_replaced_before_the_agent_starts(agents: FakeAgents) -> None:
    home = Path(agents.env["CLAUDE_CONFIG_DIR"])
    home.mkdir(parents=True)
    ran_before(agents, "k", host=this_host(), agent_home=str(home))
    result = agents.sessmap(
        "exec", "k", "--", "claude", "-p", input=b"PROMPT\n", env={"FAKEAGENT_READ_STDIN": "1"}
    )
    assert result.returncode == 0, result.stderr
    assert f"its transcript is gone from {home}; starting a new session" in result.stderr.decode()
    reads = [entry["read_stdin"] for entry in agents.runs() if "read_stdin" in entry]
    assert reads == ["PROMPT\n"]  # decided before the start: one run, the new session's
    assert agents.turns()[-1]["argv"][0] == "--session-id"


@pytest.mark.slow
def test_a_run_records_where_the_transcript_lives(agents: FakeAgents) -> None:
    assert agents.sessmap("exec", "k", "--", "claude", "-p", "one").returncode == 0
    mapping = agents.mapping("k")
    assert mapping is not None
    assert mapping.host == this_host() and mapping.agent_home == agents.env["CLAUDE_CONFIG_DIR"]
    # the transcript deleted for real, on this host, from the recorded home: now it is proof
    agents.claude_transcript(mapping.session_id or "").unlink()
    assert agents.sessmap("prune", "--missing", "--dry-run").stdout.decode().startswith("k\t")


@pytest.mark.slow
def test_a_wrapper_that_moves_the_agent_home_keeps_one_conversation(agents: FakeAgents) -> None:
    wrapped = agents.root / "wrapped-home"
    wrapper = agents.root / "claude-wrapper"
    wrapper.write_text(f'#!/bin/sh\nCLAUDE_CONFIG_DIR="{wrapped}" exec claude "$@"\n')
    wrapper.chmod(0o755)
    for turn in ("one", "two", "three"):
        result = agents.sessmap("exec", "k", "--provider", "claude", "--", str(wrapper), "-p", turn)
        assert result.returncode == 0, result.stderr
        assert b"can no longer be resumed" not in result.stderr
    turns = agents.turns()
    assert [t["history"] for t in turns] == [[], ["one"], ["one", "two"]]
    assert len({t["session_id"] for t in turns}) == 1
    mapping = agents.mapping("k")
    # sessmap never saw the transcript in the home its environment names, so it claims none
    assert mapping is not None and mapping.agent_home is None and mapping.turns == 3
    assert agents.sessmap("prune", "--missing").stdout == b""
