"""The domain operations on the in-memory Store (tests/support/memory_store.py): no CLI, no files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.support.memory_store import MemoryStore

from sessmap import service
from sessmap.errors import Conflict, InvalidInput, NotFound
from sessmap.model import Mapping

NOW = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(service, "now", lambda: NOW)
    return NOW


def _make(store: MemoryStore, key: str, seen: datetime, **fields: Any) -> None:
    store.insert(
        Mapping(key=key, provider="claude", session_id="s", created_at=seen, updated_at=seen, **fields)
    )


def test_create_and_read(store: MemoryStore) -> None:
    mapping = service.create(store, None, agent="default", key="k")
    assert mapping.provider == "claude" and mapping.state == "active" and mapping.session_id
    assert service.session_id_of(store, "default", "k") == mapping.session_id
    pending = service.create(store, None, agent="default", key="c", provider="codex")
    assert pending.state == "pending" and pending.session_id is None
    with pytest.raises(NotFound, match="pending"):
        service.session_id_of(store, "default", "c")
    with pytest.raises(Conflict):
        service.create(store, None, agent="default", key="k")


def test_prune_boundary_is_strict(store: MemoryStore, frozen_now: datetime) -> None:
    _make(store, "exactly", frozen_now - timedelta(days=30))
    _make(store, "older", frozen_now - timedelta(days=30, seconds=1))
    _make(store, "used", frozen_now - timedelta(days=90), last_used_at=frozen_now - timedelta(days=1))
    would = service.prune(store, None, older_than=None, dry_run=True)
    assert [m.key for m in would.removed] == ["older"]
    assert len(store.rows) == 3
    gone = service.prune(store, None, older_than=timedelta(days=30))
    assert [m.key for m in gone.removed] == ["older"]
    assert sorted(k for _, k in store.rows) == ["exactly", "used"]


def test_filters_query(frozen_now: datetime) -> None:
    query = service.Filters(older_than=timedelta(days=1), newer_than=timedelta(days=3)).query(sort="key")
    assert query.seen_before == frozen_now - timedelta(days=1)
    assert query.seen_since == frozen_now - timedelta(days=3)


def test_update_is_one_change(store: MemoryStore) -> None:
    service.create(store, None, agent="default", key="k", provider="codex", labels=[("a", "1")])
    updated = service.update(
        store, None, agent="default", key="k", session_id="abc", labels=[("b", "2")], unlabels=["a"]
    )
    assert updated.state == "active" and dict(updated.labels) == {"b": "2"}
    with pytest.raises(InvalidInput, match="nothing to change"):
        service.update(store, None, agent="default", key="k")
    with pytest.raises(NotFound):
        service.update(store, None, agent="default", key="x", labels=[("a", "b")])


def test_remove_validates_everything_first(store: MemoryStore) -> None:
    service.create(store, None, agent="default", key="k")
    with pytest.raises(InvalidInput):
        service.remove(store, agent="default", keys=["k", "bad\x00"])
    assert ("default", "k") in store.rows
    result = service.remove(store, agent="default", keys=["k", "gone"])
    assert [m.key for m in result.removed] == ["k"] and result.missing == ["gone"]


def test_parse_jsonl_names_the_bad_line() -> None:
    good = '{"key": "a", "provider": "claude"}'
    assert [m.key for m in service.parse_jsonl([good, "", good.replace('"a"', '"b"')])] == ["a", "b"]
    with pytest.raises(InvalidInput, match="line 3: not valid JSON"):
        list(service.parse_jsonl([good, "  ", "{"]))


def test_import_all_or_nothing(store: MemoryStore) -> None:
    lines = ['{"key": "a", "provider": "claude"}', "oops"]
    with pytest.raises(InvalidInput, match="line 2"):
        service.import_mappings(store, lines, "fail")
    assert store.rows == {}
