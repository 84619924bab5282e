"""The mapping record (SPEC §1) and validation of what users type into it."""

from __future__ import annotations

import re
from collections.abc import Mapping as ReadOnlyDict
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from sessmap.errors import InvalidInput

State = Literal["active", "pending", "pending-fork"]
STATES: tuple[State, ...] = ("active", "pending", "pending-fork")
HistoryReason = Literal["new", "stale", "set", "import"]
HISTORY_REASONS: tuple[HistoryReason, ...] = ("new", "stale", "set", "import")
DEFAULT_AGENT = "default"

MAX_KEY_LENGTH = 512
MAX_LABEL_KEY_LENGTH = 128
MAX_LABEL_VALUE_LENGTH = 1024
# Ids become file names (claude `<id>.jsonl`, codex `rollout-<timestamp>-<id>.jsonl`), which
# most file systems cap at 255 bytes: 128 leaves room, and every agent's ids are far shorter.
MAX_SESSION_ID_LENGTH = 128
# sessmap 0.1.0 took ids of up to 256 characters: stored ones stay readable, never crash a read.
MAX_STORED_SESSION_ID_LENGTH = 256
MAX_HOST_LENGTH = 255
# Earlier sessions kept per mapping; the oldest fall off, so a thread reset daily stays small.
MAX_HISTORY = 50

_AGENT_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PROVIDER_NAME = _AGENT_NAME
# C0, DEL and C1 control characters; NUL included.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Lone surrogates (from undecodable bytes in argv, via surrogateescape) cannot be stored as UTF-8.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Session ids reach agent command lines: never let one look like an option or carry spaces.
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def validate_key(key: str) -> str:
    """A thread key: 1-512 characters, no control characters; otherwise opaque."""
    if not isinstance(key, str) or not key:
        raise InvalidInput("thread key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"thread key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}")
    if _CONTROL.search(key):
        raise InvalidInput(f"thread key {key!r} contains a control character")
    if _SURROGATE.search(key):
        raise InvalidInput(f"thread key {key!r} is not valid Unicode (undecodable bytes?)")
    return key


def validate_agent(agent: str) -> str:
    """An agent name: 1-64 of ``[A-Za-z0-9._-]``."""
    if not isinstance(agent, str) or not _AGENT_NAME.fullmatch(agent):
        raise InvalidInput(f"invalid agent name {agent!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return agent


def validate_provider(provider: str) -> str:
    """A provider name: same alphabet as agent names."""
    if not isinstance(provider, str) or not _PROVIDER_NAME.fullmatch(provider):
        raise InvalidInput(f"invalid provider name {provider!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return provider


def validate_session_id(session_id: str, limit: int = MAX_SESSION_ID_LENGTH) -> str:
    """A session id as agent CLIs print them; never option-like, never with spaces."""
    if not isinstance(session_id, str) or len(session_id) > limit or not _SESSION_ID.fullmatch(session_id):
        raise InvalidInput(
            f"invalid session id {session_id!r}: letters, digits and . _ : - "
            f"(not first), at most {limit} characters"
        )
    return session_id


def _stored_session_id(session_id: str) -> str:
    return validate_session_id(session_id, MAX_STORED_SESSION_ID_LENGTH)


def validate_label(name: str, value: str) -> tuple[str, str]:
    if (
        not name
        or len(name) > MAX_LABEL_KEY_LENGTH
        or "=" in name
        or _CONTROL.search(name)
        or _SURROGATE.search(name)
    ):
        raise InvalidInput(
            f"invalid label name {name!r}: 1-{MAX_LABEL_KEY_LENGTH} characters, no '=' or control characters"
        )
    if len(value) > MAX_LABEL_VALUE_LENGTH or _CONTROL.search(value) or _SURROGATE.search(value):
        raise InvalidInput(
            f"invalid value for label {name!r}: at most {MAX_LABEL_VALUE_LENGTH} characters, "
            "no control characters"
        )
    return name, value


def parse_label(text: str) -> tuple[str, str]:
    """``k=v`` from the command line."""
    name, sep, value = text.partition("=")
    if not sep:
        raise InvalidInput(f"invalid label {text!r}: use name=value")
    return validate_label(name, value)


def validate_cwd(cwd: str) -> str:
    if not cwd.startswith("/") or "\x00" in cwd:
        raise InvalidInput(f"working directory {cwd!r} must be an absolute path")
    if _SURROGATE.search(cwd):
        raise InvalidInput(f"working directory {cwd!r} is not valid Unicode (undecodable bytes?)")
    return cwd


def validate_host(host: str) -> str:
    """A host name as the machine reports it: 1-255 characters, no control characters or spaces."""
    if (
        not isinstance(host, str)
        or not host
        or len(host) > MAX_HOST_LENGTH
        or _CONTROL.search(host)
        or _SURROGATE.search(host)
        or " " in host
    ):
        raise InvalidInput(f"invalid host name {host!r}")
    return host


def now() -> datetime:
    """The current UTC time at the precision stored (whole seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


def format_timestamp(moment: datetime) -> str:
    """``2026-11-21T10:00:00Z``: UTC, whole seconds (a fraction is cut off)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat is C and always writes four-digit years; strftime is slower and pads neither.
    return moment.isoformat(timespec="seconds")[:19] + "Z"


def parse_timestamp(text: str) -> datetime:
    """ISO-8601 in UTC; ``Z`` or an offset accepted, normalised to whole seconds in UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"invalid timestamp {text!r}: use ISO-8601 like 2026-11-21T10:00:00Z") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"invalid timestamp {text!r}: give a time zone (Z for UTC)")
    if moment.tzinfo is UTC and not moment.microsecond:
        return moment  # the stored form: nothing to normalise (the common case, once per row read)
    return moment.astimezone(UTC).replace(microsecond=0)


class Parent(NamedTuple):
    """Where a fork came from."""

    agent: str
    key: str
    session_id: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"agent": self.agent, "key": self.key, "session_id": self.session_id}


class HistoryEntry(NamedTuple):
    """An earlier session of a mapping, and why it ended (``new``, ``stale``, ``set``, ``import``)."""

    session_id: str
    ended_at: datetime
    reason: HistoryReason

    def to_dict(self) -> dict[str, str]:
        return {
            "session_id": self.session_id,
            "ended_at": format_timestamp(self.ended_at),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Any) -> HistoryEntry:
        if not isinstance(data, dict) or set(data) != {"session_id", "ended_at", "reason"}:
            raise InvalidInput("a history entry must be an object with session_id, ended_at and reason")
        reason = data["reason"]
        if reason not in HISTORY_REASONS:
            raise InvalidInput(f"invalid history reason {reason!r}: use one of {', '.join(HISTORY_REASONS)}")
        return cls(
            session_id=_stored_session_id(_string(data["session_id"], "history.session_id")),
            ended_at=parse_timestamp(_string(data["ended_at"], "history.ended_at")),
            reason=reason,
        )


_NO_LABELS: ReadOnlyDict[str, str] = MappingProxyType({})  # shared: read-only, and most mappings have none


def _frozen_labels(labels: ReadOnlyDict[str, str] | None) -> ReadOnlyDict[str, str]:
    if not labels:
        return _NO_LABELS
    return MappingProxyType(dict(sorted(labels.items())))


FIELDS = (
    "key",
    "provider",
    "created_at",
    "updated_at",
    "agent",
    "session_id",
    "state",
    "cwd",
    "last_used_at",
    "turns",
    "last_exit",
    "parent",
    "labels",
    "host",
    "agent_home",
    "history",
    "generation",
)
"""Mapping's fields, in its constructor's order."""
_FIELD_SET = frozenset(FIELDS)

_set = object.__setattr__


class Mapping:
    """One thread's session for one agent; identified by ``(agent, key)``. Frozen.

    Written out by hand rather than as a dataclass: ``dataclasses`` imports ``inspect``, which
    alone costs a cold ``get`` more than its lookup does (benchmarks/bench.py, the start-up rows).
    """

    __slots__ = (*FIELDS, "_validated")

    key: str
    provider: str
    created_at: datetime
    updated_at: datetime
    agent: str
    session_id: str | None
    state: State
    cwd: str | None
    last_used_at: datetime | None
    turns: int
    last_exit: int | None
    parent: Parent | None
    labels: ReadOnlyDict[str, str]
    host: str | None
    agent_home: str | None
    history: tuple[HistoryEntry, ...]
    generation: int
    """Runs started on the thread: each ``exec`` raises it at its start, and its end-of-run
    write applies only while it is still the newest (a fencing token)."""
    # Set by validate(): a frozen Mapping cannot become invalid, so importing a million rows
    # (validated as parsed, and again by the store) checks each once. evolve() resets it.
    _validated: bool

    def __init__(
        self,
        key: str,
        provider: str,
        created_at: datetime,
        updated_at: datetime,
        agent: str = DEFAULT_AGENT,
        session_id: str | None = None,
        state: State = "active",
        cwd: str | None = None,
        last_used_at: datetime | None = None,
        turns: int = 0,
        last_exit: int | None = None,
        parent: Parent | None = None,
        labels: ReadOnlyDict[str, str] | None = None,
        host: str | None = None,
        agent_home: str | None = None,
        history: tuple[HistoryEntry, ...] = (),
        generation: int = 0,
    ) -> None:
        _set(self, "key", key)
        _set(self, "provider", provider)
        _set(self, "created_at", created_at)
        _set(self, "updated_at", updated_at)
        _set(self, "agent", agent)
        _set(self, "session_id", session_id)
        _set(self, "state", state)
        _set(self, "cwd", cwd)
        _set(self, "last_used_at", last_used_at)
        _set(self, "turns", turns)
        _set(self, "last_exit", last_exit)
        _set(self, "parent", parent)
        _set(self, "labels", _frozen_labels(labels))
        _set(self, "host", host)
        _set(self, "agent_home", agent_home)
        _set(self, "history", history)
        _set(self, "generation", generation)
        _set(self, "_validated", False)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Mapping)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # labels are a dict: not hashable

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in FIELDS)
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Mapping is frozen; use evolve()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Mapping is frozen")

    @property
    def last_seen(self) -> datetime:
        """What TTL ages are measured from: last use, else creation."""
        return self.last_used_at or self.created_at

    def evolve(self, **changes: Any) -> Mapping:
        """A copy with ``changes`` applied, validated again when asked."""
        unknown = changes.keys() - _FIELD_SET
        if unknown:
            raise TypeError(f"Mapping has no field(s) {', '.join(sorted(unknown))}")
        return type(self)(**{name: changes.get(name, getattr(self, name)) for name in FIELDS})

    def retired(self, reason: HistoryReason, at: datetime, replacement: str | None = None) -> Mapping:
        """This mapping with its current session moved to ``history`` (newest first), as a
        reset, a stale restart, ``set --session-id`` or an import does before it takes another.
        Nothing moves when there is no session or the replacement is the same one."""
        if self.session_id is None or self.session_id == replacement:
            return self
        entry = HistoryEntry(self.session_id, at, reason)
        earlier = tuple(e for e in self.history if e.session_id != self.session_id)
        return self.evolve(history=(entry, *earlier)[:MAX_HISTORY])

    def session_ids(self) -> set[str]:
        """Every session id this mapping needs kept: the current one and its history."""
        ids = {entry.session_id for entry in self.history}
        if self.session_id is not None:
            ids.add(self.session_id)
        return ids

    def validate(self) -> Mapping:
        """Raise InvalidInput unless every field is well-formed; returns self."""
        if self._validated:
            return self
        validate_key(self.key)
        validate_agent(self.agent)
        validate_provider(self.provider)
        if self.state not in STATES:
            raise InvalidInput(f"invalid state {self.state!r}: use one of {', '.join(STATES)}")
        if self.session_id is None:
            if self.state == "active":
                raise InvalidInput(f"mapping {self.key!r} is active but has no session id")
        else:
            _stored_session_id(self.session_id)
        if self.state == "pending-fork" and self.parent is None:
            raise InvalidInput(f"mapping {self.key!r} is pending-fork but has no parent")
        if self.cwd is not None:
            validate_cwd(self.cwd)
        if isinstance(self.turns, bool) or not isinstance(self.turns, int) or self.turns < 0:
            raise InvalidInput(f"invalid turns {self.turns!r}")
        if isinstance(self.generation, bool) or not isinstance(self.generation, int) or self.generation < 0:
            raise InvalidInput(f"invalid generation {self.generation!r}")
        if self.last_exit is not None and (
            isinstance(self.last_exit, bool) or not isinstance(self.last_exit, int)
        ):
            raise InvalidInput(f"invalid last_exit {self.last_exit!r}")
        for name, value in self.labels.items():
            validate_label(name, value)
        if self.host is not None:
            validate_host(self.host)
        if self.agent_home is not None:
            validate_cwd(self.agent_home)
        if not isinstance(self.history, tuple) or len(self.history) > MAX_HISTORY:
            raise InvalidInput(f"history must hold at most {MAX_HISTORY} entries")
        for entry in self.history:
            _stored_session_id(entry.session_id)
            if entry.reason not in HISTORY_REASONS:
                raise InvalidInput(f"invalid history reason {entry.reason!r}")
        if self.parent is not None:
            validate_agent(self.parent.agent)
            validate_key(self.parent.key)
            if self.parent.session_id is not None:
                _stored_session_id(self.parent.session_id)
        _set(self, "_validated", True)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: SPEC §1's field names, in its order."""
        return {
            "key": self.key,
            "agent": self.agent,
            "provider": self.provider,
            "session_id": self.session_id,
            "state": self.state,
            "cwd": self.cwd,
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
            "last_used_at": format_timestamp(self.last_used_at) if self.last_used_at else None,
            "turns": self.turns,
            "last_exit": self.last_exit,
            "parent": self.parent.to_dict() if self.parent else None,
            "labels": dict(self.labels),
            "host": self.host,
            "agent_home": self.agent_home,
            "history": [entry.to_dict() for entry in self.history],
        }

    def to_document(self) -> dict[str, Any]:
        """What a document store keeps: the JSON form plus the run ``generation``, which is
        sessmap's own bookkeeping and not part of what ``show``/``export`` print."""
        return {**self.to_dict(), "generation": self.generation}

    @classmethod
    def from_dict(cls, data: Any) -> Mapping:
        """Build and validate a mapping from its JSON form (export lines, JSON store rows).

        ``agent`` defaults to ``default``, ``state`` to ``active`` (``pending`` without an id),
        ``turns`` to 0, timestamps to now; unknown fields are an error so typos do not pass.
        """
        from sessmap.model_json import mapping_from_dict  # not loaded by the SQLite store's reads

        return mapping_from_dict(cls, data)


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    return value
