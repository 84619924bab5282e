"""Validation of what users type into a mapping (SPEC §1), and the mapping's JSON form
(reading it back is sessmap/model_json.py: tests/test_model_json.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessmap.errors import ExitCode, InvalidInput
from sessmap.model import MAX_HISTORY, HistoryEntry, Mapping, Parent, format_timestamp, parse_timestamp
from sessmap.validation import (
    parse_label,
    validate_agent,
    validate_cwd,
    validate_key,
    validate_label,
    validate_session_id,
)

T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


def mapping(**fields: Any) -> Mapping:
    values: dict[str, Any] = {
        "key": "slack:C1:1",
        "provider": "claude",
        "session_id": "s1",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return Mapping(**values)


# --- thread keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "slack:C024BE91L:1700000000.000100",
        "telegram:-1001234567890:42",
        "x",
        "k" * 512,
        "with spaces and ünïcödé ✓ 🧵",
        "-starts-with-a-dash",
        "a/b\\c*d?[e]",
        "\u00a0no-break space",
    ],
)
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("k" * 513, "513 characters long; the limit is 512"),
        ("tab\there", "control character"),
        ("new\nline", "control character"),
        ("nul\x00", "control character"),
        ("escape\x1b[31m", "control character"),
        ("delete\x7f", "control character"),
        ("c1\x85next-line", "control character"),
        ("c1\x9f", "control character"),
        ("bad\udcffbytes", "not valid Unicode"),
    ],
)
def test_invalid_keys(key: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        validate_key(key)
    assert caught.value.exit_code == ExitCode.USAGE


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=512))
def test_any_text_without_control_characters_is_a_key(key: str) -> None:
    assert validate_key(key) == key


@given(
    st.text(min_size=1, max_size=40).filter(lambda t: any(0xD800 <= ord(c) <= 0xDFFF or c < " " for c in t))
)
def test_text_with_control_or_surrogate_characters_is_never_a_key(key: str) -> None:
    with pytest.raises(InvalidInput):
        validate_key(key)


# --- agent names, session ids, labels, cwd ----------------------------------------------------


@pytest.mark.parametrize("name", ["default", "reviewer", "a.b-c_d", "A1", "x" * 64, "-", "..."])
def test_valid_agent_names(name: str) -> None:
    assert validate_agent(name) == name


@pytest.mark.parametrize("name", ["", "x" * 65, "has space", "ünï", "a/b", "a:b", "tab\t", "a\n"])
def test_invalid_agent_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid agent name"):
        validate_agent(name)


@pytest.mark.parametrize(
    "session_id",
    [
        "5f3b2c9e-8a4d-4c1e-9b7a-2d6e8f0a1b3c",
        "0199a213-81c0-7800-8aa1-bbab2a035a53",
        "a",
        "s:1.2_3",
        "x" * 128,
    ],
)
def test_valid_session_ids(session_id: str) -> None:
    assert validate_session_id(session_id) == session_id


@pytest.mark.parametrize(
    "session_id",
    [
        "",
        "-x",
        "--resume",
        "--session-id=x",
        "-c",
        ".hidden",
        "_x",
        ":x",
        "a b",
        "a\n",
        "a;rm",
        "x" * 129,  # ids become file names; 250+ characters broke whole-store commands
        "x" * 256,
        "ü",
    ],
)
def test_option_like_or_odd_session_ids_are_rejected(session_id: str) -> None:
    with pytest.raises(InvalidInput, match="invalid session id"):
        validate_session_id(session_id)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team=core", ("team", "core")),
        ("empty=", ("empty", "")),
        ("a=b=c", ("a", "b=c")),
        ("ü=✓", ("ü", "✓")),
    ],
)
def test_parse_label(text: str, expected: tuple[str, str]) -> None:
    assert parse_label(text) == expected


@pytest.mark.parametrize(
    "text", ["novalue", "=value", "tab\t=x", "x=line\nbreak", "k" * 129 + "=v", "k=" + "v" * 1025]
)
def test_invalid_labels(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_label(text)


def test_label_limits() -> None:
    assert validate_label("k" * 128, "v" * 1024) == ("k" * 128, "v" * 1024)
    with pytest.raises(InvalidInput):
        validate_label("bad\udcff", "v")


@pytest.mark.parametrize("cwd", ["relative/dir", "~/src", "", "/nul\x00", "/bad\udcff"])
def test_invalid_cwd(cwd: str) -> None:
    with pytest.raises(InvalidInput, match="working directory"):
        validate_cwd(cwd)


def test_valid_cwd() -> None:
    assert validate_cwd("/home/bot/src app") == "/home/bot/src app"


# --- whole mappings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"session_id": None}, "active but has no session id"),
        ({"state": "pending-fork", "session_id": None}, "pending-fork but has no parent"),
        ({"state": "done"}, "invalid state"),
        ({"turns": -1}, "invalid turns"),
        ({"turns": True}, "invalid turns"),
        ({"last_exit": False}, "invalid last_exit"),
        ({"last_exit": "1"}, "invalid last_exit"),
        ({"provider": "no spaces"}, "invalid provider name"),
        ({"cwd": "relative"}, "must be an absolute path"),
        ({"labels": {"a=b": "c"}}, "invalid label name"),
        ({"parent": Parent("default", "", None)}, "thread key is empty"),
        ({"parent": Parent("bad agent", "k", None)}, "invalid agent name"),
        ({"parent": Parent("default", "k", "--x")}, "invalid session id"),
    ],
)
def test_invalid_mappings(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        mapping(**fields).validate()


def test_pending_mappings_need_no_session_id() -> None:
    assert mapping(state="pending", session_id=None).validate().session_id is None
    fork = mapping(state="pending-fork", session_id=None, parent=Parent("default", "src", "s0"))
    assert fork.validate() is fork


def test_last_seen_is_last_use_else_creation() -> None:
    assert mapping().last_seen == T0
    assert mapping(last_used_at=T0 + timedelta(hours=1)).last_seen == T0 + timedelta(hours=1)


def test_labels_are_read_only_and_sorted() -> None:
    m = mapping(labels={"b": "2", "a": "1"})
    assert list(m.labels) == ["a", "b"]
    with pytest.raises(TypeError):
        m.labels["c"] = "3"  # type: ignore[index]


def test_json_form_round_trips() -> None:
    m = mapping(
        agent="reviewer",
        cwd="/srv",
        last_used_at=T0 + timedelta(minutes=5),
        turns=2,
        last_exit=1,
        parent=Parent("default", "src", "s0"),
        labels={"team": "core"},
        host="bot-a",
        agent_home="/home/bot/.claude",
        history=(HistoryEntry("s-old", T0, "stale"),),
    )
    data = m.to_dict()
    assert list(data) == [
        "key", "agent", "provider", "session_id", "state", "cwd", "created_at", "updated_at",
        "last_used_at", "turns", "last_exit", "parent", "labels", "host", "agent_home", "history",
    ]  # fmt: skip
    assert data["created_at"] == "2026-11-21T10:00:00Z"
    assert data["history"] == [{"session_id": "s-old", "ended_at": "2026-11-21T10:00:00Z", "reason": "stale"}]
    assert Mapping.from_dict(data) == m


def test_retired_moves_the_session_to_history_newest_first_and_bounded() -> None:
    m = mapping(session_id="s1")
    assert m.retired("new", T0, replacement="s1") is m
    assert mapping(session_id=None, state="pending").retired("new", T0).history == ()
    for n in range(2, MAX_HISTORY + 5):
        m = m.retired("stale", T0 + timedelta(minutes=n)).evolve(session_id=f"s{n}")
    assert len(m.history) == MAX_HISTORY
    assert m.history[0].session_id == f"s{MAX_HISTORY + 3}" and m.history[-1].session_id == "s4"
    assert m.session_ids() == {m.session_id, *(e.session_id for e in m.history)}


# --- timestamps -------------------------------------------------------------------------------


def test_timestamps_are_utc_whole_seconds() -> None:
    assert parse_timestamp("2026-11-21T10:00:00Z") == T0
    assert parse_timestamp("2026-11-21T12:00:00+02:00") == T0
    assert parse_timestamp("2026-11-21T10:00:00.999999Z") == T0
    assert format_timestamp(datetime(2026, 11, 21, 12, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-11-21T10:00:00Z"
    )


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)))
def test_timestamps_round_trip(moment: datetime) -> None:
    assert parse_timestamp(format_timestamp(moment)) == moment.replace(microsecond=0)


def test_a_mapping_pickles_whole_and_stays_checked() -> None:
    # import's spool (service_transfer._spooled) pickles mappings it has validated.
    import pickle

    at = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    mapping = Mapping(
        key="slack:C1:1",
        provider="codex",
        created_at=at,
        updated_at=at,
        session_id="0199a213-81c0-7800-8aa1-bbab2a035a53",
        parent=Parent("default", "slack:C1:0", "0199a213-81c0-7800-8aa1-bbab2a035a54"),
        labels={"team": "infra"},
        history=(HistoryEntry("0199a213-81c0-7800-8aa1-bbab2a035a55", at, "new"),),
        generation=3,
    ).validate()
    back = pickle.loads(pickle.dumps(mapping, pickle.HIGHEST_PROTOCOL))
    assert back == mapping and back._validated
    assert dict(back.labels) == {"team": "infra"}
    with pytest.raises(TypeError):
        back.labels["team"] = "x"  # type: ignore[index]  # read-only again
    unchecked = pickle.loads(pickle.dumps(mapping.evolve(turns=1)))
    assert not unchecked._validated
