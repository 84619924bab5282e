"""The fast path: the plain forms of the hot commands, answered without Typer.

Bots call ``sessmap get`` and ``sessmap exec`` on every message. Importing Typer (with the
Click and pydantic it brings) costs several times what a whole lookup needs, so ``main``
offers the command line to ``run`` first. ``run`` recognises only these forms::

    sessmap [GLOBAL…] get [-a NAME|-aNAME|--agent NAME|--agent=NAME] [--] KEY
    sessmap [GLOBAL…] exec [EXEC-OPTION…] KEY [EXEC-OPTION…] -- CMD [ARG…]

    GLOBAL:      --store URL, --config PATH (or --opt=VALUE), -q/--quiet, --no-color
    EXEC-OPTION: -a/--agent NAME, --provider NAME, --cwd DIR, --new, --no-wait,
                 --wait-timeout DUR, --on-stale fresh|fail, --status FILE, --status-fd N

and answers them with the same core calls, output, error lines and exit codes as the full
app (``sessmap.cli.app``). Anything else (``--help``, ``--json``, ``-v``, ``--dry-run``, shell
completion, an unknown, repeated, empty or option-like value) returns None, and the full app
handles it, so there is only ever one behaviour. ``tests/test_fast_path.py`` runs many command
lines through both paths and compares stdout, stderr and exit code byte for byte.

This module imports nothing that ``import sessmap`` has not loaded already; the store, the
config and the runner load when the command needs them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sessmap.config import OnStale
    from sessmap.runner import ExecRequest

from sessmap.cli.context import AppContext
from sessmap.cli.failures import error_line

_GLOBAL_VALUES = {"--store": "store", "--config": "config"}
_GLOBAL_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--no-color": "no_color"}
_AGENT = {"-a": "agent", "--agent": "agent"}
_EXEC_VALUES = {
    **_AGENT,
    "--provider": "provider",
    "--cwd": "cwd",
    "--wait-timeout": "wait_timeout",
    "--on-stale": "on_stale",
    "--status": "status",
    "--status-fd": "status_fd",
}
_EXEC_FLAGS = {"--new": "new", "--no-wait": "no_wait"}
_ON_STALE_CHOICES = ("fresh", "fail")


class _Parsed:
    """Options (by name) and positional arguments of one command line."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.flags: set[str] = set()
        self.arguments: list[str] = []


def _parse_options(
    tokens: Sequence[str], values: dict[str, str], flags: dict[str, str], *, stop_at_argument: bool
) -> tuple[_Parsed, int] | None:
    """Parse ``tokens`` the way Click would for these options, or None if anything is unusual.

    ``stop_at_argument``: stop at the first positional argument (a group's command name);
    otherwise options and arguments may mix, and everything after ``--`` is an argument.
    Returns the parse and the index where it stopped.
    """
    parsed = _Parsed()
    index = 0
    while index < len(tokens):
        arg = tokens[index]
        if arg == "--" and not stop_at_argument:
            parsed.arguments.extend(tokens[index + 1 :])
            return parsed, len(tokens)
        if not arg.startswith("-") or arg == "-":
            if stop_at_argument:
                return parsed, index
            parsed.arguments.append(arg)
            index += 1
            continue
        name, equals, value = arg.partition("=")
        if arg in flags:
            name = flags[arg]
            if name in parsed.flags:
                return None
            parsed.flags.add(name)
            index += 1
            continue
        if equals and name.startswith("--") and name in values:
            index += 1
        elif arg in values:
            if index + 1 == len(tokens):
                return None  # Click: "requires an argument"
            name, value = arg, tokens[index + 1]
            index += 2
        elif arg[:2] in values and not arg.startswith("--"):
            name, value = arg[:2], arg[2:]  # -aNAME
            index += 1
        else:
            return None
        # An empty value, or one that looks like an option: leave the judgement to Click.
        if not value or value.startswith("-") or values[name] in parsed.values:
            return None
        parsed.values[values[name]] = value
    return parsed, index


class _Globals(AppContext):
    """The full app's context, built from the global options the fast path parsed; messages
    are written as ``typer.echo`` writes them, without loading Typer."""

    @classmethod
    def from_options(cls, parsed: _Parsed) -> _Globals:
        config_option = parsed.values.get("config") or os.environ.get("SESSMAP_CONFIG")
        return cls(
            store_option=parsed.values.get("store") or os.environ.get("SESSMAP_STORE"),
            config_option=Path(config_option).expanduser() if config_option else None,
            quiet="quiet" in parsed.flags,
        )

    def echo_err(self, message: str) -> None:
        _echo_err(message)


def run(argv: Sequence[str]) -> int | None:
    """Answer ``argv`` (without the program name) if it is a plain hot command: its exit code.

    None: not a form this path knows; the caller runs the full app instead.
    """
    command = plan(argv)
    return None if command is None else command()


def plan(argv: Sequence[str]) -> Callable[[], int] | None:
    """The command ``argv`` asks for, ready to run, if it is a form this path knows; else None."""
    if "_SESSMAP_COMPLETE" in os.environ:  # shell completion is the full app's business
        return None
    # Set but empty: Click's reading of these is the full app's to decide.
    if any(os.environ.get(name) == "" for name in ("SESSMAP_STORE", "SESSMAP_CONFIG", "SESSMAP_AGENT")):
        return None
    head = _parse_options(argv, _GLOBAL_VALUES, _GLOBAL_FLAGS, stop_at_argument=True)
    if head is None:
        return None
    parsed_globals, at = head
    if at == len(argv):
        return None
    name, rest = argv[at], argv[at + 1 :]
    action: Callable[[_Globals], None] | None = None
    if name == "get":
        action = _get_command(rest)
    elif name == "exec":
        action = _exec_command(rest)
    if action is None:
        return None
    return lambda: _run(action, parsed_globals, in_exec=name == "exec")


def _agent(parsed: _Parsed) -> str:
    return parsed.values.get("agent") or os.environ.get("SESSMAP_AGENT") or "default"


def _get_command(tokens: Sequence[str]) -> Callable[[_Globals], None] | None:
    parse = _parse_options(tokens, _AGENT, {}, stop_at_argument=False)
    if parse is None or len(parse[0].arguments) != 1:
        return None
    parsed = parse[0]
    key, agent = parsed.arguments[0], _agent(parsed)

    def get(context: _Globals) -> None:
        # As `get` in cli/app.py: the store opens before agent and key are validated.
        store = context.store
        from sessmap.service import session_id_of

        sys.stdout.write(session_id_of(store, agent, key) + "\n")

    return get


def agent_command(arguments: Sequence[str]) -> list[str]:
    """CMD from what follows KEY. With ``exec -- -rf -- claude`` (a key that starts with -),
    everything after the first ``--`` is positional, so the second one is still in front of
    CMD; no program is called ``--``."""
    return list(arguments[1:] if arguments and arguments[0] == "--" else arguments)


def exec_request(
    key: str,
    command: Sequence[str],
    *,
    agent: str,
    provider: str | None,
    cwd: str | None,
    new: bool,
    no_wait: bool,
    wait_timeout: str | None,
    on_stale: OnStale | None,
) -> ExecRequest:
    """The runner's request from `exec`'s options as typed; both CLI paths build it here."""
    from sessmap.errors import InvalidInput

    if no_wait and wait_timeout is not None:
        raise InvalidInput("--no-wait and --wait-timeout exclude each other")
    timeout = None
    if wait_timeout is not None:
        from sessmap.durations import parse_duration

        timeout = parse_duration(wait_timeout)
    from sessmap.runner import ExecRequest

    return ExecRequest(
        key=key,
        command=agent_command(command),
        agent=agent,
        provider=provider,
        cwd=cwd,
        new=new,
        no_wait=no_wait,
        wait_timeout=timeout,
        on_stale=on_stale,
    )


def _exec_command(tokens: Sequence[str]) -> Callable[[_Globals], None] | None:
    if "--" not in tokens:
        return None  # without --, CMD's own options would be read as sessmap's
    parse = _parse_options(tokens, _EXEC_VALUES, _EXEC_FLAGS, stop_at_argument=False)
    if parse is None or len(parse[0].arguments) < 2:
        return None
    parsed = parse[0]
    on_stale = parsed.values.get("on_stale")
    if on_stale is not None and on_stale not in _ON_STALE_CHOICES:
        return None
    key, command, agent = parsed.arguments[0], parsed.arguments[1:], _agent(parsed)

    def exec_(context: _Globals) -> None:
        from sessmap.cli.exec_run import StatusTarget, run_exec_command

        def build() -> ExecRequest:
            return exec_request(
                key,
                command,
                agent=agent,
                provider=parsed.values.get("provider"),
                cwd=parsed.values.get("cwd"),
                new="new" in parsed.flags,
                no_wait="no_wait" in parsed.flags,
                wait_timeout=parsed.values.get("wait_timeout"),
                on_stale=on_stale,  # type: ignore[arg-type]  # checked against the choices above
            )

        def status() -> StatusTarget | None:
            return StatusTarget.parse(parsed.values.get("status"), parsed.values.get("status_fd"))

        code = run_exec_command(key, agent, build, context, status)
        if code:
            raise _Exit(code)

    return exec_


class _Exit(Exception):
    """The agent's non-zero status, carried out of the command like ``typer.Exit``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _run(action: Callable[[_Globals], None], parsed_globals: _Parsed, *, in_exec: bool) -> int:
    """Run ``action`` and turn what it raises into one error line and an exit code, exactly as
    ``SessmapGroup._run`` in cli/app.py does (its ``-v`` traceback never applies here)."""
    from sessmap.cli.failures import describe, exec_describe, reader_went_away

    try:
        context = _Globals.from_options(parsed_globals)  # may fail like the root callback: a bad ~user
        try:
            action(context)
        finally:
            context.close()
    except _Exit as done:
        return done.code
    except KeyboardInterrupt:
        print(file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        return reader_went_away()
    except Exception as err:
        return _fail(*(exec_describe(err) if in_exec else describe(err)))
    return 0


def _fail(message: str, code: int) -> int:
    _echo_err(error_line(message))
    return int(code)


def _echo_err(message: str) -> None:
    """A line on stderr as ``typer.echo(message, err=True)`` writes it: ANSI codes stripped
    when stderr is not a terminal; on a stream claiming ASCII, UTF-8 bytes (Click's choice)."""
    stream = sys.stderr
    text = message + "\n"
    if "\033" in text and not _isatty(stream):
        import re

        text = re.sub(r"\033\[[;?0-9]*[a-zA-Z]", "", text)
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and _is_ascii(getattr(stream, "encoding", None) or "ascii"):
        stream.flush()
        buffer.write(text.encode("utf-8", "replace"))
        buffer.flush()
        return
    stream.write(text)
    stream.flush()


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except Exception:
        return False


def _is_ascii(encoding: str) -> bool:
    import codecs

    try:
        return codecs.lookup(encoding).name == "ascii"
    except LookupError:
        return False
