"""Store fixtures: every test that takes ``store`` or ``backend`` runs once per backend.

To add a backend, add ONE entry to ``BACKENDS`` below: a name and a function that, given a
fresh empty folder, yields the URL of a fresh empty store (and cleans it up afterwards), plus
the marks its tests need. The server stores plug in like this::

    from servers import postgres_url, redis_url    # tests/servers.py

    BACKENDS["postgres"] = Backend(postgres_url, marks=(pytest.mark.server,))
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from servers import postgres_url, redis_url
from sessmap.model import Mapping
from sessmap.stores import Store, open_store

UrlFactory = Callable[[Path], contextlib.AbstractContextManager[str]]


@dataclass(frozen=True)
class Backend:
    url: UrlFactory
    """``url(folder)``: a context manager giving the URL of a new, empty store unique to
    ``folder`` (an empty folder of its own); on exit it removes what it made outside folder."""
    marks: tuple[pytest.MarkDecorator, ...] = ()


@contextlib.contextmanager
def _sqlite_url(folder: Path) -> Iterator[str]:
    yield f"sqlite:{folder / 'sessions.db'}"


@contextlib.contextmanager
def _json_url(folder: Path) -> Iterator[str]:
    yield f"json:{folder / 'sessions.json'}"


# THE registry of backends. Everything below is generic over it.
BACKENDS: dict[str, Backend] = {
    "sqlite": Backend(_sqlite_url),
    "json": Backend(_json_url),
    "postgres": Backend(postgres_url, marks=(pytest.mark.server,)),
    "redis": Backend(redis_url, marks=(pytest.mark.server,)),
}

_folder_numbers = itertools.count()


def backend_params(kinds: Iterable[str] | None = None) -> list[Any]:
    """``pytest.param`` per backend (with its marks), for parametrizing by hand."""
    names = list(BACKENDS) if kinds is None else list(kinds)
    return [pytest.param(name, marks=BACKENDS[name].marks, id=name) for name in names]


@contextlib.contextmanager
def store_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty store of ``kind`` (cleaned up on exit)."""
    folder = tmp_path / f"{kind}-{next(_folder_numbers)}"
    folder.mkdir()
    with BACKENDS[kind].url(folder) as url:
        yield url


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name; every test using it runs once per entry of BACKENDS."""
    name: str = request.param
    return name


@pytest.fixture
def backend_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of this test's store (to open a second handle, or from another process)."""
    with store_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
def store(backend_url: str) -> Iterator[Store]:
    """A new, empty store of the backend under test, closed after the test."""
    with open_store(backend_url) as opened:
        yield opened


@pytest.fixture
def open_backend(tmp_path: Path) -> Iterator[Callable[[str], Store]]:
    """``open_backend(kind)``: a new, empty store of any backend, closed after the test."""
    with contextlib.ExitStack() as stack:

        def open_new(kind: str) -> Store:
            url = stack.enter_context(store_url(kind, tmp_path))
            return stack.enter_context(open_store(url))

        yield open_new


# Tests use fixed moments, never the clock: T0 is the default created_at of make_mapping.
T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def make_mapping() -> Callable[..., Mapping]:
    """``make_mapping(key, **fields)``: a valid active claude mapping created at T0."""

    def make(key: str, **fields: Any) -> Mapping:
        values: dict[str, Any] = {
            "key": key,
            "provider": "claude",
            "session_id": "s-" + hashlib.sha256(key.encode()).hexdigest()[:12],
            "created_at": T0,
            "updated_at": T0,
        }
        values.update(fields)
        return Mapping(**values).validate()

    return make
