"""Asking before a command deletes or replaces mappings, as ``gh`` does.

Only a person can answer: the question is asked when stdin and stderr are both a terminal,
and ``--yes`` skips it. In a script, a pipe or cron nothing is asked and the command runs as
it always did. Anything but ``y``/``yes`` cancels: nothing changes and the command exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sessmap.cli.echo import isatty
from sessmap.errors import SessmapError

SHOWN = 10
"""Rows listed before the question; the rest are counted ("… and 3 more")."""


class Cancelled(SessmapError):
    """The person at the terminal said no: exit 1, nothing changed. SPEC §6 keeps 2 for usage
    errors, so the "operational" 1 is the code that cannot be mistaken for success (gh uses 2
    for this, which here would read as a bad command line)."""


def should_ask(yes: bool) -> bool:
    """Whether to ask: not ``--yes``, and someone is at a terminal to answer."""
    return not yes and isatty(sys.stdin) and isatty(sys.stderr)


def confirm(question: str, rows: Sequence[str], total: int, *, cancelled: str) -> None:
    """Show the first rows of what will change and ask ``question [y/N]`` on stderr; raise
    Cancelled(``cancelled``) unless the answer is y or yes."""
    out = sys.stderr
    for row in rows[:SHOWN]:
        out.write(f"  {row}\n")
    if total > min(len(rows), SHOWN):
        out.write(f"  … and {total - min(len(rows), SHOWN):,} more\n")
    out.write(f"{question} [y/N] ")
    out.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):  # end of input: no answer is no
        out.write("\n")
    if answer.strip().lower() not in ("y", "yes"):
        raise Cancelled(cancelled)


def plural(count: int, noun: str = "mapping") -> str:
    """``1 mapping``, ``4,211 mappings``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
