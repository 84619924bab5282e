"""Store fixtures: every test that takes ``store`` or ``backend`` runs once per backend of
``STORE_KINDS`` (the backend list is tests/support/backends.py). A module that overrides the
``backend`` fixture with ``backend_params(ALL_KINDS)`` runs against the memory store too."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support import mappings
from tests.support.backends import backend_params, open_url, require_other_processes, store_url

from sessmap.model import Mapping
from sessmap.stores import Store


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name; every test using it runs once per backend."""
    name: str = request.param
    return name


@pytest.fixture
def backend_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of this test's store (to open a second handle on it)."""
    with store_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
def cross_process_url(backend: str, backend_url: str) -> str:
    """The URL of this test's store, for other processes to open: skips the backends they cannot."""
    require_other_processes(backend)
    return backend_url


@pytest.fixture
def store(backend_url: str) -> Iterator[Store]:
    """A new, empty store of the backend under test, closed after the test."""
    with open_url(backend_url) as opened:
        yield opened


@pytest.fixture
def open_backend(tmp_path: Path) -> Iterator[Callable[[str], Store]]:
    """``open_backend(kind)``: a new, empty store of any backend, closed after the test."""
    with contextlib.ExitStack() as stack:

        def open_new(kind: str) -> Store:
            url = stack.enter_context(store_url(kind, tmp_path))
            return stack.enter_context(open_url(url))

        yield open_new


@pytest.fixture
def make_mapping() -> Callable[..., Mapping]:
    """``make_mapping(key, **fields)``: a valid active claude mapping created at ``mappings.T0``."""
    return mappings.make_mapping
