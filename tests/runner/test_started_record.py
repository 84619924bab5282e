"""``exec`` records each session it starts in ``Store.started`` (the proof ``--purge`` needs):
a new session, a captured codex id, a fork, ``--new``, the fresh one after a stale session. A
session the user attached and sessmap only resumes is never recorded. Fake agents
(tests/fakeagent) stand in for the CLIs here; tests/e2e/test_real_purge.py runs the real ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents

from sessmap.stores import open_store
from sessmap.stores.started import StartedSession

pytestmark = [pytest.mark.usefixtures("needs_sessmap"), pytest.mark.slow]


@pytest.fixture
def agents(tmp_path: Path) -> FakeAgents:
    return FakeAgents.create(tmp_path / "sandbox")


def started(agents: FakeAgents) -> dict[str, StartedSession]:
    with open_store(agents.store_url) as store:
        return {record.session_id: record for record in store.started.all()}


def session_of(agents: FakeAgents, key: str) -> str:
    mapping = agents.mapping(key)
    assert mapping is not None and mapping.session_id is not None
    return mapping.session_id


def ok(agents: FakeAgents, *args: str) -> None:
    result = agents.sessmap(*args)
    assert result.returncode == 0, result.stderr.decode()


def test_a_new_claude_session_is_recorded_with_where_it_lives(agents: FakeAgents) -> None:
    ok(agents, "exec", "t", "--", "claude", "-p", "one")
    session = session_of(agents, "t")
    (record,) = started(agents).values()
    assert (record.session_id, record.provider, record.agent, record.key) == (
        session,
        "claude",
        "default",
        "t",
    )
    assert record.host == os.uname().nodename
    assert record.agent_home == agents.env["CLAUDE_CONFIG_DIR"]
    assert record.cwd == str(agents.work)
    ok(agents, "exec", "t", "--", "claude", "-p", "two")  # a resume records nothing more
    assert list(started(agents)) == [session]


def test_captured_forked_new_and_stale_restarted_sessions_are_recorded(agents: FakeAgents) -> None:
    ok(agents, "exec", "c", "--", "codex", "exec", "--json", "one")  # the id codex picked
    ok(agents, "exec", "p", "--", "claude", "-p", "parent")
    ok(agents, "fork", "p", "child")
    ok(agents, "exec", "child", "--", "claude", "-p", "forked")
    first = session_of(agents, "p")
    ok(agents, "exec", "p", "--new", "--", "claude", "-p", "again")
    agents.claude_transcript(session_of(agents, "p")).unlink()  # gone: the next run starts fresh
    gone = session_of(agents, "p")
    ok(agents, "exec", "p", "--", "claude", "-p", "fresh")
    keys = {session: record.key for session, record in started(agents).items()}
    expected = {session_of(agents, "c"): "c", session_of(agents, "child"): "child", first: "p", gone: "p"}
    expected[session_of(agents, "p")] = "p"
    assert keys == expected and len(keys) == 5


def test_an_attached_session_sessmap_resumes_is_not_recorded(agents: FakeAgents) -> None:
    ok(agents, "exec", "mine", "--", "claude", "-p", "started by sessmap")
    session = session_of(agents, "mine")
    ok(
        agents,
        "create",
        "attached",
        "--provider",
        "claude",
        "--session-id",
        session,
        "--cwd",
        str(agents.work),
    )
    ok(agents, "exec", "attached", "--", "claude", "-p", "resumed")
    assert agents.turns()[-1]["argv"][:2] == ["--resume", session]
    records = started(agents)
    assert list(records) == [session] and records[session].key == "mine"  # still the first run's
