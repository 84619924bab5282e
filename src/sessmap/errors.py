"""Exception types and exit codes. No Typer, no Rich: the CLI maps these to output."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes (SPEC §6)."""

    OK = 0
    ERROR = 1  # operational: store unreachable or corrupt, I/O error, stale session (on_stale fail)
    USAGE = 2  # usage error or invalid input
    NOT_FOUND = 3  # no such mapping
    CONFLICT = 4  # mapping exists, provider mismatch
    BUSY = 75  # thread busy (EX_TEMPFAIL)
    SESSMAP_FAILED = 125  # exec: sessmap itself failed, not the agent (as env, timeout, docker run)
    CANNOT_EXECUTE = 126  # exec: the agent command is not executable (shell convention)
    COMMAND_NOT_FOUND = 127  # exec: the agent command is not found (shell convention)
    INTERRUPTED = 130  # Ctrl-C


class SessmapError(Exception):
    """Base class: every error sessmap raises on purpose. ``str(err)`` is the one-line message.

    It names no CLI flag: a library caller has none. ``reason`` is a stable code for the case
    (``"cwd-mismatch"``) and ``data`` what it is about (``agent``, ``key``, ``path``,
    ``expected``, ``found``…); the CLI's table (``sessmap.cli.errors``) turns them into the hint
    a user at a shell needs. ``hint`` is a next step that holds for every caller.
    """

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(
        self, message: str, *, reason: str | None = None, hint: str | None = None, **data: object
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.hint = hint
        self.data = data

    @property
    def line(self) -> str:
        """The message and its hint, as one line says them: ``…; try: sessmap list``."""
        return f"{self}; {self.hint}" if self.hint else str(self)


class InvalidInput(SessmapError):
    """Bad key, agent name, duration, label, URL, config value or command line."""

    exit_code = ExitCode.USAGE


class NotFound(SessmapError):
    """No mapping for (agent, key)."""

    exit_code = ExitCode.NOT_FOUND


class Conflict(SessmapError):
    """The mapping exists already, or a provider does not match."""

    exit_code = ExitCode.CONFLICT


class Busy(SessmapError):
    """Another run holds the thread (or it gave up waiting its turn)."""

    exit_code = ExitCode.BUSY

    def __init__(self, agent: str, key: str) -> None:
        message = f"thread {key!r} (agent {agent}) is busy: another exec is running"
        super().__init__(message, reason="busy", agent=agent, key=key)
        self.agent, self.key = agent, key


class Superseded(SessmapError):
    """Another run started on the thread after this one did (this run's lock was lost), so
    this run's end-of-run write is refused: the fence of the mapping's ``generation``."""


class StoreError(SessmapError):
    """The store is unreachable, corrupt, foreign, of a newer schema, or an I/O error happened."""

    exit_code = ExitCode.ERROR


class ExecFailed(SessmapError):
    """Inside ``exec``, any failure of sessmap's own (store, config, usage, conflict, stale):
    exit 125, so it cannot be mistaken for the agent's status."""

    exit_code = ExitCode.SESSMAP_FAILED

    @classmethod
    def wrapping(cls, err: SessmapError) -> ExecFailed:
        return cls(str(err), reason=err.reason, hint=err.hint, **err.data)


class AgentTooOld(SessmapError):
    """The agent CLI is older than what a step needs of it (codex ``exec fork``: 0.148.0)."""

    exit_code = ExitCode.ERROR

    def __init__(self, provider: str, feature: str, found: str, needed: str) -> None:
        message = f"{provider} {found} cannot {feature}: that needs {provider} {needed} or newer"
        hint = f"upgrade {provider}"
        super().__init__(
            message, reason="agent-too-old", hint=hint, provider=provider, found=found, needed=needed
        )
        self.provider, self.feature, self.found, self.needed = provider, feature, found, needed


class StaleSession(SessmapError):
    """The mapped session can no longer be resumed and ``on_stale`` is ``fail``."""

    exit_code = ExitCode.ERROR
