"""The StartedSessions contract (stores/started.py): the record of the sessions sessmap started,
the only ones ``--purge`` and ``doctor`` may delete. Every backend, the memory store too."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from tests.support.backends import ALL_KINDS, STORE_KINDS, backend_params, open_url, store_url
from tests.support.cli import run_sessmap
from tests.support.mappings import T0, make_mapping

from sessmap.errors import StoreError
from sessmap.stores import Store
from sessmap.stores.started import StartedSession

A = "0199a213-81c0-7800-8aa1-bbab2a035a53"
B = "0199a213-9f00-7000-8000-000000000002"


@pytest.fixture(params=backend_params(ALL_KINDS))
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def started(session_id: str, *, host: str | None = "box", key: str = "t:a") -> StartedSession:
    return StartedSession(session_id, "claude", "default", key, host, "/home/bot/.claude", "/srv/app", T0)


def test_a_new_store_knows_of_no_started_session(store: Store) -> None:
    assert store.started.get_many([A, B]) == {}
    assert list(store.started.all()) == []
    store.started.forget([A])  # nothing to forget is no error


def test_added_records_read_back_exactly(store: Store) -> None:
    store.started.add(started(B, key="t:b"))
    store.started.add(started(A, host=None))
    assert store.started.get_many([A, B, "not-started"]) == {
        A: started(A, host=None),
        B: started(B, key="t:b"),
    }
    assert list(store.started.all()) == [started(A, host=None), started(B, key="t:b")]  # by id
    assert store.started.get_many([]) == {}


def test_a_later_record_of_the_same_session_replaces_it(store: Store) -> None:
    store.started.add(started(A))
    moved = started(A)._replace(
        host="other", agent_home="/home/other/.claude", started_at=T0 + timedelta(hours=1)
    )
    store.started.add(moved)
    assert list(store.started.all()) == [moved]


def test_forget_drops_exactly_the_ids_given(store: Store) -> None:
    store.started.add(started(A))
    store.started.add(started(B))
    store.started.forget([B, "never-recorded"])
    assert list(store.started.all()) == [started(A)]


def test_records_survive_reopening_and_are_shared_by_handles(store: Store, backend_url: str) -> None:
    store.started.add(started(A))
    with open_url(backend_url) as other:
        assert other.started.get_many([A]) == {A: started(A)}
        other.started.forget([A])
    assert store.started.get_many([A]) == {}


def test_concurrent_adds_lose_nothing(store: Store, backend_url: str) -> None:
    ids = [f"0199a213-0000-7000-8000-{n:012d}" for n in range(24)]

    def add(part: list[str]) -> None:
        with open_url(backend_url) as handle:
            for session_id in part:
                handle.started.add(started(session_id))

    workers = [threading.Thread(target=add, args=(ids[n::4],)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [record.session_id for record in store.started.all()] == sorted(ids)


def test_many_ids_at_once(store: Store) -> None:
    ids = [f"0199a213-0000-7000-8000-{n:012d}" for n in range(1200)]  # past any batch size
    for session_id in ids[::3]:
        store.started.add(started(session_id))
    assert sorted(store.started.get_many(ids)) == ids[::3]
    store.started.forget(ids)
    assert list(store.started.all()) == []


def _damage(store: Store, kind: str) -> None:
    """What a hand edit does to A's record, past sessmap's checks."""
    if kind == "sqlite":
        store._db.execute("UPDATE started_sessions SET started_at = 'yesterday'")  # type: ignore[attr-defined]
    elif kind == "postgres":
        statement = store.started._sql("UPDATE {table} SET started_at = 'yesterday'")  # type: ignore[attr-defined]
        store._connection.execute(statement)  # type: ignore[attr-defined]
    elif kind == "redis":
        store._client.hset(f"{store._prefix}:started", A, '{"session_id": 5}')  # type: ignore[attr-defined]
    else:
        store.started.path.write_text('{"x": [1]}')  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", backend_params(STORE_KINDS))
def test_a_damaged_record_is_a_damaged_store(kind: str, tmp_path: Path) -> None:
    with store_url(kind, tmp_path) as url, open_url(url) as store:
        store.started.add(started(A))
        _damage(store, kind)
        for read in (lambda: store.started.get_many([A]), lambda: list(store.started.all())):
            with pytest.raises(StoreError, match="damaged record of a started session") as raised:
                read()
            assert raised.value.reason == "damaged-store"


@pytest.mark.parametrize(
    "command",
    [["rm", "t:a", "--purge", "--yes"], ["prune", "--older-than", "0s", "--purge", "--yes"]],
    ids=["rm", "prune"],
)
def test_purge_over_a_damaged_record_fails_as_a_damaged_store_and_removes_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    with store_url("sqlite", tmp_path) as url:
        with open_url(url) as store:
            store.insert(make_mapping("t:a", session_id=A))
            store.started.add(started(A))
            _damage(store, "sqlite")
        result = run_sessmap(*command, store=url)
        assert result.returncode == 1, result.stderr
        assert "damaged record of a started session" in result.stderr
        assert "sessmap doctor" in result.stderr and "Traceback" not in result.stderr
        with open_url(url) as store:
            assert store.get("default", "t:a") is not None


def test_doctor_lists_a_damaged_record_as_a_store_problem(tmp_path: Path) -> None:
    with store_url("sqlite", tmp_path) as url:
        with open_url(url) as store:
            store.started.add(started(A))
            _damage(store, "sqlite")
        result = run_sessmap("doctor", "--fix", "--purge", "--yes", "--json", store=url)
        assert result.returncode == 1, result.stderr
        health = json.loads(result.stdout)
        assert not health["healthy"]
        assert any("damaged record of a started session" in p for p in health["store"]["problems"])
        assert health["orphaned_transcripts"]["deleted"] is False
