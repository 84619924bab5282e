"""The summary cache (transcripts/summary_cache.py) never changes a result: a transcript that
grows (its last line cut, then ended), is replaced, rewritten in place, truncated, or whose
cache entry is corrupt or another file's, summarizes exactly as reading it whole does; a cache
that cannot be written changes nothing.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.cli import Sessmap
from tests.support.conversations import claude_assistant, claude_lines, claude_user, codex_lines, text
from tests.support.sizes import examples

from sessmap.transcripts import lines as reading
from sessmap.transcripts import summary_cache
from sessmap.transcripts.entries import read_lines
from sessmap.transcripts.summary import Summary, summarize
from sessmap.transcripts.summary_cache import cache_dir, summarize_file

PROVIDERS = ["claude", "codex"]
pytestmark = pytest.mark.usefixtures("each_fast_path")  # the C scanner and Python alone


@pytest.fixture(autouse=True)
def cache_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small transcripts are cached too, so the tests stay quick."""
    monkeypatch.setattr(summary_cache, "SMALLEST", 1)


def transcript(provider: str, size: int = 60_000) -> bytes:
    lines = claude_lines(size, title="T") if provider == "claude" else codex_lines(size)
    return b"\n".join(lines) + b"\n"


def same(path: Path, provider: str) -> Summary:
    """The cached summary of ``path``, checked equal to reading every line of it."""
    cached = summarize(path, provider, cache=True)
    assert cached.to_dict() == summarize(read_lines(path), provider, sniff=False).to_dict()
    assert cached.to_dict() == summarize(path, provider).to_dict()
    return cached


def entries() -> list[Path]:
    folder = cache_dir() / "summaries"
    return sorted(folder.iterdir()) if folder.exists() else []


def saved(path: Path, provider: str) -> dict[str, Any]:
    status = path.stat()
    entry = cache_dir() / "summaries" / f"{provider}-{status.st_dev}-{status.st_ino}.json"
    found: dict[str, Any] = summary_cache._parse(entry.read_bytes())
    return found


def rewrite(entry: Path, value: dict[str, Any]) -> None:
    """The entry file holds ``value``, its hash right: what the checks after the hash see."""
    entry.write_bytes(summary_cache._dump(value))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_growing_transcript_is_read_on_from_where_it_was_left(tmp_path: Path, provider: str) -> None:
    raw = transcript(provider)
    path = tmp_path / "t.jsonl"
    # Cut mid-line (a last line the agent is still writing), on a newline, then whole.
    cuts = [raw.index(b"\n", len(raw) // 3) - 40, raw.index(b"\n", len(raw) // 2) + 1, len(raw)]
    written = 0
    for cut in cuts:
        with path.open("ab") as out:
            out.write(raw[written:cut])
        written = cut
        same(path, provider)
        assert saved(path, provider)["offset"] == raw.rindex(b"\n", 0, cut) + 1
    assert same(path, provider).notes == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_second_summary_reads_no_line_already_read(
    tmp_path: Path, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(transcript(provider))
    first = same(path, provider)
    read: list[tuple[int, int]] = []
    real = summary_cache._Range.__init__

    def spying(self: summary_cache._Range, fd: int, start: int, stop: int) -> None:
        read.append((start, stop))
        real(self, fd, start, stop)

    monkeypatch.setattr(summary_cache._Range, "__init__", spying)
    assert summarize_file(path, provider).to_dict() == first.to_dict()
    size = path.stat().st_size
    assert read == [(size, size), (size, size)]


@settings(max_examples=examples(100), deadline=None)
@given(st.sampled_from(PROVIDERS), st.lists(st.integers(0, 100), min_size=1, max_size=6))
def test_a_transcript_grown_at_any_points_summarizes_as_if_read_whole(
    provider: str, percents: list[int]
) -> None:
    # Hypothesis runs the examples in one test: each one gets a file of its own.
    raw = transcript(provider, 8_000)
    folder = Path(os.environ["SESSMAP_HOME"]) / "grown"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{len(list(folder.iterdir()))}.jsonl"
    written = 0
    path.write_bytes(b"")
    for cut in sorted(len(raw) * percent // 100 for percent in percents):
        with path.open("ab") as out:
            out.write(raw[written:cut])
        written = cut
        same(path, provider)


def test_long_lines_bad_bytes_and_unknown_entries_are_cut_and_noted_as_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small read size and line limit: lines over the limit, read on from an offset that is
    # not a multiple of the read size, are cut where one read of the whole file cuts them.
    monkeypatch.setattr(reading, "CHUNK", 64)
    monkeypatch.setattr(reading, "MAX_LINE", 300)
    lines = [
        claude_user("first", 1),
        b'{"type":"hologram","x":1}',
        claude_user("caf\u00e9", 2).replace("é".encode(), b"\xe9"),
        b'{"type":"user","message":{"content":"' + b"x" * 400 + b'"}}',
        claude_assistant(text("ok"), 3, "m"),
        b"not json",
        b'{"type":"user","message":{"content":"' + b"y" * 120 + b'"}}',
        claude_user("last", 4),
        # Just over the limit: cut or not by where the reads fall.
        *(b'{"type":"user","message":{"content":"' + b"z" * size + b'"}}' for size in range(260, 330, 9)),
        b'{"type":"user","message":{"content":"' + b"x" * 400 + b'"}}',  # the last line, cut
    ]
    raw = b"\n".join(lines) + b"\n"
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"")
    for cut in [*range(0, len(raw), 37), len(raw)]:
        with path.open("ab") as out:
            out.write(raw[path.stat().st_size : cut])
        same(path, "claude")
    summary = same(path, "claude")
    assert summary.prompts > 4 and any("line 4 is cut short" in note for note in summary.notes)
    assert (
        summary.notes[-2]
        == f"the last line {len(lines)} is cut short (the agent may still be writing it); skipped"
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_file_rewritten_in_place_to_the_same_size_and_mtime_is_read_again(
    tmp_path: Path, provider: str
) -> None:
    raw = transcript(provider)
    path = tmp_path / "t.jsonl"
    path.write_bytes(raw)
    same(path, provider)
    before = path.stat()
    # Another conversation of exactly the same size, in the same inode, the mtime put back.
    other = raw.replace(b"prompt 1:", b"prompt 9:")
    assert other != raw and len(other) == len(raw)
    with path.open("r+b") as out:
        out.write(other)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_ino == before.st_ino
    summary = same(path, provider)
    assert summary.first_prompt is not None and summary.first_prompt.text.startswith(
        "prompt 9:" if provider == "claude" else "codex prompt 9:"
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_truncated_or_replaced_transcript_is_read_from_its_start(tmp_path: Path, provider: str) -> None:
    raw = transcript(provider)
    path = tmp_path / "t.jsonl"
    path.write_bytes(raw)
    same(path, provider)
    half = raw[: raw.index(b"\n", len(raw) // 2) + 1]
    path.write_bytes(half)  # the same inode, shorter
    assert same(path, provider).lines == half.count(b"\n")
    # Grown back past its old size with other lines: the saved offset's bytes differ.
    path.write_bytes(half + transcript(provider, 80_000))
    same(path, provider)
    # Another file moved into its place (another inode, the same path).
    other = tmp_path / "other.jsonl"
    other.write_bytes(transcript(provider, 30_000))
    same(other, provider)
    other.replace(path)
    same(path, provider)


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{",
        b"\xff\xfe not json",
        b"[]",
        b'{"format": 1}',
        b"0" * 32 + b'\n{"format": 1}',
        b"[" * 100_000,
    ],
)
def test_a_corrupt_cache_entry_is_ignored_and_rewritten(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(transcript("claude"))
    same(path, "claude")
    (entry,) = entries()
    entry.write_bytes(damage)
    same(path, "claude")
    assert saved(path, "claude")["offset"] == path.stat().st_size


def test_an_entry_changed_after_it_was_written_is_not_believed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(transcript("claude"))
    right = same(path, "claude")
    (entry,) = entries()
    found = entry.read_bytes()
    prompts = f'"counts":[{right.prompts},'.encode()
    assert prompts in found
    entry.write_bytes(found.replace(prompts, f'"counts":[{right.prompts + 1},'.encode()))
    assert same(path, "claude").prompts == right.prompts


def test_an_entry_of_the_right_shape_with_wrong_values_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(transcript("claude"))
    same(path, "claude")
    (entry,) = entries()
    good = summary_cache._parse(entry.read_bytes())
    damages: list[tuple[str, object]] = [
        ("counts", ["1", 2, 3]),
        ("counts", [1, 2]),
        ("tokens", {"sums": [1, 2, 3, True], "seen": True, "pending": None, "group": None, "previous": None}),
        ("costs", "cheap"),
        ("costs", 10**400),
        ("in_reply", 1),
        ("first", ["text", "not a time"]),
        ("last", [1, None]),
        ("agent_title", 7),
    ]
    for key, value in damages:
        broken = json.loads(json.dumps(good))
        broken["scan"]["builder"][key] = value
        rewrite(entry, broken)
        same(path, "claude")
    for key, value in [
        ("lines", -1),
        ("notes", [["x", 1]]),
        ("unknown", {"a": "b"}),
        ("size", None),
        ("builder", []),
        ("builder", "x"),
    ]:
        broken = json.loads(json.dumps(good))
        broken["scan"][key] = value
        rewrite(entry, broken)
        same(path, "claude")


def test_another_files_entry_is_not_used(tmp_path: Path) -> None:
    # The entry of one transcript, copied to the name of another's: its path and inode differ.
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(transcript("claude"))
    second.write_bytes(transcript("claude", 30_000))
    same(first, "claude")
    same(second, "claude")
    status = second.stat()
    name = cache_dir() / "summaries" / f"claude-{status.st_dev}-{status.st_ino}.json"
    other = first.stat()
    (cache_dir() / "summaries" / f"claude-{other.st_dev}-{other.st_ino}.json").replace(name)
    same(second, "claude")


def test_an_entry_written_by_other_code_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(transcript("claude"))
    same(path, "claude")
    monkeypatch.setattr(summary_cache, "_code", lambda: "another version")
    read: list[int] = []
    real = summary_cache._Range.__init__

    def spying(self: summary_cache._Range, fd: int, start: int, stop: int) -> None:
        read.append(start)
        real(self, fd, start, stop)

    monkeypatch.setattr(summary_cache._Range, "__init__", spying)
    same(path, "claude")
    assert read[0] == 0


def test_the_cache_is_private(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(transcript("codex"))
    same(path, "codex")
    (entry,) = entries()
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert entry.parent == Path(os.environ["SESSMAP_HOME"]) / "cache" / "summaries"


def test_a_cache_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    (Path(os.environ["SESSMAP_HOME"])).mkdir(parents=True, exist_ok=True)
    cache_dir().write_bytes(b"a file where the cache folder would be")
    path = tmp_path / "t.jsonl"
    path.write_bytes(transcript("claude"))
    same(path, "claude")
    same(path, "claude")


def test_show_works_when_the_cache_cannot_be_written(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    from sessmap.sdk_keys import project_key_for

    session_id = "0d3c4b2a-1111-4222-8333-444455556666"
    path = Path(os.environ["CLAUDE_CONFIG_DIR"]) / "projects" / project_key_for(str(work))
    path.mkdir(parents=True)
    (path / f"{session_id}.jsonl").write_bytes(transcript("claude"))
    sessmap = Sessmap(store_url=f"sqlite:{tmp_path / 's.db'}", store_path=tmp_path / "s.db")
    sessmap.ok("create", "t", "--provider", "claude", "--session-id", session_id, "--cwd", str(work))
    shown = json.loads(sessmap.ok("show", "t", "--json").stdout)["conversation"]
    for entry in entries():
        entry.unlink()
    cache_dir().joinpath("summaries").rmdir()
    cache_dir().rmdir()
    cache_dir().write_bytes(b"")  # no folder can be made here
    assert json.loads(sessmap.ok("show", "t", "--json").stdout)["conversation"] == shown
    assert shown["prompts"] > 1


def test_a_small_transcript_is_read_whole_without_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_cache, "SMALLEST", 1 << 18)
    path = tmp_path / "t.jsonl"
    path.write_bytes(transcript("claude", 200_000))
    same(path, "claude")
    assert path.stat().st_size < 1 << 18 and entries() == []
    with path.open("ab") as out:
        out.write(transcript("claude", 100_000))
    same(path, "claude")
    assert len(entries()) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_transcript_truncated_while_it_is_read_is_no_error_and_saves_nothing(
    tmp_path: Path, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = transcript(provider, 600_000)
    path = tmp_path / "t.jsonl"
    path.write_bytes(raw)
    real, calls = os.pread, []

    def truncating(fd: int, length: int, offset: int) -> bytes:
        calls.append(offset)
        if len(calls) == 3:  # the last newline found, the first read done: cut the file
            os.truncate(path, len(raw) // 2)
        return real(fd, length, offset)

    with monkeypatch.context() as patched:
        patched.setattr(os, "pread", truncating)
        summary = summarize(path, provider, cache=True)
    assert 0 < summary.lines < raw.count(b"\n") and entries() == []
    same(path, provider)


def test_purge_drops_the_saved_summary_of_each_transcript_it_deletes(tmp_path: Path) -> None:
    from tests.support.mappings import make_mapping, record_started

    from sessmap import service
    from sessmap.sdk_keys import project_key_for
    from sessmap.stores import open_store
    from sessmap.transcripts.presence import this_host

    home, cwd, session_id = (
        tmp_path / "claude-home",
        "/tmp/cache-purge",
        "0199a213-81c0-7800-8aa1-bbab2a035a53",
    )
    folder = home / "projects" / project_key_for(cwd)
    folder.mkdir(parents=True)
    path = folder / f"{session_id}.jsonl"
    path.write_bytes(transcript("claude"))
    same(path, "claude")
    assert len(entries()) == 1
    with open_store(f"sqlite:{tmp_path / 'map.db'}") as store:
        mapping = make_mapping("k", session_id=session_id, host=this_host(), agent_home=str(home), cwd=cwd)
        store.insert(mapping)
        record_started(store, mapping)
        service.remove(store, keys=["k"], purge=True)
    assert not path.exists()
    assert entries() == []
