"""``show``: a mapping with its forks, where its transcript is (SPEC §7), and what it holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessmap.errors import InvalidInput
from sessmap.model import Mapping
from sessmap.service import require
from sessmap.stores.base import Query, Store

if TYPE_CHECKING:
    from sessmap.config import Config
    from sessmap.service_conversation import Conversation
    from sessmap.transcripts.locate import Locator


@dataclass(frozen=True, slots=True)
class Transcript:
    """Where a mapping's transcript is, as far as this host can tell (SPEC §7).

    ``state``: ``local`` (the agent's file is here), ``archived`` (codex archived it),
    ``stored`` (only the store's copy), ``gone`` (proven gone), ``unknown`` (``reason`` says why).
    """

    path: Path | None
    state: str
    reason: str | None = None
    stored: bool = False
    host: str | None = None
    """The host the local file is on (this one), else the host the session last ran on."""
    agent_home: str | None = None
    """The agent home holding the local file, else the one recorded for the last run."""

    @property
    def exists(self) -> bool:
        return self.state in ("local", "archived")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "exists": self.exists,
            "state": self.state,
            "archived": self.state == "archived",
            "stored": self.stored,
            "reason": self.reason,
            "host": self.host,
            "agent_home": self.agent_home,
        }


def transcript_of(mapping: Mapping, config: Config | None, store: Store, *, full: bool = True) -> Transcript:
    """Where the agent keeps the mapping's transcript; ``full`` also asks whether the store
    holds a copy when the file is here (``show``), which pruning has no need to know."""
    from sessmap.transcripts.presence import Sighting, presence

    locator = locator_of(mapping, config)
    if locator is None or mapping.session_id is None:
        why = (
            "the mapping has no session yet" if locator else "sessmap does not know where this agent keeps it"
        )
        return Transcript(None, "unknown", why)
    sighting = Sighting(mapping.session_id, mapping.cwd, mapping.host, mapping.agent_home)
    here = locator.home(None)
    found = presence(sighting, locator, store.transcripts, look_in=here)
    stored = found.state == "stored" or (full and bool(store.transcripts.projects_of(mapping.session_id)))
    host, home = mapping.host, mapping.agent_home
    if found.path is not None:
        from sessmap.transcripts.presence import this_host

        host, home = this_host(), _home_holding(found.path, mapping.agent_home, here)
    return Transcript(found.path, found.state, found.reason, stored, host, home)


def _home_holding(path: Path, recorded: str | None, here: Path) -> str | None:
    for home in (Path(recorded) if recorded else None, here):
        if home is not None and path.is_relative_to(home):
            return str(home)
    return recorded


def locator_of(mapping: Mapping, config: Config | None) -> Locator | None:
    return locator_for(mapping.provider, config)


def locator_for(provider: str, config: Config | None) -> Locator | None:
    from sessmap.providers import get_provider

    try:
        return get_provider(provider, config).locator
    except InvalidInput:  # a provider since removed from the config
        return None


@dataclass(frozen=True, slots=True)
class Details:
    """What ``show`` prints: the mapping (its history included), its forks and its transcript."""

    mapping: Mapping
    forks: list[Mapping]
    transcript: Transcript
    conversation: Conversation | None = None
    """What the transcript holds (title, prompts, counts, tokens); None when sessmap has no
    transcript to read or cannot read this agent's format."""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.mapping.to_dict(),
            "forks": [
                {"agent": f.agent, "key": f.key, "session_id": f.session_id, "state": f.state}
                for f in self.forks
            ],
            "transcript": self.transcript.to_dict(),
            "conversation": self.conversation.to_dict() if self.conversation else None,
        }


def describe(store: Store, agent: str, key: str, config: Config | None) -> Details:
    mapping = require(store, agent, key)
    forks = list(store.query(Query(parent=(mapping.agent, mapping.key), sort="key")))
    transcript = transcript_of(mapping, config, store)
    from sessmap.service_conversation import conversation_of

    conversation = conversation_of(mapping, config, store, transcript)
    return Details(mapping=mapping, forks=forks, transcript=transcript, conversation=conversation)
