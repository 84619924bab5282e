"""Minimum agent versions: a step that needs a newer CLI (codex ``exec fork``, 0.148.0) fails
before anything runs or is recorded, naming the version found and the one needed; no other
step pays for asking the CLI its version."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents

from sessmap.errors import AgentTooOld
from sessmap.providers.codex import EXEC_FORK_SINCE
from sessmap.providers.versions import parse_version
from sessmap.runner import ExecRequest, run_exec
from sessmap.stores import open_store

pytestmark = pytest.mark.usefixtures("needs_sessmap")

TOO_OLD = (
    "codex 0.147.9 cannot fork a session (`codex exec fork`): that needs codex 0.148.0 or newer; "
    "upgrade codex, or start the thread over with --new"
)


@pytest.fixture
def agents(tmp_path: Path) -> FakeAgents:
    return FakeAgents.create(tmp_path / "sandbox")


def fork_child(agents: FakeAgents) -> None:
    """A codex parent with one turn, and a pending fork of it."""
    assert agents.sessmap("exec", "parent", "--", "codex", "exec", "--json", "p1").returncode == 0
    assert agents.sessmap("fork", "parent", "child").returncode == 0


def versions_asked(agents: FakeAgents) -> int:
    return sum(1 for entry in agents.runs() if "version_asked" in entry)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("codex-cli 0.169.0", (0, 169, 0)),
        ("codex-cli 0.148.0-alpha.2\n", (0, 148, 0)),
        ("2.1.332 (Claude Code)", (2, 1, 332)),
        ("codex-cli dev", None),
        ("", None),
    ],
)
def test_a_version_is_the_first_x_y_z(text: str, expected: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == expected


def test_exec_fork_needs_codex_0_148() -> None:
    assert EXEC_FORK_SINCE == (0, 148, 0)


def test_a_fork_on_a_codex_too_old_for_exec_fork_fails_naming_both_versions(agents: FakeAgents) -> None:
    fork_child(agents)
    turns = len(agents.turns())
    result = agents.sessmap(
        "exec", "child", "--", "codex", "exec", "--json", "c1", env={"FAKEAGENT_VERSION": "0.147.9"}
    )
    assert result.returncode == 125
    assert result.stderr.decode().splitlines() == [f"sessmap: error: {TOO_OLD}"]
    assert len(agents.turns()) == turns  # codex never ran the fork
    child = agents.mapping("child")
    assert child is not None and child.state == "pending-fork" and child.turns == 0


def test_the_library_gets_the_versions_as_data(agents: FakeAgents) -> None:
    fork_child(agents)
    env = {**agents.env, "FAKEAGENT_VERSION": "0.120.3"}
    request = ExecRequest(
        key="child", command=("codex", "exec", "--json", "c1"), env=env, capture_output=True
    )
    with open_store(agents.store_url) as store, pytest.raises(AgentTooOld) as raised:
        run_exec(request, store)
    err = raised.value
    assert (err.reason, err.found, err.needed, err.provider) == (
        "agent-too-old",
        "0.120.3",
        "0.148.0",
        "codex",
    )
    assert err.data == {"provider": "codex", "found": "0.120.3", "needed": "0.148.0"}


@pytest.mark.parametrize("version", ["0.148.0", "0.171.0", "1.0.0"])
def test_a_fork_on_a_new_enough_codex_runs_and_asks_the_version_once(
    agents: FakeAgents, version: str
) -> None:
    fork_child(agents)
    result = agents.sessmap(
        "exec", "child", "--", "codex", "exec", "--json", "c1", env={"FAKEAGENT_VERSION": version}
    )
    assert result.returncode == 0, result.stderr
    assert agents.turns()[-1]["argv"][:3] == ["exec", "--json", "fork"]
    assert versions_asked(agents) == 1


def test_a_codex_that_tells_no_version_is_let_fork(agents: FakeAgents) -> None:
    """A wrapper that does not pass ``--version`` on: the CLI itself has the last word."""
    fork_child(agents)
    result = agents.sessmap(
        "exec", "child", "--", "codex", "exec", "--json", "c1", env={"FAKEAGENT_VERSION": "dev"}
    )
    assert result.returncode == 0, result.stderr
    assert agents.turns()[-1]["argv"][:3] == ["exec", "--json", "fork"]


def test_starts_and_resumes_never_ask_the_version(agents: FakeAgents) -> None:
    for message in ("one", "two"):
        result = agents.sessmap("exec", "t", "--", "codex", "exec", "--json", message)
        assert result.returncode == 0, result.stderr
    assert agents.sessmap("exec", "c", "--", "claude", "-p", "one").returncode == 0
    assert agents.sessmap("exec", "c", "--", "claude", "-p", "two").returncode == 0
    assert len(agents.turns()) == 4 and versions_asked(agents) == 0


def test_an_interactive_codex_fork_is_not_asked_its_version(agents: FakeAgents) -> None:
    """``codex fork <id>`` is older than ``codex exec fork``: nothing to check."""
    fork_child(agents)
    result = agents.sessmap("exec", "child", "--", "codex", "c1", env={"FAKEAGENT_VERSION": "0.120.0"})
    assert result.returncode == 0, result.stderr
    assert agents.turns()[-1]["argv"][:1] == ["fork"] and versions_asked(agents) == 0
