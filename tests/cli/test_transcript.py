"""``sessmap transcript KEY``: the conversation in text, markdown and jsonl, ``--last N``, for
claude and codex, from the agent's own file or, when there is none here, the store's copy."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.backends import STORE_KINDS, backend_params, open_url, store_url
from tests.support.cli import Sessmap, one_error_line

from sessmap.stores.base import TranscriptKey
from sessmap.transcripts.locate import CODEX_PROJECT, project_key_for

CLAUDE_ID = "5f3b2c9e-8a4d-4c1e-9b7a-2d6e8f0a1b3c"
CODEX_ID = "0199a213-81c0-7800-8aa1-bbab2a035a53"


def at(second: int) -> str:
    return f"2026-12-01T10:00:{second:02d}.000Z"


CLAUDE_LINES: list[dict[str, Any]] = [
    {"type": "user", "timestamp": at(0), "message": {"role": "user", "content": "list the files\nplease"}},
    {
        "type": "assistant",
        "timestamp": at(2),
        "message": {
            "id": "m1",
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Sure, \x1b[31mlooking\x1b[0m."},
                {"type": "tool_use", "name": "Bash", "input": {"command": "ls -la"}},
            ],
            "usage": {"input_tokens": 5, "output_tokens": 3},
        },
    },
    {
        "type": "user",
        "timestamp": at(3),
        "message": {"content": [{"type": "tool_result", "content": "a\nb"}]},
    },
    {
        "type": "assistant",
        "timestamp": at(4),
        "message": {"id": "m2", "content": [{"type": "text", "text": "Two."}]},
    },
    {"type": "user", "timestamp": at(9), "message": {"role": "user", "content": "thanks"}},
    {
        "type": "assistant",
        "timestamp": at(10),
        "message": {"id": "m3", "content": [{"type": "text", "text": "Bye."}]},
    },
]


def codex_item(second: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": at(second), "type": "response_item", "payload": payload}


def codex_message(second: int, role: str, text: str) -> dict[str, Any]:
    kind = "input_text" if role == "user" else "output_text"
    return codex_item(second, {"type": "message", "role": role, "content": [{"type": kind, "text": text}]})


CODEX_LINES: list[dict[str, Any]] = [
    {"timestamp": at(0), "type": "session_meta", "payload": {"id": CODEX_ID, "cwd": "/srv"}},
    codex_message(0, "user", "<environment_context>cwd /srv</environment_context>"),
    codex_message(1, "user", "what is here?"),
    codex_item(2, {"type": "function_call", "name": "shell", "arguments": '{"command": ["ls", "/srv"]}'}),
    codex_item(3, {"type": "function_call_output", "output": "app"}),
    codex_message(4, "assistant", "One folder: app."),
]


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def write_claude(workdir: Path, data: bytes) -> Path:
    path = (
        Path(os.environ["CLAUDE_CONFIG_DIR"])
        / "projects"
        / project_key_for(str(workdir))
        / f"{CLAUDE_ID}.jsonl"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_codex(data: bytes) -> Path:
    path = (
        Path(os.environ["CODEX_HOME"])
        / "sessions/2026/12/01"
        / f"rollout-2026-12-01T10-00-00-{CODEX_ID}.jsonl"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def claude(sessmap: Sessmap, workdir: Path) -> Sessmap:
    """A claude thread ``t:claude`` whose transcript is on this host."""
    write_claude(workdir, jsonl(CLAUDE_LINES))
    sessmap.ok("create", "t:claude", "--session-id", CLAUDE_ID, "--cwd", str(workdir))
    return sessmap


def test_text_is_the_default_a_turn_at_a_time(claude: Sessmap) -> None:
    result = claude.ok("transcript", "t:claude")
    assert result.stdout == (
        "--- turn 1 ---\n"
        "user  2026-12-01T10:00:00Z\n"
        "  list the files\n"
        "  please\n"
        "assistant  2026-12-01T10:00:02Z\n"
        "  Sure, \\x1b[31mlooking\\x1b[0m.\n"  # the escape sequence shown, not sent to the terminal
        "  [tool] Bash: ls -la\n"
        "  Two.\n"
        "\n"
        "--- turn 2 ---\n"
        "user  2026-12-01T10:00:09Z\n"
        "  thanks\n"
        "assistant  2026-12-01T10:00:10Z\n"
        "  Bye.\n"
    )
    assert result.stderr == ""


def test_markdown(claude: Sessmap, workdir: Path) -> None:
    out = claude.ok("transcript", "t:claude", "--format", "markdown").stdout
    assert out.startswith(f"# t:claude\n\nSession `{CLAUDE_ID}` (claude, agent default), read from `")
    assert "\n## Turn 1\n\n**user** · 2026-12-01T10:00:00Z\n\nlist the files\nplease\n" in out
    assert (
        "\n**assistant** · 2026-12-01T10:00:02Z\n\nSure, \\x1b[31mlooking\\x1b[0m.\n\n"
        "- tool: `Bash: ls -la`\n\nTwo.\n" in out
    )
    assert out.endswith(
        "\n## Turn 2\n\n**user** · 2026-12-01T10:00:09Z\n\nthanks\n\n"
        "**assistant** · 2026-12-01T10:00:10Z\n\nBye.\n"
    )


def test_jsonl_one_object_per_prompt_reply_and_tool_call(claude: Sessmap) -> None:
    rows = [
        json.loads(line) for line in claude.ok("transcript", "t:claude", "-f", "jsonl").stdout.splitlines()
    ]
    assert [(r["turn"], r["kind"], r["role"]) for r in rows] == [
        (1, "prompt", "user"),
        (1, "reply", "assistant"),
        (1, "tool_call", "assistant"),
        (1, "reply", "assistant"),
        (2, "prompt", "user"),
        (2, "reply", "assistant"),
    ]
    assert rows[1]["text"] == "Sure, \x1b[31mlooking\x1b[0m."  # jsonl keeps every character
    assert rows[2] == {
        "turn": 1,
        "kind": "tool_call",
        "role": "assistant",
        "time": "2026-12-01T10:00:02Z",
        "text": "Bash: ls -la",
        "tool": "Bash",
        "line": 2,
    }


def test_last_keeps_the_last_turns(claude: Sessmap) -> None:
    out = claude.ok("transcript", "t:claude", "--last", "1").stdout
    assert out.startswith("--- turn 2 ---\n") and "turn 1" not in out
    assert (
        claude.ok("transcript", "t:claude", "--last", "5").stdout
        == claude.ok("transcript", "t:claude").stdout
    )
    rows = claude.ok("transcript", "t:claude", "--last", "1", "-f", "jsonl").stdout.splitlines()
    assert {json.loads(row)["turn"] for row in rows} == {2}
    assert claude("transcript", "t:claude", "--last", "0").exit_code == 2


def test_codex_rollout(sessmap: Sessmap) -> None:
    write_codex(jsonl(CODEX_LINES))
    sessmap.ok("create", "t:codex", "--provider", "codex", "--session-id", CODEX_ID)
    assert sessmap.ok("transcript", "t:codex").stdout == (
        "--- turn 1 ---\n"
        "user  2026-12-01T10:00:01Z\n"
        "  what is here?\n"
        "assistant  2026-12-01T10:00:02Z\n"
        "  [tool] shell: ls /srv\n"
        "  One folder: app.\n"
    )


def test_hostile_lines_are_notes_on_stderr_not_errors(sessmap: Sessmap, workdir: Path) -> None:
    data = jsonl(CLAUDE_LINES[:2]) + b'{"type": "brand-new"}\n\xff\xfe not json\n' + b'{"type": "user", "mess'
    write_claude(workdir, data)
    sessmap.ok("create", "t:claude", "--session-id", CLAUDE_ID, "--cwd", str(workdir))
    result = sessmap.ok("transcript", "t:claude")
    assert "[tool] Bash: ls -la" in result.stdout
    notes = result.stderr.splitlines()
    assert notes and all(line.startswith("sessmap: note: ") for line in notes)
    assert any("cut short" in line for line in notes) and any("brand-new" in line for line in notes)
    assert "Traceback" not in result.stderr
    assert sessmap.ok("-q", "transcript", "t:claude").stderr == ""


# --- where it is read from, and when there is nothing to read -----------------------------------


@pytest.fixture(params=backend_params(STORE_KINDS))
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sessmap]:
    with store_url(str(request.param), tmp_path) as url:
        yield Sessmap(store_url=url, store_path=tmp_path)


def test_the_stores_copy_when_no_local_file(any_store: Sessmap, workdir: Path) -> None:
    any_store.ok("create", "t:claude", "--session-id", CLAUDE_ID, "--cwd", str(workdir))
    with open_url(any_store.store_url) as store:
        key = TranscriptKey(project_key_for(str(workdir)), CLAUDE_ID)
        store.transcripts.append(key, [json.dumps(line).encode() for line in CLAUDE_LINES])
        store.transcripts.append(TranscriptKey(CODEX_PROJECT, CODEX_ID), [b"{}"])  # another session
    result = any_store.ok("-v", "transcript", "t:claude", "-f", "markdown")
    assert "read from `the store's copy`" in result.stdout
    assert "\n## Turn 2\n" in result.stdout and "Bye." in result.stdout
    assert "read from the store's copy" in result.stderr
    # Once the agent's file is here, that is what is read.
    write_claude(workdir, jsonl(CLAUDE_LINES[:1]))
    assert "Bye." not in any_store.ok("transcript", "t:claude").stdout


def test_no_transcript_anywhere_exits_1_with_the_next_step(any_store: Sessmap, workdir: Path) -> None:
    any_store.ok("create", "t:claude", "--session-id", CLAUDE_ID, "--cwd", str(workdir))
    result = any_store("transcript", "t:claude")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"no transcript of session {CLAUDE_ID}" in line
    assert "sessmap config set transcripts store" in line


def test_no_mapping_exits_3_and_a_pending_one_too(sessmap: Sessmap) -> None:
    missing = sessmap("transcript", "t:nothing")
    assert missing.exit_code == 3
    assert "no mapping for 't:nothing'" in one_error_line(missing)
    sessmap.ok("create", "t:pending", "--provider", "codex")
    pending = sessmap("transcript", "t:pending")
    assert pending.exit_code == 3
    assert "no session id until its first exec" in one_error_line(pending)


def test_agent_selects_the_mapping(claude: Sessmap, workdir: Path) -> None:
    assert claude("transcript", "t:claude", "-a", "reviewer").exit_code == 3
    claude.ok("create", "t:claude", "-a", "reviewer", "--session-id", CLAUDE_ID, "--cwd", str(workdir))
    assert "Bye." in claude.ok("transcript", "t:claude", "--agent", "reviewer").stdout
