"""Thread lock files of the file stores: removed with their mapping, never raced (issue 14, 21)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.backends import FILE_KINDS, backend_params

from sessmap.model import Mapping
from sessmap.stores import Store
from sessmap.stores.base import Query
from sessmap.stores.locks import thread_lock_path


@pytest.fixture(params=backend_params(FILE_KINDS))
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


MakeMapping = Callable[..., Mapping]


def _locks(store: Store) -> Path:
    return Path(str(store.path) + ".locks")  # type: ignore[attr-defined]


def test_prune_removes_unheld_lock_files(store: Store, make_mapping: MakeMapping) -> None:
    """50 threads run once, then all are pruned: no lock file is left (0.1.0 left 50)."""
    for n in range(50):
        store.insert(make_mapping(f"k{n}"))
        with store.thread_lock("default", f"k{n}", timeout=0):
            pass
    assert len(list(_locks(store).glob("*.lock"))) == 50
    assert store.delete_matching(Query()) == 50
    assert list(_locks(store).glob("*.lock")) == []


def test_delete_removes_its_lock_file_but_not_a_held_one(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("free"))
    store.insert(make_mapping("held"))
    with store.thread_lock("default", "free", timeout=0):
        pass
    with store.thread_lock("default", "held", timeout=0):
        store.delete("default", "free")
        store.delete("default", "held")
        assert not thread_lock_path(_locks(store), "default", "free").exists()
        assert thread_lock_path(_locks(store), "default", "held").exists()  # its holder runs
    assert store.thread_busy("default", "held") is False


def test_a_locker_on_the_unlinked_inode_starts_over(store: Store, make_mapping: MakeMapping) -> None:
    """The flock-on-unlinked-file race: a run that opened the lock file, then got its flock
    after the file was unlinked, must not count as holding the lock (a newcomer locks the new
    file). Staged by hand: hold the flock, let a run block on it, unlink, then release."""
    store.insert(make_mapping("k"))
    path = thread_lock_path(_locks(store), "default", "k")
    with store.thread_lock("default", "k", timeout=0):
        pass
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # "the remover" holds it
    got = threading.Event()
    release = threading.Event()

    def runner() -> None:
        with store.thread_lock("default", "k", timeout=10):
            got.set()
            release.wait(10)

    thread = threading.Thread(target=runner)
    thread.start()
    try:
        assert not got.wait(0.3)  # blocked on the old inode
        path.unlink()
        os.close(fd)  # the old inode's flock is free now
        assert got.wait(5)
        # The runner holds the lock on the file the name links now, so a newcomer is refused.
        assert path.exists()
        assert store.thread_busy("default", "k")
    finally:
        release.set()
        thread.join(10)
