"""The fast path: plain ``get`` and ``exec`` answered without Typer (bots call them on every
message; importing Typer costs several times a whole lookup).

A tokenizer over the options cli/spec.py declares (``spec.FAST``: the ones this path takes),
feeding the same Typer-free ``run_get`` / ``run_exec`` the Typer commands call. Anything
unusual (``--help``, ``--json``, ``-v``, ``--dry-run``, completion, an unknown, repeated, empty
or option-like value, ``exec`` without ``--``) returns None and the full app handles it.
tests/test_fast_path.py compares both paths over command lines generated from the table.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sessmap.cli import spec
from sessmap.cli.context import AppContext
from sessmap.cli.echo import echo_err

Parsed = tuple[dict[str, Any], list[str], int]  # option values by dest, arguments, where it stopped


def _table(command: str) -> dict[str, spec.Opt]:
    """Every spelling of the options this path takes for ``command``."""
    return {
        flag: opt for opt in spec.COMMANDS[command] if opt.dest in spec.FAST[command] for flag in opt.flags
    }


def tokenize(tokens: Sequence[str], command: str, *, stop_at_argument: bool) -> Parsed | None:
    """Read ``tokens`` as Click would for ``command``'s options, or None if anything is unusual.
    ``stop_at_argument``: stop at the first argument (a group's command name)."""
    table, values, arguments = _table(command), dict[str, Any](), list[str]()
    index = 0
    while index < len(tokens):
        arg = tokens[index]
        index += 1
        if arg == "--" and not stop_at_argument:
            return values, [*arguments, *tokens[index:]], len(tokens)
        if not arg.startswith("-") or arg == "-":
            if stop_at_argument:
                return values, arguments, index - 1
            arguments.append(arg)
            continue
        name, equals, text = arg.partition("=")
        value: Any = text
        if arg in table and table[arg].is_flag:
            opt = table[arg]
            value = True
        elif equals and name.startswith("--") and name in table and not table[name].is_flag:
            opt = table[name]
        elif arg in table:
            if index == len(tokens):
                return None  # Click: "requires an argument"
            opt, value = table[arg], tokens[index]
            index += 1
        elif arg[:2] in table and not arg.startswith("--") and not table[arg[:2]].is_flag:
            opt, value = table[arg[:2]], arg[2:]  # -aNAME
        else:
            return None
        # Repeated, empty, option-like or not one of the choices: the judgement is Click's.
        if opt.dest in values or value == "" or (value is not True and value.startswith("-")):
            return None
        if opt.choices is not None and value not in opt.choices:
            return None
        values[opt.dest] = value
    return values, arguments, index


def run(argv: Sequence[str]) -> int | None:
    """The exit code of ``argv`` (without the program name), or None: not a form this path knows."""
    command = plan(argv)
    return None if command is None else command()


def plan(argv: Sequence[str]) -> Callable[[], int] | None:
    """The command ``argv`` asks for, ready to run, if it is a form this path knows; else None."""
    if "_SESSMAP_COMPLETE" in os.environ:  # shell completion is the full app's business
        return None
    envvars = {opt.envvar for command in spec.FAST for opt in spec.COMMANDS[command] if opt.envvar}
    if any(os.environ.get(name) == "" for name in envvars):  # set but empty: Click decides
        return None
    head = tokenize(argv, "", stop_at_argument=True)
    if head is None or head[2] == len(argv) or argv[head[2]] not in ("get", "exec"):
        return None
    name, rest = argv[head[2]], argv[head[2] + 1 :]
    if name == "exec" and "--" not in rest:
        return None  # without --, CMD's own options would be read as sessmap's
    parsed = tokenize(rest, name, stop_at_argument=False)
    if parsed is None or (len(parsed[1]) != 1 if name == "get" else len(parsed[1]) < 2):
        return None
    values = {opt.dest: spec.resolve(opt, parsed[0].get(opt.dest)) for opt in spec.COMMANDS[name]}
    return lambda: _run(name, head[0], values, parsed[1])


class _Context(AppContext):
    """The full app's context; messages written as ``typer.echo`` writes them."""

    def echo_err(self, message: str) -> None:
        echo_err(message)


def _run(name: str, global_values: dict[str, Any], values: dict[str, Any], arguments: list[str]) -> int:
    """Run the command; what it raises becomes one error line and an exit code, as
    ``SessmapGroup._run`` in cli/app.py does (its ``-v`` traceback never applies here)."""
    from sessmap.cli.errors import describe, error_line, exec_describe, reader_went_away
    from sessmap.validation import expand_home

    options = {opt.dest: spec.resolve(opt, global_values.get(opt.dest)) for opt in spec.GLOBAL}
    try:  # the context may fail like the root callback: a bad ~user
        config = options["config"]
        context = _Context(options["store"], expand_home(config) if config else None, options["quiet"])
        try:
            if name == "get":
                from sessmap.cli.commands.mappings import KeyArgs, run_get

                run_get(context, KeyArgs(arguments[0], values["agent"], values["json_output"]))
                return 0
            from sessmap.cli.commands.exec import ExecArgs, run_exec

            return run_exec(context, ExecArgs(key=arguments[0], command=arguments[1:], **values))
        finally:
            context.close()
    except KeyboardInterrupt:
        print(file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        return reader_went_away()
    except Exception as err:
        message, code = exec_describe(err) if name == "exec" else describe(err)
        echo_err(error_line(message))
        return int(code)
