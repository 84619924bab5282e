"""The Store contract's ``by_session`` (``which``): a session id, or a prefix of one, back to
the mappings holding it as their current id or in their history. Every backend, the memory
store too, and the index stays right through every kind of write."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.support.backends import ALL_KINDS, backend_params
from tests.support.mappings import T0

from sessmap.model import HistoryEntry, Mapping
from sessmap.stores import Query, Store

MakeMapping = Callable[..., Mapping]

A = "0199a213-81c0-7800-8aa1-bbab2a035a53"
B = "0199a213-9f00-7000-8000-000000000002"
OLD = "7c3e0d10-aaaa-4bbb-8ccc-000000000003"


@pytest.fixture(params=backend_params(ALL_KINDS))
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def keys(found: list[Mapping]) -> list[str]:
    return [mapping.key for mapping in found]


def earlier(session_id: str) -> HistoryEntry:
    return HistoryEntry(session_id, T0, "new")


def test_full_id_and_prefix_find_the_current_session(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("t:a", session_id=A))
    store.insert(make_mapping("t:b", session_id=B))
    store.insert(make_mapping("t:other", session_id="ffff0000-0000-4000-8000-000000000000"))
    assert keys(store.by_session(A, 10)) == ["t:a"]
    assert keys(store.by_session("0199a213-8", 10)) == ["t:a"]
    assert keys(store.by_session("0199a213", 10)) == ["t:a", "t:b"]  # (key, agent) order
    assert store.by_session("0199b", 10) == []


def test_an_id_in_history_finds_its_mapping(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("t:reset", session_id=A, history=(earlier(OLD),)))
    (found,) = store.by_session(OLD[:8], 10)
    assert found.key == "t:reset" and found.session_id == A
    # Not the timestamp or reason of the history entry: only its session id counts.
    assert store.by_session("2026", 10) == []
    assert store.by_session("new", 10) == []


def test_limit_and_one_mapping_with_many_matching_ids(store: Store, make_mapping: MakeMapping) -> None:
    many = tuple(earlier(f"abc-{n:03d}") for n in range(40))
    store.insert(make_mapping("t:many", session_id="abc-999", history=many))
    store.insert(make_mapping("t:two", session_id="abc-one"))
    store.insert(make_mapping("t:three", session_id="abc-two"))
    assert keys(store.by_session("abc-", 10)) == ["t:many", "t:three", "t:two"]
    limited = store.by_session("abc-", 2)
    assert len(limited) == 2 and len(set(keys(limited))) == 2


def test_agents_are_separate_mappings(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("t:x", session_id=A))
    store.insert(make_mapping("t:x", agent="reviewer", session_id=A))
    assert [(m.agent, m.key) for m in store.by_session(A, 10)] == [("default", "t:x"), ("reviewer", "t:x")]


def test_prefix_characters_are_taken_literally(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("t:under", session_id="a_b-1"))
    store.insert(make_mapping("t:plain", session_id="axb-1"))
    assert keys(store.by_session("a_", 10)) == ["t:under"]  # not LIKE's any-character
    assert store.by_session("a%", 10) == []


def test_pending_mappings_have_no_id_to_find(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("t:pending", session_id=None, state="pending", provider="codex"))
    assert store.by_session("0", 10) == []


def test_writes_keep_it_current(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("t:a", session_id=A))
    store.update("default", "t:a", lambda m: m.evolve(session_id=B, history=(earlier(A),)))
    assert keys(store.by_session(B, 10)) == ["t:a"]
    assert keys(store.by_session(A, 10)) == ["t:a"]  # now from history
    store.update("default", "t:a", lambda m: m.evolve(history=()))
    assert store.by_session(A, 10) == []
    store.rename("default", "t:a", "t:renamed", T0)
    assert keys(store.by_session(B, 10)) == ["t:renamed"]
    store.insert(make_mapping("t:renamed", session_id=OLD), replace=True)
    assert store.by_session(B, 10) == []
    assert keys(store.by_session(OLD, 10)) == ["t:renamed"]
    store.delete("default", "t:renamed")
    assert store.by_session(OLD, 10) == []


def test_import_and_delete_matching_keep_it_current(store: Store, make_mapping: MakeMapping) -> None:
    store.insert_many(
        [make_mapping("t:1", session_id=A), make_mapping("t:2", session_id=B, history=(earlier(OLD),))],
        "fail",
    )
    assert keys(store.by_session("0199a213", 10)) == ["t:1", "t:2"]
    assert keys(store.by_session(OLD, 10)) == ["t:2"]
    store.insert_many([make_mapping("t:2", session_id=OLD)], "replace")
    assert keys(store.by_session(B, 10)) == []
    store.delete_matching(Query(prefix="t:"))
    assert store.by_session("0", 10) == [] and store.by_session(OLD, 10) == []
