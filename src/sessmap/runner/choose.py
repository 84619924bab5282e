"""Choosing the session step of one ``exec`` run: start, resume or fork, and what to do with a
session proven gone (``on_stale``). The decisions themselves are pure (steps.py); this half of
``Run`` gathers what they need: the mapping's transcript, a fork's parent, the config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sessmap.config import Config, OnStale
from sessmap.errors import StaleSession
from sessmap.model import Mapping
from sessmap.providers import Provider, Step
from sessmap.runner import steps
from sessmap.runner.request import ExecRequest, Notify
from sessmap.stores.base import Store

if TYPE_CHECKING:
    from sessmap.transcripts.presence import Presence
    from sessmap.transcripts.sync import TranscriptSync


def new_session_id() -> str:
    # uuid loads only here: a resumed session needs no new id.
    import uuid

    return str(uuid.uuid4())


class StepChooser:
    """Run's base: choosing the step. The attributes are set by ``Run.__init__``."""

    request: ExecRequest
    store: Store
    config: Config
    notify: Notify
    mapping: Mapping | None
    provider: Provider
    command: list[str]
    cwd: str
    home: Path | None
    sync: TranscriptSync | None
    stale_id: str | None

    @property
    def on_stale(self) -> OnStale:
        return self.request.on_stale or self.config.on_stale

    def choose_step(self) -> Step:
        """The step for this run; a session proven gone is dealt with here (``on_stale``)."""
        mapping, new = self.mapping, self.request.new
        found: Presence | None = None
        parent: steps.ForkParent | None = None
        if mapping is not None and not new:
            if mapping.session_id:
                found = self.presence_of(mapping, mapping.session_id)
            if steps.needs_parent(mapping, found):
                parent = self.fork_parent(mapping)
        decision = steps.choose(
            mapping,
            new=new,
            chooses_id=self.provider.chooses_id,
            chooses_fork_id=self.provider.chooses_fork_id,
            found=found,
            parent=parent,
            on_stale=self.on_stale,
            new_id=new_session_id,
        )
        return self.stale(decision) if isinstance(decision, steps.Stale) else decision

    def fork_parent(self, mapping: Mapping) -> steps.ForkParent:
        """The session a pending fork copies, and what is known of its transcript."""
        parent = self.store.get(mapping.parent.agent, mapping.parent.key) if mapping.parent else None
        parent_id = steps.parent_session_id(mapping, parent)
        if parent_id is None:
            return steps.ForkParent(None)
        where = parent if parent is not None and parent.session_id == parent_id else mapping
        return steps.ForkParent(parent_id, self.presence_of(where, parent_id))

    def presence_of(self, recorded: Mapping, session_id: str) -> Presence:
        """What can be proven of ``session_id``'s transcript, which ``recorded`` last ran."""
        from sessmap.transcripts.presence import Presence, Sighting, presence

        locator = self.provider.locator
        if locator is None:
            return Presence("unknown", reason=f"sessmap does not know where {self.provider.name} keeps it")
        sighting = Sighting(session_id, self.cwd, recorded.host, recorded.agent_home)
        transcripts = self.sync.transcripts if self.sync is not None else None
        return presence(sighting, locator, transcripts, look_in=self.home)

    def stale(self, gone: steps.Stale) -> Step:
        """Drop a gone session and start a new one (``on_stale`` fresh), or raise (fail)."""
        what = f"session {gone.session_id}" if gone.session_id else "the session"
        message = f"{what} of thread {self.request.key!r} can no longer be resumed: {gone.why}"
        if gone.then is None:
            raise StaleSession(
                message,
                reason="stale-session",
                agent=self.request.agent,
                key=self.request.key,
                session_id=gone.session_id,
            )
        self.notify(f"{message}; starting a new session")
        self.stale_id = gone.session_id
        return gone.then

    def argv(self, step: Step) -> list[str]:
        return self.provider.build_argv(self.command, step)
