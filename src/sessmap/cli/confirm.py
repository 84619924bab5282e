"""Asking before a command deletes or replaces mappings, as ``gh`` does.

Only a person can answer: the question is asked when stdin and stderr are both a terminal,
and ``--yes`` skips it. In a script, a pipe or cron nothing is asked and the command runs as
it always did. Anything but ``y``/``yes`` cancels: nothing changes and the command exits 1.

When stdin carries the command's input (``sessmap list … | sessmap rm -`` typed at a
terminal), the answer is read from the controlling terminal, as git and ssh read passwords:
the person who typed the pipe is still there. Cron has no controlling terminal, so it is
never asked.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sessmap.cli.echo import isatty
from sessmap.errors import SessmapError

SHOWN = 10
"""Rows listed before the question; the rest are counted ("… and 3 more")."""


class Cancelled(SessmapError):
    """The person at the terminal said no: exit 1, nothing changed. SPEC §6 keeps 2 for usage
    errors, so the "operational" 1 is the code that cannot be mistaken for success (gh uses 2
    for this, which here would read as a bad command line)."""


def should_ask(yes: bool, *, input_on_stdin: bool = False) -> bool:
    """Whether to ask: not ``--yes``, and someone is at a terminal to answer (on stdin, or
    on the controlling terminal when stdin is the command's input)."""
    if yes or not isatty(sys.stderr):
        return False
    return _terminal_answer() is not None if input_on_stdin else isatty(sys.stdin)


def _terminal_answer() -> TextIO | None:
    """The controlling terminal, open for the answer; None when there is none (cron, CI)."""
    try:
        return Path("/dev/tty").open(encoding="utf-8", errors="replace")
    except OSError:
        return None


def confirm(
    question: str, rows: Sequence[str], total: int, *, cancelled: str, input_on_stdin: bool = False
) -> None:
    """Show the first rows of what will change and ask ``question [y/N]`` on stderr; raise
    Cancelled(``cancelled``) unless the answer is y or yes."""
    out = sys.stderr
    for row in rows[:SHOWN]:
        out.write(f"  {row}\n")
    if total > min(len(rows), SHOWN):
        out.write(f"  … and {total - min(len(rows), SHOWN):,} more\n")
    out.write(f"{question} [y/N] ")
    out.flush()
    answer = _read_answer(input_on_stdin)
    if not answer.endswith("\n"):  # end of input: no answer is no
        out.write("\n")
    if answer.strip().lower() not in ("y", "yes"):
        raise Cancelled(cancelled)


def _read_answer(input_on_stdin: bool) -> str:
    if not input_on_stdin:
        return sys.stdin.readline()
    terminal = _terminal_answer()
    if terminal is None:
        return ""
    with terminal:
        return terminal.readline()


def plural(count: int, noun: str = "mapping") -> str:
    """``1 mapping``, ``4,211 mappings``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
