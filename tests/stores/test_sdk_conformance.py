"""``sessmap.sdk.ClaudeSessionStore`` over every store of tests/support/backends.py: the Claude
Agent SDK's own ``SessionStore`` conformance suite (every optional method), how entries and summaries
are kept, and the SDK's store-backed helpers on top of it.

The SDK's methods are async; each test drives them with ``asyncio.run`` (no pytest plugin).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from claude_agent_sdk import (
    SessionKey,
    delete_session_via_store,
    fold_session_summary,
    get_session_messages_from_store,
    list_sessions_from_store,
    list_subagents_from_store,
    rename_session_via_store,
    tag_session_via_store,
)
from claude_agent_sdk.testing import run_session_store_conformance

from sessmap.errors import StoreError
from sessmap.sdk import ClaudeSessionStore
from sessmap.sdk_keys import project_key_for
from sessmap.stores import Store, open_store
from sessmap.stores.base import TranscriptKey

SESSION = "5f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


@pytest.fixture(autouse=True)
def own_homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK reads CLAUDE_CONFIG_DIR and HOME: keep it away from the real user's."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(home / ".claude"))
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))


@pytest.fixture
def adapter(store: Store) -> ClaudeSessionStore:
    return ClaudeSessionStore(store)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


def user(n: int, text: str, cwd: Path, **extra: Any) -> dict[str, Any]:
    """A user entry shaped like the ones claude writes."""
    return {
        "parentUuid": None if n == 1 else f"a{n - 1}",
        "isSidechain": False,
        "type": "user",
        "message": {"role": "user", "content": text},
        "uuid": f"u{n}",
        "timestamp": f"2026-11-01T12:00:{n:02d}.000Z",
        "cwd": str(cwd),
        "sessionId": SESSION,
        **extra,
    }


def assistant(n: int, text: str, cwd: Path) -> dict[str, Any]:
    return {
        "parentUuid": f"u{n}",
        "isSidechain": False,
        "type": "assistant",
        "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
        "uuid": f"a{n}",
        "timestamp": f"2026-11-01T12:00:{n:02d}.500Z",
        "cwd": str(cwd),
        "sessionId": SESSION,
    }


@pytest.mark.slow
def test_the_sdks_conformance_suite_passes(backend: str, open_backend: Callable[[str], Store]) -> None:
    def make_store() -> ClaudeSessionStore:
        # A new store each call (open_backend: a new URL, closed after the test): every
        # contract starts on an empty store of its own.
        return ClaudeSessionStore(open_backend(backend))

    probe = make_store()
    for method in ("list_sessions", "list_session_summaries", "delete", "list_subkeys"):
        # The suite skips what an adapter does not override: make sure nothing is skipped.
        assert getattr(type(probe), method).__module__ == "sessmap.sdk", method
    asyncio.run(run_session_store_conformance(make_store))


def test_entries_are_compact_lines_with_type_first(adapter: ClaudeSessionStore, store: Store) -> None:
    key: SessionKey = {"project_key": "-srv-app", "session_id": SESSION}
    entries: list[Any] = [
        {"uuid": "u1", "type": "user", "text": "żółw ✓ \u2028 🦀", "n": [1, 2.5, None, True]},
        {"type": "summary", "summary": 'line\nbreak\ttab "quoted"'},
    ]
    asyncio.run(adapter.append(key, entries))
    lines = list(store.transcripts.read(TranscriptKey("-srv-app", SESSION)))
    assert lines == [
        '{"type":"user","uuid":"u1","text":"żółw ✓ \u2028 🦀","n":[1,2.5,null,true]}'.encode(),
        b'{"type":"summary","summary":"line\\nbreak\\ttab \\"quoted\\""}',
    ]
    assert asyncio.run(adapter.load(key)) == entries


def test_side_files_are_keyed_by_subpath(adapter: ClaudeSessionStore, store: Store) -> None:
    main: SessionKey = {"project_key": "-srv-app", "session_id": SESSION}
    side: SessionKey = {**main, "subpath": "subagents/agent-a1"}
    asyncio.run(adapter.append(main, [{"type": "user", "uuid": "m"}]))
    asyncio.run(adapter.append(side, [{"type": "user", "uuid": "s", "isSidechain": True}]))
    assert list(store.transcripts.read(TranscriptKey("-srv-app", SESSION, "subagents/agent-a1"))) == [
        b'{"type":"user","uuid":"s","isSidechain":true}'
    ]
    assert asyncio.run(adapter.list_subkeys(main)) == ["subagents/agent-a1"]
    assert asyncio.run(adapter.load(side)) == [{"type": "user", "uuid": "s", "isSidechain": True}]


def test_what_sessmap_stored_loads_for_the_sdk(adapter: ClaudeSessionStore, store: Store) -> None:
    # A transcript sessmap exec uploaded (claude's own bytes, keys in claude's order).
    raw = [b'{"parentUuid":null,"type":"user","uuid":"u1"}', b'{"type":"assistant","uuid":"a1"}']
    info = store.transcripts.append(TranscriptKey("-srv-app", SESSION), raw)
    key: SessionKey = {"project_key": "-srv-app", "session_id": SESSION}
    assert asyncio.run(adapter.load(key)) == [json.loads(line) for line in raw]
    assert info is not None
    assert asyncio.run(adapter.list_sessions("-srv-app")) == [{"session_id": SESSION, "mtime": info.mtime_ms}]
    assert asyncio.run(adapter.load({**key, "session_id": "other"})) is None


def _summary_of(adapter: ClaudeSessionStore, project_key: str) -> dict[str, Any]:
    (summary,) = asyncio.run(adapter.list_session_summaries(project_key))
    return dict(summary)


def _folded_from_scratch(key: SessionKey, entries: list[Any]) -> dict[str, Any]:
    return dict(fold_session_summary(None, key, entries)["data"])


def test_the_summary_is_folded_per_append_and_stamped_with_the_store_clock(
    adapter: ClaudeSessionStore, project: Path
) -> None:
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    turn1 = [user(1, "first question", project), assistant(1, "answer", project)]
    turn2 = [user(2, "second", project, gitBranch="main"), {"type": "custom-title", "customTitle": "T"}]
    asyncio.run(adapter.append(key, turn1))
    asyncio.run(adapter.append(key, turn2))
    summary = _summary_of(adapter, pk)
    assert set(summary) == {"session_id", "mtime", "data"}  # our bookkeeping never shows
    assert summary["session_id"] == SESSION
    assert summary["data"] == _folded_from_scratch(key, turn1 + turn2)
    assert summary["data"]["first_prompt"] == "first question"
    (listed,) = asyncio.run(adapter.list_sessions(pk))
    assert summary["mtime"] == listed["mtime"]


def test_another_writers_lines_are_folded_in(
    adapter: ClaudeSessionStore, store: Store, project: Path
) -> None:
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    first = [user(1, "from the sdk bot", project)]
    asyncio.run(adapter.append(key, first))
    time.sleep(0.01)  # turns are seconds apart; keep the two appends' milliseconds apart too
    # sessmap exec on another host uploads a turn: lines, and no summary update.
    by_exec = [assistant(1, "a", project), user(2, "from exec", project, gitBranch="feature")]
    store.transcripts.append(TranscriptKey(pk, SESSION), [json.dumps(entry).encode() for entry in by_exec])
    # The summary is now older than the session, so the SDK re-derives that session from load.
    (listed,) = asyncio.run(adapter.list_sessions(pk))
    assert _summary_of(adapter, pk)["mtime"] < listed["mtime"]
    (info,) = asyncio.run(list_sessions_from_store(adapter, directory=str(project)))
    assert (info.git_branch, info.last_modified) == ("feature", listed["mtime"])
    # The bot's next append refolds: the summary covers every writer's lines again.
    last = [assistant(2, "b", project), {"type": "tag", "tag": "urgent"}]
    asyncio.run(adapter.append(key, last))
    summary = _summary_of(adapter, pk)
    assert summary["data"] == _folded_from_scratch(key, [*first, *by_exec, *last])
    assert summary["data"]["git_branch"] == "feature" and summary["data"]["tag"] == "urgent"


def test_a_new_handle_continues_the_stored_summary(store: Store, backend_url: str, project: Path) -> None:
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    turn1 = [user(1, "hello", project), assistant(1, "hi", project)]
    asyncio.run(ClaudeSessionStore(store).append(key, turn1))
    with open_store(backend_url) as other:  # another process (or host) of the same bot
        later = ClaudeSessionStore(other)
        turn2 = [user(2, "again", project), {"type": "ai-title", "aiTitle": "Greeting"}]
        asyncio.run(later.append(key, turn2))
        summary = _summary_of(later, pk)
    assert summary["data"] == _folded_from_scratch(key, turn1 + turn2)
    assert summary == _summary_of(ClaudeSessionStore(store), pk)


def test_side_files_leave_the_summary_alone(adapter: ClaudeSessionStore, project: Path) -> None:
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    asyncio.run(adapter.append(key, [user(1, "main prompt", project)]))
    before = _summary_of(adapter, pk)
    side: SessionKey = {**key, "subpath": "subagents/agent-x"}
    asyncio.run(adapter.append(side, [user(1, "subagent prompt", project, customTitle="sub")]))
    assert _summary_of(adapter, pk) == before


def test_deleting_and_starting_again_folds_from_scratch(adapter: ClaudeSessionStore, project: Path) -> None:
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    asyncio.run(adapter.append(key, [user(1, "old", project, customTitle="old title")]))
    asyncio.run(adapter.delete(key))
    assert asyncio.run(adapter.list_session_summaries(pk)) == []
    assert asyncio.run(adapter.load(key)) is None
    asyncio.run(adapter.append(key, [user(1, "new", project)]))
    assert _summary_of(adapter, pk)["data"] == _folded_from_scratch(key, [user(1, "new", project)])


def test_foreign_summary_texts_are_ignored(adapter: ClaudeSessionStore, store: Store, project: Path) -> None:
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    store.transcripts.append(TranscriptKey(pk, SESSION), [json.dumps(user(1, "x", project)).encode()])
    store.transcripts.set_summary(pk, SESSION, "not json")
    store.transcripts.set_summary(pk, "other", '{"session_id": 5}')
    assert asyncio.run(adapter.list_session_summaries(pk)) == []
    asyncio.run(adapter.append(key, [user(2, "y", project)]))  # refolds what is stored
    assert _summary_of(adapter, pk)["data"] == _folded_from_scratch(
        key, [user(1, "x", project), user(2, "y", project)]
    )


def test_the_sdks_store_helpers_work_on_top(adapter: ClaudeSessionStore, project: Path) -> None:
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    side: SessionKey = {**key, "subpath": "subagents/agent-s1"}

    async def scenario() -> None:
        await adapter.append(key, [user(1, "plan the release", project), assistant(1, "ok", project)])
        await adapter.append(side, [user(1, "sub", project, isSidechain=True)])
        (info,) = await list_sessions_from_store(adapter, directory=str(project))
        assert (info.session_id, info.summary, info.first_prompt) == (
            SESSION,
            "plan the release",
            "plan the release",
        )
        await rename_session_via_store(adapter, SESSION, "Release plan", directory=str(project))
        await tag_session_via_store(adapter, SESSION, "ops", directory=str(project))
        (info,) = await list_sessions_from_store(adapter, directory=str(project))
        assert (info.custom_title, info.tag) == ("Release plan", "ops")
        messages = await get_session_messages_from_store(adapter, SESSION, directory=str(project))
        assert [m.type for m in messages] == ["user", "assistant"]
        assert await list_subagents_from_store(adapter, SESSION, directory=str(project)) == ["s1"]
        await delete_session_via_store(adapter, SESSION, directory=str(project))
        assert await list_sessions_from_store(adapter, directory=str(project)) == []
        assert await adapter.load(side) is None

    asyncio.run(scenario())


def test_many_entries_in_one_append_stream_through(adapter: ClaudeSessionStore, project: Path) -> None:
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    entries: list[Any] = [{"type": "progress", "n": n, "pad": "z" * 100} for n in range(3000)]
    asyncio.run(adapter.append(key, entries[:1000]))
    asyncio.run(adapter.append(key, entries[1000:]))
    assert asyncio.run(adapter.load(key)) == entries


class CountingTranscripts:
    """``store.transcripts`` that counts the calls made to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.inner, name)


def test_an_append_costs_what_it_adds(store: Store, project: Path) -> None:
    """A turn writes its lines and the summary; it reads no transcript back (SPEC §7)."""
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    counting = CountingTranscripts(store.transcripts)
    adapter = ClaudeSessionStore(SimpleNamespace(transcripts=counting))  # type: ignore[arg-type]
    for n in range(1, 4):
        asyncio.run(adapter.append(key, [user(n, f"q{n}", project), assistant(n, f"r{n}", project)]))
    assert counting.calls == ["append", "set_summary"] * 3
    # A new handle (the bot restarted) reads the stored summary once, not the transcript.
    counting.calls.clear()
    restarted = ClaudeSessionStore(SimpleNamespace(transcripts=counting))  # type: ignore[arg-type]
    asyncio.run(restarted.append(key, [user(4, "q4", project)]))
    assert counting.calls == ["append", "summaries", "set_summary"]
    everything = [e for n in range(1, 4) for e in (user(n, f"q{n}", project), assistant(n, f"r{n}", project))]
    expected = _folded_from_scratch(key, [*everything, user(4, "q4", project)])
    assert _summary_of(restarted, pk)["data"] == expected


class FailingSummaries(CountingTranscripts):
    def __getattr__(self, name: str) -> Any:
        if name == "set_summary":
            raise StoreError("the summary table is unreachable")
        return super().__getattr__(name)


def test_a_failing_summary_never_fails_the_append(
    store: Store, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The entries are in once the append returns; raising after that would make the SDK
    retry the batch and store it twice."""
    pk = project_key_for(project)
    key: SessionKey = {"project_key": pk, "session_id": SESSION}
    adapter = ClaudeSessionStore(SimpleNamespace(transcripts=FailingSummaries(store.transcripts)))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="sessmap.sdk"):
        asyncio.run(adapter.append(key, [user(1, "kept", project)]))
    assert asyncio.run(adapter.load(key)) == [user(1, "kept", project)]
    assert "could not update the summary" in caplog.text
    # A working handle later folds the whole session.
    healthy = ClaudeSessionStore(store)
    asyncio.run(healthy.append(key, [user(2, "more", project)]))
    assert _summary_of(healthy, pk)["data"] == _folded_from_scratch(
        key, [user(1, "kept", project), user(2, "more", project)]
    )
