"""The sessions sessmap started, and where: the proof ``--purge`` and ``doctor`` need (SPEC §7).

sessmap deletes an agent's files only for a session it started itself for a mapping: a new
session, a fork, the fresh one after a stale session. A session attached by hand (an id given
to ``create`` or ``set``) or imported is never recorded, so it is never purged: a user's own
sessions are not sessmap's to delete. A record outlives its mapping (``rm`` without purging
leaves the files, and ``doctor`` can still find them) and goes when the files do.

Every store provides one as ``Store.started``; the JSON store keeps them in a file beside its
document (``FileStartedSessions``), the others in a table or key of their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from sessmap.errors import InvalidInput, StoreError


class StartedSession(NamedTuple):
    """A session sessmap started, for the mapping (agent, key) it started it for, and where
    the agent keeps it: ``host`` and ``agent_home`` of the run (None: not known)."""

    session_id: str
    provider: str
    agent: str
    key: str
    host: str | None
    agent_home: str | None
    cwd: str | None
    started_at: datetime

    def to_dict(self) -> dict[str, Any]:
        from sessmap.model import format_timestamp

        return {**self._asdict(), "started_at": format_timestamp(self.started_at)}

    @classmethod
    def from_dict(cls, data: Any) -> StartedSession:
        """A record as ``to_dict`` wrote it; ``ValueError`` for anything else."""
        from sessmap.model import parse_timestamp

        if not isinstance(data, dict) or set(data) != set(cls._fields):
            raise ValueError("not a started-session record")
        for name in ("session_id", "provider", "agent", "key"):
            if not isinstance(data[name], str) or not data[name]:
                raise ValueError(f"a started-session record's {name} is not text")
        for name in ("host", "agent_home", "cwd"):
            if data[name] is not None and not isinstance(data[name], str):
                raise ValueError(f"a started-session record's {name} is neither text nor null")
        if not isinstance(data["started_at"], str):
            raise ValueError("a started-session record's started_at is not a timestamp")
        try:
            started_at = parse_timestamp(data["started_at"])
        except InvalidInput as err:
            raise ValueError(err.line) from None
        return cls(**{**data, "started_at": started_at})


def damaged_record(where: str, error: ValueError) -> StoreError:
    """The error for a stored record ``to_dict`` could not have written (edited by hand, or
    by other code): a damaged store, as a damaged mapping row is."""
    return StoreError(f"{where}: a damaged record of a started session ({error})", reason="damaged-store")


class StartedSessions(Protocol):
    """The sessions sessmap started (the module docstring), by session id."""

    def add(self, started: StartedSession) -> None:
        """Record ``started``; a session already recorded takes the new record (a later run
        of it, on another host or agent home, is where its files are now)."""

    def get_many(self, session_ids: Iterable[str]) -> dict[str, StartedSession]:
        """The records of those of ``session_ids`` that sessmap started."""

    def all(self) -> Iterator[StartedSession]:
        """Every record, in session-id order (``doctor``)."""

    def forget(self, session_ids: Iterable[str]) -> None:
        """Drop the records of ``session_ids`` (their files are gone); unknown ids are ignored."""


class FileStartedSessions:
    """The JSON store's records: one JSON object (session id → record) in ``path``, replaced
    whole under the store's change lock; a missing file is no records."""

    def __init__(self, path: Path, locked: Callable[[], AbstractContextManager[None]]) -> None:
        self.path = path
        self._locked = locked

    def _load(self) -> dict[str, StartedSession]:
        try:
            data = json.loads(self.path.read_bytes())
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return {sid: StartedSession.from_dict(record) for sid, record in data.items()}
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise StoreError(f"cannot read {self.path}: {err.strerror or err}") from None
        except ValueError as err:
            raise damaged_record(str(self.path), err) from None

    def _save(self, records: dict[str, StartedSession]) -> None:
        from sessmap.files import atomic_write

        text = json.dumps({sid: records[sid].to_dict() for sid in sorted(records)}, indent=1)
        try:
            atomic_write(self.path, text.encode() + b"\n")
        except OSError as err:
            raise StoreError(f"cannot write {self.path}: {err.strerror or err}") from None

    def add(self, started: StartedSession) -> None:
        with self._locked():
            records = self._load()
            records[started.session_id] = started
            self._save(records)

    def get_many(self, session_ids: Iterable[str]) -> dict[str, StartedSession]:
        records = self._load()
        return {sid: records[sid] for sid in set(session_ids) if sid in records}

    def all(self) -> Iterator[StartedSession]:
        records = self._load()
        return iter([records[sid] for sid in sorted(records)])

    def forget(self, session_ids: Iterable[str]) -> None:
        doomed = set(session_ids)
        if not doomed or not self.path.exists():
            return
        with self._locked():
            records = self._load()
            if doomed & records.keys():
                self._save({sid: record for sid, record in records.items() if sid not in doomed})
