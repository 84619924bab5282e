"""The summary's C scanner (transcripts/_sniff.c through native_sniff.py): built from this
source, warning-free, and giving exactly what Python gives where its own arithmetic or its
view of the bytes would differ (sums past int64, bytes cut across reads, ids no line holds).
The shapes it takes are checked against Python on every summary test (``both``)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sysconfig
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
from tests.support.native import compiled, python_only
from tests.support.sizes import examples
from tests.support.skips import unavailable

from sessmap.transcripts import native_sniff, sniff
from sessmap.transcripts.entries import read_lines
from sessmap.transcripts.lines import lines_of, spans
from sessmap.transcripts.sniff import summarize_spans
from sessmap.transcripts.summary import summarize

SOURCE = Path(native_sniff.__file__).with_name("_sniff.c")
BIG = 999_999_999_999_999  # the most digits the C side reads: 15


def test_the_compiled_scanner_is_built_from_these_sources() -> None:
    module = compiled()
    parts = sorted([*SOURCE.parent.glob("_sniff*.c"), *SOURCE.parent.glob("_sniff*.h")])
    digest = hashlib.sha256(b"".join(part.read_bytes() for part in parts)).hexdigest()
    assert digest == module.SOURCE, "the compiled _sniff module is stale: pip install -e . rebuilds it"
    assert len(native_sniff.STATE) == module.STATE_SIZE


def test_the_c_source_compiles_without_a_warning() -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        unavailable(f"no C compiler ({compiler}) to check _sniff.c with")
    include = sysconfig.get_paths()["include"]
    flags = ["-fsyntax-only", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wconversion"]
    checked = subprocess.run(
        [compiler, *flags, f"-I{include}", str(SOURCE)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def _usage_lines(count: int, fresh: int) -> list[bytes]:
    """``count`` claude responses of ``fresh`` input tokens each, a prompt between each two."""
    lines = [claude_user("first", 0)]
    for number in range(1, count + 1):
        lines.append(claude_assistant(text_block("ok"), 2 * number, f"m{number}", (fresh, 1, 0, 0)))
        lines.append(claude_user(f"next {number}", 2 * number + 1))
    return lines


def _running_totals(count: int, step: int) -> list[bytes]:
    lines = []
    for number in range(1, count + 1):
        usage = {"input_tokens": step * number, "cached_input_tokens": 0, "output_tokens": number}
        info = {"type": "token_count", "info": {"total_token_usage": usage}}
        lines.append(codex_line("event_msg", info, number))
    return lines


@pytest.mark.parametrize(
    ("provider", "lines", "total"),
    [
        # The sums pass 2**62 (what C adds to) and then 2**63 (what it holds): Python goes on.
        ("claude", _usage_lines(10_000, BIG), 10_000 * BIG),
        ("codex", _running_totals(10_000, BIG), 10_000 * BIG),
        ("claude", _usage_lines(3, 10**16), 3 * 10**16),  # more digits than C reads
        ("codex", _running_totals(3, 10**19), 3 * 10**19),
    ],
    ids=["claude-past-int64", "codex-past-int64", "claude-16-digits", "codex-20-digits"],
)
def test_token_sums_past_what_c_holds_are_python_s(
    tmp_path: Path, provider: str, lines: list[bytes], total: int
) -> None:
    compiled()
    summary = both(write(tmp_path / "t.jsonl", lines), provider)
    assert summary.tokens is not None and summary.tokens.input == total


@pytest.mark.parametrize("provider", ["claude", "codex"])
def test_a_last_line_without_its_newline_counts_after_lines_c_took(tmp_path: Path, provider: str) -> None:
    # The unfinished last line is parsed in Python, after a span C took whole.
    compiled()
    if provider == "claude":
        lines = [*claude_lines(300_000), claude_user("the last, no newline yet", 99_999)]
    else:
        lines = [*codex_lines(300_000), *codex_lines(1)[3:5]]
    path = write(tmp_path / "t.jsonl", lines, end=b"")
    expected = summarize(read_lines(path), provider, sniff=False).to_dict()
    assert summarize(path, provider).to_dict() == expected
    with python_only():
        assert summarize(path, provider).to_dict() == expected


def test_a_message_id_only_python_can_hold_never_joins_a_raw_one(tmp_path: Path) -> None:
    # An escaped lone surrogate is parsed by Python; the same code point as raw bytes is not
    # UTF-8. Neither may make the next line "the same response" in C.
    compiled()
    escaped = claude_assistant(text_block("a"), 1, "X", (5, 1, 0, 0)).replace(b'"id":"X"', b'"id":"\\ud800"')
    raw = claude_assistant(text_block("b"), 2, "X", (7, 1, 0, 0)).replace(b'"id":"X"', b'"id":"\xed\xa0\x80"')
    plain = claude_assistant(text_block("c"), 3, "msg", (11, 1, 0, 0))
    for lines in ([escaped, plain], [escaped, raw, plain], [raw, plain, plain]):
        path = write(tmp_path / "t.jsonl", [claude_user("hi", 0), *lines])
        both(path, "claude")


_PIECES = st.sampled_from(["plain", "é", "\u2028", "日本", '"', "\\", "}"])


@settings(max_examples=examples(100), deadline=None)
@given(
    st.lists(st.lists(_PIECES, max_size=4).map("".join), min_size=1, max_size=6),
    st.lists(st.integers(1, 400), min_size=1, max_size=6),
    st.booleans(),
)
def test_lines_cut_across_reads_anywhere_summarize_as_parsed(
    texts: list[str], cuts: list[int], broken: bool
) -> None:
    # A line across two reads is a span of its own, not vouched UTF-8: C takes it only if ASCII.
    compiled()
    lines = [claude_user("first", 0)]
    for number, text in enumerate(texts, start=1):
        lines.append(claude_user(text, 2 * number))
        lines.append(claude_assistant(text_block(text), 2 * number + 1, f"m{number}"))
    if broken:
        lines.append(claude_user("x", 99).replace(b'"x"', b'"\xff\xc3"'))
    raw = b"\n".join(lines) + b"\n"
    chunks, at = [], 0
    while at < len(raw):
        step = cuts[len(chunks) % len(cuts)]
        chunks.append(raw[at : at + step])
        at += step
    expected = summarize(lines_of(raw.split(b"\n")[:-1]), "claude", sniff=False).to_dict()
    assert summarize_spans(spans(chunks), "claude").to_dict() == expected
    with python_only():
        assert summarize_spans(spans(chunks), "claude").to_dict() == expected


def test_c_takes_the_lines_python_s_fast_path_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The speed comes from C taking whole runs: a change that hands lines back is a slowdown.
    compiled()
    handed: list[int] = []
    real = sniff._claude_span

    def counting(data: bytes, start: int, end: int, builder: Any) -> bool:
        handed.append(start)
        return real(data, start, end, builder)

    monkeypatch.setattr(sniff, "_claude_span", counting)
    path = write(tmp_path / "t.jsonl", claude_lines(300_000, title="T"))
    summary = summarize(path, "claude")
    assert summary.prompts > 20
    assert len(handed) <= 3, handed  # the title line and the first prompt
    assert summary.to_dict() == summarize(read_lines(path), "claude", sniff=False).to_dict()


def test_a_bad_state_or_span_is_a_value_error_not_a_crash() -> None:
    module = compiled()
    from array import array

    state = array("q", [0] * module.STATE_SIZE)
    with pytest.raises(ValueError, match="bad state"):
        module.scan(True, b"{}", 0, 5, True, state, None)  # the span ends past the data
    with pytest.raises(ValueError, match="bad state"):
        module.scan(True, b"{}", 0, 2, True, array("q", [0]), None)
    with pytest.raises(ValueError, match="bad state"):
        module.scan(True, b"{}", 0, 2, True, state, "a str")


def test_lines_not_in_the_agents_compact_shape_are_left_to_python(tmp_path: Path) -> None:
    # The same lines as json.dumps writes them, with spaces.
    compiled()
    lines = [json.dumps(json.loads(line)).encode() for line in claude_lines(20_000)]
    both(write(tmp_path / "t.jsonl", lines), "claude")
