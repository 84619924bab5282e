"""Running ``exec`` for both CLI paths: the one place that maps sessmap's own failures to
exit 125 (SPEC §6) and writes the ``--status`` report (SPEC §4), success or failure.

Typer-free: the fast path imports it too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sessmap.cli.errors import PROG, describe
from sessmap.errors import ExecFailed, ExitCode, InvalidInput, SessmapError

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext
    from sessmap.runner import ExecRequest
    from sessmap.stores.base import Waiting

# Failures that keep their own code inside exec: busy (75), and the shell's 126/127.
_OWN_CODES = (ExitCode.BUSY, ExitCode.CANNOT_EXECUTE, ExitCode.COMMAND_NOT_FOUND)


class StatusTarget(NamedTuple):
    """Where ``--status FILE`` / ``--status-fd N`` sends the one JSON object."""

    path: str | None = None
    fd: int | None = None

    @classmethod
    def parse(cls, path: str | None, fd: str | int | None) -> StatusTarget | None:
        if path is not None and fd is not None:
            raise InvalidInput("--status and --status-fd exclude each other")
        if fd is None:
            return cls(path=path) if path is not None else None
        try:
            number = int(fd)
        except ValueError:
            raise InvalidInput(f"--status-fd takes a file descriptor number, not {fd!r}") from None
        if number < 0:
            raise InvalidInput(f"--status-fd takes a file descriptor number, not {fd!r}")
        return cls(fd=number)

    def write(self, report: dict[str, Any]) -> None:
        from sessmap import jsontext  # only a run asked to report loads it (and json with it)

        data = (jsontext.dumps(report) + "\n").encode("utf-8")
        try:
            if self.path is not None:
                Path(self.path).write_bytes(data)
            elif self.fd is not None:
                os.write(self.fd, data)
        except OSError as err:
            where = self.path if self.path is not None else f"file descriptor {self.fd}"
            print(f"{PROG}: cannot write the status report to {where}: {err.strerror}", file=sys.stderr)


def failure_report(key: str, agent: str, err: BaseException) -> dict[str, Any]:
    """The report of a run that failed before the agent ran (``exit`` null)."""
    message = describe(err)[0] if isinstance(err, SessmapError) else "interrupted"  # as stderr says it
    return {
        "key": key,
        "agent": agent,
        "session_id": None,
        "previous_session_id": None,
        "action": None,
        "turns": None,
        "exit": None,
        "error": message,
    }


def waiting_line(key: str, agent: str) -> Callable[[Waiting], None]:
    """The one line a run queued at a terminal prints: whom it waits for, and its place."""

    def say(waiting: Waiting) -> None:
        holder = waiting.holder
        who = "another run"
        if holder is not None:
            since = holder.since.astimezone().strftime("%H:%M:%S")
            who = f"pid {holder.pid} on {holder.host} (running since {since})"
        place = "next in line" if waiting.ahead == 0 else f"{waiting.ahead} ahead in the queue"
        print(f"{PROG}: thread {key!r} (agent {agent}) is busy: waiting for {who}; {place}", file=sys.stderr)
        sys.stderr.flush()

    return say


def _stderr_is_terminal() -> bool:
    try:
        return os.isatty(sys.stderr.fileno())
    except (OSError, ValueError):
        return False


def exec_code(err: SessmapError) -> int:
    return int(err.exit_code) if err.exit_code in _OWN_CODES else int(ExitCode.SESSMAP_FAILED)


def run_exec_command(
    key: str,
    agent: str,
    build: Callable[[], ExecRequest],
    context: AppContext,
    status: Callable[[], StatusTarget | None],
) -> int:
    """Build the request, run it, report; the agent's exit status, or raise with exit 125."""
    from sessmap.runner import run_exec

    def notify(message: str) -> None:
        context.info(f"{PROG}: {message}")
        sys.stderr.flush()

    target: StatusTarget | None = None
    try:
        target = status()
        request = build()
        sys.stdout.flush()  # nothing of ours may arrive after the agent's output
        on_wait = waiting_line(key, agent) if not context.quiet and _stderr_is_terminal() else None
        result = run_exec(request, context.store, context.config, notify=notify, on_wait=on_wait)
    except SessmapError as err:
        code = exec_code(err)
        if target is not None:
            target.write(failure_report(key, agent, err))
        if code == ExitCode.SESSMAP_FAILED and not isinstance(err, ExecFailed):
            raise ExecFailed.wrapping(err) from err
        raise
    except KeyboardInterrupt as err:
        if target is not None:
            target.write(failure_report(key, agent, err))
        raise
    if target is not None:
        target.write(result.status())
    return result.exit_code
