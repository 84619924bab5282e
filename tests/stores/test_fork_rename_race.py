"""``fork`` and ``rename`` are atomic with respect to each other, on every store (issue 14 item 17).

Eight ``fork src fN`` racing one ``rename src src2`` left forks whose ``parent.key`` named a
key that no longer existed (SQLite 2 in 80, JSON 15 in 80): the fork read SRC, the rename
moved SRC and its forks, and then the fork was written pointing at the old key. The fork's
insert now checks its parent in the same atomic step, so each fork either lands before the
rename (and moves with it) or fails as "no such mapping".
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tests.support.backends import open_url

from sessmap import service
from sessmap.errors import NotFound
from sessmap.model import Mapping
from sessmap.service_mappings import fork
from sessmap.stores import Store
from sessmap.stores.base import Query

FORKS = 8
ROUNDS = 10


def _race(url: str, round_number: int) -> list[BaseException]:
    """One rename of ``src`` and FORKS forks of it, started together; their unexpected errors."""
    start = threading.Barrier(FORKS + 1)
    errors: list[BaseException] = []

    def run(work: object) -> None:
        try:
            with open_url(url) as store:  # a handle per thread, as a process has
                start.wait(10)
                work(store)  # type: ignore[operator]
        except NotFound:
            pass  # the fork came after the rename: "no such mapping" is the right answer
        except BaseException as error:
            errors.append(error)

    def forker(number: int) -> object:
        return lambda store: fork(
            store, agent="default", source_key="src", target_key=f"r{round_number}-f{number}"
        )

    def renamer(store: Store) -> None:
        store.rename("default", "src", "src2", service.now())

    threads = [threading.Thread(target=run, args=(forker(n),)) for n in range(FORKS)]
    threads.append(threading.Thread(target=run, args=(renamer,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.slow
def test_no_fork_points_at_a_key_a_racing_rename_moved(
    store: Store, backend_url: str, make_mapping: object, tmp_path: Path
) -> None:
    dangling: list[str] = []
    for round_number in range(ROUNDS):
        for mapping in list(store.query(Query())):
            store.delete(mapping.agent, mapping.key)
        store.insert(make_mapping("src"))  # type: ignore[operator]
        assert _race(backend_url, round_number) == []
        everything: dict[tuple[str, str], Mapping] = {(m.agent, m.key): m for m in store.query(Query())}
        assert ("default", "src2") in everything
        for mapping in everything.values():
            parent = mapping.parent
            if parent is not None and (parent.agent, parent.key) not in everything:
                dangling.append(f"{mapping.key} -> {parent.key}")
    assert dangling == []
