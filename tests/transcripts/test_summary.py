"""What a transcript holds (transcripts/entries.py, transcripts/summary.py): titles, prompts,
counts and token sums, the fast path against the full parse, and hostile files.

The transcripts the real CLIs write are tested in tests/e2e/test_conversation_facts.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.conversations import (
    both,
    claude_assistant,
    claude_lines,
    claude_user,
    codex_line,
    codex_lines,
    text,
    write,
)
from tests.support.sizes import examples

from sessmap.transcripts.entries import MAX_LINE, Line, Note, entries, lines_of, read_lines, split_lines
from sessmap.transcripts.lines import CHUNK
from sessmap.transcripts.summary import summarize

# --- claude ------------------------------------------------------------------------------------


def test_a_claude_title_entry_wins_over_the_first_prompt_and_the_last_one_counts(tmp_path: Path) -> None:
    lines = [
        claude_user("fix the login bug\nand add a test", 1),
        json.dumps({"type": "summary", "summary": "Old summary", "leafUuid": "x"}).encode(),
        claude_assistant(text("done"), 2, "msg_1"),
        json.dumps({"type": "custom-title", "customTitle": "Login bug", "sessionId": "s"}).encode(),
    ]
    summary = both(write(tmp_path / "t.jsonl", lines), "claude")
    assert (summary.title, summary.title_source) == ("Login bug", "agent")
    assert (
        summary.first_prompt is not None and summary.first_prompt.text == "fix the login bug and add a test"
    )


def test_without_a_title_entry_the_title_is_the_first_prompt_on_one_line_cut(tmp_path: Path) -> None:
    long = "word " * 100
    summary = both(write(tmp_path / "t.jsonl", [claude_user(f"first\n{long}", 1)]), "claude")
    assert summary.title_source == "first_prompt"
    assert summary.title is not None and "\n" not in summary.title
    assert len(summary.title) == 80 and summary.title.endswith("…") and summary.title.startswith("first word")


def test_claude_prompts_replies_tool_calls_and_tokens_count_each_response_once(tmp_path: Path) -> None:
    # One response written as four lines (thinking, two texts: one reply, tool call), all with
    # its usage, the last with the final counts; a tool result; a second response; a second prompt.
    lines = [
        claude_user("first", 1),
        claude_assistant(
            {"type": "thinking", "thinking": "hm", "signature": "s"}, 2, "msg_a", (3, 1, 100, 10)
        ),
        claude_assistant(text("looking"), 3, "msg_a", (3, 2, 100, 10)),
        claude_assistant(text("still looking"), 3, "msg_a", (3, 2, 100, 10)),
        claude_assistant(
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}},
            4,
            "msg_a",
            (3, 7, 100, 10),
        ),
        claude_user([{"tool_use_id": "t1", "type": "tool_result", "content": "a b c"}], 5),
        claude_assistant(text("found it"), 6, "msg_b", (5, 20, 200, 0)),
        claude_user("second", 7),
        claude_assistant(text("ok"), 8, "msg_c", (1, 1, 0, 0)),
    ]
    summary = both(write(tmp_path / "t.jsonl", lines), "claude")
    assert (summary.prompts, summary.replies, summary.tool_calls, summary.messages) == (2, 3, 1, 5)
    assert summary.tokens is not None
    assert summary.tokens.output == 7 + 20 + 1
    assert summary.tokens.input == (3 + 100 + 10) + (5 + 200) + 1
    assert (summary.tokens.cache_read, summary.tokens.cache_write) == (300, 10)
    assert summary.last_prompt is not None and summary.last_prompt.text == "second"
    assert (
        summary.last_prompt.at is not None
        and summary.last_prompt.at.isoformat() == "2026-05-01T10:00:07+00:00"
    )


def test_a_reused_message_id_after_a_tool_result_is_a_new_response(tmp_path: Path) -> None:
    # The fake model server answers every request with id msg_fake.
    lines = [
        claude_user("go", 1),
        claude_assistant(
            {"type": "tool_use", "id": "t", "name": "Read", "input": {"file_path": "/a"}}, 2, "msg_fake"
        ),
        claude_user([{"tool_use_id": "t", "type": "tool_result", "content": "x"}], 3),
        claude_assistant(text("done"), 4, "msg_fake"),
    ]
    summary = both(write(tmp_path / "t.jsonl", lines), "claude")
    assert summary.tokens is not None and (summary.tokens.input, summary.tokens.output) == (20, 10)


def test_meta_lines_and_command_echoes_are_not_prompts(tmp_path: Path) -> None:
    lines = [
        claude_user("<command-name>/clear</command-name>", 1),
        claude_user("Caveat: injected", 2, isMeta=True),
        claude_user("the real question", 3),
    ]
    summary = both(write(tmp_path / "t.jsonl", lines), "claude")
    assert summary.prompts == 1 and summary.title == "the real question"


def test_a_cost_appears_only_where_the_agent_wrote_one(tmp_path: Path) -> None:
    plain = write(tmp_path / "plain.jsonl", [claude_user("a", 1), claude_assistant(text("b"), 2, "m")])
    assert both(plain, "claude").cost_usd is None
    priced = json.loads(claude_assistant(text("b"), 2, "m"))
    priced["costUSD"] = 0.0125
    summary = both(
        write(tmp_path / "priced.jsonl", [claude_user("a", 1), json.dumps(priced).encode()]), "claude"
    )
    assert summary.cost_usd == pytest.approx(0.0125)


def test_a_session_without_usage_records_has_no_tokens(tmp_path: Path) -> None:
    assert both(write(tmp_path / "t.jsonl", [claude_user("hi", 1)]), "claude").tokens is None


def test_entries_give_typed_records_with_tool_summaries(tmp_path: Path) -> None:
    lines = [
        claude_user("hi", 1),
        claude_assistant(
            {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "ls\n-la"}}, 2, "m"
        ),
    ]
    notes: list[Note] = []
    found = list(entries(read_lines(write(tmp_path / "t.jsonl", lines)), "claude", notes))
    assert [(e.kind, e.role) for e in found] == [
        ("prompt", "user"),
        ("tool_call", "assistant"),
        ("usage", "assistant"),
    ]
    assert found[1].text == "Bash: ls -la" and found[1].tool == "Bash"
    assert notes == []


# --- codex -------------------------------------------------------------------------------------


def test_codex_counts_prompts_not_injected_context_and_sums_running_totals(tmp_path: Path) -> None:
    summary = both(write(tmp_path / "r.jsonl", codex_lines(60_000)), "codex")
    turns = summary.prompts
    assert turns > 3 and summary.replies == turns and summary.tool_calls == turns
    assert summary.first_prompt is not None and summary.first_prompt.text.startswith("codex prompt 1:")
    assert summary.last_prompt is not None and summary.last_prompt.text.startswith(f"codex prompt {turns}:")
    assert summary.tokens is not None and (summary.tokens.input, summary.tokens.output) == (
        100 * turns,
        20 * turns,
    )


def test_a_codex_total_that_starts_over_is_added_not_lost(tmp_path: Path) -> None:
    def total(value: int, number: int) -> bytes:
        usage = {"input_tokens": value, "cached_input_tokens": 0, "output_tokens": value // 10}
        return codex_line("event_msg", {"type": "token_count", "info": {"total_token_usage": usage}}, number)

    summary = both(
        write(tmp_path / "r.jsonl", [total(100, 1), total(250, 2), total(50, 3), total(80, 4)]), "codex"
    )
    assert summary.tokens is not None and summary.tokens.input == 250 + 80


def test_a_codex_thread_name_is_the_title(tmp_path: Path) -> None:
    lines = [
        *codex_lines(100),
        codex_line("event_msg", {"type": "thread_name_updated", "thread_name": "Deploy fix"}, 99),
    ]
    assert both(write(tmp_path / "r.jsonl", lines), "codex").title == "Deploy fix"


# --- the fast path is the full parse, only faster -----------------------------------------------


@pytest.mark.parametrize("provider", ["claude", "codex"])
def test_the_fast_path_agrees_with_parsing_every_line(tmp_path: Path, provider: str) -> None:
    lines = claude_lines(300_000, title="T") if provider == "claude" else codex_lines(300_000)
    summary = both(write(tmp_path / "t.jsonl", lines), provider)
    assert summary.messages > 50 and summary.tokens is not None and summary.notes == []


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["type", "text", "content", "usage", "role", "id", "input_tokens", "message", "payload"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(_VALUES, max_size=6), st.sampled_from(["claude", "codex"]))
def test_any_json_lines_summarize_the_same_both_ways_and_never_raise(
    values: list[object], provider: str
) -> None:
    lines = [Line(n, json.dumps(v, separators=(",", ":")).encode()) for n, v in enumerate(values, start=1)]
    assert summarize(lines, provider).to_dict() == summarize(lines, provider, sniff=False).to_dict()


# --- hostile transcripts: a clear note, never a traceback ---------------------------------------


@pytest.mark.parametrize("provider", ["claude", "codex"])
def test_a_truncated_last_line_is_noted_and_the_rest_counted(tmp_path: Path, provider: str) -> None:
    lines = claude_lines(5000) if provider == "claude" else codex_lines(5000)
    whole = summarize(lines_of(lines), provider)
    cut = write(tmp_path / "t.jsonl", [*lines, lines[-1][: len(lines[-1]) // 2]], end=b"")
    summary = both(cut, provider)
    assert summary.prompts == whole.prompts and summary.lines == len(lines) + 1
    assert summary.size == cut.stat().st_size
    assert summary.notes == [
        f"the last line {len(lines) + 1} is cut short (the agent may still be writing it); skipped"
    ]


def test_bytes_that_are_not_utf8_are_noted_and_the_entry_still_read(tmp_path: Path) -> None:
    bad = claude_user("caf\u00e9 order", 1).replace("é".encode(), b"\xe9")
    summary = both(write(tmp_path / "t.jsonl", [bad, claude_assistant(text("ok"), 2, "m")]), "claude")
    assert summary.prompts == 1 and summary.first_prompt is not None
    assert summary.first_prompt.text == "caf\ufffd order"
    assert summary.notes == ["line 1 holds bytes that are not UTF-8 (shown as \ufffd)"]


def test_unknown_entry_types_and_garbage_lines_make_one_note_each(tmp_path: Path) -> None:
    lines = [
        claude_user("hi", 1),
        b'{"type":"hologram","x":1}',
        b'{"type":"hologram","x":2}',
        b"not json at all",
        b"[1, 2, 3]",
        b'{"type":"assistant","message":"a string, not an object"}',
        b"[" * 100_000,
    ]
    summary = both(write(tmp_path / "t.jsonl", lines), "claude")
    assert summary.prompts == 1
    assert summary.notes == [
        "line 4 is not a JSON object; skipped",
        "line 5 is not a JSON object; skipped",
        "line 7 is not a JSON object; skipped",
        "skipped entries of types sessmap does not know: hologram (2)",
    ]


@pytest.mark.slow
def test_a_50_mb_transcript_streams_in_bounded_memory_and_time(tmp_path: Path) -> None:
    lines = claude_lines(1 << 20)
    path = tmp_path / "big.jsonl"
    with path.open("wb") as out:
        while out.tell() < 50 << 20:
            out.write(b"\n".join(lines) + b"\n")
    started = time.perf_counter()
    summary = summarize(read_lines(path), "claude")
    elapsed = time.perf_counter() - started
    assert summary.size == path.stat().st_size and summary.notes == []
    assert summary.prompts == summarize(lines_of(lines), "claude").prompts * (summary.lines // len(lines))
    assert elapsed < 10, f"{elapsed:.1f} s for 50 MB"


def test_a_single_line_longer_than_the_limit_is_skipped_with_a_note(tmp_path: Path) -> None:
    huge = b'{"type":"user","message":{"content":"' + b"x" * (MAX_LINE + 10) + b'"}}'
    chunks = [huge[i : i + (1 << 20)] for i in range(0, len(huge), 1 << 20)]
    lines = list(split_lines([*chunks, b"\n", claude_user("after", 2) + b"\n"]))
    assert (lines[0].number, lines[0].complete, len(lines[0].data)) == (1, False, MAX_LINE)
    summary = summarize(lines, "claude")
    assert summary.prompts == 1 and summary.first_prompt is not None and summary.first_prompt.text == "after"
    assert summary.notes == ["line 1 is longer than 32 MB; skipped"]
    # The same from a file, read in place by the fast path (the limit is checked after each
    # read, so a line is cut once a read ends more than MAX_LINE into it).
    longer = huge[:-3] + b"x" * (2 * CHUNK) + b'"}}'
    from_file = both(write(tmp_path / "t.jsonl", [longer, claude_user("after", 2)]), "claude")
    assert from_file.to_dict() == {
        **summary.to_dict(),
        "size": MAX_LINE + 1 + len(claude_user("after", 2)) + 1,
    }


def test_an_empty_file_has_nothing_and_no_note(tmp_path: Path) -> None:
    summary = both(write(tmp_path / "t.jsonl", [], end=b""), "claude")
    assert summary.to_dict()["messages"] == 0 and summary.title is None and summary.notes == []


def test_claude_cost_state_totals_count_each_process_once(tmp_path: Path) -> None:
    def state(total: float, started: int) -> bytes:
        return json.dumps({"type": "cost-state", "totalCostUSD": total, "startTime": started}).encode()

    # Two processes (two `claude -p` runs): the first wrote 0.1 then 0.3, the second 0.2.
    lines = [claude_user("a", 1), state(0.1, 1), state(0.3, 1), claude_user("b", 2), state(0.2, 2)]
    assert both(write(tmp_path / "t.jsonl", lines), "claude").cost_usd == pytest.approx(0.5)
