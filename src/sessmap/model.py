"""The mapping record (SPEC §1) and validation of what users type into it."""

from __future__ import annotations

from collections.abc import Mapping as ReadOnlyDict
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from sessmap.errors import InvalidInput
from sessmap.validation import (
    validate_agent,
    validate_cwd,
    validate_host,
    validate_integer,
    validate_key,
    validate_label,
    validate_provider,
    validate_stored_session_id,
)

State = Literal["active", "pending", "pending-fork"]
STATES: tuple[State, ...] = ("active", "pending", "pending-fork")
HistoryReason = Literal["new", "stale", "set", "import"]
HISTORY_REASONS: tuple[HistoryReason, ...] = ("new", "stale", "set", "import")
DEFAULT_AGENT = "default"

# Earlier sessions kept per mapping; the oldest fall off, so a thread reset daily stays small.
MAX_HISTORY = 50


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
            session_id=validate_stored_session_id(_string(data["session_id"], "history.session_id")),
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
_LABELS = FIELDS.index("labels")

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

    def __reduce__(self) -> tuple[Any, ...]:
        # For pickle (import's spool): the fields as they are, and whether they were checked,
        # so a mapping read back is not parsed or validated a second time.
        values = list(self._values())
        values[_LABELS] = dict(self.labels)  # a read-only view does not pickle
        return (_unpickled, (tuple(values), self._validated))

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
            validate_stored_session_id(self.session_id)
        if self.state == "pending-fork" and self.parent is None:
            raise InvalidInput(f"mapping {self.key!r} is pending-fork but has no parent")
        if self.cwd is not None:
            validate_cwd(self.cwd)
        validate_integer("turns", self.turns, minimum=0)
        validate_integer("generation", self.generation, minimum=0)
        if self.last_exit is not None:
            validate_integer("last_exit", self.last_exit)
        for name, value in self.labels.items():
            validate_label(name, value)
        if self.host is not None:
            validate_host(self.host)
        if self.agent_home is not None:
            validate_cwd(self.agent_home)
        if not isinstance(self.history, tuple) or len(self.history) > MAX_HISTORY:
            raise InvalidInput(f"history must hold at most {MAX_HISTORY} entries")
        for entry in self.history:
            validate_stored_session_id(entry.session_id)
            if entry.reason not in HISTORY_REASONS:
                raise InvalidInput(f"invalid history reason {entry.reason!r}")
        if self.parent is not None:
            validate_agent(self.parent.agent)
            validate_key(self.parent.key)
            if self.parent.session_id is not None:
                validate_stored_session_id(self.parent.session_id)
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


def _unpickled(values: tuple[Any, ...], validated: bool) -> Mapping:
    mapping = Mapping(*values)
    _set(mapping, "_validated", validated)
    return mapping


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    return value
