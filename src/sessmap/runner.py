"""``sessmap exec`` as a library: run an agent CLI on a thread's own session.

One run, in order: take the thread's lock (one run per ``(agent, key)`` across processes),
read the mapping, choose the session step (start, resume or fork) and record a new session
before the agent starts, run the agent in the mapping's working directory with stdin, stdout,
stderr and the terminal passed through, then record the turn.

Library use (a bot)::

    from sessmap import open_store
    from sessmap.runner import ExecRequest, run_exec

    with open_store("sqlite:/var/lib/bot/sessions.db") as store:
        result = run_exec(
            ExecRequest(key="slack:C024BE91L:1700000000.000100",
                        command=["claude", "-p", "fix the build"],
                        cwd="/srv/app", capture_output=True),
            store,
        )
    print(result.exit_code, result.session_id, result.stdout.decode())

Errors are ``SessmapError`` subclasses: ``Busy`` (thread busy), ``StaleSession`` (the session
is gone and ``on_stale`` is ``fail``), ``InvalidInput`` (bad command line), ``Conflict``
(another provider or directory is bound to the thread), ``AgentNotFound`` / ``AgentNotExecutable``.
Nothing here prints: messages for the user go to the ``notify`` callback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Mapping as EnvMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO

from sessmap.config import AgentProfile, Config, OnStale
from sessmap.errors import Conflict, ExitCode, InvalidInput, NotFound, SessmapError, StaleSession
from sessmap.model import (
    DEFAULT_AGENT,
    Mapping,
    now,
    validate_agent,
    validate_key,
    validate_provider,
)
from sessmap.providers import BUILTIN_PROVIDERS, AgentOutput, OutputWatch, Provider, Step, get_provider
from sessmap.stores.base import Store

# uuid and shutil load where they are used: a resumed session needs no new id, and a command
# given by path needs no PATH search (each costs `sessmap exec` a few ms of start-up).

__all__ = [
    "AgentNotExecutable",
    "AgentNotFound",
    "ExecPlan",
    "ExecRequest",
    "ExecResult",
    "Notify",
    "plan_exec",
    "run_exec",
]

Notify = Callable[[str], None]
"""Receives one-line messages for the user (a stale session dropped, an id not learned)."""

# What sessmap keeps of a watched stream to read ids and errors from: its head and its tail.
_SCAN_HEAD = 1 << 20
_SCAN_TAIL = 64 << 10
_READ_SIZE = 64 << 10
# After the agent exits, a process it left behind may hold its output open; stop reading once
# the output has been quiet this long, rather than waiting for that process to end.
_AFTER_EXIT_QUIET = 1.0
_POLL_INTERVAL = 0.1


class AgentNotFound(SessmapError):
    """The agent command does not exist (exit 127, as a shell would)."""

    exit_code = ExitCode.COMMAND_NOT_FOUND


class AgentNotExecutable(SessmapError):
    """The agent command exists but cannot be run (exit 126, as a shell would)."""

    exit_code = ExitCode.CANNOT_EXECUTE


@dataclass(frozen=True, slots=True)
class ExecRequest:
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


@dataclass(frozen=True, slots=True)
class ExecPlan:
    """What a run would do (``--dry-run``): the argv, where, and which session step."""

    argv: tuple[str, ...]
    cwd: str
    provider: str
    step: Step


@dataclass(frozen=True, slots=True)
class ExecResult:
    """How a run went. ``exit_code`` is the agent's (128+N if a signal N killed it)."""

    exit_code: int
    argv: tuple[str, ...]
    cwd: str
    provider: str
    mapping: Mapping | None
    """The mapping as recorded after the run (None if it was removed meanwhile)."""
    stale_session_id: str | None = None
    """The session found gone and replaced by a new one during this run, if any."""
    stdout: bytes | None = None
    stderr: bytes | None = None
    """With ``capture_output``: what the agent wrote (of the last attempt)."""

    @property
    def session_id(self) -> str | None:
        return self.mapping.session_id if self.mapping else None


def plan_exec(request: ExecRequest, store: Store, config: Config | None = None) -> ExecPlan:
    """What ``run_exec`` would run now, changing nothing (``--dry-run``). A new session's id
    is drawn here and not kept; ``StaleSession`` if the session is gone and on_stale is fail."""
    session = _Session.open(request, store, config, notify=_ignore)
    step = session.choose_step()
    return ExecPlan(tuple(session.argv(step)), session.cwd, session.provider.name, step)


def run_exec(
    request: ExecRequest, store: Store, config: Config | None = None, notify: Notify | None = None
) -> ExecResult:
    """Run the agent for one turn of the thread, holding the thread's lock throughout."""
    validate_key(request.key)
    validate_agent(request.agent)
    config = config or _default_config()
    with store.thread_lock(request.agent, request.key, _lock_timeout(request, config)):
        # Read inside the lock: two runs racing on a new thread must agree on one session.
        session = _Session.open(request, store, config, notify or _ignore)
        return session.run()


def _new_session_id() -> str:
    import uuid

    return str(uuid.uuid4())


def _ignore(message: str) -> None:
    pass


def _default_config() -> Config:
    return Config(path=Path(os.devnull))


def _lock_timeout(request: ExecRequest, config: Config) -> float | None:
    if request.no_wait:
        return 0.0
    wait = request.wait_timeout if request.wait_timeout is not None else config.wait_timeout
    return None if wait is None else wait.total_seconds()


@dataclass
class _Session:
    """One thread's run: the mapping as read, and what was resolved around it."""

    request: ExecRequest
    store: Store
    config: Config
    notify: Notify
    mapping: Mapping | None
    provider: Provider
    command: list[str]
    cwd: str
    stale_id: str | None = None
    attempts: list[Step] = field(default_factory=list)

    @classmethod
    def open(cls, request: ExecRequest, store: Store, config: Config | None, notify: Notify) -> _Session:
        validate_key(request.key)
        validate_agent(request.agent)
        config = config or _default_config()
        if not request.command:
            raise InvalidInput(
                "no agent command given", hint="put it after --: sessmap exec KEY -- claude -p hi"
            )
        profile = config.agents.get(request.agent, AgentProfile())
        mapping = store.get(request.agent, request.key)
        provider = get_provider(_provider_name(request, profile, mapping), config, request.env)
        command = provider.prepare_command(request.command, profile.args)
        cwd = _working_directory(request, profile, mapping)
        return cls(request, store, config, notify, mapping, provider, command, cwd)

    # -- choosing the step ---------------------------------------------------------------

    @property
    def on_stale(self) -> OnStale:
        return self.request.on_stale or self.config.on_stale

    def new_step(self, session_id: str | None = None) -> Step:
        if session_id is None and self.provider.chooses_id:
            session_id = _new_session_id()
        return Step.new(session_id)

    def choose_step(self) -> Step:
        """The step for this run; a session found gone is dealt with here (``on_stale``)."""
        mapping = self.mapping
        if mapping is None or self.request.new:
            return self.new_step()
        if mapping.state == "pending":
            if mapping.session_id and self.exists(mapping.session_id):
                return Step.resume(mapping.session_id)
            return self.new_step(mapping.session_id)
        if mapping.state == "pending-fork":
            return self.fork_step(mapping)
        session_id = mapping.session_id
        assert session_id is not None  # active mappings always have one (Mapping.validate)
        exists = self.provider.session_exists(session_id, self.cwd)
        if exists is not False:
            return Step.resume(session_id)
        if mapping.turns == 0 and self.provider.chooses_id:
            return Step.new(session_id)  # chosen by `create`, never started
        return self.stale(session_id, "its transcript is gone")

    def fork_step(self, mapping: Mapping) -> Step:
        if mapping.session_id and self.exists(mapping.session_id):
            return Step.resume(mapping.session_id)  # forked by a run that died before recording
        parent_id = mapping.parent.session_id if mapping.parent else None
        if parent_id is None and mapping.parent is not None:
            parent = self.store.get(mapping.parent.agent, mapping.parent.key)
            parent_id = parent.session_id if parent else None
        if parent_id is None:
            return self.stale(None, "the thread it was forked from has no session")
        if self.provider.session_exists(parent_id, self.cwd) is False:
            return self.stale(parent_id, "the session it was forked from is gone")
        session_id = mapping.session_id
        if session_id is None and self.provider.chooses_id:
            session_id = _new_session_id()
        return Step.fork(parent_id, session_id)

    def exists(self, session_id: str) -> bool:
        return self.provider.session_exists(session_id, self.cwd) is True

    def stale(self, session_id: str | None, why: str) -> Step:
        """Drop a gone session and start a new one (``on_stale`` fresh), or raise (fail)."""
        what = f"session {session_id}" if session_id else "the session"
        message = f"{what} of thread {self.request.key!r} can no longer be resumed: {why}"
        if self.on_stale == "fail":
            raise StaleSession(message, hint="start over with --new, or use --on-stale fresh")
        self.notify(f"{message}; starting a new session")
        self.stale_id = session_id
        return self.new_step()

    def argv(self, step: Step) -> list[str]:
        return self.provider.build_argv(self.command, step)

    # -- running -------------------------------------------------------------------------

    def run(self) -> ExecResult:
        step = self.choose_step()
        env = dict(self.request.env) if self.request.env is not None else None
        _check_runnable(self.command[0], self.cwd, env)
        started = now()
        with _SignalForwarder(self.request.forward_signals) as forwarder:
            outcome = self.attempt(step, env, forwarder)
            if step.kind != "new" and outcome.exit_code != 0 and self.provider.is_stale(outcome.output):
                stale_id = step.parent_id if step.kind == "fork" else step.session_id
                step = self.stale(stale_id, "the agent has no conversation with that id")
                outcome = self.attempt(step, env, forwarder)
        mapping = self.record_turn(step, outcome, started)
        return ExecResult(
            exit_code=outcome.exit_code,
            argv=tuple(outcome.argv),
            cwd=self.cwd,
            provider=self.provider.name,
            mapping=mapping,
            stale_session_id=self.stale_id,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
        )

    def attempt(self, step: Step, env: dict[str, str] | None, forwarder: _SignalForwarder) -> _Outcome:
        self.record_start(step)
        argv = self.argv(step)
        finder = None
        if step.creates_session and step.session_id is None:
            finder = self.provider.find_new_session(step, self.cwd)
        outcome = _spawn(argv, self.cwd, env, self.request, self.provider.watch(step), forwarder)
        if step.creates_session:
            outcome.new_session_id = self.provider.captured_id(outcome.output) or (
                finder() if finder else None
            )
        return outcome

    def record_start(self, step: Step) -> None:
        """Write what must survive sessmap dying during the run: the new mapping, a chosen id,
        the working directory."""
        request, mapping = self.request, self.mapping
        stamp = now()
        if mapping is None or (request.new and not self.attempts):
            labels = mapping.labels if mapping else {}
            fresh = Mapping(
                key=request.key,
                agent=request.agent,
                provider=self.provider.name,
                session_id=step.session_id,
                state="active" if step.session_id else "pending",
                cwd=self.cwd,
                created_at=stamp,
                updated_at=stamp,
                labels=labels,
            ).validate()
            self.store.insert(fresh, replace=mapping is not None)
            self.mapping = fresh
        elif not (step.kind == "resume" and mapping.state == "active" and mapping.cwd == self.cwd):
            self.mapping = self.store.update(request.agent, request.key, _started(step, self.cwd, stamp))
        self.attempts.append(step)

    def record_turn(self, step: Step, outcome: _Outcome, started: datetime) -> Mapping | None:
        session_id = outcome.new_session_id or step.session_id
        materialised = step.kind == "resume" or (
            session_id is not None
            and (outcome.exit_code == 0 or outcome.new_session_id is not None or self.exists(session_id))
        )
        if step.creates_session and session_id is None:
            self.notify(
                f"could not learn the id of the new {self.provider.name} session; "
                f"thread {self.request.key!r} stays pending"
            )

        def finish(mapping: Mapping) -> Mapping:
            changes: dict[str, object] = {
                "turns": mapping.turns + 1,
                "last_used_at": started,
                "last_exit": outcome.exit_code,
                "updated_at": now(),
            }
            if materialised:
                changes.update(state="active", session_id=session_id)
            elif step.kind == "new":
                changes.update(state="pending", session_id=None)  # never started: choose anew
            return mapping.evolve(**changes).validate()

        try:
            return self.store.update(self.request.agent, self.request.key, finish)
        except NotFound:
            self.notify(f"thread {self.request.key!r} was removed during the run; the turn is not recorded")
            return None


def _started(step: Step, cwd: str, stamp: datetime) -> Callable[[Mapping], Mapping]:
    def change(mapping: Mapping) -> Mapping:
        if step.kind == "new":
            state = "active" if step.session_id else "pending"
            return mapping.evolve(
                session_id=step.session_id, state=state, cwd=cwd, updated_at=stamp
            ).validate()
        if step.kind == "fork":
            # Stays pending-fork until the fork exists; the chosen id is kept for a retry.
            return mapping.evolve(session_id=step.session_id, cwd=cwd, updated_at=stamp).validate()
        return mapping.evolve(
            cwd=cwd, state="active", session_id=step.session_id, updated_at=stamp
        ).validate()

    return change


def _provider_name(request: ExecRequest, profile: AgentProfile, mapping: Mapping | None) -> str:
    """``--provider``, else the profile's, else the mapping's, else the command's name."""
    program = Path(request.command[0]).name
    named = request.provider or profile.provider
    if named is None and mapping is not None and not request.new:
        named = mapping.provider
        if program in BUILTIN_PROVIDERS and program != named:
            raise _provider_conflict(request, mapping.provider, program)
    if named is None:
        if program not in BUILTIN_PROVIDERS:
            raise InvalidInput(
                f"cannot tell which provider {request.command[0]!r} is",
                hint="pass --provider, or set provider in the agent's [agents.NAME] profile",
            )
        named = program
    validate_provider(named)
    if mapping is not None and not request.new and mapping.provider != named:
        raise _provider_conflict(request, mapping.provider, named)
    return named


def _provider_conflict(request: ExecRequest, mapped: str, wanted: str) -> SessmapError:
    return Conflict(
        f"thread {request.key!r} has a {mapped} session, not {wanted}",
        hint="use --new to start the thread over with the other provider, or another -a/--agent",
    )


def _working_directory(request: ExecRequest, profile: AgentProfile, mapping: Mapping | None) -> str:
    """The mapping's directory; on first use (or --new) --cwd, the profile's, or the current one."""
    asked = _real_directory(request.cwd) if request.cwd else None
    recorded = mapping.cwd if mapping is not None else None
    if (
        recorded is not None
        and asked is not None
        and asked != str(Path(recorded).resolve())
        and not request.new
    ):
        raise Conflict(
            f"thread {request.key!r} runs in {recorded}, not {asked}",
            hint="leave out --cwd, or use --new to start the thread over in the other directory",
        )
    cwd = asked or recorded
    if cwd is None:
        cwd = _real_directory(profile.cwd) if profile.cwd else str(Path.cwd())
    if not Path(cwd).is_dir():
        raise SessmapError(
            f"the working directory of thread {request.key!r}, {cwd}, does not exist",
            hint="create it, or start the thread over elsewhere with --new --cwd DIR",
        )
    return cwd


def _real_directory(path: str) -> str:
    # The agents key their session stores on the real path (what getcwd reports), so do we.
    resolved = str(Path(path).expanduser().resolve())
    if not Path(resolved).is_dir():
        raise InvalidInput(f"working directory {path!r} is not a directory")
    return resolved


def _check_runnable(program: str, cwd: str, env: EnvMapping[str, str] | None) -> None:
    """127/126 before anything is recorded, the way a shell would decide."""
    if "/" in program:
        path = Path(cwd, program)
        if not path.exists():
            raise AgentNotFound(f"{program}: no such file")
        if path.is_dir() or not os.access(path, os.X_OK):
            raise AgentNotExecutable(f"{program}: not executable")
        return
    import shutil

    search = (env if env is not None else os.environ).get("PATH", os.defpath)
    if shutil.which(program, path=search) is None:
        raise AgentNotFound(f"{program}: command not found")


# -- running the agent ---------------------------------------------------------------------


@dataclass
class _Outcome:
    argv: list[str]
    exit_code: int
    output: AgentOutput
    stdout: bytes | None = None  # everything, with capture_output
    stderr: bytes | None = None
    new_session_id: str | None = None


class _Stream:
    """One of the agent's output pipes: each chunk goes on at once and is kept for scanning."""

    def __init__(self, fd: int, target: int | None, keep_all: bool) -> None:
        self.fd = fd
        self.target = target  # None: collect only (capture_output)
        self.keep_all = keep_all
        self.head = bytearray()
        self.tail = bytearray()
        self.truncated = False

    def take(self, chunk: bytes) -> bool:
        """Pass ``chunk`` on and keep it; False once the reader of our own output has gone."""
        if self.keep_all or len(self.head) + len(chunk) <= _SCAN_HEAD:
            self.head += chunk
        else:
            room = max(0, _SCAN_HEAD - len(self.head))
            self.head += chunk[:room]
            self.tail = (self.tail + chunk[room:])[-_SCAN_TAIL:]
            self.truncated = True
        if self.target is None:
            return True
        try:
            _write_all(self.target, chunk)
        except BrokenPipeError:
            return False
        return True

    def kept(self) -> bytes:
        if not self.truncated:
            return bytes(self.head)
        return bytes(self.head) + b"\n" + bytes(self.tail)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:  # someone made our output non-blocking: wait until it drains
            select.select([], [fd], [], _POLL_INTERVAL)
            continue
        view = view[written:]


def _isatty(fd: int | None, default: int) -> bool:
    try:
        return os.isatty(default if fd is None else fd)
    except OSError:
        return False


def _spawn(
    argv: list[str],
    cwd: str,
    env: dict[str, str] | None,
    request: ExecRequest,
    watch: OutputWatch,
    forwarder: _SignalForwarder,
) -> _Outcome:
    capture = request.capture_output
    # Read a stream only when something in it must be seen; a terminal stays a terminal
    # unless nothing else can tell (a config template's capture), so interactive agents work.
    tee_out = capture or (watch.stdout and (watch.required or not _isatty(request.stdout, 1)))
    tee_err = capture or (watch.stderr and (watch.required or not _isatty(request.stderr, 2)))
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=request.stdin,
            stdout=subprocess.PIPE if tee_out else request.stdout,
            stderr=subprocess.PIPE if tee_err else request.stderr,
        )
    except FileNotFoundError:
        raise AgentNotFound(f"{argv[0]}: command not found") from None
    except PermissionError:
        raise AgentNotExecutable(f"{argv[0]}: not executable") from None
    except OSError as error:
        if error.errno == errno.ENOEXEC:
            raise AgentNotExecutable(f"{argv[0]}: not an executable format") from None
        raise
    out = _stream(process.stdout, None if capture else request.stdout, 1, capture)
    err = _stream(process.stderr, None if capture else request.stderr, 2, capture)
    with forwarder.forwarding_to(process):
        _pump(process, [stream for stream in (out, err) if stream is not None])
        status = process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    output = AgentOutput(out.kept() if out else b"", err.kept() if err else b"")
    return _Outcome(
        argv=argv,
        exit_code=_exit_status(status),
        output=output,
        stdout=output.stdout if capture else None,
        stderr=output.stderr if capture else None,
    )


def _stream(pipe: IO[bytes] | None, fd: int | None, default_fd: int, capture: bool) -> _Stream | None:
    if pipe is None:
        return None
    target = None if capture else (default_fd if fd is None else fd)
    return _Stream(pipe.fileno(), target, keep_all=capture)


def _pump(process: subprocess.Popen[bytes], streams: list[_Stream]) -> None:
    """Copy the agent's watched output through as it comes, until it is closed or, once the
    agent has exited, quiet."""
    if not streams:
        return
    selector = selectors.DefaultSelector()
    for stream in streams:
        selector.register(stream.fd, selectors.EVENT_READ, stream)
    quiet_since: float | None = None  # set once the agent has exited
    try:
        while selector.get_map():
            events = selector.select(timeout=_POLL_INTERVAL)
            for key, _ in events:
                stream = key.data
                try:
                    chunk = os.read(stream.fd, _READ_SIZE)
                except OSError:
                    chunk = b""
                if not chunk or not stream.take(chunk):
                    # EOF, or our reader went away: stop reading so the agent sees the broken pipe.
                    selector.unregister(stream.fd)
            if quiet_since is None:
                quiet_since = time.monotonic() if process.poll() is not None else None
            elif events:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > _AFTER_EXIT_QUIET:
                break
    finally:
        selector.close()


def _exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


class _SignalForwarder:
    """Passes the signals sessmap receives to the agent, so sessmap never dies first.

    The agent shares sessmap's process group, so a Ctrl-C (or Ctrl-\\, or a hangup) typed at
    the terminal reaches it directly; sessmap forwards those only when it is not in the
    terminal's foreground group (a signal sent to it alone). SIGTERM always comes from a
    process, never from the terminal: always forwarded.
    """

    FROM_TERMINAL = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.process: subprocess.Popen[bytes] | None = None
        self.pending: list[int] = []
        self.previous: dict[int, object] = {}

    def __enter__(self) -> _SignalForwarder:
        if self.enabled:
            for number in self.SIGNALS:
                self.previous[number] = signal.signal(number, self.handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self.previous.items():
            # None: the handler was set outside Python and cannot be put back; use the default.
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)  # type: ignore[arg-type]
        self.previous.clear()

    @contextlib.contextmanager
    def forwarding_to(self, process: subprocess.Popen[bytes]) -> Iterator[None]:
        self.process = process
        for number in self.pending:  # arrived between two attempts, or before the start
            self.send(number)
        self.pending.clear()
        try:
            yield
        finally:
            self.process = None

    def handle(self, number: int, frame: FrameType | None) -> None:
        if number in self.FROM_TERMINAL and _in_terminal_foreground():
            return
        if self.process is None:
            self.pending.append(number)
        else:
            self.send(number)

    def send(self, number: int) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(number)


def _in_terminal_foreground() -> bool:
    """sessmap is in the foreground process group of its controlling terminal."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)
