"""The end-of-run write applies only to the mapping the run started from: a mapping switched to
another session, or created over, while the agent ran keeps what was done to it, and the
turn is recorded nowhere, with a note (issue "Defects", item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents, wait_for

OTHER_ID = "0199a2b1-7c3e-7d10-9f00-000000000042"


@pytest.fixture
def agents(tmp_path: Path) -> FakeAgents:
    return FakeAgents.create(tmp_path / "sandbox")


def run_while(agents: FakeAgents, key: str, change: tuple[str, ...]) -> bytes:
    """A second turn of claude thread ``key``, with ``change`` made while its agent runs;
    the run's stderr."""
    first = agents.sessmap("exec", key, "--", "claude", "-p", "one")
    assert first.returncode == 0, first.stderr
    ready = agents.root / "ready"
    running = agents.start(
        "exec", key, "--", "claude", "-p", "two", env={"FAKEAGENT_READY": str(ready), "FAKEAGENT_SLEEP": "2"}
    )
    wait_for(ready.exists, what="the agent")
    changed = agents.sessmap(*change)
    assert changed.returncode == 0, changed.stderr
    _, stderr = running.communicate(timeout=60)
    assert running.returncode == 0, stderr  # the agent's own status: it ran
    return stderr


@pytest.mark.slow
def test_a_session_switched_during_a_run_is_kept(agents: FakeAgents) -> None:
    stderr = run_while(agents, "t1", ("set", "t1", "--session-id", OTHER_ID))
    mapping = agents.mapping("t1")
    assert mapping is not None
    assert mapping.session_id == OTHER_ID
    assert mapping.turns == 1  # the second turn was of the old session: not counted here
    assert b"the turn of thread 't1' was not recorded" in stderr
    assert f"switched to session {OTHER_ID}".encode() in stderr


@pytest.mark.slow
def test_a_mapping_created_over_during_a_run_keeps_its_new_provider_and_id(agents: FakeAgents) -> None:
    stderr = run_while(
        agents, "t2", ("create", "t2", "--force", "--provider", "codex", "--session-id", OTHER_ID)
    )
    mapping = agents.mapping("t2")
    assert mapping is not None
    assert (mapping.provider, mapping.session_id, mapping.turns) == ("codex", OTHER_ID, 0)
    assert b"the turn of thread 't2' was not recorded" in stderr


@pytest.mark.slow
def test_a_label_set_during_a_run_does_not_stop_the_turn_being_recorded(agents: FakeAgents) -> None:
    stderr = run_while(agents, "t3", ("set", "t3", "--label", "team=infra"))
    mapping = agents.mapping("t3")
    assert mapping is not None
    assert mapping.turns == 2
    assert dict(mapping.labels) == {"team": "infra"}
    assert b"not recorded" not in stderr
