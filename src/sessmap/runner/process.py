"""Running the agent: spawn it, copy the output sessmap must read, forward signals.

stdin, stdout, stderr and the terminal pass through untouched unless something in a stream
must be seen (an id the CLI chose, "no such session"); then that stream is copied through a
pipe chunk by chunk, and its head and tail are kept for reading.
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
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import IO, NamedTuple, Protocol

from sessmap.errors import ExitCode, SessmapError
from sessmap.providers import AgentOutput, OutputWatch
from sessmap.runner.guard import AgentGuard

# What sessmap keeps of a watched stream to read ids and errors from: its head and its tail.
_SCAN_HEAD = 1 << 20
_SCAN_TAIL = 64 << 10
_READ_SIZE = 64 << 10
# After the agent exits, a process it left behind may hold its output open; stop reading once
# the output has been quiet this long, rather than waiting for that process to end.
_AFTER_EXIT_QUIET = 1.0
_POLL_INTERVAL = 0.1
# How often a running agent's process tree is looked at (for the files it holds open).
TICK_INTERVAL = 0.05


class AgentNotFound(SessmapError):
    """The agent command does not exist (exit 127, as a shell would)."""

    exit_code = ExitCode.COMMAND_NOT_FOUND


class AgentNotExecutable(SessmapError):
    """The agent command exists but cannot be run (exit 126, as a shell would)."""

    exit_code = ExitCode.CANNOT_EXECUTE


class RunHooks(Protocol):
    """What the runner does while the agent runs: read ids as they pass, look at its files."""

    def output(self, stdout_head: bytes, stderr_head: bytes) -> None:
        """Called after each chunk of watched output, with what is kept of each stream so far."""

    def tick(self, pid: int) -> None:
        """Called every ``TICK_INTERVAL`` while the agent runs."""


class Launch(NamedTuple):
    """One agent process: its command, where, and what happens to its standard streams."""

    argv: Sequence[str]
    cwd: str
    env: dict[str, str] | None
    stdin: int | None
    stdout: int | None
    stderr: int | None
    capture: bool
    watch: OutputWatch


class Outcome:
    """How one attempt went (its ``new_session_id`` is filled in after the run)."""

    # Plain classes and NamedTuples here: exec defines them on every start, and a dataclass
    # costs about a millisecond of that.
    __slots__ = ("argv", "exit_code", "lock_lost", "new_session_id", "output", "stderr", "stdout")

    def __init__(
        self,
        argv: list[str],
        exit_code: int,
        output: AgentOutput,
        stdout: bytes | None = None,  # everything, with capture
        stderr: bytes | None = None,
    ) -> None:
        self.argv = argv
        self.exit_code = exit_code
        self.output = output
        self.stdout = stdout
        self.stderr = stderr
        self.new_session_id: str | None = None
        self.lock_lost: str | None = None  # why the thread's lock went while the agent ran


class _Stream:
    """One of the agent's output pipes: each chunk goes on at once and is kept for scanning."""

    def __init__(self, pipe: IO[bytes], target: int | None, keep_all: bool) -> None:
        self.pipe = pipe
        self.fd = pipe.fileno()
        self.target = target  # None: collect only (capture)
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


def isatty(fd: int | None, default: int) -> bool:
    try:
        return os.isatty(default if fd is None else fd)
    except OSError:
        return False


def spawn(
    launch: Launch, forwarder: SignalForwarder, hooks: RunHooks | None = None, guard: AgentGuard | None = None
) -> Outcome:
    capture, watch = launch.capture, launch.watch
    argv = list(launch.argv)
    # Read a stream only when something in it must be seen; a terminal stays a terminal
    # unless nothing else can tell (a config template's capture), so interactive agents work.
    tee_out = capture or (watch.stdout and (watch.required or not isatty(launch.stdout, 1)))
    tee_err = capture or (watch.stderr and (watch.required or not isatty(launch.stderr, 2)))
    merged = not capture and (tee_out or tee_err) and _one_pipe(launch, tee_out and tee_err)
    if merged:
        tee_out, tee_err = True, False
    try:
        process = subprocess.Popen(
            argv,
            cwd=launch.cwd,
            env=launch.env,
            stdin=launch.stdin,
            stdout=subprocess.PIPE if tee_out else launch.stdout,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE if tee_err else launch.stderr,
            pass_fds=guard.fds() if guard is not None else (),
        )
    except FileNotFoundError:
        raise AgentNotFound(f"{argv[0]}: command not found") from None
    except PermissionError:
        raise AgentNotExecutable(f"{argv[0]}: not executable") from None
    except OSError as error:
        if error.errno == errno.ENOEXEC:
            raise AgentNotExecutable(f"{argv[0]}: not an executable format") from None
        raise
    out = _stream(process.stdout, None if capture else launch.stdout, 1, capture)
    err = _stream(process.stderr, None if capture else launch.stderr, 2, capture)
    if guard is not None:
        _guard(process, guard)
    try:
        with forwarder.forwarding_to(process):
            _pump(process, out, err, hooks)
            status = _wait(process, hooks)
    finally:
        if guard is not None:
            guard.stop()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    if merged and out is not None:  # one stream holds both: every watcher looks in it
        output = AgentOutput(out.kept(), out.kept())
    else:
        output = AgentOutput(out.kept() if out else b"", err.kept() if err else b"")
    return Outcome(
        argv=argv,
        exit_code=_exit_status(status),
        output=output,
        stdout=output.stdout if capture else None,
        stderr=output.stderr if capture else None,
    )


def _one_pipe(launch: Launch, both_teed: bool) -> bool:
    """Whether stdout and stderr go to the same file (``> log 2>&1``, ``2>&1 | tee``): then the
    agent gets one pipe for both, as a shell would give it one file, so their lines keep their
    order; two pipes copied in turn would interleave them by chance. Not when that file is a
    terminal a stream was left on: the agent keeps its terminal."""
    out = 1 if launch.stdout is None else launch.stdout
    err = 2 if launch.stderr is None else launch.stderr
    try:
        first, second = os.fstat(out), os.fstat(err)
    except OSError:
        return False
    if (first.st_dev, first.st_ino) != (second.st_dev, second.st_ino):
        return False
    return both_teed or not isatty(out, 1)


def _guard(process: subprocess.Popen[bytes], guard: AgentGuard) -> None:
    """Watch the lock for the agent; an agent whose lock cannot be watched does not run on."""
    try:
        guard.start(process)
    except BaseException:
        process.kill()
        process.wait()
        raise


def _stream(pipe: IO[bytes] | None, fd: int | None, default_fd: int, capture: bool) -> _Stream | None:
    if pipe is None:
        return None
    target = None if capture else (default_fd if fd is None else fd)
    return _Stream(pipe, target, keep_all=capture)


def _pump(
    process: subprocess.Popen[bytes], out: _Stream | None, err: _Stream | None, hooks: RunHooks | None
) -> None:
    """Copy the agent's watched output through as it comes, until it is closed or, once the
    agent has exited, quiet."""
    streams = [stream for stream in (out, err) if stream is not None]
    if not streams:
        return
    selector = selectors.DefaultSelector()
    for stream in streams:
        selector.register(stream.fd, selectors.EVENT_READ, stream)
    quiet_since: float | None = None  # set once the agent has exited
    interval = TICK_INTERVAL if hooks is not None else _POLL_INTERVAL
    try:
        while selector.get_map():
            events = selector.select(timeout=interval)
            for key, _ in events:
                stream = key.data
                try:
                    chunk = os.read(stream.fd, _READ_SIZE)
                except OSError:
                    chunk = b""
                if not chunk or not stream.take(chunk):
                    # EOF, or our reader went away. Close the read end now, not after wait():
                    # held open, it fills up and the agent blocks on its next write for ever,
                    # still holding the thread's lock; closed, the agent gets SIGPIPE/EPIPE
                    # as it would writing to the gone reader itself.
                    selector.unregister(stream.fd)
                    stream.pipe.close()
            if hooks is not None:
                if events:
                    hooks.output(bytes(out.head) if out else b"", bytes(err.head) if err else b"")
                if process.poll() is None:
                    hooks.tick(process.pid)
            if quiet_since is None:
                quiet_since = time.monotonic() if process.poll() is not None else None
            elif events:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > _AFTER_EXIT_QUIET:
                break
    finally:
        selector.close()


def _wait(process: subprocess.Popen[bytes], hooks: RunHooks | None) -> int:
    if hooks is None:
        return process.wait()
    while True:
        try:
            return process.wait(timeout=TICK_INTERVAL)
        except subprocess.TimeoutExpired:
            hooks.tick(process.pid)


def _exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


class SignalForwarder:
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

    def __enter__(self) -> SignalForwarder:
        if self.enabled:
            for number in self.SIGNALS:
                # A signal the caller ignores (nohup's SIGHUP, SIGINT and SIGQUIT in a script's
                # background job) stays ignored, and is never forwarded: left as it is, the
                # agent inherits it ignored, as it would run without sessmap. A handler here
                # would undo that twice: the agent would start with it at SIG_DFL (exec resets
                # caught signals), and then get it from us.
                if signal.getsignal(number) == signal.SIG_IGN:
                    continue
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
