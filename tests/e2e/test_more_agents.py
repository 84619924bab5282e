"""``sessmap exec`` with the real qwen, copilot and opencode CLIs, with no sessmap config: the
provider is the command's name. What each run sent to the (fake) model proves which
conversation it continued."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakemodel import FakeModelServer
from moreagents import AgentSandbox, more_sandbox, shared_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["more_sandbox", "shared_server"]

ALL = pytest.mark.agents("qwen", "copilot", "opencode")
FORKING = pytest.mark.agents("qwen", "opencode")


@pytest.fixture(scope="module")
def model_server(shared_server: FakeModelServer) -> Iterator[FakeModelServer]:
    yield shared_server


def marker(name: str) -> str:
    """A word no other marker, prompt, path or id contains."""
    return f"{name}{uuid.uuid4().hex[:12]}zq"


def ok(box: AgentSandbox, key: str, message: str, *options: str, **kwargs: object) -> str:
    result = box.exec(key, box.agent, message, *options, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result.stderr


@ALL
def test_a_thread_remembers_its_turns_and_another_thread_does_not_see_them(
    more_sandbox: AgentSandbox,
) -> None:
    box = more_sandbox
    first, second, other = marker("first"), marker("second"), marker("other")
    ok(box, "slack:C1:1", first)
    mapping = box.mapping("slack:C1:1")
    assert mapping.state == "active" and mapping.session_id and mapping.provider == box.agent
    ok(box, "slack:C1:1", second, cwd=box.dir("somewhere-else"))
    assert first in box.request_with(second).text
    ok(box, "slack:C1:2", other)
    assert first not in box.request_with(other).text
    again = box.mapping("slack:C1:1")
    assert again.session_id == mapping.session_id and again.turns == 2 and again.last_exit == 0
    assert box.mapping("slack:C1:2").session_id != mapping.session_id
    shown = box.sessmap("show", "slack:C1:1", "--json")
    assert shown.returncode == 0, shown.stderr
    transcript = json.loads(shown.stdout)["transcript"]
    conversation = box.sessmap("transcript", "slack:C1:1", "-f", "jsonl")
    if box.agent == "opencode":  # its sessions are rows of an SQLite database, not files
        assert transcript["state"] == "unknown" and not transcript["exists"], transcript
        assert conversation.returncode != 0 and "uses opencode" in conversation.stderr
        return
    assert transcript["state"] == "local" and transcript["exists"], transcript
    written = Path(transcript["path"]).read_text(encoding="utf-8")
    assert mapping.session_id in transcript["path"] and first in written and second in written
    assert conversation.returncode == 0, conversation.stderr
    items = [json.loads(line) for line in conversation.stdout.splitlines()]
    prompts = [item["text"] for item in items if item["kind"] == "prompt"]
    assert prompts == [first, second], items
    assert sum(item["kind"] == "reply" for item in items) == 2, items


@pytest.mark.agents("qwen", "copilot")
def test_the_stores_copy_of_a_lost_transcript_is_put_back_and_resumed(more_sandbox: AgentSandbox) -> None:
    box = more_sandbox
    config = box.dir("sessmap") / "config.toml"
    config.write_text('transcripts = "store"\n')
    before, after = marker("before"), marker("after")
    ok(box, "kept", before)
    session_id = box.mapping("kept").session_id
    assert session_id
    forget(box, session_id)
    ok(box, "kept", after)
    assert before in box.request_with(after).text
    assert box.mapping("kept").session_id == session_id


@FORKING
def test_a_fork_carries_the_parents_history_and_the_parent_never_sees_the_forks(
    more_sandbox: AgentSandbox,
) -> None:
    box = more_sandbox
    names = ("before", "infork", "inparent", "forkagain")
    before, in_fork, in_parent, fork_again = (marker(name) for name in names)
    ok(box, "parent", before)
    assert box.sessmap("fork", "parent", "child").returncode == 0
    ok(box, "child", in_fork)
    parent, child = box.mapping("parent"), box.mapping("child")
    assert child.state == "active" and child.session_id and child.session_id != parent.session_id
    assert before in box.request_with(in_fork).text
    ok(box, "parent", in_parent)
    assert before in box.request_with(in_parent).text
    assert in_fork not in box.request_with(in_parent).text
    ok(box, "child", fork_again)
    history = box.request_with(fork_again).text
    assert before in history and in_fork in history and in_parent not in history
    assert box.mapping("child").session_id == child.session_id
    assert box.mapping("parent").session_id == parent.session_id


@pytest.mark.agents("copilot")
def test_copilot_cannot_fork_and_says_so_leaving_the_parent_alone(more_sandbox: AgentSandbox) -> None:
    box = more_sandbox
    before, in_fork, after = marker("before"), marker("infork"), marker("after")
    ok(box, "parent", before)
    refused = box.sessmap("fork", "parent", "child")
    assert refused.returncode == 2, refused.stderr  # refused at once, not on the fork's first run
    assert "copilot can fork a session only in its interactive UI" in refused.stderr
    assert box.sessmap("get", "child").returncode == 3
    result = box.exec("child", box.agent, in_fork)  # a plain new thread, then: no fork in it
    assert result.returncode == 0, result.stderr
    assert before not in box.request_with(in_fork).text
    ok(box, "parent", after)
    assert before in box.request_with(after).text


def forget(box: AgentSandbox, session_id: str) -> None:
    """Make the agent lose the session, the way each keeps it."""
    home = box.root / "home"
    if box.agent == "qwen":
        transcripts = list(home.joinpath(".qwen", "projects").glob(f"*/chats/{session_id}.jsonl"))
        assert transcripts, "qwen wrote no transcript where sessmap looks for it"
        for path in transcripts:
            path.unlink()
    elif box.agent == "copilot":
        state = home / ".copilot" / "session-state" / session_id
        assert state.joinpath("events.jsonl").is_file(), "copilot wrote no events.jsonl"
        shutil.rmtree(state)
    else:
        deleted = subprocess.run(
            ["opencode", "session", "delete", session_id],
            env=box.env,
            cwd=box.dir("work"),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert deleted.returncode == 0, deleted.stderr


@ALL
def test_a_lost_session_starts_a_fresh_one_in_the_same_run(more_sandbox: AgentSandbox) -> None:
    box = more_sandbox
    old, new = marker("old"), marker("new")
    ok(box, "t", old)
    stale = box.mapping("t")
    assert stale.session_id
    forget(box, stale.session_id)
    stderr = ok(box, "t", new)
    assert "can no longer be resumed" in stderr and "starting a new session" in stderr
    assert old not in box.request_with(new).text
    fresh = box.mapping("t")
    assert fresh.session_id and fresh.session_id != stale.session_id and fresh.turns == 2


@ALL
def test_racing_execs_on_a_new_thread_make_one_session_with_both_turns(more_sandbox: AgentSandbox) -> None:
    box = more_sandbox
    one, two = marker("one"), marker("two")
    racers = [box.start("race", box.agent, one), box.start("race", box.agent, two)]
    outcomes = [(racer.communicate(timeout=180)[1], racer.returncode) for racer in racers]
    assert [code for _, code in outcomes] == [0, 0], outcomes
    first_text, second_text = box.request_with(one).text, box.request_with(two).text
    # Whichever ran second saw the other's turn: they shared one session.
    assert (one in second_text) != (two in first_text)
    mapping = box.mapping("race")
    assert mapping.turns == 2 and mapping.state == "active"
