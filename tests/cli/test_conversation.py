"""``show``'s conversation facts, ``list --fields title,messages,size,tokens`` and ``du``."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from tests.support.cli import Sessmap
from tests.support.conversations import claude_assistant, claude_user, codex_line

from sessmap.sdk_keys import project_key_for
from sessmap.stores import open_store
from sessmap.stores.base import TranscriptKey

CLAUDE_ID = "0d3c4b2a-1111-4222-8333-444455556666"
CODEX_ID = "01a23441-e420-7973-b896-7df34ec70037"


def claude_transcript(cwd: Path, session_id: str = CLAUDE_ID, prompts: int = 2) -> tuple[Path, list[bytes]]:
    lines: list[bytes] = []
    for turn in range(prompts):
        lines.append(claude_user(f"question {turn}\nwith detail", 2 * turn))
        lines.append(
            claude_assistant({"type": "text", "text": f"answer {turn}"}, 2 * turn + 1, f"msg_{turn}")
        )
    path = (
        Path(os.environ["CLAUDE_CONFIG_DIR"]) / "projects" / project_key_for(str(cwd)) / f"{session_id}.jsonl"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path, lines


def create(
    sessmap: Sessmap, key: str, cwd: Path, session_id: str = CLAUDE_ID, provider: str = "claude"
) -> None:
    sessmap.ok("create", key, "--provider", provider, "--session-id", session_id, "--cwd", str(cwd))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def test_show_tells_what_the_conversation_is(sessmap: Sessmap, work: Path) -> None:
    path, _ = claude_transcript(work)
    create(sessmap, "t", work)
    data = json.loads(sessmap.ok("show", "t", "--json").stdout)
    talk = data["conversation"]
    assert talk["title"] == "question 0 with detail" and talk["title_source"] == "first_prompt"
    assert talk["first_prompt"] == {"text": "question 0 with detail", "at": "2026-05-01T10:00:00Z"}
    assert talk["last_prompt"] == {"text": "question 1 with detail", "at": "2026-05-01T10:00:02Z"}
    assert (talk["messages"], talk["prompts"], talk["replies"], talk["tool_calls"]) == (4, 2, 2, 0)
    assert talk["size"] == path.stat().st_size and talk["lines"] == 4
    assert talk["tokens"] == {"input": 20, "output": 10, "cache_read": 0, "cache_write": 0}
    assert talk["cost_usd"] is None and talk["notes"] == [] and talk["source"] == "local"
    assert data["transcript"]["path"] == str(path)
    assert data["transcript"]["agent_home"] == os.environ["CLAUDE_CONFIG_DIR"]
    assert data["transcript"]["host"] == os.uname().nodename and data["transcript"]["stored"] is False

    text = sessmap.ok("show", "t").stdout
    assert "title:        question 0 with detail\n" in text
    assert "first_prompt: question 0 with detail (2026-05-01T10:00:00Z)\n" in text
    assert "messages:     4 (2 prompts, 2 replies, 0 tool calls)\n" in text
    assert "tokens:       20 in / 10 out\n" in text
    where = f"host {os.uname().nodename}, agent home {os.environ['CLAUDE_CONFIG_DIR']}; no copy in the store"
    assert f"where:        {where}\n" in text


def test_show_reads_the_stores_copy_when_there_is_no_local_file(sessmap: Sessmap, work: Path) -> None:
    path, lines = claude_transcript(work)
    path.unlink()
    with open_store(sessmap.store_url) as store:
        store.transcripts.append(TranscriptKey(project_key_for(str(work)), CLAUDE_ID), lines)
    create(sessmap, "t", work)
    data = json.loads(sessmap.ok("show", "t", "--json").stdout)
    assert data["transcript"]["state"] == "stored" and data["transcript"]["stored"] is True
    assert data["conversation"]["source"] == "store"
    assert data["conversation"]["title"] == "question 0 with detail" and data["conversation"]["messages"] == 4
    assert "(read from the store's copy)" in sessmap.ok("show", "t").stdout


def test_show_of_a_mapping_without_a_transcript_has_no_conversation(sessmap: Sessmap, work: Path) -> None:
    create(sessmap, "t", work)
    assert json.loads(sessmap.ok("show", "t", "--json").stdout)["conversation"] is None
    assert "title:" not in sessmap.ok("show", "t").stdout


def test_a_hostile_transcript_gives_notes_not_a_traceback(sessmap: Sessmap, work: Path) -> None:
    path, lines = claude_transcript(work)
    bad = lines[0].replace(b"question", b"qu\xe9stion")
    path.write_bytes(bad + b"\n" + b"garbage\n" + b'{"type":"weird"}\n' + lines[1][:40])
    create(sessmap, "t", work)
    result = sessmap.ok("show", "t")
    assert "Traceback" not in result.stdout + result.stderr
    notes = json.loads(sessmap.ok("show", "t", "--json").stdout)["conversation"]["notes"]
    assert notes == [
        "line 1 holds bytes that are not UTF-8 (shown as \ufffd)",
        "line 2 is not a JSON object; skipped",
        "the last line 4 is cut short (the agent may still be writing it); skipped",
        "skipped entries of types sessmap does not know: weird (1)",
    ]
    assert "notes:        line 1 holds bytes" in result.stdout


def test_an_unreadable_transcript_is_a_note(sessmap: Sessmap, work: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path, _ = claude_transcript(work)
    path.chmod(0)
    create(sessmap, "t", work)
    notes = json.loads(sessmap.ok("show", "t", "--json").stdout)["conversation"]["notes"]
    assert len(notes) == 1 and notes[0].startswith(f"could not read {path}")


def codex_rollout(home: Path) -> Path:
    path = home / "sessions" / "2026" / "05" / "01" / f"rollout-2026-05-01T10-00-00-{CODEX_ID}.jsonl"
    path.parent.mkdir(parents=True)
    usage = {"input_tokens": 1500, "cached_input_tokens": 0, "output_tokens": 2500}
    lines = [
        codex_line("session_meta", {"id": CODEX_ID}, 0),
        codex_line(
            "response_item",
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "deploy it"}]},
            1,
        ),
        codex_line(
            "response_item",
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
            2,
        ),
        codex_line("event_msg", {"type": "token_count", "info": {"total_token_usage": usage}}, 3),
    ]
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_list_fields_read_each_transcript_in_every_format(sessmap: Sessmap, work: Path) -> None:
    claude_path, _ = claude_transcript(work)
    create(sessmap, "a", work)
    codex_path = codex_rollout(Path(os.environ["CODEX_HOME"]))
    create(sessmap, "b", work, CODEX_ID, "codex")
    create(sessmap, "c", work, "11111111-0000-4000-8000-000000000000")  # no transcript
    fields = ("--fields", "key,title,messages,size,tokens", "--sort", "key")
    rows = json.loads(sessmap.ok("list", *fields, "-f", "json").stdout)
    assert rows == [
        {
            "key": "a",
            "title": "question 0 with detail",
            "messages": 4,
            "size": claude_path.stat().st_size,
            "tokens": {"input": 20, "output": 10},
        },
        {
            "key": "b",
            "title": "deploy it",
            "messages": 2,
            "size": codex_path.stat().st_size,
            "tokens": {"input": 1500, "output": 2500},
        },
        {"key": "c", "title": None, "messages": None, "size": None, "tokens": None},
    ]
    jsonl = [json.loads(line) for line in sessmap.ok("list", *fields, "-f", "jsonl").stdout.splitlines()]
    assert jsonl == rows
    tsv = sessmap.ok("list", *fields, "-f", "tsv").stdout.splitlines()
    assert tsv[1] == f'b\tdeploy it\t2\t{codex_path.stat().st_size}\t{{"input": 1500, "output": 2500}}'
    assert tsv[2] == "c\t\t\t\t"
    table = list(csv.reader(io.StringIO(sessmap.ok("list", *fields, "-f", "csv").stdout)))
    assert table[0] == ["key", "title", "messages", "size", "tokens"] and table[2][:3] == [
        "b",
        "deploy it",
        "2",
    ]
    lines = sessmap.ok("list", *fields, "-f", "table").stdout.splitlines()
    assert lines[0].split() == ["KEY", "TITLE", "MESSAGES", "SIZE", "TOKENS"]
    assert "deploy it" in lines[2] and "1.5k in / 2.5k out" in lines[2]
    assert lines[3].split() == ["c", "-", "-", "-", "-"]


def test_a_plain_list_reads_no_transcript(
    sessmap: Sessmap, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claude_transcript(work)
    create(sessmap, "a", work)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a transcript was read")

    monkeypatch.setattr("sessmap.transcripts.summary.summarize", refuse)
    for fmt in ("table", "json", "jsonl", "tsv", "csv", "keys"):
        sessmap.ok("list", "-f", fmt)
    sessmap.ok("list", "--fields", "key,session_id,last_seen")
    asked = sessmap("list", "--fields", "key,title")  # the check itself: this one reads
    assert asked.exit_code != 0 and "a transcript was read" in asked.stderr


def test_du_lists_disk_use_largest_first_with_a_total(sessmap: Sessmap, work: Path) -> None:
    small, _ = claude_transcript(work, prompts=1)
    create(sessmap, "small", work)
    old = "22222222-0000-4000-8000-000000000000"
    old_path, _ = claude_transcript(work, old, prompts=2)
    big_id = "33333333-0000-4000-8000-000000000000"
    big, _ = claude_transcript(work, big_id, prompts=8)
    side = big.with_suffix("") / "subagents" / "agent-1.jsonl"
    side.parent.mkdir(parents=True)
    side.write_bytes(b"{}\n" * 10)
    create(sessmap, "big", work, old)
    sessmap.ok("set", "big", "--session-id", big_id)  # the old session goes to history
    with open_store(sessmap.store_url) as store:
        store.transcripts.append(TranscriptKey(project_key_for(str(work)), CLAUDE_ID), [b"{}", b"{}"])
    create(sessmap, "none", work, "44444444-0000-4000-8000-000000000000")

    data = json.loads(sessmap.ok("du", "--json").stdout)
    big_local = big.stat().st_size + side.stat().st_size + old_path.stat().st_size
    assert [
        (row["key"], row["local"], row["stored"], row["files"], row["sessions"]) for row in data["mappings"]
    ] == [
        ("big", big_local, 0, 3, 2),
        ("small", small.stat().st_size, 6, 1, 1),
        ("none", 0, 0, 0, 0),
    ]
    total = big_local + small.stat().st_size + 6
    assert data["total"] == {"local": total - 6, "stored": 6, "total": total, "files": 4, "mappings": 3}

    limited = json.loads(sessmap.ok("du", "--json", "-n", "1").stdout)
    assert [row["key"] for row in limited["mappings"]] == ["big"] and limited["total"]["total"] == total
    table = sessmap.ok("du", "-f", "table").stdout.splitlines()
    assert table[0].split() == ["SIZE", "LOCAL", "STORED", "FILES", "AGENT", "KEY"]
    assert table[1].endswith("big") and table[-1].endswith("TOTAL (3 mappings)")
    one = sessmap.ok("du", "-f", "table", "--prefix", "sm").stdout.splitlines()
    assert one[-1].endswith("TOTAL (1 mapping)")
    assert sessmap.ok("du", "-f", "tsv", "--prefix", "sm").stdout.split("\t")[:2] == ["small", "default"]


def test_du_on_no_mappings_says_so(sessmap: Sessmap) -> None:
    result = sessmap.ok("du", "-f", "table")
    assert result.stdout == "" and "no mappings" in result.stderr
    assert json.loads(sessmap.ok("du", "--json").stdout)["total"]["mappings"] == 0
