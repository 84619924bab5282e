"""``show``, ``list --fields`` and ``du`` on transcripts the real claude and codex wrote (each
version agents.toml names), against the fake model server, whose every answer costs
10 input and 5 output tokens (a claude tool call: 7 output tokens)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from realagents import Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AGENTS = ("claude", "codex")


def marker(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:12]}zq"


def turn(sandbox: Sandbox, key: str, agent: str, message: str) -> None:
    result = sandbox.exec(key, agent, message)
    assert result.returncode == 0, result.stderr


def show(sandbox: Sandbox, key: str) -> dict[str, Any]:
    result = sandbox.sessmap("show", key, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def agree(path: Path, agent: str) -> None:
    """The fast path (the file read in place, and its lines) gives what a full parse of every
    line gives, on what the real CLI wrote."""
    from sessmap.transcripts.entries import read_lines
    from sessmap.transcripts.summary import summarize

    full = summarize(read_lines(path), agent, sniff=False).to_dict()
    assert summarize(path, agent).to_dict() == full
    assert summarize(read_lines(path), agent).to_dict() == full


@pytest.mark.agents(*AGENTS)
def test_show_tells_title_prompts_counts_and_tokens_of_a_real_session(sandbox: Sandbox, agent: str) -> None:
    first, second = marker("first"), marker("second")
    turn(sandbox, "t:facts", agent, f"{first}\nplease")
    turn(sandbox, "t:facts", agent, second)
    data = show(sandbox, "t:facts")
    talk, where = data["conversation"], data["transcript"]
    path = Path(where["path"])
    agree(path, agent)
    assert talk["source"] == "local" and talk["notes"] == []
    assert talk["first_prompt"]["text"] == f"{first} please" and talk["first_prompt"]["at"]
    assert talk["last_prompt"]["text"] == second and talk["last_prompt"]["at"] >= talk["first_prompt"]["at"]
    assert (talk["prompts"], talk["replies"], talk["tool_calls"], talk["messages"]) == (2, 2, 0, 4)
    if talk["title_source"] == "first_prompt":
        assert talk["title"] == f"{first} please"
    else:  # a newer CLI may write its own title entry: the summary must come from the file
        assert talk["title_source"] == "agent" and talk["title"] in path.read_text()
    assert talk["size"] == path.stat().st_size and talk["lines"] == len(path.read_bytes().splitlines())
    assert (talk["tokens"]["input"], talk["tokens"]["output"]) == (20, 10)
    # A cost only where the agent wrote one: claude 2.1.3xx keeps each process's running total
    # in cost-state entries; claude 2.1.197 and codex write none.
    runs = {r["startTime"]: r["totalCostUSD"] for r in records(path) if r.get("type") == "cost-state"}
    assert talk["cost_usd"] == (pytest.approx(sum(runs.values())) if runs else None)
    home = sandbox.env["CLAUDE_CONFIG_DIR"] if agent == "claude" else sandbox.env["CODEX_HOME"]
    assert where["agent_home"] == home and where["host"] == data["host"] and where["stored"] is False

    listed = sandbox.sessmap("list", "--fields", "key,title,messages,size,tokens", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {
            "key": "t:facts",
            "title": talk["title"],
            "messages": 4,
            "size": talk["size"],
            "tokens": {"input": 20, "output": 10},
        }
    ]
    du = json.loads(sandbox.sessmap("du", "--json").stdout)
    assert du["mappings"][0]["local"] >= talk["size"] and du["total"]["mappings"] == 1


@pytest.mark.agents("claude")
def test_a_real_claude_session_that_used_a_tool(sandbox: Sandbox) -> None:
    ask = marker("readtool")
    notes = sandbox.dir("work") / "notes.txt"
    notes.write_text("tool-read\n")
    sandbox.server.tool_marker, sandbox.server.tool_input = ask, {"file_path": str(notes)}
    turn(sandbox, "t:tools", "claude", ask)
    data = show(sandbox, "t:tools")
    talk = data["conversation"]
    lines = records(Path(data["transcript"]["path"]))
    agree(Path(data["transcript"]["path"]), "claude")
    used = [
        b
        for r in lines
        if r.get("type") == "assistant"
        for b in r["message"]["content"]
        if b.get("type") == "tool_use"
    ]
    assert [b["name"] for b in used] == ["Read"], "the fake server's tool call did not reach the transcript"
    assert any(
        b.get("type") == "tool_result"
        for r in lines
        if r.get("type") == "user"
        for b in r["message"]["content"]
        if isinstance(b, dict)
    )
    assert (talk["prompts"], talk["replies"], talk["tool_calls"]) == (1, 1, 1)
    # Two responses (the call, then the answer); each counted once, with the usage claude kept.
    kept = {r["message"]["id"]: r["message"]["usage"] for r in lines if r.get("type") == "assistant"}
    assert len(kept) == 2 and talk["tokens"]["input"] == 20
    assert talk["tokens"]["output"] == sum(u["output_tokens"] for u in kept.values())


@pytest.mark.agents("codex")
def test_a_real_codex_session_that_used_a_tool(sandbox: Sandbox) -> None:
    ask = marker("shelltool")
    sandbox.server.shell_marker = ask
    sandbox.server.shell_command = "echo tool-ran"
    turn(sandbox, "t:tools", "codex", ask)
    data = show(sandbox, "t:tools")
    talk = data["conversation"]
    agree(Path(data["transcript"]["path"]), "codex")
    assert (talk["prompts"], talk["replies"], talk["tool_calls"]) == (1, 1, 1)
    assert (talk["tokens"]["input"], talk["tokens"]["output"]) == (20, 10)  # two requests
    assert talk["title"] == ask and talk["notes"] == []


@pytest.mark.agents(*AGENTS)
def test_show_reads_the_stores_copy_of_a_real_transcript(sandbox: Sandbox, agent: str) -> None:
    config = sandbox.sessmap("config", "set", "transcripts", "store")
    assert config.returncode == 0, config.stderr
    said = marker("kept")
    turn(sandbox, "t:copied", agent, said)
    local = show(sandbox, "t:copied")
    Path(local["transcript"]["path"]).unlink()
    stored = show(sandbox, "t:copied")
    assert stored["transcript"]["state"] == "stored"
    assert stored["conversation"]["source"] == "store"
    same = ("title", "first_prompt", "messages", "tokens", "size", "lines")
    assert {k: stored["conversation"][k] for k in same} == {k: local["conversation"][k] for k in same}
