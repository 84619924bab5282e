"""Transcripts shaped like the ones claude 2.1.197 and codex 0.169.0 write (keys in their order,
one line per claude content block, codex running token totals), of any size, for the summary
tests and the benchmark. The real CLIs' own transcripts are tested in tests/e2e.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessmap.transcripts.summary import Summary

SESSION = "11111111-2222-4333-8444-555555555555"
CWD = "/tmp/work"


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _words(rng: random.Random, count: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join("".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(count))


def _stamp(number: int) -> str:
    return f"2026-05-01T{10 + number // 3600 % 10:02d}:{number // 60 % 60:02d}:{number % 60:02d}.000Z"


def claude_user(
    text: str | list[dict[str, Any]], number: int, parent: str | None = None, **extra: Any
) -> bytes:
    return _dump(
        {
            "parentUuid": parent,
            "isSidechain": False,
            **extra,
            "type": "user",
            "message": {"role": "user", "content": text},
            "uuid": str(uuid.UUID(int=number + 1)),
            "timestamp": _stamp(number),
            "userType": "external",
            "cwd": CWD,
            "sessionId": SESSION,
            "version": "2.1.197",
        }
    )


def claude_assistant(
    block: dict[str, Any], number: int, message_id: str, usage: tuple[int, int, int, int] = (10, 5, 0, 0)
) -> bytes:
    fresh, output, read, write = usage
    return _dump(
        {
            "parentUuid": str(uuid.UUID(int=number)),
            "isSidechain": False,
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": "claude-opus-4-8",
                "content": [block],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": fresh,
                    "cache_creation_input_tokens": write,
                    "cache_read_input_tokens": read,
                    "output_tokens": output,
                    "server_tool_use": {"web_search_requests": 0},
                    "service_tier": "standard",
                },
            },
            "requestId": f"req_{number}",
            "type": "assistant",
            "uuid": str(uuid.UUID(int=number + 1)),
            "timestamp": _stamp(number),
            "userType": "external",
            "cwd": CWD,
            "sessionId": SESSION,
            "version": "2.1.197",
        }
    )


def claude_lines(total_bytes: int, seed: int = 7, title: str | None = None) -> list[bytes]:
    """Turns of: a prompt, a response of thinking + text + a Bash call (three lines, one
    message id), a long tool result, a closing text; bookkeeping lines between."""
    rng = random.Random(seed)
    lines: list[bytes] = [_dump({"type": "queue-operation", "operation": "enqueue", "sessionId": SESSION})]
    size, turn = 0, 0
    while size < total_bytes:
        number = len(lines)
        turn += 1
        batch = [
            claude_user(f"prompt {turn}: {_words(rng, rng.randint(5, 60))}", number),
            claude_assistant(
                {"type": "thinking", "thinking": _words(rng, 40), "signature": "x"},
                number + 1,
                f"msg_{turn}a",
                (3, 40, 1000, 20),
            ),
            claude_assistant(
                {"type": "text", "text": _words(rng, rng.randint(20, 300))},
                number + 2,
                f"msg_{turn}a",
                (3, 90, 1000, 20),
            ),
            claude_assistant(
                {
                    "type": "tool_use",
                    "id": f"toolu_{turn}",
                    "name": "Bash",
                    "input": {"command": f"ls -la /tmp/{turn}"},
                },
                number + 3,
                f"msg_{turn}a",
                (3, 120, 1000, 20),
            ),
            claude_user(
                [
                    {
                        "tool_use_id": f"toolu_{turn}",
                        "type": "tool_result",
                        "content": _words(rng, rng.randint(100, 2000)),
                        "is_error": False,
                    }
                ],
                number + 4,
            ),
            claude_assistant(
                {"type": "text", "text": _words(rng, rng.randint(10, 400))},
                number + 5,
                f"msg_{turn}b",
                (2, 60, 2000, 0),
            ),
            _dump({"type": "last-prompt", "lastPrompt": f"prompt {turn}", "sessionId": SESSION}),
        ]
        lines.extend(batch)
        size += sum(len(line) + 1 for line in batch)
    if title is not None:
        lines.append(_dump({"type": "ai-title", "aiTitle": title, "sessionId": SESSION}))
    return lines


def codex_line(kind: str, payload: dict[str, Any], number: int) -> bytes:
    return _dump({"timestamp": _stamp(number), "ordinal": number, "type": kind, "payload": payload})


def codex_lines(total_bytes: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    lines = [
        codex_line(
            "session_meta",
            {
                "session_id": SESSION,
                "id": SESSION,
                "cwd": CWD,
                "base_instructions": {"text": _words(rng, 300)},
            },
            0,
        ),
        codex_line(
            "response_item",
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "<permissions instructions>"}],
            },
            1,
        ),
        codex_line(
            "response_item",
            {
                "type": "message",
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": f"<environment_context>\n  <cwd>{CWD}</cwd>\n</environment_context>",
                    }
                ],
            },
            2,
        ),
    ]
    size, turn, total_in, total_out = 0, 0, 0, 0
    while size < total_bytes:
        number = len(lines)
        turn += 1
        total_in, total_out = total_in + 100, total_out + 20
        batch = [
            codex_line("event_msg", {"type": "task_started", "turn_id": f"t{turn}"}, number),
            codex_line(
                "response_item",
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"codex prompt {turn}: {_words(rng, 20)}"}],
                },
                number + 1,
            ),
            codex_line(
                "response_item",
                {"type": "reasoning", "summary": [], "encrypted_content": _words(rng, 50)},
                number + 2,
            ),
            codex_line(
                "response_item",
                {
                    "type": "function_call",
                    "name": "exec_command",
                    "arguments": json.dumps({"cmd": f"cat file{turn}"}),
                    "call_id": f"c{turn}",
                },
                number + 3,
            ),
            codex_line(
                "response_item",
                {
                    "type": "function_call_output",
                    "call_id": f"c{turn}",
                    "output": _words(rng, rng.randint(100, 2000)),
                },
                number + 4,
            ),
            codex_line(
                "response_item",
                {
                    "type": "message",
                    "status": "completed",
                    "id": f"msg_{turn}",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": _words(rng, rng.randint(10, 300)), "annotations": []}
                    ],
                },
                number + 5,
            ),
            codex_line(
                "event_msg",
                {
                    "type": "token_count",
                    "info": {
                        "total_token_usage": {
                            "input_tokens": total_in,
                            "cached_input_tokens": 40,
                            "output_tokens": total_out,
                            "reasoning_output_tokens": 0,
                            "total_tokens": total_in + total_out,
                        }
                    },
                },
                number + 6,
            ),
        ]
        lines.extend(batch)
        size += sum(len(line) + 1 for line in batch)
    return lines


def write(path: Path, lines: list[bytes], *, end: bytes = b"\n") -> Path:
    path.write_bytes(b"\n".join(lines) + end)
    return path


def both(path: Path, provider: str) -> Summary:
    """The fast summary of the file (read in place, with the C scanner where it is built),
    checked equal to the one in Python alone, to the fast summary of its ``Line``s and to the
    one that parses every line."""
    from tests.support.native import python_only

    from sessmap.transcripts.entries import read_lines
    from sessmap.transcripts.summary import summarize

    fast = summarize(path, provider)
    full = summarize(read_lines(path), provider, sniff=False).to_dict()
    assert fast.to_dict() == full
    with python_only():
        assert summarize(path, provider).to_dict() == full
    assert summarize(read_lines(path), provider).to_dict() == full
    return fast


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}
