"""The fast path of transcripts/summary.py (transcripts/sniff.py, lines read in place by
transcripts/lines.py) against the full parse: text that looks like structure, keys in other
orders or written twice, and the same lines however the file is cut into reads.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

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
    write,
)
from tests.support.conversations import text as text_block
from tests.support.sizes import examples

from sessmap.transcripts.entries import Line, split_lines
from sessmap.transcripts.lines import spans
from sessmap.transcripts.summary import summarize

# Pieces that could fool a byte sniff if it read text as structure: keys and closing brackets
# inside strings, escapes, unicode, the starts the parser treats as injected context.
_TRICKY = st.sampled_from(
    [
        '"type":"assistant"',
        '"type":"user","message":{',
        '"}],"usage":{"input_tokens":9,',
        '"costUSD":1',
        '"isMeta":true',
        '{"type":"text","text":"x"}',
        "\\",
        '\\"',
        '"',
        "\u00e9",
        "é",
        "\u2028",
        "\n",
        "\t",
        "<command-name>",
        " ",
        "}",
        "]",
        "plain words",
    ]
)
_TEXTS = st.lists(_TRICKY | st.text(max_size=4), max_size=5).map("".join)
# Extra keys that change what a line is when they come later, or nest a "type" of their own.
_EXTRAS = st.sampled_from(
    [
        None,
        ("costUSD", 0.25),
        ("isMeta", True),
        ("isCompactSummary", True),
        ("toolUseResult", {"type": "text", "stdout": "x", "message": {"type": "user"}}),
        ("type", "user"),
        ("type", "assistant"),
        ("message", {"role": "user", "content": "moved"}),
        ("usage", {"input_tokens": 5}),
    ]
)


def _block(kind: str, text: str) -> dict[str, Any]:
    if kind == "thinking":
        return {"type": "thinking", "thinking": text, "signature": text}
    if kind == "tool":
        return {
            "type": "tool_use",
            "id": "t",
            "name": "Bash",
            "input": {"command": text, "x": {"type": text}},
        }
    return text_block(text)


@st.composite
def _claude_line(draw: st.DrawFn, number: int) -> bytes:
    kind = draw(st.sampled_from(["prompt", "result", "results", "mixed", "text", "thinking", "tool", "two"]))
    text = draw(_TEXTS)
    if kind == "prompt":
        line = claude_user(text, number)
    elif kind in ("result", "results", "mixed"):
        content: object = text if kind == "result" else [text_block(text)]
        blocks: list[dict[str, Any]] = [{"tool_use_id": "t", "type": "tool_result", "content": content}]
        if kind == "mixed":
            blocks.append(text_block(text))
        line = claude_user(blocks, number)
    else:
        message_id = draw(st.sampled_from(["msg_1", "msg_2"]))
        usage = (number, 2 * number, 3, 1)
        line = claude_assistant(_block(kind if kind != "two" else "text", text), number, message_id, usage)
        if kind == "two":
            value = json.loads(line)
            value["message"]["content"].append(_block("tool", text))
            line = json.dumps(value, separators=(",", ":")).encode()
    value = json.loads(line)
    extra = draw(_EXTRAS)
    if extra is not None:
        key, item = extra
        value.pop(key, None)  # a key moved to the end: order matters to a byte sniff
        value[key] = item
    line = json.dumps(value, separators=(",", ":"), ensure_ascii=draw(st.booleans())).encode()
    return line[:-1] + draw(_DUPLICATES) + b"}"


# A key written twice (json.loads keeps the last one), which a dict cannot make.
_DUPLICATES = st.sampled_from(
    [
        b"",
        b',"type":"assistant"',
        b',"type":"user"',
        b',"message":{"role":"user","content":"twice"}',
        b',"costUSD":0.5',
        b',"isMeta":true',
    ]
)


@st.composite
def _codex_line(draw: st.DrawFn, number: int) -> bytes:
    text = draw(_TEXTS)
    kind = draw(st.sampled_from(["user", "assistant", "output", "total"]))
    if kind in ("user", "assistant"):
        block = {"type": "input_text" if kind == "user" else "output_text", "text": text}
        payload: dict[str, Any] = {"type": "message", "role": kind, "content": [block]}
        return codex_line("response_item", payload, number)
    if kind == "output":
        return codex_line("response_item", {"type": "function_call_output", "output": text}, number)
    usage = {"input_tokens": number * 10, "cached_input_tokens": 1, "output_tokens": number}
    return codex_line("event_msg", {"type": "token_count", "info": {"total_token_usage": usage}}, number)


@settings(max_examples=examples(300), deadline=None)
@given(st.data(), st.sampled_from(["claude", "codex"]))
def test_tricky_text_in_real_shaped_lines_summarizes_the_same_every_way(
    data: st.DataObject, provider: str
) -> None:
    make = _claude_line if provider == "claude" else _codex_line
    lines = [data.draw(make(number)) for number in range(1, data.draw(st.integers(1, 8)) + 1)]
    with tempfile.TemporaryDirectory() as folder:
        both(write(Path(folder) / "t.jsonl", lines), provider)


@pytest.mark.parametrize("provider", ["claude", "codex"])
def test_the_fast_path_reads_nearly_no_generated_line_whole(
    tmp_path: Path, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The speed comes from sniffing: a change that sends these lines to the parser is a bug.
    from sessmap.transcripts import sniff

    parsed: list[int] = []
    real = sniff.parse_line

    def counting(line: Line, *args: Any) -> Any:
        parsed.append(line.number)
        return real(line, *args)

    monkeypatch.setattr(sniff, "parse_line", counting)
    lines = claude_lines(200_000, title="T") if provider == "claude" else codex_lines(200_000)
    summary = summarize(write(tmp_path / "t.jsonl", lines), provider)
    assert summary.prompts > 10
    # claude: the title line, and the first and last prompt (read whole once each); codex: its
    # three opening lines and the first and last prompt.
    assert len(parsed) <= 5, parsed


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(st.binary(max_size=12) | st.sampled_from([b"caf\xc3\xa9", b"\xe9", b"\xc3"]), max_size=12),
    st.lists(st.integers(1, 9), min_size=1, max_size=8),
)
def test_lines_are_the_same_however_the_file_is_cut_into_reads(pieces: list[bytes], cuts: list[int]) -> None:
    raw = b"\n".join(pieces)
    chunks, at = [], 0
    while at < len(raw):
        step = cuts[len(chunks) % len(cuts)]
        chunks.append(raw[at : at + step])
        at += step
    found = list(split_lines(chunks))
    expected = raw.split(b"\n")
    if expected[-1] == b"":
        expected.pop()
    assert [line.data for line in found] == expected
    assert [line.number for line in found] == list(range(1, len(expected) + 1))
    assert all(line.complete for line in found[:-1])
    if found:
        assert found[-1].complete == raw.endswith(b"\n")
    # The fast path's reader: the same lines, read in place; "utf8" vouches for a whole span.
    read: list[bytes] = []
    for span in spans(chunks):
        found_here = span.data[span.start : span.end].split(b"\n")
        if span.utf8:
            for data in found_here:
                data.decode("utf-8")
        read.extend(found_here)
    assert read == expected
