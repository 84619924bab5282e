"""What one ``exec`` is asked to do, and what it reports (the library's public types)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Mapping as EnvMapping
from datetime import timedelta
from typing import Any, Literal, NamedTuple

from sessmap.config import OnStale
from sessmap.model import DEFAULT_AGENT, Mapping
from sessmap.providers import Step

Action = Literal["started", "resumed", "forked", "stale-restarted"]

Notify = Callable[[str], None]
"""Receives one-line messages for the user (a stale session dropped, an id not learned)."""


class ExecRequest(NamedTuple):
    """Everything one ``exec`` needs, as explicit values (the CLI builds it from its options).

    ``command``: the agent command line (``["claude", "-p", "hi"]``), without session flags.
    ``provider``: overrides the agent profile's and the one named by ``command[0]``.
    ``cwd``: where a thread's agent runs, recorded on its first run (default: the profile's
    ``cwd``, else the current directory); later runs always use the recorded one.
    ``new``: start a fresh session, replacing the mapping.
    ``no_wait``: fail with ``Busy`` at once if another run holds the thread; otherwise wait up
    to ``wait_timeout`` (default: the config's ``wait_timeout``, else for ever).
    ``on_stale``: ``fresh`` or ``fail`` when the session is gone (default: the config's).
    ``env``: the agent's environment (default: this process's).
    ``stdin``/``stdout``/``stderr``: file descriptors for the agent (default: this process's).
    ``capture_output``: collect stdout and stderr into the result instead of passing them on.
    ``forward_signals``: pass SIGINT/SIGTERM/SIGHUP/SIGQUIT that sessmap receives on to the
    agent while it runs (main thread only; sessmap keeps running until the agent exits).
    """

    key: str
    command: Sequence[str]
    agent: str = DEFAULT_AGENT
    provider: str | None = None
    cwd: str | None = None
    new: bool = False
    no_wait: bool = False
    wait_timeout: timedelta | None = None
    on_stale: OnStale | None = None
    env: EnvMapping[str, str] | None = None
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    capture_output: bool = False
    forward_signals: bool = True


class ExecPlan(NamedTuple):
    """What a run would do (``--dry-run``): the argv, where, and which session step."""

    argv: tuple[str, ...]
    cwd: str
    provider: str
    step: Step


class ExecResult(NamedTuple):
    """How a run went. ``exit_code`` is the agent's (128+N if a signal N killed it)."""

    exit_code: int
    argv: tuple[str, ...]
    cwd: str
    provider: str
    mapping: Mapping | None
    """The mapping as recorded after the run (None if it could not be recorded)."""
    key: str
    agent: str
    action: Action
    """``started`` (a new session), ``resumed``, ``forked``, or ``stale-restarted`` (the
    mapped session was gone, a new one took its place: the thread lost its context)."""
    session_id: str | None
    """The session the run used (None when the id of a new one could not be learned)."""
    previous_session_id: str | None = None
    """The session the thread held before, when this run replaced it (stale, ``new``)."""
    error: str | None = None
    """What went wrong in sessmap's own bookkeeping after the agent ran (the turn not recorded)."""
    stdout: bytes | None = None
    stderr: bytes | None = None
    """With ``capture_output``: what the agent wrote (of the last attempt)."""

    @property
    def stale_session_id(self) -> str | None:
        """The session found gone and replaced during this run, if any."""
        return self.previous_session_id if self.action == "stale-restarted" else None

    def status(self) -> dict[str, Any]:
        """The ``--status`` report (SPEC §4)."""
        return {
            "key": self.key,
            "agent": self.agent,
            "session_id": self.session_id,
            "previous_session_id": self.previous_session_id,
            "action": self.action,
            "turns": self.mapping.turns if self.mapping else None,
            "exit": self.exit_code,
            "error": self.error,
        }
