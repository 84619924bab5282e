"""The Provider protocol: what sessmap needs to know about one agent CLI.

A provider turns the user's command (``claude -p "hi"``) into the command for one step of a
session (start, resume or fork), says which of the agent's output streams carry something
sessmap must read (an id the CLI chose, or "no such session"), and reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol, runtime_checkable

from sessmap.errors import InvalidInput
from sessmap.validation import validate_session_id

if TYPE_CHECKING:
    import re

    from sessmap.transcripts.locate import Locator

StepKind = Literal["new", "resume", "fork"]


class Step(NamedTuple):
    """What one run asks of the agent's sessions.

    ``new``: start a session, with ``session_id`` if sessmap chose it (None: the CLI picks one).
    ``resume``: continue ``session_id``. ``fork``: copy ``parent_id`` into a new session,
    ``session_id`` if sessmap chose it.
    """

    kind: StepKind
    session_id: str | None = None
    parent_id: str | None = None

    @classmethod
    def new(cls, session_id: str | None = None) -> Step:
        return cls("new", session_id)

    @classmethod
    def resume(cls, session_id: str) -> Step:
        return cls("resume", session_id)

    @classmethod
    def fork(cls, parent_id: str, session_id: str | None = None) -> Step:
        return cls("fork", session_id, parent_id)

    @property
    def creates_session(self) -> bool:
        return self.kind != "resume"


class OutputWatch(NamedTuple):
    """Which of the agent's output streams sessmap must read, and how badly.

    ``required``: nothing but the output tells (no transcript file to look at), so the stream is
    read even when it is a terminal, at the cost of the agent seeing a pipe there.
    """

    stdout: bool = False
    stderr: bool = False
    required: bool = False


NO_WATCH = OutputWatch()


class AgentOutput(NamedTuple):
    """What sessmap read of one run's output (possibly only its head and tail)."""

    stdout: bytes = b""
    stderr: bytes = b""

    def text(self) -> str:
        return (self.stdout + b"\n" + self.stderr).decode("utf-8", "replace")


class Provider(Protocol):
    name: str

    chooses_id: bool
    """True when sessmap may choose the session id (claude ``--session-id``); False when the
    CLI picks it and sessmap captures it (codex), so a new mapping starts ``pending``."""

    chooses_fork_id: bool
    """The same for a fork's new session: qwen takes a chosen id for a new session, but picks
    a fork's id itself (captured from its output)."""

    @property
    def locator(self) -> Locator | None:
        """Where the agent keeps transcripts (None: sessmap cannot know, as for templates)."""
        ...

    @property
    def opens_session_file(self) -> bool:
        """A run that creates a session holds that session's file open (codex's rollout): the
        only proof of which session a run created when its output says nothing sessmap reads."""
        ...

    def prepare_command(self, command: Sequence[str], extra_args: Sequence[str] = ()) -> list[str]:
        """Check the user's non-empty command (``InvalidInput`` if it already picks a session, or is not a
        command this provider can manage) and add ``extra_args`` (a profile's) where options go."""
        ...

    def build_argv(self, command: Sequence[str], step: Step) -> list[str]:
        """The command to run for ``step``; ``command`` went through ``prepare_command``."""
        ...

    def fork_refusal(self) -> InvalidInput | None:
        """Why this agent cannot fork a session (None: it can), so ``fork`` refuses at once
        rather than at the fork's first run."""
        ...

    def watch(self, step: Step) -> OutputWatch:
        """Output streams to read during ``step`` (to capture an id or notice a stale session)."""
        ...

    def session_file_id(self, path: str) -> str | None:
        """The id of the session whose file ``path`` is (a file the run held open), or None."""
        ...

    def captured_id(self, output: AgentOutput) -> str | None:
        """The id of the session this run created or joined, as the output tells it."""
        ...

    def is_stale(self, output: AgentOutput) -> bool:
        """The output says the session to resume or fork does not exist."""
        ...


@runtime_checkable
class ChecksVersion(Protocol):
    """A provider some of whose steps need a newer CLI than others do (codex ``exec fork``)."""

    def check_version(self, command: Sequence[str], step: Step, env: Mapping[str, str], cwd: str) -> None:
        """Raise ``AgentTooOld`` if the CLI is too old for ``step``. Cheap for a step that
        needs nothing new: the CLI is asked its version only when the step depends on it."""
        ...


class SessionFlags(NamedTuple):
    """A CLI's options that pick a session, which sessmap adds itself and so refuses in a
    command: the spellings (``--resume``, ``-r``, also as ``--flag=value``), and, for a CLI
    whose short options cluster and take attached values (commander.js, yargs), the session
    letters and the short options that take no value (a cluster goes on past those only)."""

    flags: frozenset[str]
    short_letters: frozenset[str] = frozenset()
    boolean_letters: frozenset[str] = frozenset()

    def first_in(self, args: Sequence[str]) -> str | None:
        """The first session option among ``args`` before a ``--``, as the user wrote it."""
        return session_flag_in(args, self.flags) or short_session_flag(
            args, self.short_letters, self.boolean_letters
        )


def with_extra_args(
    provider: str, command: Sequence[str], extra_args: Sequence[str], flags: SessionFlags
) -> list[str]:
    """``command`` with ``extra_args`` right after the program; ``reject_session_flag``'s error
    if either picks a session."""
    args = [*extra_args, *command[1:]]
    flag = flags.first_in(args)
    if flag is not None:
        raise reject_session_flag(provider, flag)
    return [command[0], *args]


def after_program(command: Sequence[str], *words: str) -> list[str]:
    """``words`` right after the program name: no option before them can take one as its value."""
    return [command[0], *words, *command[1:]]


def session_flag_in(args: Sequence[str], flags: frozenset[str]) -> str | None:
    """The first of ``flags`` (also as ``--flag=value``) among ``args`` before a ``--``."""
    for arg in args:
        if arg == "--":
            return None
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        if name in flags:
            return name
    return None


def short_session_flag(args: Sequence[str], session: frozenset[str], boolean: frozenset[str]) -> str | None:
    """``-r<id>``, ``-pc`` and the like, as commander.js reads short options (attached values,
    clusters): a ``session`` letter in a cluster, reached past ``boolean`` letters only (any
    other letter takes the rest of the argument as its value)."""
    for arg in args:
        if arg == "--":
            return None
        if len(arg) <= 2 or arg[0] != "-" or arg[1] == "-":
            continue
        for letter in arg[1:]:
            if letter in session:
                return f"-{letter}"
            if letter not in boolean:
                break
    return None


def id_in_output(pattern: re.Pattern[bytes], output: bytes) -> str | None:
    """The session id ``pattern``'s first group finds in ``output``, if it is a valid one."""
    match = pattern.search(output)
    if match is None:
        return None
    try:
        return validate_session_id(match.group(1).decode())
    except (InvalidInput, UnicodeDecodeError):
        return None


def reject_session_flag(provider: str, flag: str) -> InvalidInput:
    return InvalidInput(
        f"the {provider} command already picks a session ({flag}); sessmap adds session flags itself",
        reason="session-flag",
        hint="drop it",
        provider=provider,
        found=flag,
    )


def required_id(session_id: str | None, provider: str) -> str:
    """A step's id that the provider cannot do without (the runner always supplies it)."""
    if session_id is None:
        raise ValueError(f"{provider} needs a session id for this step")
    return session_id
