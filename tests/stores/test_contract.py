"""The Store contract (stores/base.py), run against every backend of tests/support/backends.py,
the test-only memory store too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support import examples
from tests.support.backends import ALL_KINDS, BACKENDS, FILE_KINDS, backend_params, open_url
from tests.support.mappings import T0

from sessmap.errors import Busy, Conflict, InvalidInput, NotFound
from sessmap.model import Mapping, Parent
from sessmap.stores import Query, Store

MakeMapping = Callable[..., Mapping]


@pytest.fixture(params=backend_params(ALL_KINDS))
def backend(request: pytest.FixtureRequest) -> str:
    """Every backend, the memory store too (tests/stores/conftest.py builds the store from it)."""
    name: str = request.param
    return name


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def everything(store: Store) -> list[Mapping]:
    return list(store.query(Query(sort="key")))


# --- single mappings --------------------------------------------------------------------------


def test_new_store_is_empty_and_healthy(store: Store, backend: str) -> None:
    assert everything(store) == []
    assert store.get("default", "nothing") is None
    assert store.schema_version >= 1
    assert store.url.startswith(BACKENDS[backend].url_prefix)
    assert store.check() == []


def test_insert_then_get_returns_every_field(store: Store, make_mapping: MakeMapping) -> None:
    mapping = make_mapping(
        "slack:C024BE91L:1700000000.000100",
        agent="reviewer",
        provider="codex",
        session_id="0199a213-81c0-7800-8aa1-bbab2a035a53",
        cwd="/home/bot/src/app",
        updated_at=at(1),
        last_used_at=at(2),
        turns=7,
        last_exit=130,
        labels={"team": "core", "ticket": "ENG-1"},
        parent=Parent("default", "slack:C024BE91L:1", "s-parent"),
    )
    store.insert(mapping)
    assert store.get("reviewer", mapping.key) == mapping
    assert store.get("default", mapping.key) is None  # agents are separate


def test_insert_existing_is_a_conflict_unless_replace(store: Store, make_mapping: MakeMapping) -> None:
    first = make_mapping("k", session_id="first")
    store.insert(first)
    with pytest.raises(Conflict):
        store.insert(make_mapping("k", session_id="second"))
    assert store.get("default", "k") == first
    second = make_mapping("k", session_id="second", turns=3)
    store.insert(second, replace=True)
    assert store.get("default", "k") == second
    assert len(everything(store)) == 1


def test_insert_invalid_mapping_writes_nothing(store: Store, make_mapping: MakeMapping) -> None:
    bad = make_mapping("k").evolve(key="bad\x07key")
    with pytest.raises(InvalidInput):
        store.insert(bad)
    assert everything(store) == []


def test_update_applies_the_change_atomically(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("k", turns=1))
    result = store.update("default", "k", lambda m: m.evolve(turns=m.turns + 1, updated_at=at(5)))
    assert result.turns == 2
    assert result.updated_at == at(5)
    assert store.get("default", "k") == result


def test_update_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.update("default", "missing", lambda m: m)
    assert everything(store) == []


def test_update_whose_change_raises_writes_nothing(store: Store, make_mapping: MakeMapping) -> None:
    original = make_mapping("k")
    store.insert(original)

    def refuse(mapping: Mapping) -> Mapping:
        raise Conflict("provider mismatch")

    with pytest.raises(Conflict, match="provider mismatch"):
        store.update("default", "k", refuse)
    assert store.get("default", "k") == original


def test_update_to_an_invalid_mapping_writes_nothing(store: Store, make_mapping: MakeMapping) -> None:
    original = make_mapping("k")
    store.insert(original)
    with pytest.raises(InvalidInput):
        store.update("default", "k", lambda m: m.evolve(session_id="--evil"))
    assert store.get("default", "k") == original


def test_rename_moves_the_mapping(store: Store, make_mapping: MakeMapping) -> None:
    original = make_mapping("old", labels={"a": "1"})
    store.insert(original)
    renamed = store.rename("default", "old", "new", at(9))
    assert renamed == original.evolve(key="new", updated_at=at(9))
    assert store.get("default", "new") == renamed
    assert store.get("default", "old") is None


def test_rename_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.rename("default", "old", "new", at(1))


def test_rename_onto_existing_is_a_conflict_and_changes_nothing(
    store: Store, make_mapping: MakeMapping
) -> None:
    old, new = make_mapping("old"), make_mapping("new")
    store.insert(old)
    store.insert(new)
    with pytest.raises(Conflict):
        store.rename("default", "old", "new", at(1))
    assert everything(store) == [new, old]


def test_rename_to_an_invalid_key_changes_nothing(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("old"))
    with pytest.raises(InvalidInput):
        store.rename("default", "old", "x" * 513, at(1))
    assert [m.key for m in everything(store)] == ["old"]


def test_rename_points_forks_at_the_new_key(store: Store, make_mapping: MakeMapping) -> None:
    parent = make_mapping("parent")
    store.insert(parent)
    fork = make_mapping(
        "fork", state="pending-fork", session_id=None, parent=Parent("default", "parent", parent.session_id)
    )
    other_agent_fork = make_mapping(
        "other", agent="reviewer", parent=Parent("reviewer", "parent", "s-x"), session_id="s-y"
    )
    store.insert(fork)
    store.insert(other_agent_fork)
    store.rename("default", "parent", "renamed", at(3))
    moved = store.get("default", "fork")
    assert moved is not None and moved.parent == Parent("default", "renamed", parent.session_id)
    assert store.get("reviewer", "other") == other_agent_fork  # a different agent's "parent"
    assert [m.key for m in store.query(Query(parent=("default", "renamed")))] == ["fork"]
    assert list(store.query(Query(parent=("default", "parent")))) == []


def test_delete_returns_the_mapping_once(store: Store, make_mapping: MakeMapping) -> None:
    mapping = make_mapping("k")
    store.insert(mapping)
    store.insert(make_mapping("k", agent="other"))
    assert store.delete("default", "k") == mapping
    assert store.delete("default", "k") is None
    assert store.get("default", "k") is None
    assert store.get("other", "k") is not None


def test_fork_lineage(store: Store, make_mapping: MakeMapping) -> None:
    source = make_mapping("src")
    store.insert(source)
    fork = make_mapping(
        "dst",
        state="pending-fork",
        session_id=None,
        parent=Parent(source.agent, source.key, source.session_id),
        labels={"forked": "yes"},
    )
    store.insert(fork)
    assert store.get("default", "dst") == fork
    assert list(store.query(Query(parent=("default", "src")))) == [fork]
    # Materialised on first exec: an id of its own, the lineage kept.
    done = store.update("default", "dst", lambda m: m.evolve(state="active", session_id="s-new"))
    assert done.parent == Parent("default", "src", source.session_id)
    assert list(store.query(Query(parent=("default", "src"), state="active"))) == [done]


def test_a_second_handle_sees_writes(store: Store, backend_url: str, make_mapping: MakeMapping) -> None:
    with open_url(backend_url) as other:
        store.insert(make_mapping("k"))
        assert other.get("default", "k") == store.get("default", "k")
        other.update("default", "k", lambda m: m.evolve(turns=5))
        seen = store.get("default", "k")
        assert seen is not None and seen.turns == 5
        other.delete("default", "k")
        assert store.get("default", "k") is None


# --- queries ----------------------------------------------------------------------------------
# Twelve mappings, named by letter. last_seen (last use, else creation) in minutes after T0:
# A50 B10 C20 D20 E30 F30 G40 H46 I1 J60 K3 L4; created: A0 B10 C5 D20 E30 F30 G40 H45 I1 J2 K3 L4.


@pytest.fixture
def dataset(make_mapping: MakeMapping) -> dict[str, Mapping]:
    def m(key: str, created: float, used: float | None = None, **fields: Any) -> Mapping:
        return make_mapping(
            key,
            created_at=at(created),
            updated_at=at(used if used is not None else created),
            last_used_at=at(used) if used is not None else None,
            **fields,
        )

    a_parent = Parent("default", "slack:C1:100", make_mapping("slack:C1:100").session_id)
    return {
        "A": m("slack:C1:100", 0, 50, labels={"team": "core", "env": "prod"}),
        "B": m("slack:C1:200", 10, provider="codex", labels={"team": "core"}),
        "C": m("slack:C10:1", 5, 20, labels={"team": "ops"}),
        "D": m("slack:C2:300", 20, provider="codex", state="pending", session_id=None),
        "E": m("telegram:9:1", 30, 30),
        "F": m("telegram:9:1", 30, 30, agent="reviewer"),
        "G": m("fork:a", 40, state="pending-fork", session_id=None, parent=a_parent),
        "H": m("fork:b", 45, 46, parent=a_parent),
        "I": m("discord:[x]", 1),
        "J": m("ключ:ü", 2, 60),
        "K": m("a*b?c", 3),
        "L": m("^caret", 4),
    }


@pytest.fixture
def loaded(store: Store, dataset: dict[str, Mapping]) -> Store:
    for mapping in dataset.values():
        store.insert(mapping)
    return store


def letters(mappings: Iterator[Mapping] | list[Mapping], dataset: dict[str, Mapping]) -> str:
    names = {(m.agent, m.key): name for name, m in dataset.items()}
    return "".join(names[m.agent, m.key] for m in mappings)


HALF_SECOND = timedelta(milliseconds=500)

FILTERS: list[tuple[str, Query, str]] = [
    ("all", Query(), "ABCDEFGHIJKL"),
    ("agent", Query(agent="reviewer"), "F"),
    ("agent-default", Query(agent="default"), "ABCDEGHIJKL"),
    ("provider", Query(provider="codex"), "BD"),
    ("prefix", Query(prefix="slack:C1"), "ABC"),
    ("prefix-exact-segment", Query(prefix="slack:C1:"), "AB"),
    ("prefix-unicode", Query(prefix="ключ"), "J"),
    ("prefix-is-literal", Query(prefix="a*"), "K"),
    ("prefix-bracket", Query(prefix="discord:["), "I"),
    ("prefix-whole-key", Query(prefix="slack:C2:300"), "D"),
    ("prefix-none", Query(prefix="zzz"), ""),
    ("match-star", Query(match="slack:*"), "ABCD"),
    ("match-question", Query(match="slack:C?:*"), "ABD"),
    ("match-suffix", Query(match="*:1"), "CEF"),
    ("match-set", Query(match="slack:C[12]:*"), "ABD"),
    ("match-negated-set", Query(match="slack:C[!1]:*"), "D"),
    ("match-caret-is-literal", Query(match="[^d]*"), "IL"),  # fnmatch, unlike SQL GLOB
    ("match-escaped-bracket", Query(match="discord:[[]x]"), "I"),
    ("match-unclosed-bracket", Query(match="discord:[x*"), "I"),
    ("match-escaped-wildcards", Query(match="a[*]b[?]c"), "K"),
    ("match-case-sensitive", Query(match="SLACK:*"), ""),
    ("match-everything", Query(match="*"), "ABCDEFGHIJKL"),
    ("label", Query(labels=(("team", "core"),)), "AB"),
    ("labels-anded", Query(labels=(("team", "core"), ("env", "prod"))), "A"),
    ("label-other-value", Query(labels=(("team", "ops"),)), "C"),
    ("label-no-value", Query(labels=(("env", "dev"),)), ""),
    ("label-no-name", Query(labels=(("core", "team"),)), ""),
    ("seen-before-excludes-cutoff", Query(seen_before=at(20)), "BIKL"),
    ("seen-since-includes-cutoff", Query(seen_since=at(20)), "ACDEFGHJ"),
    ("seen-before-fraction", Query(seen_before=at(20) + HALF_SECOND), "BCDIKL"),
    ("seen-since-fraction", Query(seen_since=at(20) + HALF_SECOND), "AEFGHJ"),
    ("seen-window", Query(seen_since=at(10), seen_before=at(30)), "BCD"),
    ("state-pending", Query(state="pending"), "D"),
    ("state-pending-fork", Query(state="pending-fork"), "G"),
    ("state-active", Query(state="active"), "ABCEFHIJKL"),
    ("parent", Query(parent=("default", "slack:C1:100")), "GH"),
    ("parent-other-agent", Query(parent=("reviewer", "slack:C1:100")), ""),
    ("combined", Query(provider="claude", prefix="slack:", labels=(("team", "core"),)), "A"),
    ("combined-match-agent", Query(agent="default", match="telegram:*"), "E"),
]


@pytest.mark.parametrize(("query", "expected"), [pytest.param(q, e, id=n) for n, q, e in FILTERS])
def test_count_is_what_the_query_finds_whatever_the_limit(loaded: Store, query: Query, expected: str) -> None:
    assert loaded.count(query) == len(expected)
    assert loaded.count(query._replace(limit=1, sort="created", reverse=True)) == len(expected)


@pytest.mark.parametrize(("query", "expected"), [pytest.param(q, e, id=n) for n, q, e in FILTERS])
def test_query_filters(loaded: Store, dataset: dict[str, Mapping], query: Query, expected: str) -> None:
    found = sorted(letters(loaded.query(query._replace(sort="key")), dataset))
    assert "".join(found) == expected
    # The same as the reference semantics in Query.matches.
    assert "".join(sorted(n for n, m in dataset.items() if query.matches(m))) == expected


SORTS: list[tuple[str, Query, str]] = [
    ("last-used", Query(), "JAHGEFCDBLKI"),
    ("last-used-reverse", Query(reverse=True), "IKLBCDEFGHAJ"),
    ("created", Query(sort="created"), "HGEFDBCLKJIA"),
    ("created-reverse", Query(sort="created", reverse=True), "AIJKLCBDEFGH"),
    ("key", Query(sort="key"), "LKIGHCABDEFJ"),
    ("key-reverse", Query(sort="key", reverse=True), "JFEDBACHGIKL"),
    ("limit", Query(limit=3), "JAH"),
    ("limit-reverse", Query(sort="key", reverse=True, limit=2), "JF"),
    ("limit-zero", Query(limit=0), ""),
    ("limit-beyond", Query(limit=100, sort="key"), "LKIGHCABDEFJ"),
    ("filter-then-limit", Query(prefix="slack:", sort="created", limit=2), "DB"),
    ("ties-on-time", Query(seen_since=at(20), seen_before=at(31), reverse=True), "CDEF"),
]


@pytest.mark.parametrize(("query", "expected"), [pytest.param(q, e, id=n) for n, q, e in SORTS])
def test_query_order_and_limit(
    loaded: Store, dataset: dict[str, Mapping], query: Query, expected: str
) -> None:
    assert letters(loaded.query(query), dataset) == expected
    reference = query.ordered(m for m in dataset.values() if query.matches(m))
    assert letters(reference, dataset) == expected


def test_query_streams(loaded: Store) -> None:
    rows = loaded.query(Query(sort="key"))
    assert isinstance(rows, Iterator)
    first = next(rows)
    assert first.key == "^caret"
    rows.close()  # type: ignore[attr-defined]


def test_two_streams_open_at_once(loaded: Store, dataset: dict[str, Mapping]) -> None:
    # `show` lists a mapping's forks while callers may still be iterating another query.
    outer = loaded.query(Query(sort="key"))
    first = next(outer)
    inner = [m.key for m in loaded.query(Query(sort="key"))]
    rest = [m.key for m in outer]
    assert [first.key, *rest] == inner == sorted(m.key for m in dataset.values())


# --- bulk -------------------------------------------------------------------------------------


def test_delete_matching_prunes_strictly_older(
    loaded: Store, dataset: dict[str, Mapping], make_mapping: MakeMapping
) -> None:
    removed: list[Mapping] = []
    count = loaded.delete_matching(Query(seen_before=at(20), limit=1, sort="key"), removed=removed.append)
    assert count == 4  # the limit is ignored
    assert sorted(letters(removed, dataset)) == list("BIKL")
    assert sorted(letters(loaded.query(Query()), dataset)) == list("ACDEFGHJ")  # at the cutoff: kept
    assert loaded.delete_matching(Query(seen_before=at(20))) == 0


def test_delete_matching_with_filters(loaded: Store, dataset: dict[str, Mapping]) -> None:
    removed: list[Mapping] = []
    assert loaded.delete_matching(Query(provider="codex", prefix="slack:"), removed=removed.append) == 2
    assert sorted(letters(removed, dataset)) == ["B", "D"]
    assert sorted(letters(loaded.query(Query()), dataset)) == list("ACEFGHIJKL")


def test_insert_many_into_empty(store: Store, dataset: dict[str, Mapping]) -> None:
    result = store.insert_many(iter(dataset.values()), "fail")
    assert (result.inserted, result.replaced, result.skipped, result.conflicts) == (12, 0, 0, ())
    assert sorted(letters(store.query(Query()), dataset)) == list("ABCDEFGHIJKL")


@pytest.fixture
def half_loaded(store: Store, make_mapping: MakeMapping) -> Store:
    store.insert(make_mapping("a", session_id="old-a"))
    store.insert(make_mapping("b", session_id="old-b"))
    return store


def incoming(make_mapping: MakeMapping) -> list[Mapping]:
    return [make_mapping(key, session_id=f"new-{key}") for key in ("a", "b", "c")]


def session_ids(store: Store) -> list[str | None]:
    return [m.session_id for m in everything(store)]


def test_insert_many_skip_keeps_existing(half_loaded: Store, make_mapping: MakeMapping) -> None:
    result = half_loaded.insert_many(incoming(make_mapping), "skip")
    assert (result.inserted, result.replaced, result.skipped, result.conflicts) == (1, 0, 2, ())
    assert session_ids(half_loaded) == ["old-a", "old-b", "new-c"]


def test_insert_many_replace_overwrites(half_loaded: Store, make_mapping: MakeMapping) -> None:
    result = half_loaded.insert_many(incoming(make_mapping), "replace")
    assert (result.inserted, result.replaced, result.skipped, result.conflicts) == (1, 2, 0, ())
    assert session_ids(half_loaded) == ["new-a", "new-b", "new-c"]


def test_insert_many_fail_writes_nothing_and_lists_conflicts(
    half_loaded: Store, make_mapping: MakeMapping
) -> None:
    result = half_loaded.insert_many(incoming(make_mapping), "fail")
    assert result.inserted == 0
    assert result.conflicts == (("default", "a"), ("default", "b"))
    assert session_ids(half_loaded) == ["old-a", "old-b"]  # not even "c"


def test_insert_many_duplicate_within_the_stream(store: Store, make_mapping: MakeMapping) -> None:
    twice = [make_mapping("k", session_id="one"), make_mapping("k", session_id="two")]
    assert store.insert_many(iter(twice), "skip").skipped == 1
    assert session_ids(store) == ["one"]


@pytest.mark.parametrize("on_conflict", ["skip", "replace", "fail"])
def test_insert_many_raising_iterator_writes_nothing(
    half_loaded: Store, make_mapping: MakeMapping, on_conflict: Any
) -> None:
    def stream() -> Iterator[Mapping]:
        yield make_mapping("c", session_id="new-c")
        yield make_mapping("a", session_id="new-a")
        raise InvalidInput("line 3: not JSON")

    with pytest.raises(InvalidInput, match="line 3"):
        half_loaded.insert_many(stream(), on_conflict)
    assert session_ids(half_loaded) == ["old-a", "old-b"]


def test_insert_many_invalid_mapping_writes_nothing(store: Store, make_mapping: MakeMapping) -> None:
    bad = make_mapping("x").evolve(agent="no spaces")
    with pytest.raises(InvalidInput):
        store.insert_many(iter([make_mapping("ok"), bad]), "replace")
    assert everything(store) == []


@pytest.mark.parametrize(
    ("source_kind", "target_kind"),
    [pytest.param(a, b, id=f"{a}-to-{b}") for a in FILE_KINDS for b in FILE_KINDS if a != b],
)
def test_export_import_round_trip_between_backends(
    open_backend: Callable[[str], Store], dataset: dict[str, Mapping], source_kind: str, target_kind: str
) -> None:
    source, target = open_backend(source_kind), open_backend(target_kind)
    source.insert_many(iter(dataset.values()), "fail")
    result = target.insert_many(source.query(Query()), "fail")
    assert result.inserted == len(dataset)
    by_key = sorted(dataset.values(), key=lambda m: (m.key, m.agent))
    assert everything(target) == everything(source) == by_key


def test_export_import_into_every_backend(
    store: Store, open_backend: Callable[[str], Store], dataset: dict[str, Mapping]
) -> None:
    source = open_backend("json" if store.url.startswith("sqlite:") else "sqlite")
    source.insert_many(iter(dataset.values()), "fail")
    assert store.insert_many(source.query(Query(sort="key")), "fail").inserted == len(dataset)
    back = open_backend("sqlite")
    assert back.insert_many(store.query(Query()), "fail").inserted == len(dataset)
    assert everything(back) == everything(store) == everything(source)


# --- thread lock ------------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from sessmap.stores import open_store
with open_store(sys.argv[1]) as store, store.thread_lock(sys.argv[2], sys.argv[3], None):
    print("locked", flush=True)
    time.sleep(600)
"""

TRY_LOCK = """
import sys
from sessmap.errors import Busy
from sessmap.stores import open_store
with open_store(sys.argv[1]) as store:
    try:
        with store.thread_lock(sys.argv[2], sys.argv[3], 0):
            print("acquired")
    except Busy as err:
        print(err)
        sys.exit(err.exit_code)
"""


@pytest.fixture
def lock_holder(cross_process_url: str) -> Iterator[Callable[[str, str], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(agent: str, key: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, cross_process_url, agent, key],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


@pytest.mark.slow
def test_thread_lock_is_busy_while_another_process_holds_it(
    store: Store, lock_holder: Callable[[str, str], subprocess.Popen[str]]
) -> None:
    lock_holder("default", "slack:C1:1")
    with pytest.raises(Busy, match=r"thread 'slack:C1:1' \(agent default\) is busy"):
        store.thread_lock("default", "slack:C1:1", 0).__enter__()
    started = time.monotonic()
    with pytest.raises(Busy):
        store.thread_lock("default", "slack:C1:1", 0.3).__enter__()
    assert time.monotonic() - started >= 0.3
    # Other threads, and the same key for another agent, are free.
    with store.thread_lock("default", "slack:C1:2", 0), store.thread_lock("other", "slack:C1:1", 0):
        pass


@pytest.mark.slow
def test_thread_lock_is_freed_when_the_holder_is_killed(
    store: Store, lock_holder: Callable[[str, str], subprocess.Popen[str]]
) -> None:
    holder = lock_holder("default", "k")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with store.thread_lock("default", "k", 10):
        assert time.monotonic() - started < 5


@pytest.mark.slow
def test_thread_lock_held_here_is_busy_in_another_process(store: Store, cross_process_url: str) -> None:
    def try_lock() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", TRY_LOCK, cross_process_url, "default", "k"],
            capture_output=True,
            text=True,
        )

    with store.thread_lock("default", "k", None):
        busy = try_lock()
    assert busy.returncode == 75, busy.stderr
    assert "is busy: another exec is running" in busy.stdout
    free = try_lock()
    assert (free.returncode, free.stdout.strip()) == (0, "acquired")


HOLD_LOCK_WITH_CHILD = """
import subprocess, sys, time
from sessmap.stores import open_store
with open_store(sys.argv[1]) as store, store.thread_lock("default", "k", None):
    agent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], close_fds=False)
    print(agent.pid, flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
def test_thread_lock_is_not_inherited_by_the_agent(store: Store, cross_process_url: str) -> None:
    """A holder killed while its agent runs frees the thread: the agent never held the lock."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK_WITH_CHILD, cross_process_url], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    agent_pid = int(holder.stdout.readline())
    try:
        with pytest.raises(Busy):
            store.thread_lock("default", "k", 0).__enter__()
        holder.kill()
        holder.wait()
        os.kill(agent_pid, 0)  # the agent still runs...
        with store.thread_lock("default", "k", 5):  # ...and the thread is free
            pass
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        os.kill(agent_pid, signal.SIGKILL)


def test_thread_lock_excludes_a_second_holder_in_the_same_process(store: Store, backend_url: str) -> None:
    with open_url(backend_url) as other:
        with store.thread_lock("default", "k", None), pytest.raises(Busy):
            other.thread_lock("default", "k", 0).__enter__()
        with other.thread_lock("default", "k", 0):
            pass  # released on exit: free again


# --- property tests ---------------------------------------------------------------------------

UNICODE = st.characters(blacklist_categories=("Cc", "Cs"))
KEYS = st.text(UNICODE, min_size=1, max_size=512)
NAMES = st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True)
SESSION_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,80}", fullmatch=True)
MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))
LABEL_NAMES = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="="), min_size=1, max_size=20
)
LABELS = st.dictionaries(
    LABEL_NAMES,
    st.text(UNICODE, max_size=40),
    max_size=4,
)


@st.composite
def mappings(draw: st.DrawFn) -> Mapping:
    state = draw(st.sampled_from(["active", "pending", "pending-fork"]))
    session_id = draw(SESSION_IDS) if state == "active" else draw(st.none() | SESSION_IDS)
    parent = None
    if state == "pending-fork" or draw(st.booleans()):
        parent = Parent(draw(NAMES), draw(KEYS), draw(st.none() | SESSION_IDS))
    return Mapping(
        key=draw(KEYS),
        agent=draw(NAMES),
        provider=draw(NAMES),
        session_id=session_id,
        state=state,
        cwd=draw(st.none() | st.text(UNICODE, max_size=60).map(lambda tail: "/" + tail)),
        created_at=draw(MOMENTS),
        updated_at=draw(MOMENTS),
        last_used_at=draw(st.none() | MOMENTS),
        turns=draw(st.integers(min_value=0, max_value=2**62)),
        last_exit=draw(st.none() | st.integers(min_value=-(2**31), max_value=2**31)),
        parent=parent,
        labels=draw(LABELS),
    ).validate()


PROPERTY_SETTINGS = settings(
    max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(mapping=mappings())
def test_any_mapping_round_trips(store: Store, mapping: Mapping) -> None:
    store.insert(mapping, replace=True)
    assert store.get(mapping.agent, mapping.key) == mapping
    assert mapping in store.query(Query(agent=mapping.agent, prefix=mapping.key))


@PROPERTY_SETTINGS
@given(key=KEYS)
def test_any_key_round_trips(store: Store, make_mapping: MakeMapping, key: str) -> None:
    mapping = make_mapping(key)
    store.insert(mapping, replace=True)
    assert store.get("default", key) == mapping
    assert next(store.query(Query(prefix=key, sort="key"))).key == key
    assert store.delete("default", key) == mapping


# --- deleting safely (issue 14, items 3, 5, 10, 21) -------------------------------------------


def test_delete_matching_keeps_what_keep_says_and_streams(loaded: Store, dataset: dict[str, Mapping]) -> None:
    """``keep`` spares rows that match; every deleted row is told to ``removed`` (none listed)."""
    told: list[Mapping] = []
    spare = {("default", dataset["B"].key)}
    count = loaded.delete_matching(
        Query(seen_before=at(20)), keep=lambda m: (m.agent, m.key) in spare, removed=told.append
    )
    assert count == 3
    assert sorted(letters(told, dataset)) == list("IKL")
    assert "B" in letters(loaded.query(Query()), dataset)


def test_delete_matching_many_rows_in_batches(store: Store, make_mapping: MakeMapping) -> None:
    """More rows than one batch of any store, some kept: all the others go, each told once."""
    for n in range(2_500):
        store.insert(make_mapping(f"k{n:05}", created_at=at(0), updated_at=at(0)))
    told: list[str] = []
    count = store.delete_matching(
        Query(seen_before=at(1)), keep=lambda m: m.key.endswith("7"), removed=lambda m: told.append(m.key)
    )
    assert count == 2_250 == len(told) == len(set(told))
    assert sorted(m.key for m in store.query(Query())) == [f"k{n:05}" for n in range(2_500) if n % 10 == 7]


def test_delete_expected_only_while_unchanged(store: Store, make_mapping: MakeMapping) -> None:
    """A delete decided on a scanned row leaves the mapping alone once it changed (re-created,
    used: another generation)."""
    scanned = make_mapping("k1")
    store.insert(scanned)
    store.insert(scanned.evolve(generation=scanned.generation + 1), replace=True)  # exec --new meanwhile
    assert store.delete("default", "k1", scanned) is None
    assert store.get("default", "k1") is not None
    current = store.get("default", "k1")
    assert store.delete("default", "k1", current) == current
    assert store.get("default", "k1") is None


def test_thread_busy_probe(store: Store, make_mapping: MakeMapping) -> None:
    """The probe tells a held lock from a free one, and leaves no lock behind."""
    store.insert(make_mapping("k1"))
    assert not store.thread_busy("default", "k1")
    with store.thread_lock("default", "k1", timeout=0):
        assert store.thread_busy("default", "k1")
        assert not store.thread_busy("default", "k2")
    assert not store.thread_busy("default", "k1")
    with store.thread_lock("default", "k1", timeout=0):  # the probe took nothing
        pass
