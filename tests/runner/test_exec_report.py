"""What ``exec`` tells a bot: exit 125 for sessmap's own failures (SPEC §6), the ``--status``
report (SPEC §4), and the ``SESSMAP_*`` variables the agent sees. Fake agents stand in for the
real CLIs here (tests/fakeagent); tests/e2e has the real ones."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents
from tests.support.cli import sessmap_argv

pytestmark = pytest.mark.usefixtures("needs_sessmap")  # skips, or fails under CI, without it


@pytest.fixture
def agents(tmp_path: Path) -> FakeAgents:
    return FakeAgents.create(tmp_path / "sandbox")


def status_of(
    agents: FakeAgents, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    report = agents.root / "status.json"
    report.unlink(missing_ok=True)
    result = agents.sessmap("exec", "--status", str(report), *args, env=env)
    return result.returncode, json.loads(report.read_text())


@pytest.mark.parametrize("agent_exit", ["1", "2", "4", "75"])
def test_the_agents_own_status_passes_through(agents: FakeAgents, agent_exit: str) -> None:
    code, report = status_of(agents, "k", "--", "claude", "-p", "x", env={"FAKEAGENT_EXIT": agent_exit})
    assert code == int(agent_exit)
    assert report["exit"] == int(agent_exit) and report["error"] is None and report["action"] == "started"


def failing(agents: FakeAgents) -> dict[str, tuple[list[str], dict[str, str]]]:
    config = agents.root / "bad.toml"
    config.write_text("ttl = 5\n")
    corrupt = agents.root / "corrupt.db"
    corrupt.write_bytes(b"not a database" * 100)
    return {
        "usage": (["k", "--", "claude", "--resume", "x"], {}),
        "bad option value": (["k", "--wait-timeout", "soon", "--", "claude", "-p", "x"], {}),
        "store": (
            ["k", "--", "claude", "-p", "x"],
            {"SESSMAP_STORE": f"sqlite:{corrupt}"},
        ),
        "config": (["k", "--", "claude", "-p", "x"], {"SESSMAP_CONFIG": str(config)}),
        "conflict": (["k", "--", "codex", "exec", "x"], {}),
        "stale": (["gone", "--on-stale", "fail", "--", "claude", "-p", "x"], {}),
    }


@pytest.mark.parametrize("failure", ["usage", "bad option value", "store", "config", "conflict", "stale"])
@pytest.mark.slow
def test_each_failure_of_sessmaps_own_exits_125_with_a_report(agents: FakeAgents, failure: str) -> None:
    assert agents.sessmap("exec", "k", "--", "claude", "-p", "first").returncode == 0
    assert agents.sessmap("exec", "gone", "--", "claude", "-p", "first").returncode == 0
    gone = agents.mapping("gone")
    assert gone is not None and gone.session_id
    agents.claude_transcript(gone.session_id).unlink()
    before = len(agents.turns())
    args, env = failing(agents)[failure]
    code, report = status_of(agents, *args, env=env)
    assert code == 125
    assert report["exit"] is None and report["action"] is None and report["key"] == args[0]
    assert isinstance(report["error"], str) and report["error"]
    assert len(agents.turns()) == before  # the agent never ran


@pytest.mark.slow
def test_a_usage_error_typer_finds_is_125_too(agents: FakeAgents) -> None:
    result = agents.sessmap("exec", "--no-such-option", "k", "--", "claude", "-p", "x")
    assert result.returncode == 125 and result.stderr.decode().startswith("sessmap: error: ")


@pytest.mark.slow
def test_busy_and_missing_commands_keep_their_codes(agents: FakeAgents) -> None:
    missing = agents.sessmap("exec", "k", "--provider", "claude", "--", "no-such-agent-cmd", "-p")
    assert missing.returncode == 127
    holder = agents.start("exec", "k", "--", "claude", "-p", "slow", env={"FAKEAGENT_SLEEP": "3"})
    try:
        import time

        deadline = time.monotonic() + 20
        while not agents.turns() and time.monotonic() < deadline:
            time.sleep(0.05)
        code, report = status_of(agents, "k", "--no-wait", "--", "claude", "-p", "x")
        assert code == 75 and report["exit"] is None and "busy" in str(report["error"])
    finally:
        holder.communicate(timeout=30)


@pytest.mark.slow
def test_the_report_for_every_action(agents: FakeAgents) -> None:
    code, started = status_of(agents, "t", "--", "claude", "-p", "one")
    assert code == 0 and started["action"] == "started" and started["turns"] == 1
    assert started["previous_session_id"] is None and started["exit"] == 0
    first = started["session_id"]
    _, resumed = status_of(agents, "t", "--", "claude", "-p", "two")
    assert resumed["action"] == "resumed" and resumed["session_id"] == first and resumed["turns"] == 2
    assert agents.sessmap("fork", "t", "child").returncode == 0
    _, forked = status_of(agents, "child", "--", "claude", "-p", "three")
    assert forked["action"] == "forked" and forked["session_id"] not in (None, first)
    agents.claude_transcript(str(first)).unlink()
    _, restarted = status_of(agents, "t", "--", "claude", "-p", "four")
    assert restarted["action"] == "stale-restarted" and restarted["previous_session_id"] == first
    assert restarted["session_id"] != first and set(restarted) == {
        "key", "agent", "session_id", "previous_session_id", "action", "turns", "exit", "error"
    }  # fmt: skip


def test_status_fd(agents: FakeAgents) -> None:
    read, write = os.pipe()
    import subprocess

    process = subprocess.Popen(
        sessmap_argv("exec", "--status-fd", str(write), "k", "--", "claude", "-p", "x"),
        cwd=agents.work,
        env=agents.env,
        pass_fds=(write,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read, "rb") as stream:
        data = stream.read()
    assert process.wait(30) == 0
    assert json.loads(data)["action"] == "started"


@pytest.mark.parametrize("agent", ["claude", "codex"])
@pytest.mark.slow
def test_the_agent_sees_its_thread_in_its_environment(agents: FakeAgents, agent: str) -> None:
    command = ["claude", "-p"] if agent == "claude" else ["codex", "exec", "--json"]
    assert agents.sessmap("exec", "-a", "rev", "slack:C1:1", "--", *command, "one").returncode == 0
    assert agents.sessmap("exec", "-a", "rev", "slack:C1:1", "--", *command, "two").returncode == 0
    first, second = (turn["sessmap_env"] for turn in agents.turns())
    mapping = agents.mapping("slack:C1:1", "rev")
    assert mapping is not None
    assert first["SESSMAP_KEY"] == second["SESSMAP_KEY"] == "slack:C1:1"
    assert first["SESSMAP_AGENT"] == second["SESSMAP_AGENT"] == "rev"
    # codex picks its own id: unknown when its first run starts
    assert first["SESSMAP_SESSION_ID"] == (mapping.session_id if agent == "claude" else "")
    assert second["SESSMAP_SESSION_ID"] == mapping.session_id
