"""What a mapping's conversation holds (``show``, ``list --fields title,…``) and how much disk
its transcripts take (``du``). Reads the agent's local file, else the store's copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sessmap.model import Mapping

if TYPE_CHECKING:
    from sessmap.config import Config
    from sessmap.service_details import Transcript
    from sessmap.stores.base import Store
    from sessmap.transcripts.entries import Line
    from sessmap.transcripts.locate import Locator
    from sessmap.transcripts.summary import Summary

Source = Literal["local", "store"]


@dataclass(frozen=True, slots=True)
class Conversation:
    """A transcript's summary and where it was read from (``path`` None: the store's copy)."""

    summary: Summary
    source: Source
    path: Path | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary.to_dict(), "source": self.source}


def parser_for(locator: Locator | None) -> str | None:
    """Which transcript format ``entries`` reads for this locator's agent (None: none known)."""
    from sessmap.transcripts.locate import ClaudeLocator, CodexLocator

    if isinstance(locator, ClaudeLocator):
        return "claude"
    if isinstance(locator, CodexLocator):
        return "codex"
    if locator is not None and type(locator).__name__ in ("QwenLocator", "CopilotLocator"):
        # By name: their module is imported only by the providers that use it.
        return "qwen" if type(locator).__name__ == "QwenLocator" else "copilot"
    return None


def conversation_of(
    mapping: Mapping, config: Config | None, store: Store, transcript: Transcript | None = None
) -> Conversation | None:
    """The summary of ``mapping``'s transcript: the local file when ``transcript`` (where it is,
    as ``service_details.transcript_of`` found it) has one, else the store's copy; None when
    sessmap has neither or cannot read this agent's format."""
    from sessmap.service_details import locator_of, transcript_of

    locator = locator_of(mapping, config)
    provider = parser_for(locator)
    if provider is None or mapping.session_id is None:
        return None
    where = transcript if transcript is not None else transcript_of(mapping, config, store, full=False)
    if where.path is not None:
        return _summarize_file(where.path, provider)
    lines = stored_lines(store, mapping.session_id, locator, mapping.cwd)
    if lines is None:
        return None
    from sessmap.transcripts.summary import summarize

    return Conversation(summarize(lines, provider), "store", None)


def _summarize_file(path: Path, provider: str) -> Conversation:
    from sessmap.transcripts.summary import Summary, summarize

    try:
        # Through the summary cache: an agent only appends, so only the new lines are read.
        return Conversation(summarize(path, provider, cache=True), "local", path)
    except OSError as error:
        return Conversation(
            Summary(notes=[f"could not read {path}: {error.strerror or error}"]), "local", path
        )


def stored_lines(
    store: Store, session_id: str, locator: Locator | None, cwd: str | None
) -> Iterator[Line] | None:
    """The store's copy of a session's main transcript as ``Line``s, or None when it has none."""
    from sessmap.stores.base import TranscriptKey
    from sessmap.transcripts.entries import lines_of

    projects = store.transcripts.projects_of(session_id)
    if not projects:
        return None
    preferred = locator.project_key(cwd) if locator is not None else None
    project = preferred if preferred in projects else projects[0]
    key = TranscriptKey(project, session_id)
    if store.transcripts.info(key) is None:
        return None
    return lines_of(store.transcripts.read(key))


# --- list --fields title,messages,size,tokens ---------------------------------------------------

CONVERSATION_FIELDS = ("title", "messages", "size", "tokens")


class ConversationFields:
    """The computed ``list`` fields of each mapping, read from its transcript on first use and
    kept for the few rows a table looks at twice (to size its columns, then to print them)."""

    KEEP = 64

    def __init__(self, store: Store, config: Config | None) -> None:
        self.store = store
        self.config = config
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, mapping: Mapping) -> dict[str, Any]:
        key = (mapping.agent, mapping.key)
        found = self._cache.get(key)
        if found is None:
            found = self._compute(mapping)
            if len(self._cache) >= self.KEEP:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = found
        return found

    def _compute(self, mapping: Mapping) -> dict[str, Any]:
        conversation = conversation_of(mapping, self.config, self.store)
        if conversation is None:
            return dict.fromkeys(CONVERSATION_FIELDS)
        summary = conversation.summary
        tokens = summary.tokens
        return {
            "title": summary.title,
            "messages": summary.messages,
            "size": summary.size,
            "tokens": None if tokens is None else {"input": tokens.input, "output": tokens.output},
        }


# --- du ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskUse:
    """The bytes one mapping's sessions take: the agent's local files (current session and the
    ``history`` ones still on disk, side files included) and the store's copies."""

    mapping: Mapping
    local: int
    stored: int
    files: int
    sessions: int

    @property
    def total(self) -> int:
        return self.local + self.stored

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.mapping.key,
            "agent": self.mapping.agent,
            "provider": self.mapping.provider,
            "session_id": self.mapping.session_id,
            "local": self.local,
            "stored": self.stored,
            "total": self.total,
            "files": self.files,
            "sessions": self.sessions,
        }


def disk_use(mappings: Iterable[Mapping], config: Config | None, store: Store) -> list[DiskUse]:
    """Each mapping's disk use, largest first (ties by key): sizes from ``stat`` and the store's
    transcript info, nothing parsed."""
    rows = [_disk_use(mapping, config, store) for mapping in mappings]
    rows.sort(key=lambda row: (-row.total, row.mapping.key, row.mapping.agent))
    return rows


def _disk_use(mapping: Mapping, config: Config | None, store: Store) -> DiskUse:
    from sessmap.service_details import locator_of

    locator = locator_of(mapping, config)
    local = stored = files = sessions = 0
    for session_id in _session_ids(mapping):
        found_any = False
        for path in _local_files(locator, mapping, session_id):
            size = _size(path)
            if size is not None:
                local, files, found_any = local + size, files + 1, True
        stored_size = _stored_size(store, session_id)
        stored += stored_size
        sessions += 1 if found_any or stored_size else 0
    return DiskUse(mapping, local, stored, files, sessions)


def _session_ids(mapping: Mapping) -> list[str]:
    ids = [mapping.session_id] if mapping.session_id else []
    ids += [entry.session_id for entry in mapping.history if entry.session_id not in ids]
    return ids


def _local_files(locator: Locator | None, mapping: Mapping, session_id: str) -> Iterator[Path]:
    if locator is None:
        return
    from sessmap.transcripts.presence import this_host

    homes: list[Path] = []
    if mapping.agent_home and mapping.host in (None, this_host()):
        homes.append(Path(mapping.agent_home))
    here = locator.home(None)
    if here not in homes:
        homes.append(here)
    for home in homes:
        found = locator.find(home, session_id, mapping.cwd)
        if found is not None:
            yield found.path
            for _, side in locator.side_files(found.path):
                yield side
            return


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _stored_size(store: Store, session_id: str) -> int:
    from sessmap.stores.base import TranscriptKey

    total = 0
    transcripts = store.transcripts
    for project in transcripts.projects_of(session_id):
        for subpath in ("", *transcripts.subpaths(project, session_id)):
            info = transcripts.info(TranscriptKey(project, session_id, subpath))
            total += info.size if info is not None else 0
    return total
