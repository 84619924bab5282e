"""CLI tests run the real app in-process against real SQLite and JSON store files."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.backends import FILE_KINDS, backend_params, file_store_url, store_path
from tests.support.cli import Sessmap

from sessmap.model import Mapping, now
from sessmap.stores import open_store


@pytest.fixture(params=backend_params(FILE_KINDS))
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sessmap(tmp_path: Path, store_kind: str) -> Sessmap:
    """An empty store of that kind, made as ``create`` would: commands that only read refuse a
    store that does not exist (tests/cli/test_read_only.py)."""
    url, path = file_store_url(store_kind, tmp_path), store_path(tmp_path, store_kind)
    with open_store(url) as store:
        if not path.exists():  # the JSON store writes its file with its first mapping
            stamp = now()
            store.insert(
                Mapping(key="made", provider="claude", created_at=stamp, updated_at=stamp, state="pending")
            )
            store.delete("default", "made")
    return Sessmap(store_url=url, store_path=path)
