"""Reading a mapping's JSON form (sessmap/model_json.py, ``Mapping.from_dict``): export lines
and JSON store rows, with defaults for what they leave out and one error for what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sessmap import model
from sessmap.errors import InvalidInput
from sessmap.model import HistoryEntry, Mapping, Parent

T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


def test_from_dict_defaults() -> None:
    m = Mapping.from_dict({"key": "k", "provider": "codex", "created_at": "2026-11-21T10:00:00Z"})
    assert (m.agent, m.state, m.session_id, m.turns, m.updated_at) == ("default", "pending", None, 0, T0)
    assert Mapping.from_dict({"key": "k", "provider": "claude", "session_id": "s"}).state == "active"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"key": "k"}, "missing 'provider'"),
        ({"provider": "claude"}, "missing 'key'"),
        ({"key": "k", "provider": "claude", "sesion_id": "s"}, "unknown mapping field"),
        ({"key": 1, "provider": "claude"}, "key must be a string"),
        ({"key": "k", "provider": "claude", "labels": {"a": 1}}, "labels must be an object of strings"),
        ({"key": "k", "provider": "claude", "parent": "src"}, "parent must be an object"),
        ({"key": "k", "provider": "claude", "created_at": "yesterday"}, "invalid timestamp"),
        ({"key": "k", "provider": "claude", "created_at": "2026-11-21T10:00:00"}, "give a time zone"),
        ({"key": "k\n", "provider": "claude"}, "control character"),
    ],
)
def test_from_dict_rejects(data: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Mapping.from_dict(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"history": {}}, "history must be a list"),
        ({"history": [{"session_id": "s"}]}, "history entry must be an object"),
        ({"history": [{"session_id": "s", "ended_at": "2026-11-21T10:00:00Z", "reason": "x"}]}, "reason"),
        (
            {"history": [{"session_id": "-x", "ended_at": "2026-11-21T10:00:00Z", "reason": "new"}]},
            "session id",
        ),
        ({"host": "two words"}, "invalid host name"),
        ({"agent_home": "relative/home"}, "must be an absolute path"),
    ],
)
def test_new_fields_are_validated(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Mapping.from_dict({"key": "k", "provider": "claude", "session_id": "s", **data})


def test_what_is_left_out_takes_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "now", lambda: T0)  # the clock the reader looks up when it runs
    m = Mapping.from_dict({"key": "k", "provider": "claude", "labels": None, "history": None})
    assert (m.created_at, m.updated_at, m.last_used_at) == (T0, T0, None)
    assert (m.labels, m.history, m.parent, m.cwd, m.last_exit) == ({}, (), None, None, None)


def test_every_field_is_read() -> None:
    m = Mapping.from_dict(
        {
            "key": "slack:C1:2",
            "agent": "reviewer",
            "provider": "claude",
            "session_id": "s2",
            "state": "active",
            "cwd": "/srv",
            "created_at": "2026-11-21T10:00:00Z",
            "updated_at": "2026-11-21T11:00:00Z",
            "last_used_at": "2026-11-21T12:00:00+01:00",
            "turns": 3,
            "last_exit": 1,
            "parent": {"key": "slack:C1:1", "session_id": "s1"},
            "labels": {"team": "core"},
            "host": "bot-a",
            "agent_home": "/home/bot/.claude",
            "history": [{"session_id": "s0", "ended_at": "2026-11-21T10:00:00Z", "reason": "stale"}],
        }
    )
    assert (m.key, m.agent, m.provider, m.session_id, m.state, m.cwd) == (
        "slack:C1:2", "reviewer", "claude", "s2", "active", "/srv"
    )  # fmt: skip
    assert (m.created_at, m.updated_at) == (T0, datetime(2026, 11, 21, 11, tzinfo=UTC))
    assert m.last_used_at == datetime(2026, 11, 21, 11, tzinfo=UTC)
    assert (m.turns, m.last_exit, dict(m.labels), m.host, m.agent_home) == (
        3, 1, {"team": "core"}, "bot-a", "/home/bot/.claude"
    )  # fmt: skip
    assert m.parent == Parent("default", "slack:C1:1", "s1")  # a parent's agent defaults too
    assert m.history == (HistoryEntry("s0", T0, "stale"),)
