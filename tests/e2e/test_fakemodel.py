"""The fake model server takes the shapes newer CLIs send: ``system`` messages in the middle
of a Messages conversation (claude sends one after the first user turn), ``developer`` items
and ``namespace`` tools in a Responses request (codex's ``multi_agent_v1``); and it can answer
with a call of codex's shell tool."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from fakemodel import FakeModelServer
from realagents import _last_user_turn


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    started = FakeModelServer().start()
    yield started
    started.stop()


def post(server: FakeModelServer, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The server-sent events of one streamed answer, as JSON objects."""
    request = urllib.request.Request(
        server.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


NAMESPACE_TOOL = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}],
}


def test_a_system_message_mid_conversation_is_answered_and_is_not_the_newest_turn(
    server: FakeModelServer,
) -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "system", "content": "# Environment\n - Primary working directory: /w"},
        {"role": "assistant", "content": [{"type": "text", "text": "reply 1"}]},
        {"role": "user", "content": [{"type": "text", "text": "second"}]},
        {"role": "system", "content": "a reminder after the turn"},
    ]
    events = post(server, "/v1/messages", {"model": "m", "stream": True, "messages": messages})
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    (recorded,) = server.model_requests()
    assert recorded.body["messages"] == messages
    assert "second" in _last_user_turn(recorded) and "reminder" not in _last_user_turn(recorded)


def test_namespace_tools_and_developer_items_are_answered(server: FakeModelServer) -> None:
    body = {
        "model": "gpt-5",
        "stream": True,
        "input": [{"type": "message", "role": "developer", "content": "rules"}, user("hello")],
        "tools": [{"type": "function", "name": "exec_command"}, NAMESPACE_TOOL],
    }
    events = post(server, "/v1/responses", body)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done[0]["type"] == "message" and events[-1]["type"] == "response.completed"
    assert server.model_requests()[0].body["tools"][1] == NAMESPACE_TOOL


def test_a_turn_naming_the_shell_marker_gets_a_shell_call_and_its_output_a_plain_answer(
    server: FakeModelServer,
) -> None:
    server.shell_marker, server.shell_command = "writeplease", "echo hi > f"
    asked = post(server, "/v1/responses", {"stream": True, "input": [user("writeplease now")]})
    (call,) = [e["item"] for e in asked if e["type"] == "response.output_item.done"]
    assert call["type"] == "function_call" and call["name"] == "exec_command"
    assert json.loads(call["arguments"]) == {"cmd": "echo hi > f"}
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "done"}
    again = post(server, "/v1/responses", {"stream": True, "input": [user("writeplease now"), call, output]})
    (answer,) = [e["item"] for e in again if e["type"] == "response.output_item.done"]
    assert answer["type"] == "message"
    plain = post(server, "/v1/responses", {"stream": True, "input": [user("just talk")]})
    assert [e["item"]["type"] for e in plain if e["type"] == "response.output_item.done"] == ["message"]
