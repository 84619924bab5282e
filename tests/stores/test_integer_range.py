"""One range for every integer field, checked in the model (issue 14 item 13).

``turns: 2**63`` was accepted by the JSON and Redis stores, an "unexpected OverflowError" in
SQLite and exit 1 in PostgreSQL. Now every integer field (turns, generation, last_exit) takes
the 64-bit signed range all four stores hold, counters from 0, and anything outside it is
invalid input before any store is touched; a bad import line is exit 2 with its number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.cli import run_sessmap
from tests.support.mappings import make_mapping

from sessmap.errors import InvalidInput
from sessmap.stores import Store
from sessmap.stores.base import Query
from sessmap.validation import MAX_INTEGER, MIN_INTEGER

OUTSIDE = [
    pytest.param("turns", MAX_INTEGER + 1, id="turns-2**63"),
    pytest.param("turns", -1, id="turns-negative"),
    pytest.param("generation", MAX_INTEGER + 1, id="generation-2**63"),
    pytest.param("last_exit", MAX_INTEGER + 1, id="last_exit-2**63"),
    pytest.param("last_exit", MIN_INTEGER - 1, id="last_exit-below"),
]
EDGES = [
    pytest.param("turns", MAX_INTEGER, id="turns-max"),
    pytest.param("generation", MAX_INTEGER, id="generation-max"),
    pytest.param("last_exit", MAX_INTEGER, id="last_exit-max"),
    pytest.param("last_exit", MIN_INTEGER, id="last_exit-min"),
]


@pytest.mark.parametrize(("field", "value"), OUTSIDE)
def test_a_value_outside_the_range_is_invalid_on_every_store(store: Store, field: str, value: int) -> None:
    with pytest.raises(InvalidInput, match=f"invalid {field}"):
        store.insert(make_mapping("k").evolve(**{field: value}))
    with pytest.raises(InvalidInput, match=f"invalid {field}"):
        store.insert_many(iter([make_mapping("k").evolve(**{field: value})]), "fail")
    assert list(store.query(Query())) == []


@pytest.mark.parametrize(("field", "value"), EDGES)
def test_the_ends_of_the_range_round_trip_on_every_store(store: Store, field: str, value: int) -> None:
    store.insert(make_mapping("k").evolve(**{field: value}))
    stored = store.get("default", "k")
    assert stored is not None
    assert getattr(stored, field) == value


def test_a_bad_import_line_is_usage_error_with_its_number(backend_url: str, tmp_path: Path) -> None:
    good = make_mapping("first").to_dict()
    bad = {**make_mapping("second").to_dict(), "turns": 2**63}
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    result = run_sessmap("import", str(source), store=backend_url)
    assert result.returncode == 2, result.stderr
    assert "line 2" in result.stderr
    assert "invalid turns" in result.stderr
    assert "unexpected" not in result.stderr
    listed = run_sessmap("list", "--format", "keys", store=backend_url)
    assert listed.stdout == ""
