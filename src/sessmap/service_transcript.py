"""``transcript``: a mapping's conversation as turns, read from the agent's own file on this
host or, when there is none, from the store's copy (SPEC §7).

A *turn* is what sessmap counts in ``turns``: one user prompt and everything the agent did in
answer (its replies and tool calls), up to the next prompt. The transcript is read as a stream
(``transcripts.entries``); without a ``last`` limit no more than one turn is held at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from sessmap.errors import InvalidInput, SessmapError
from sessmap.model import Mapping
from sessmap.service import require, session_id_of
from sessmap.stores.base import Store, TranscriptKey

if TYPE_CHECKING:
    from sessmap.config import Config
    from sessmap.transcripts.entries import Entry, Line, Note

READABLE = ("claude", "codex", "copilot", "qwen")
"""The providers whose transcripts sessmap can read."""

ItemKind = Literal["prompt", "reply", "tool_call"]


class Item(NamedTuple):
    """One thing said or done: a prompt, a reply, or a tool call (``text``: its one-line summary)."""

    kind: ItemKind
    role: str
    text: str
    time: datetime | None
    tool: str | None
    line: int


class Turn(NamedTuple):
    number: int  # 1-based; 0 holds what came before the first prompt, if anything did
    items: list[Item]


@dataclass
class Conversation:
    """What ``transcript`` prints. ``turns`` is read lazily; ``notes`` fills as it is read."""

    mapping: Mapping
    session_id: str
    source: Literal["local", "store"]
    path: Path | None  # the local file, when that is the source
    store_key: TranscriptKey | None  # the store's copy, when that is the source
    turns: Iterator[Turn]
    notes: list[Note] = field(default_factory=list)


class NoTranscript(SessmapError):
    """Neither this host nor the store has the session's transcript (exit 1)."""


def conversation(
    store: Store, config: Config | None, agent: str, key: str, last: int | None = None
) -> Conversation:
    """The conversation of the mapping (agent, key): ``NotFound`` without a mapping or while
    it has no session; ``NoTranscript`` when no transcript can be read; ``InvalidInput`` for a
    provider whose transcripts sessmap cannot read. ``last``: only the last N turns."""
    from sessmap.transcripts.entries import lines_of, read_lines

    mapping = require(store, agent, key)
    session_id = session_id_of(store, agent, key) if mapping.session_id is None else mapping.session_id
    if mapping.provider not in READABLE:
        raise InvalidInput(
            f"sessmap reads {', '.join(READABLE)} transcripts; "
            f"{key!r} (agent {agent}) uses {mapping.provider}",
            reason="transcript-unreadable",
            provider=mapping.provider,
            agent=agent,
            key=key,
        )
    notes: list[Note] = []
    path, why = _local_file(mapping, config, store)
    lines: Iterable[Line]
    if path is not None:
        source: Literal["local", "store"] = "local"
        lines, stored = read_lines(path), None
    else:
        stored = _stored_key(store, mapping, session_id)
        if stored is None:
            raise NoTranscript(
                f"no transcript of session {session_id} ({key!r}, agent {agent}) on this host or in "
                f"the store: {why}",
                reason="no-transcript",
                agent=agent,
                key=key,
                session_id=session_id,
            )
        source, lines = "store", lines_of(store.transcripts.read(stored))
    turns = _turns(_items(lines, mapping.provider, notes))
    if last is not None:
        turns = iter(deque(turns, maxlen=last)) if last > 0 else iter(())
    return Conversation(mapping, session_id, source, path, stored, turns, notes)


def _local_file(mapping: Mapping, config: Config | None, store: Store) -> tuple[Path | None, str]:
    """The agent's file on this host, or None and why there is none."""
    from sessmap.service_details import transcript_of

    found = transcript_of(mapping, config, store, full=False)
    if found.exists and found.path is not None:
        return found.path, ""
    return None, found.reason or f"its transcript is {found.state}"


def _stored_key(store: Store, mapping: Mapping, session_id: str) -> TranscriptKey | None:
    from sessmap.service_details import locator_of

    projects = store.transcripts.projects_of(session_id)
    if not projects:
        return None
    locator = locator_of(mapping, None)
    preferred = locator.project_key(mapping.cwd) if locator is not None else None
    project = preferred if preferred in projects else projects[0]
    key = TranscriptKey(project, session_id)
    return key if store.transcripts.info(key) is not None else None


def _items(lines: Iterable[Line], provider: str, notes: list[Note]) -> Iterator[Item]:
    from sessmap.transcripts.entries import entries

    entry: Entry
    for entry in entries(lines, provider, notes):
        if entry.kind in ("prompt", "reply", "tool_call"):
            role = entry.role or ("user" if entry.kind == "prompt" else "assistant")
            yield Item(entry.kind, role, entry.text, entry.time, entry.tool, entry.line)


def _turns(items: Iterable[Item]) -> Iterator[Turn]:
    current = Turn(0, [])
    for item in items:
        if item.kind == "prompt":
            if current.items:
                yield current
            current = Turn(current.number + 1, [item])
        else:
            current.items.append(item)
    if current.items:
        yield current
