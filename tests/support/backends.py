"""THE list of store backends the tests run against, and how to make and open a store of each.

Every test that runs once per backend takes its names from here (``backend_params``), and makes
its store with ``store_url`` / ``store_url_in`` and opens it with ``open_url``. To add a backend,
add ONE entry to ``BACKENDS``: a factory that, given a fresh empty folder, yields the URL of a
fresh empty store (and removes what it made outside the folder afterwards), plus its marks.

* ``memory``: the test-only in-process store (memory_store.py); only the contract suites use it
  (``ALL_KINDS``). Nothing outside this process can open it.
* ``sqlite``, ``json``: the embedded file stores (``FILE_KINDS``), a file in the folder.
* ``postgres``, ``redis``: the server stores (``SERVER_KINDS``, marked ``server``), a schema or
  a key prefix of their own on the test servers (servers.py). When a server does not answer,
  the test skips with the reason, or fails when ``CI`` is set.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.support import memory_store
from tests.support.servers import postgres_url, redis_url

from sessmap.stores import Store, open_store

UrlFactory = Callable[[Path], contextlib.AbstractContextManager[str]]


@dataclass(frozen=True)
class Backend:
    url: UrlFactory
    """``url(folder)``: a context manager giving the URL of a new, empty store unique to
    ``folder`` (an empty folder of its own); on exit it removes what it made outside folder."""
    url_prefix: str
    """What the backend's URLs, and its stores' ``Store.url``, start with."""
    marks: tuple[pytest.MarkDecorator, ...] = ()
    file_name: str | None = None
    """The embedded stores: the store file's name in its folder."""
    server: bool = False
    """A server store (several hosts share it): PostgreSQL, Redis."""
    this_process_only: str | None = None
    """Why no other process can open the store (None: any process can, from its URL)."""


def _file_url(kind: str, file_name: str) -> UrlFactory:
    @contextlib.contextmanager
    def url(folder: Path) -> Iterator[str]:
        yield f"{kind}:{folder / file_name}"

    return url


@contextlib.contextmanager
def _memory_url(folder: Path) -> Iterator[str]:
    url = f"memory:{folder}"
    try:
        yield url
    finally:
        memory_store.forget(url)


# THE list of backends. Everything below is generic over it.
BACKENDS: dict[str, Backend] = {
    "memory": Backend(
        _memory_url,
        "memory:",
        this_process_only="the memory store lives in this process: no other process can open it",
    ),
    "sqlite": Backend(_file_url("sqlite", "sessions.db"), "sqlite:", file_name="sessions.db"),
    "json": Backend(_file_url("json", "sessions.json"), "json:", file_name="sessions.json"),
    "postgres": Backend(postgres_url, "postgres", marks=(pytest.mark.server,), server=True),
    "redis": Backend(redis_url, "redis", marks=(pytest.mark.server,), server=True),
}

ALL_KINDS = tuple(BACKENDS)
"""Every backend, the test-only memory store too: what the contract suites run against."""
STORE_KINDS = tuple(name for name, backend in BACKENDS.items() if backend.this_process_only is None)
"""The stores sessmap itself opens from a URL (any process can): sqlite, json, postgres, redis."""
FILE_KINDS = tuple(name for name, backend in BACKENDS.items() if backend.file_name is not None)
"""The embedded file stores: sqlite, json."""
SERVER_KINDS = tuple(name for name, backend in BACKENDS.items() if backend.server)
"""The server stores: postgres, redis."""

_folder_numbers = itertools.count()


def backend_params(kinds: Iterable[str] = STORE_KINDS, *, ids: Mapping[str, str] | None = None) -> list[Any]:
    """``pytest.param`` per backend (with its marks), to parametrize a test or fixture by.
    The id is the backend's name unless ``ids`` names another."""
    return [pytest.param(name, marks=BACKENDS[name].marks, id=(ids or {}).get(name, name)) for name in kinds]


@contextlib.contextmanager
def store_url_in(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty store of ``kind``; a file store's file goes in ``folder``."""
    with BACKENDS[kind].url(folder) as url:
        yield url


@contextlib.contextmanager
def store_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty store of ``kind`` in a new folder under ``tmp_path``: call it
    as often as a test needs stores (each is cleaned up on exit)."""
    folder = tmp_path / f"{kind}-{next(_folder_numbers)}"
    folder.mkdir()
    with store_url_in(kind, folder) as url:
        yield url


def open_url(url: str) -> Store:
    """Open the store at ``url``: sessmap's own ``open_store``, or a handle on a memory store."""
    if url.startswith(BACKENDS["memory"].url_prefix):
        return memory_store.MemoryStore.at(url)
    return open_store(url)


def store_path(folder: Path, kind: str) -> Path:
    """Where the file store of ``kind`` (sqlite or json) made by ``store_url_in`` lives in ``folder``."""
    file_name = BACKENDS[kind].file_name
    if file_name is None:
        raise ValueError(f"{kind} is not a file store")
    return folder / file_name


def file_store_url(kind: str, folder: Path) -> str:
    """The URL of the file store of ``kind`` (sqlite or json) in ``folder``."""
    return f"{kind}:{store_path(folder, kind)}"


def require_other_processes(kind: str) -> None:
    """Skip a test that opens the store from another process when ``kind`` cannot be."""
    reason = BACKENDS[kind].this_process_only
    if reason is not None:
        pytest.skip(reason)
