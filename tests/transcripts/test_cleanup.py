"""Releasing the store's transcript copies nothing needs any more (transcripts/cleanup.py, SPEC §7).

A copy stays while any mapping (of any agent) holds its session as the current one, in its
history, or as the parent of a fork; every other copy of a released session goes, with its
side files and under every project key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sessmap import service
from sessmap.model import HistoryEntry, Mapping, Parent
from sessmap.stores import Store, open_store
from sessmap.stores.base import Query, TranscriptKey
from sessmap.transcripts.cleanup import release, sessions_of

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
CURRENT = "11111111-1111-4111-8111-111111111111"
EARLIER = "22222222-2222-4222-8222-222222222222"
PARENT = "33333333-3333-4333-8333-333333333333"
ORPHAN = "44444444-4444-4444-8444-444444444444"
SPREAD = "55555555-5555-4555-8555-555555555555"
PROJECT = "-srv-work"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:{tmp_path / 's.db'}") as opened:
        yield opened


def mapping(key: str, session_id: str | None, **fields: Any) -> Mapping:
    return Mapping(
        key=key, provider="claude", session_id=session_id, created_at=T0, updated_at=T0, **fields
    ).validate()


def keep(store: Store, session_id: str, project: str = PROJECT, subpath: str = "") -> TranscriptKey:
    key = TranscriptKey(project, session_id, subpath)
    store.transcripts.append(key, [b'{"type":"user"}'])
    return key


@pytest.fixture
def mapped(store: Store) -> Store:
    """A current session with an earlier one in its history, and a fork not yet made whose
    parent mapping has since been removed."""
    store.insert(mapping("slack:C1:1", CURRENT, history=(HistoryEntry(EARLIER, T0, "new"),)))
    store.insert(
        mapping(
            "slack:C1:fork",
            None,
            state="pending-fork",
            parent=Parent(agent="default", key="slack:C1:gone", session_id=PARENT),
        )
    )
    for session_id in (CURRENT, EARLIER, PARENT, ORPHAN):
        keep(store, session_id)
    keep(store, CURRENT, subpath="subagents/agent-a1")
    keep(store, SPREAD, project="-a")
    keep(store, SPREAD, project="-b")
    keep(store, SPREAD, project="-b", subpath="subagents/agent-a1")
    return store


def test_sessions_of_covers_current_history_and_parent(mapped: Store) -> None:
    assert sessions_of(mapped.query(Query())) == {CURRENT, EARLIER, PARENT}
    assert sessions_of([]) == set()


def test_release_deletes_only_what_no_mapping_needs(mapped: Store) -> None:
    deleted = release(mapped, [CURRENT, EARLIER, PARENT, ORPHAN, SPREAD])
    assert deleted == 3  # ORPHAN under one project, SPREAD under two
    assert mapped.transcripts.projects_of(ORPHAN) == []
    assert mapped.transcripts.projects_of(SPREAD) == []
    assert mapped.transcripts.subpaths("-b", SPREAD) == []
    for needed in (CURRENT, EARLIER, PARENT):
        assert mapped.transcripts.projects_of(needed) == [PROJECT]
    assert mapped.transcripts.subpaths(PROJECT, CURRENT) == ["subagents/agent-a1"]


def test_release_of_only_needed_sessions_deletes_nothing(mapped: Store) -> None:
    assert release(mapped, [CURRENT, EARLIER, PARENT]) == 0
    assert sorted(sid for _, sid in mapped.transcripts.stored()) == sorted(
        [CURRENT, EARLIER, PARENT, ORPHAN, SPREAD, SPREAD]
    )


def test_release_only_touches_the_sessions_it_is_given(mapped: Store) -> None:
    assert release(mapped, [ORPHAN, "never-stored"]) == 1
    assert mapped.transcripts.projects_of(SPREAD) == ["-a", "-b"]


def test_release_of_sessions_without_copies_is_zero(store: Store) -> None:
    assert release(store, []) == 0
    assert release(store, ["never-stored"]) == 0


def test_a_session_another_agent_still_maps_is_kept(store: Store) -> None:
    store.insert(mapping("slack:C1:1", CURRENT))
    store.insert(mapping("slack:C1:1", CURRENT, agent="reviewer"))
    keep(store, CURRENT)
    removed = service.remove(store, agent="default", keys=["slack:C1:1"])
    assert [m.key for m in removed.removed] == ["slack:C1:1"]
    assert store.transcripts.projects_of(CURRENT) == [PROJECT]
    service.remove(store, agent="reviewer", keys=["slack:C1:1"])
    assert store.transcripts.projects_of(CURRENT) == []


def test_removing_a_mapping_releases_its_history_too(store: Store) -> None:
    store.insert(mapping("slack:C1:1", CURRENT, history=(HistoryEntry(EARLIER, T0, "new"),)))
    store.insert(mapping("slack:C1:2", EARLIER))  # shares the earlier session
    keep(store, CURRENT)
    keep(store, EARLIER)
    service.remove(store, agent="default", keys=["slack:C1:1"])
    assert store.transcripts.projects_of(CURRENT) == []
    assert store.transcripts.projects_of(EARLIER) == [PROJECT]
