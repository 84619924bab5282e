"""A row written by hand is validated on read, on the SQL stores too (issue 14 item 11).

The JSON and Redis stores validated what they read; the SQLite and PostgreSQL stores trusted
their columns, so ``UPDATE mappings SET session_id = '--yolo'`` reached the agent's argv as
``--resume --yolo``. Every store now refuses a damaged row as a damaged store (exit 1, the
hint points to ``doctor``), lists it in ``doctor``, and keeps reading the healthy ones.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support.backends import backend_params, open_url, store_url
from tests.support.cli import run_sessmap
from tests.support.mappings import make_mapping

from sessmap.errors import StoreError
from sessmap.stores import Store
from sessmap.stores.base import Query

DAMAGE = [
    pytest.param("session_id", "--yolo", id="option-like-id"),
    pytest.param("session_id", "a b", id="id-with-space"),
    pytest.param("state", "bogus", id="unknown-state"),
    pytest.param("provider", "no such/provider", id="bad-provider"),
    pytest.param("cwd", "relative/dir", id="relative-cwd"),
    pytest.param("turns", -1, id="negative-turns"),
    pytest.param("turns", "many", id="text-turns"),
]


@pytest.fixture(params=backend_params(("sqlite", "postgres")))
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with store_url(request.param, tmp_path) as url:
        yield url


def _write_by_hand(store: Store, key: str, column: str, value: object) -> None:
    """What an operator's own UPDATE does: straight to the row, past sessmap's checks."""
    if store.url.startswith("sqlite:"):
        store._db.execute(f"UPDATE mappings SET {column} = ? WHERE key = ?", (value, key))  # type: ignore[attr-defined]
        return
    import psycopg

    statement = store._sql(f"UPDATE {{table}} SET {column} = %s WHERE key = %s")  # type: ignore[attr-defined]
    try:
        store._connection.execute(statement, (value, key))  # type: ignore[attr-defined]
    except (psycopg.errors.CheckViolation, psycopg.errors.InvalidTextRepresentation):
        pytest.skip(f"PostgreSQL's schema refuses {column}={value!r} itself")


@pytest.mark.parametrize(("column", "value"), DAMAGE)
def test_a_damaged_row_is_refused_on_every_read(sql_url: str, column: str, value: object) -> None:
    with open_url(sql_url) as store:
        store.insert(make_mapping("healthy"))
        store.insert(make_mapping("hand-edited"))
        _write_by_hand(store, "hand-edited", column, value)
        with pytest.raises(StoreError, match="damaged") as raised:
            store.get("default", "hand-edited")
        assert raised.value.reason == "damaged-store"
        with pytest.raises(StoreError, match="damaged"):
            list(store.query(Query()))
        assert store.get("default", "healthy") is not None
        problems = store.check()
        assert any("hand-edited" in problem for problem in problems), problems
        assert not any("healthy" in problem and "hand" not in problem for problem in problems)


def test_an_option_like_id_never_reaches_the_agent(sql_url: str, tmp_path: Path) -> None:
    with open_url(sql_url) as store:
        store.insert(make_mapping("t1"))
        _write_by_hand(store, "t1", "session_id", "--yolo")
    marker = tmp_path / "ran"
    agent = [sys.executable, "-c", f"import sys; open({str(marker)!r}, 'w').write(repr(sys.argv))"]
    result = run_sessmap("exec", "t1", "--provider", "claude", "--", *agent, store=sql_url)
    assert result.returncode == 125, result.stderr
    assert "damaged" in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()
    shown = run_sessmap("get", "t1", store=sql_url)
    assert shown.returncode == 1
    assert shown.stdout == ""
