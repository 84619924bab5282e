"""An import never holds a store's write lock while it reads its input (issue 14 item 8).

``(sleep 45; echo …) | sessmap import -`` used to block every writer of a SQLite or JSON
store for the whole wait, and an ``exec`` recording its turn then failed after the busy
timeout. The input is now read and validated first; the SQLite store stages the rows in a
temp table and merges them in one transaction, so the import stays all or nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import pytest
from tests.support.backends import open_url
from tests.support.mappings import make_mapping

from sessmap.errors import Conflict
from sessmap.model import Mapping
from sessmap.service_transfer import import_mappings
from sessmap.stores import Store
from sessmap.stores.base import Query

WAIT = 10.0  # far below the stores' 30 s lock timeouts, far above a free write


class Pause:
    """Where a slow input stops: ``reached`` once the reader is waiting, until ``released``."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()

    def __call__(self) -> None:
        self.reached.set()
        self.released.wait(60)


def _held_open(first: Iterator[str], pause: Pause) -> Iterator[str]:
    """``first``, then a pause (a pipe whose writer is still sleeping)."""
    yield from first
    pause()


def _in_thread(url: str, work: Callable[[Store], object]) -> tuple[threading.Thread, list[BaseException]]:
    """``work`` on a handle of its own (a SQLite connection belongs to its thread)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with open_url(url) as handle:
                work(handle)
        except BaseException as error:  # reported by the test
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _writer_gets_in(backend_url: str, key: str, pause: Pause) -> bool:
    """Whether a writer on another handle stores ``key`` within WAIT seconds of the pause."""
    assert pause.reached.wait(WAIT)
    writer, errors = _in_thread(backend_url, lambda other: other.insert(make_mapping(key)))
    writer.join(WAIT)
    assert not errors, errors
    return not writer.is_alive()


def _line(key: str) -> str:
    return json.dumps(make_mapping(key).to_dict()) + "\n"


def test_an_import_waiting_for_its_input_blocks_no_writer(store: Store, backend_url: str) -> None:
    pause = Pause()
    lines = _held_open(iter([_line("imported")]), pause)
    importer, errors = _in_thread(backend_url, lambda handle: import_mappings(handle, lines, "fail"))
    try:
        assert _writer_gets_in(backend_url, "written-meanwhile", pause)
    finally:
        pause.released.set()
        importer.join(30)
    assert not errors, errors
    assert store.get("default", "imported") is not None
    assert store.get("default", "written-meanwhile") is not None


def test_insert_many_reads_its_mappings_before_the_write_lock(store: Store, backend_url: str) -> None:
    # The store itself, not only the service: a caller's slow generator must not hold the lock.
    pause = Pause()

    def slow() -> Iterator[Mapping]:
        yield make_mapping("first")
        pause()
        yield make_mapping("second")

    importer, errors = _in_thread(backend_url, lambda handle: handle.insert_many(slow(), "fail"))
    try:
        assert _writer_gets_in(backend_url, "written-meanwhile", pause)
    finally:
        pause.released.set()
        importer.join(30)
    assert not errors, errors
    assert {m.key for m in store.query(Query())} == {"first", "second", "written-meanwhile"}


def test_a_key_written_while_the_import_is_read_still_conflicts(store: Store, backend_url: str) -> None:
    # Conflicts are decided when the rows land, not when they were read: all or nothing holds.
    pause = Pause()

    def slow() -> Iterator[Mapping]:
        yield make_mapping("new-1")
        pause()
        yield make_mapping("taken")

    result: list[object] = []
    importer, errors = _in_thread(
        backend_url, lambda handle: result.append(handle.insert_many(slow(), "fail"))
    )
    try:
        assert _writer_gets_in(backend_url, "taken", pause)
    finally:
        pause.released.set()
        importer.join(30)
    assert not errors, errors
    (imported,) = result
    assert imported.conflicts == (("default", "taken"),)  # type: ignore[attr-defined]
    assert store.get("default", "new-1") is None


@pytest.mark.parametrize("on_conflict", ["skip", "replace"])
def test_a_repeated_key_counts_as_the_store_always_counted_it(store: Store, on_conflict: str) -> None:
    store.insert(make_mapping("old"))
    rows = [make_mapping("old"), make_mapping("new"), make_mapping("new", session_id="s-later")]
    result = store.insert_many(iter(rows), on_conflict)  # type: ignore[arg-type]
    assert result.inserted == 1
    if on_conflict == "replace":
        assert (result.replaced, result.skipped) == (2, 0)
        assert store.get("default", "new").session_id == "s-later"  # type: ignore[union-attr]
    else:
        assert (result.replaced, result.skipped) == (0, 2)
        assert store.get("default", "new").session_id == make_mapping("new").session_id  # type: ignore[union-attr]


@pytest.mark.parametrize("on_conflict", ["skip", "replace"])
def test_a_key_repeated_in_a_later_batch_counts_the_same(
    store: Store, on_conflict: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite stages a batch in one call and goes row by row only for a batch with a repeat.
    from sessmap.stores import sqlite_import

    monkeypatch.setattr(sqlite_import, "BATCH", 2)
    later = make_mapping("a", session_id="s-later")
    rows = [make_mapping("a"), make_mapping("b"), make_mapping("c"), later, *map(make_mapping, "de")]
    result = store.insert_many(iter(rows), on_conflict)  # type: ignore[arg-type]
    assert result.inserted == 5
    assert (result.replaced, result.skipped) == ((1, 0) if on_conflict == "replace" else (0, 1))
    kept = later if on_conflict == "replace" else make_mapping("a")
    assert store.get("default", "a").session_id == kept.session_id  # type: ignore[union-attr]
    assert [m.key for m in store.query(Query(sort="key"))] == ["a", "b", "c", "d", "e"]


def test_import_with_fail_names_the_first_conflict_in_file_order(store: Store) -> None:
    store.insert(make_mapping("b"))
    store.insert(make_mapping("a"))
    lines = [_line("c"), _line("b"), _line("a")]
    with pytest.raises(Conflict, match="first: 'b'"):
        import_mappings(store, lines, "fail")
    assert store.get("default", "c") is None
