"""qwen's and copilot's transcript lines (transcripts/entries_agents.py), as the real CLIs
wrote them (qwen 0.24.4, copilot 1.0.102, trimmed); the files they write in a real run are
read in tests/e2e/test_more_agents.py."""

from __future__ import annotations

import json

from sessmap.transcripts.entries import Line, Note, entries
from sessmap.transcripts.entries_agents import copilot_usage, qwen_usage
from sessmap.transcripts.summary import summarize

SID = "11111111-1111-4111-8111-111111111111"
STAMP = "2026-12-02T00:57:49.574Z"


def lines(*records: dict[str, object]) -> list[Line]:
    return [Line(number, json.dumps(record).encode()) for number, record in enumerate(records, start=1)]


def qwen_record(kind: str, **fields: object) -> dict[str, object]:
    return {"uuid": "u", "sessionId": SID, "timestamp": STAMP, "type": kind, "cwd": "/w", **fields}


QWEN = lines(
    qwen_record("user", provenance="real_user", message={"role": "user", "parts": [{"text": "hello"}]}),
    qwen_record("system", subtype="attribution_snapshot", systemPayload={}),
    qwen_record(
        "assistant",
        model="fake-model",
        message={
            "role": "model",
            "parts": [
                {"text": "thinking…", "thought": True},
                {"text": "reply 1"},
                {"functionCall": {"name": "run_shell_command", "args": {"command": "ls -la"}}},
            ],
        },
        usageMetadata={"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 2},
    ),
    qwen_record(
        "tool_result",
        message={"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command"}}]},
    ),
)


def test_qwen_prompts_replies_tool_calls_and_usage() -> None:
    notes: list[Note] = []
    found = [(e.kind, e.role, e.text, e.tool) for e in entries(QWEN, "qwen", notes) if e.kind != "other"]
    assert found == [
        ("prompt", "user", "hello", None),
        ("reply", "assistant", "reply 1", None),
        ("tool_call", "assistant", "run_shell_command: ls -la", "run_shell_command"),
        ("usage", "assistant", "", None),
        ("tool_result", "user", "run_shell_command", "run_shell_command"),
    ]
    assert notes == []


def test_qwen_usage_counts_thoughts_as_output() -> None:
    usage = qwen_usage({"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 2})
    assert (usage.input, usage.output) == (10, 7)


def test_qwen_summary_takes_the_first_prompt_as_title_and_sums_tokens() -> None:
    summary = summarize(QWEN, "qwen").to_dict()
    assert summary["prompts"] == 1 and summary["title"] == "hello"
    assert summary["tokens"]["input"] == 10 and summary["tokens"]["output"] == 7


def copilot_event(kind: str, **data: object) -> dict[str, object]:
    return {"type": kind, "data": data, "id": "e", "timestamp": STAMP, "parentId": None}


COPILOT = lines(
    copilot_event("session.start", sessionId=SID, copilotVersion="1.0.102", context={"cwd": "/w"}),
    copilot_event("user.message", content="hello", transformedContent="<current_datetime>…\n\nhello"),
    copilot_event("system.message", role="system", content="You are the GitHub Copilot CLI"),
    copilot_event("assistant.turn_start", turnId="0"),
    copilot_event(
        "session.usage_record",
        usage={
            "model": "m",
            "inputTokens": 10,
            "outputTokens": 5,
            "cacheReadTokens": 3,
            "cacheWriteTokens": 0,
        },
    ),
    copilot_event("assistant.message", content="reply 7", toolRequests=[]),
    copilot_event("assistant.turn_end", turnId="0"),
    copilot_event("session.shutdown", accountingSnapshot={}),
    copilot_event("session.brand_new_event"),
)


def test_copilot_prompts_replies_and_usage_and_a_note_for_what_is_unknown() -> None:
    notes: list[Note] = []
    found = [(e.kind, e.role, e.text) for e in entries(COPILOT, "copilot", notes) if e.kind != "other"]
    assert found == [
        ("prompt", "user", "hello"),
        ("usage", "assistant", ""),
        ("reply", "assistant", "reply 7"),
    ]
    assert [note.message for note in notes] == [
        "skipped entries of types sessmap does not know: session.brand_new_event (1)"
    ]


def test_copilot_usage_counts_cached_input_as_input() -> None:
    usage = copilot_usage({"inputTokens": 10, "outputTokens": 5, "cacheReadTokens": 3, "cacheWriteTokens": 1})
    assert (usage.input, usage.output, usage.cache_read, usage.cache_write) == (14, 5, 3, 1)
