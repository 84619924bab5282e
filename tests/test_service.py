"""The domain operations on a tiny in-memory Store: no CLI, no files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sessmap import service
from sessmap.errors import Conflict, InvalidInput, NotFound
from sessmap.model import Mapping
from sessmap.stores.base import HeldLock, ImportResult, OnConflict, OnLost, OnWait, Query

NOW = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


class NoTranscripts:
    """A store side that holds no transcript copies (service tests need none)."""

    def projects_of(self, session_id: str) -> list[str]:
        return []

    def info(self, key: object) -> None:
        return None


class NoLock:
    """The held lock of a store only this process sees: nothing to inherit, nothing to lose."""

    def agent_fds(self) -> tuple[int, ...]:
        return ()

    def guard(self, agent_pid: int, on_lost: OnLost) -> None:
        pass

    def unguard(self) -> None:
        pass


class MemoryStore:
    url = "memory:"
    schema_version = 1
    shared = False

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Mapping] = {}
        self.transcripts = NoTranscripts()

    def get(self, agent: str, key: str) -> Mapping | None:
        return self.rows.get((agent, key))

    def insert(self, mapping: Mapping, *, replace: bool = False) -> None:
        if (mapping.agent, mapping.key) in self.rows and not replace:
            raise Conflict("exists")
        self.rows[(mapping.agent, mapping.key)] = mapping

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        if (agent, key) not in self.rows:
            raise NotFound("missing")
        self.rows[(agent, key)] = change(self.rows[(agent, key)])
        return self.rows[(agent, key)]

    def rename(self, agent: str, old_key: str, new_key: str, updated_at: datetime) -> Mapping:
        if (agent, old_key) not in self.rows:
            raise NotFound("missing")
        if (agent, new_key) in self.rows:
            raise Conflict("exists")
        mapping = self.rows.pop((agent, old_key)).evolve(key=new_key, updated_at=updated_at)
        self.rows[(agent, new_key)] = mapping
        return mapping

    def delete(self, agent: str, key: str) -> Mapping | None:
        return self.rows.pop((agent, key), None)

    def query(self, query: Query) -> Iterator[Mapping]:
        return iter(query.ordered(m for m in self.rows.values() if query.matches(m)))

    def delete_matching(self, query: Query) -> list[Mapping]:
        gone = [m for m in self.rows.values() if query.matches(m)]
        for m in gone:
            del self.rows[(m.agent, m.key)]
        return gone

    def insert_many(self, mappings: Iterable[Mapping], on_conflict: OnConflict) -> ImportResult:
        staged = list(mappings)
        conflicts = tuple((m.agent, m.key) for m in staged if (m.agent, m.key) in self.rows)
        if conflicts and on_conflict == "fail":
            return ImportResult(conflicts=conflicts)
        inserted = replaced = skipped = 0
        for m in staged:
            exists = (m.agent, m.key) in self.rows
            if exists and on_conflict == "skip":
                skipped += 1
                continue
            replaced, inserted = (replaced + 1, inserted) if exists else (replaced, inserted + 1)
            self.rows[(m.agent, m.key)] = m
        return ImportResult(inserted=inserted, replaced=replaced, skipped=skipped)

    def thread_lock(
        self, agent: str, key: str, timeout: float | None, on_wait: OnWait | None = None
    ) -> AbstractContextManager[HeldLock]:
        return nullcontext(NoLock())

    def check(self) -> list[str]:
        return []

    def close(self) -> None:
        pass

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


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


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("ttl", "30", "30"),
        ("ttl", '"14d"', "14d"),
        ("agents.x.args", '["--model", "sonnet"]', ["--model", "sonnet"]),
        ("agents.x.args", "sonnet", "sonnet"),
        ("providers.p.capture", '"id":\\s*"(?P<id>.+)"', '"id":\\s*"(?P<id>.+)"'),
    ],
)
def test_parse_setting_value(name: str, text: str, value: Any) -> None:
    assert service.parse_setting_value(name, text) == value


def test_setting_edits_do_not_touch_the_original() -> None:
    raw: dict[str, Any] = {"agents": {"x": {"provider": "claude"}}}
    assert service.with_setting(raw, "agents.x.cwd", "/w") == {
        "agents": {"x": {"provider": "claude", "cwd": "/w"}}
    }
    assert service.without_setting(raw, "agents.x.provider") == {}
    assert service.without_setting(raw, "ttl") is None
    assert raw == {"agents": {"x": {"provider": "claude"}}}
    assert service.get_setting(raw, "agents.x") == {"provider": "claude"}
    with pytest.raises(InvalidInput, match="unknown setting"):
        service.setting_path("agents.x.model", leaf=True)


def test_write_config_is_private_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    service.set_setting(path, "ttl", "2d")
    assert path.read_text() == 'ttl = "2d"\n'
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(InvalidInput):
        service.set_setting(path, "ttl", "2x")
    assert path.read_text() == 'ttl = "2d"\n'
