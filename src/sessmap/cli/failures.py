"""How a failure becomes one error line and an exit code.

Shared by the full Typer app and the Typer-free fast path, so both say exactly the same thing.
"""

from __future__ import annotations

import sys

from sessmap.errors import Busy, ExitCode, SessmapError

PROG = "sessmap"


def with_hint(message: str, hint: str | None) -> str:
    return f"{message}; {hint}" if hint else message


def describe(err: Exception) -> tuple[str, int]:
    """The message and exit code for an exception that is not the command line's fault."""
    if isinstance(err, Busy):  # the core names no flags; the CLI knows what to offer
        return with_hint(err.line, "wait for it, or give --wait-timeout DURATION"), int(err.exit_code)
    if isinstance(err, SessmapError):
        return err.line, int(err.exit_code)
    if isinstance(err, OSError):
        return f"{err.strerror or err}" + (f": {err.filename}" if err.filename else ""), ExitCode.ERROR
    # A bug: still one line; the traceback comes with -v.
    return f"unexpected {type(err).__name__}: {err}; run with -v for the traceback", ExitCode.ERROR


def exec_describe(err: Exception) -> tuple[str, int]:
    """As ``describe``, inside ``exec``: every failure of sessmap's own exits 125 (SPEC §6),
    except busy (75) and the shell's 126/127."""
    from sessmap.cli.exec_run import exec_code

    message, _ = describe(err)
    return message, exec_code(err) if isinstance(err, SessmapError) else ExitCode.SESSMAP_FAILED


def error_line(message: str) -> str:
    """``sessmap: error: …`` on one line, whatever the message held."""
    return f"{PROG}: error: {' '.join(message.split())}"


def reader_went_away() -> int:
    """``sessmap list | head``: stop quietly; point stdout at /dev/null so the final flush
    cannot fail."""
    import contextlib
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):  # stdout without a file descriptor
        os.dup2(devnull, sys.stdout.fileno())
    return ExitCode.ERROR
