"""Standard streams that were closed before sessmap started (``sessmap list >&-``).

A closed descriptor 0, 1 or 2 is not only a crash waiting in ``print`` (Python sets
``sys.stdout`` to None): the next file sessmap opens, the store itself, would get that number,
and the agent ``exec`` starts would inherit the store as its stdout. So before anything is
opened, each closed one is plugged with /dev/null. Closed stdin then reads as empty, closed
stderr discards the messages (as ``2>&-`` asked); closed stdout is a usage error (one line on
stderr, exit 2; 125 in ``exec``, SPEC §6): the output asked for has nowhere to go.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def closed_streams() -> list[int]:
    """The standard descriptors that are closed, each now plugged with /dev/null."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for fd in closed:  # lowest first: os.open takes the lowest free number, the closed one
        plug = os.open(os.devnull, os.O_RDWR)
        if plug != fd:
            os.dup2(plug, fd)
            os.close(plug)
    # Python made these None; files on the plugs, for the process' life.
    if 0 in closed:
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    if 2 in closed:
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    return closed


def refuse_closed_output(argv: Sequence[str]) -> int | None:
    """The exit code when stdout was closed, after saying so (if stderr is open); else None."""
    closed = closed_streams()
    if 1 not in closed:
        return None
    from sessmap.cli.errors import error_line
    from sessmap.errors import ExitCode

    if 2 not in closed:
        message = "standard output is closed; give it a file, or /dev/null to discard it"
        print(error_line(message), file=sys.stderr)
    return int(ExitCode.SESSMAP_FAILED if _command(argv) == "exec" else ExitCode.USAGE)


def _command(argv: Sequence[str]) -> str | None:
    from sessmap.cli.fast import tokenize

    head = tokenize(argv, "", stop_at_argument=True)
    return argv[head[2]] if head is not None and head[2] < len(argv) else None
