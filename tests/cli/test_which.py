"""``sessmap which SESSION_ID``: from a session id (or a unique prefix of it) back to the
mapping, on every store sessmap opens (SQLite, JSON, PostgreSQL, Redis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.backends import STORE_KINDS, backend_params, store_url
from tests.support.cli import Sessmap, one_error_line
from tests.support.mappings import T0, make_mapping

from sessmap.model import HistoryEntry

A = "0199a213-81c0-7800-8aa1-bbab2a035a53"
B = "0199a213-9f00-7000-8000-000000000002"
C = "5f3b2c9e-8a4d-4c1e-9b7a-2d6e8f0a1b3c"
OLD = "1a2b3c4d-0000-4000-8000-000000000001"


@pytest.fixture(params=backend_params(STORE_KINDS))
def sessmap(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sessmap]:
    """Three threads: two whose ids share a prefix, one (in a second agent) reset once, so its
    earlier session is in its history."""
    with store_url(str(request.param), tmp_path) as url:
        runner = Sessmap(store_url=url, store_path=tmp_path)
        runner.import_rows(
            make_mapping("slack:C1:1", session_id=A).to_dict(),
            make_mapping("slack:C1:2", session_id=B, provider="codex").to_dict(),
            make_mapping(
                "ticket:OPS-12", agent="reviewer", session_id=C, history=(HistoryEntry(OLD, T0, "new"),)
            ).to_dict(),
        )
        yield runner


def test_full_id_prints_the_mapping_as_show_does(sessmap: Sessmap) -> None:
    result = sessmap.ok("which", A)
    fields = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert fields["key"].strip() == "slack:C1:1"
    assert fields["session_id"].strip() == A
    assert fields["matched"].strip() == f"{A} (the current session)"
    assert result.stderr == ""


def test_a_unique_prefix_is_enough(sessmap: Sessmap) -> None:
    shown = json.loads(sessmap.ok("which", "0199a213-9", "--json").stdout)
    assert (shown["key"], shown["agent"], shown["session_id"]) == ("slack:C1:2", "default", B)
    assert shown["matched"] == {"session_id": B, "in": "session_id", "reason": None, "ended_at": None}
    assert "transcript" in shown  # what show --json has


def test_an_ambiguous_prefix_exits_2_and_lists_the_candidates(sessmap: Sessmap) -> None:
    result = sessmap("which", "0199a2")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "ambiguous" in line and A in line and B in line
    assert "slack:C1:1" in line and "slack:C1:2" in line
    assert line.endswith("give more characters of the session id")
    assert result.stdout == ""


def test_an_ambiguous_prefix_with_json_lists_the_candidates_on_stdout(sessmap: Sessmap) -> None:
    result = sessmap("which", "0199", "--json")
    assert result.exit_code == 2
    listed = json.loads(result.stdout)
    assert listed["ambiguous"] is True and listed["prefix"] == "0199"
    assert listed["candidates"] == [
        {"session_id": A, "agent": "default", "key": "slack:C1:1", "in": "session_id"},
        {"session_id": B, "agent": "default", "key": "slack:C1:2", "in": "session_id"},
    ]


def test_an_id_from_history_finds_its_mapping_and_says_so(sessmap: Sessmap) -> None:
    result = sessmap.ok("which", OLD[:8])
    fields = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert (fields["key"].strip(), fields["agent"].strip()) == ("ticket:OPS-12", "reviewer")
    assert fields["matched"].strip() == f"{OLD} (in history: new, ended 2026-11-01T12:00:00Z)"
    assert "earlier session" in result.stderr
    shown = json.loads(sessmap.ok("which", OLD, "--json").stdout)
    assert shown["session_id"] == C
    assert shown["matched"] == {
        "session_id": OLD,
        "in": "history",
        "reason": "new",
        "ended_at": "2026-11-01T12:00:00Z",
    }


def test_agent_narrows_the_search(sessmap: Sessmap) -> None:
    assert json.loads(sessmap.ok("which", C[:6], "-a", "reviewer", "--json").stdout)["key"] == "ticket:OPS-12"
    result = sessmap("which", C[:6], "--agent", "default")
    assert result.exit_code == 3
    assert "of agent default" in one_error_line(result)


def test_no_mapping_holding_it_exits_3(sessmap: Sessmap) -> None:
    result = sessmap("which", "ffff")
    assert result.exit_code == 3
    assert "no mapping holds a session id starting with 'ffff'" in one_error_line(result)
    assert result.stdout == ""


def test_not_a_session_id_is_a_usage_error(sessmap: Sessmap) -> None:
    result = sessmap("which", "a b")
    assert result.exit_code == 2
    assert "invalid session id" in one_error_line(result)


def test_a_prefix_of_many_ids_lists_some_and_says_there_are_more(sessmap: Sessmap) -> None:
    sessmap.import_rows(
        *(make_mapping(f"bulk:{n:02d}", session_id=f"bb{n:02d}-x").to_dict() for n in range(25))
    )
    result = sessmap("which", "bb")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "bb00-x (bulk:00, agent default)" in line and line.count("(bulk:") == 5
    assert "and 15+ more" in line
    listed = json.loads(sessmap("which", "bb", "--json").stdout)
    assert [c["key"] for c in listed["candidates"]] == [f"bulk:{n:02d}" for n in range(20)]
    assert listed["more"] is True
    assert json.loads(sessmap.ok("which", "bb07", "--json").stdout)["key"] == "bulk:07"
