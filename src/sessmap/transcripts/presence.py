"""What sessmap can prove about a session's transcript (SPEC §7, "stale means stale").

A transcript is *gone* only when sessmap saw it before, at the recorded ``agent_home`` on the
recorded ``host``, and now that folder is here, readable, and holds no such file, and the
store holds no copy. Anything sessmap cannot see (another host, another agent home, a wrapper
that moves the agent's files, a mapping no run has recorded yet) is *unknown*, never gone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from sessmap.stores.base import TranscriptStore
    from sessmap.transcripts.locate import Found, Locator

State = Literal["local", "archived", "stored", "gone", "unknown"]


class Presence(NamedTuple):
    """``path``: the local file when there is one. ``reason``: why it is unknown or gone."""

    state: State
    path: Path | None = None
    reason: str | None = None

    @property
    def resumable(self) -> bool | None:
        """True: the agent can resume it (here or after a restore); False: proven gone."""
        if self.state in ("local", "stored"):
            return True
        return False if self.state == "gone" else None


def this_host() -> str:
    # What gethostname() returns, without loading socket on exec's path.
    return os.uname().nodename


class Sighting(NamedTuple):
    """Where a mapping's session last ran, as recorded (both None before any recorded run)."""

    session_id: str
    cwd: str | None
    host: str | None
    agent_home: str | None


def presence(
    sighting: Sighting,
    locator: Locator,
    transcripts: TranscriptStore | None,
    *,
    look_in: Path | None = None,
) -> Presence:
    """Where the transcript is, as far as this host can tell.

    ``look_in``: an agent home to search besides the recorded one (exec's own, which is where
    the agent about to run will look). ``transcripts``: the store's copy, if the store keeps one.
    """
    here = this_host()
    on_this_host = sighting.host is None or sighting.host == here
    homes = [Path(sighting.agent_home)] if sighting.agent_home and on_this_host else []
    if look_in is not None and look_in not in homes:
        homes.append(look_in)
    for home in homes:
        found = _find(locator, home, sighting)
        if found is not None:
            return Presence("archived" if found.archived else "local", found.path)
    if transcripts is not None and transcripts.projects_of(sighting.session_id):
        return Presence("stored")
    return _absent(sighting, here, locator)


def _find(locator: Locator, home: Path, sighting: Sighting) -> Found | None:
    return locator.find(home, sighting.session_id, sighting.cwd)


def _absent(sighting: Sighting, here: str, locator: Locator) -> Presence:
    if sighting.host is None or sighting.agent_home is None:
        return Presence("unknown", reason="it may live in another agent home: no run recorded one")
    if sighting.host != here:
        return Presence("unknown", reason=f"it ran on another host ({sighting.host})")
    home = Path(sighting.agent_home)
    if not is_dir(home):
        return Presence("unknown", reason=f"its agent home {home} is missing here")
    for folder in (home, *locator.searched(home, sighting.cwd)):
        if is_dir(folder) and not os.access(folder, os.R_OK | os.X_OK):
            return Presence("unknown", reason=f"{folder} is not readable here")
    return Presence("gone", reason=f"its transcript is gone from {home}")


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long to look up is no folder sessmap can read
        return False
