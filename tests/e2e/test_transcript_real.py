"""``sessmap transcript`` and ``sessmap which`` on sessions the real claude and codex CLIs
wrote (against the fake model server, each test in its own HOME)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from realagents import Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AGENTS = ("claude", "codex")


def marker(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:12]}zq"


def ok(sandbox: Sandbox, *args: str) -> str:
    result = sandbox.sessmap(*args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def turn(sandbox: Sandbox, key: str, agent: str, message: str) -> None:
    result = sandbox.exec(key, agent, message)
    assert result.returncode == 0, result.stderr


@pytest.mark.agents(*AGENTS)
def test_a_real_session_in_every_format(sandbox: Sandbox, agent: str) -> None:
    first, second = marker("first"), marker("second")
    turn(sandbox, "slack:C1:1", agent, first)
    turn(sandbox, "slack:C1:1", agent, second)

    text = ok(sandbox, "transcript", "slack:C1:1")
    assert text.startswith("--- turn 1 ---\nuser  ")
    assert re.search(rf"--- turn 1 ---\nuser  \S+Z\n  {first}\nassistant  \S+Z\n  reply \d+\n", text), text
    assert re.search(rf"--- turn 2 ---\nuser  \S+Z\n  {second}\nassistant  \S+Z\n  reply \d+\n", text), text

    rows = [json.loads(line) for line in ok(sandbox, "transcript", "slack:C1:1", "-f", "jsonl").splitlines()]
    prompts = [row["text"] for row in rows if row["kind"] == "prompt"]
    assert prompts == [first, second]  # codex's injected context is not a prompt
    assert [row["turn"] for row in rows if row["kind"] == "reply"] == [1, 2]
    assert all(row["time"] for row in rows)

    markdown = ok(sandbox, "transcript", "slack:C1:1", "--format", "markdown")
    assert markdown.startswith("# slack:C1:1\n")
    assert "\n## Turn 2\n\n**user** · " in markdown and f"\n\n{second}\n" in markdown

    last = ok(sandbox, "transcript", "slack:C1:1", "--last", "1")
    assert last.startswith("--- turn 2 ---") and first not in last


@pytest.mark.agents(*AGENTS)
def test_which_finds_the_thread_of_a_real_session_and_of_an_earlier_one(sandbox: Sandbox, agent: str) -> None:
    turn(sandbox, "ticket:OPS-12", agent, marker("one"))
    earlier = sandbox.mapping("ticket:OPS-12").session_id
    assert earlier is not None
    result = sandbox.exec("ticket:OPS-12", agent, marker("two"), "--new")
    assert result.returncode == 0, result.stderr
    current = sandbox.mapping("ticket:OPS-12").session_id
    assert current is not None and current != earlier

    found = json.loads(ok(sandbox, "which", current[:12], "--json"))
    assert (found["key"], found["matched"]["in"]) == ("ticket:OPS-12", "session_id")
    old = json.loads(ok(sandbox, "which", earlier, "--json"))
    assert (old["key"], old["matched"]["in"], old["matched"]["reason"]) == ("ticket:OPS-12", "history", "new")
    assert sandbox.sessmap("which", "ffffffff").returncode == 3


@pytest.mark.agents("codex")
def test_a_real_codex_session_that_used_a_tool(sandbox: Sandbox) -> None:
    ask = marker("runtool")
    sandbox.server.shell_marker = ask
    sandbox.server.shell_command = "echo tool-ran"
    turn(sandbox, "t:tools", "codex", ask)
    text = ok(sandbox, "transcript", "t:tools")
    tools = [line for line in text.splitlines() if line.startswith("  [tool] ")]
    assert tools == ["  [tool] exec_command: echo tool-ran"], text
    rows = [json.loads(line) for line in ok(sandbox, "transcript", "t:tools", "-f", "jsonl").splitlines()]
    assert [r["tool"] for r in rows if r["kind"] == "tool_call"] == ["exec_command"]


@pytest.mark.agents(*AGENTS)
def test_the_stores_copy_when_the_agents_file_is_gone(sandbox: Sandbox, agent: str) -> None:
    ok(sandbox, "config", "set", "transcripts", "store")
    said = marker("kept")
    turn(sandbox, "t:copied", agent, said)
    shown = json.loads(ok(sandbox, "show", "t:copied", "--json"))
    local = Path(shown["transcript"]["path"])
    local.unlink()  # another host, a cleaned-up home: only the store's copy is left
    result = sandbox.sessmap("-v", "transcript", "t:copied")
    assert result.returncode == 0, result.stderr
    assert f"  {said}\n" in result.stdout and "read from the store's copy" in result.stderr
