"""How a failure becomes one error line and an exit code.

Shared by the full Typer app and the Typer-free fast path, so both say exactly the same thing.
The core names no CLI flag: its errors carry a ``reason`` and data (``agent``, ``key``,
``path``, ``expected``, ``found``…), and ``HINTS`` here says what a user at a shell can do.
A plain dict, cheap to load: the fast path imports this module on every run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from sessmap.errors import ExitCode, SessmapError

PROG = "sessmap"

Hint = str | Callable[[SessmapError], str]

HINTS: dict[str, Hint] = {
    # reason: the shell's next step; a template is filled from the error's data (``{key}``…),
    # each value shell-quoted, and ``--`` goes before a key: a key is anything, `-x` or `$(…)`.
    "busy": "wait for it, or give --wait-timeout DURATION",
    "not-found": "try: sessmap list",
    "damaged-store": "see what is wrong with `sessmap doctor`; fix or restore the file",
    "no-command": "put it after --: sessmap exec KEY -- claude -p hi",
    "no-store": "create one with `sessmap create KEY`, or check --store and SESSMAP_STORE",
    "no-session-yet": "try: sessmap exec -- {key} -- CMD",
    "mapping-exists": "try: sessmap create --force -- {key}, or sessmap show -- {key}",
    "target-exists": "try: sessmap rm -- {key} first",
    "thread-running": "retry the rename when that run has ended",
    "nothing-to-change": "give --session-id, --provider, --cwd, --label or --unlabel",
    "fork-without-session": "exec it first: sessmap exec -- {key} -- CMD",
    "import-conflict": "try: --on-conflict skip or --on-conflict replace",
    "config-locked": "try again once the other `sessmap config set` or `unset` has finished",
    "unknown-provider": "pass --provider, or set provider in the agent's [agents.NAME] profile",
    "provider-mismatch": "use --new to start the thread over with the other provider, or another -a/--agent",
    "cwd-mismatch": "leave out --cwd, or use --new to start the thread over in the other directory",
    "cwd-missing": "create it, or start the thread over elsewhere with --new --cwd DIR",
    "stdin-too-long": "start the thread over with --new, or pass the prompt as an argument",
    "stale-session": "start over with --new, or use --on-stale fresh",
    "agent-too-old": lambda err: (
        f"upgrade {err.data.get('provider', 'the agent CLI')}, or start the thread over with --new"
    ),
    "session-flag": (
        "drop it; use --new to start over, or `sessmap set KEY --session-id ID` to switch sessions"
    ),
    "no-session-match": "it may be a session sessmap did not start; try: sessmap list",
    "ambiguous-session": "give more characters of the session id",
    "no-transcript": (
        "run it on the host that ran the session; to keep copies in the store from now on: "
        "sessmap config set transcripts store"
    ),
    "transcript-unreadable": "read the agent's own files: sessmap show -- {key} says where they are",
    "fork-unsupported": "start the thread over with --new",
    "fork-needs-json": "give the fork's first turn JSON output: qwen -o json (or -o stream-json)",
    "needs-json-output": 'try: opencode run --format json "PROMPT"',
    "not-a-session": 'try: opencode run --format json "PROMPT"',
}

HINT_FREE = frozenset({"exists", "newer-schema", "unknown-setting", "superseded"})
"""Reasons with no row on purpose: the error's own hint, if any, names no flag and holds at a
shell too (``exists``: a store's own conflict, which the service words for the CLI;
``superseded``: a turn recorded nowhere, told as a note after the agent ran)."""


def usage_hint(command: str, unknown_option: str | None, exec_without_separator: bool) -> str:
    """The next step after a command line Click refused: the two mistakes people make most
    (a global option after the command, an agent command without ``--`` before it) get their
    own line, anything else the command's help."""
    from sessmap.cli import spec

    if unknown_option is not None:
        global_flags = {flag for opt in spec.GLOBAL for flag in opt.flags}
        unknown_option = unknown_option.split("=", 1)[0]
        if unknown_option in global_flags:
            where = f"{PROG} {unknown_option} … {command.removeprefix(f'{PROG} ').strip()}"
            return f"{unknown_option} is a global option: put it before the command ({where})"
        if exec_without_separator:
            return f"put the agent's command after --: {PROG} exec KEY -- claude -p hi"
    return f"try: {command} --help"


def with_hint(message: str, hint: str | None) -> str:
    return f"{message}; {hint}" if hint else message


def cli_hint(err: SessmapError) -> str | None:
    """The hint for a user at a shell: the row of the error's reason, else its own hint."""
    hint = HINTS.get(err.reason) if err.reason is not None else None
    if hint is None:
        return err.hint
    if callable(hint):
        return hint(err)
    import shlex  # only when a hint is filled in, off the fast path's success

    try:
        return hint.format_map({name: shlex.quote(str(value)) for name, value in err.data.items()})
    except (KeyError, IndexError):  # data the row needs is missing: say what the core said
        return err.hint


def describe(err: Exception) -> tuple[str, int]:
    """The message and exit code for an exception that is not the command line's fault."""
    if isinstance(err, SessmapError):
        return with_hint(str(err), cli_hint(err)), int(err.exit_code)
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
    """``sessmap list | head``: stop quietly, exit 0 (a reader that stopped reading is no
    error, as with ``git log | head``, and ``set -o pipefail`` scripts go on); point stdout at
    /dev/null so the final flush cannot fail."""
    import contextlib
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):  # stdout without a file descriptor
        os.dup2(devnull, sys.stdout.fileno())
    return ExitCode.OK
