"""The ``sessmap`` command: the global options, the command groups of cli/commands/ wired
together, and one place that turns errors into a single ``sessmap: error: …`` line and an
exit code (SPEC §6).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from sessmap import __version__
from sessmap.cli import params
from sessmap.cli.context import AppContext
from sessmap.cli.errors import (
    PROG,
    describe,
    error_line,
    exec_describe,
    reader_went_away,
    usage_hint,
    with_hint,
)
from sessmap.errors import ExitCode
from sessmap.validation import expand_home


class SessmapGroup(TyperGroup):
    """The root group. Runs Click without its standalone error printing and maps every error
    to one stderr line and the documented exit code; a traceback only with ``-v``."""

    _root: Any = None  # the root Click context of the last run

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        context = super().make_context(info_name, args, parent=parent, **extra)
        self._root = context  # kept so the error handler can read -v
        return context

    def invoke(self, ctx: Any) -> Any:
        # Here, not in _run: Typer's own main turns EPIPE into exit 1 before _run could see it.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            return reader_went_away()

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        code = self._run(
            args, prog_name or PROG, complete_var, windows_expand_args=windows_expand_args, **extra
        )
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: Sequence[str] | None, prog_name: str, complete_var: str | None, **extra: Any) -> int:
        from typer._click import exceptions as click_errors

        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as err:
            # `sessmap` alone: the help, on stderr since no data was asked for.
            typer.echo(err.ctx.get_help() if err.ctx else str(err), err=True)
            return ExitCode.USAGE
        except click_errors.UsageError as err:
            command = err.ctx.command_path if err.ctx else prog_name
            in_exec = self._in_exec()
            unknown = err.option_name if isinstance(err, click_errors.NoSuchOption) else None
            given = sys.argv[1:] if args is None else list(args)
            hint = usage_hint(command, unknown, in_exec and "--" not in given)
            code = ExitCode.SESSMAP_FAILED if in_exec else ExitCode.USAGE
            return self._fail(err, with_hint(err.format_message().rstrip("."), hint), code)
        except click_errors.ClickException as err:
            return self._fail(err, err.format_message(), err.exit_code)
        except (KeyboardInterrupt, typer.Abort):
            typer.echo(file=sys.stderr)
            return ExitCode.INTERRUPTED
        except BrokenPipeError:
            return reader_went_away()
        except Exception as err:
            return self._fail(err, *(exec_describe(err) if self._in_exec() else describe(err)))
        return result if isinstance(result, int) else ExitCode.OK

    def _in_exec(self) -> bool:
        """The command line reached ``exec``: its own failures exit 125 (SPEC §6)."""
        return self._root is not None and self._root.invoked_subcommand == "exec"

    def _fail(self, err: BaseException, message: str, code: int) -> int:
        obj = self._root.obj if self._root is not None else None
        if isinstance(obj, AppContext) and obj.verbose:
            traceback.print_exception(err, file=sys.stderr)
        typer.echo(error_line(message), err=True)
        return int(code)


app = typer.Typer(
    name=PROG,
    cls=SessmapGroup,
    no_args_is_help=True,
    add_completion=False,  # `sessmap completion SHELL` instead: it edits no rc file
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def run() -> None:
    """The console entry point."""
    app()


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    store: Annotated[str | None, params.option("", "store")] = None,
    config: Annotated[Path | None, params.option("", "config")] = None,
    version: Annotated[bool, params.option("", "version", callback=_show_version, is_eager=True)] = False,
    quiet: Annotated[bool, params.option("", "quiet")] = False,
    verbose: Annotated[bool, params.option("", "verbose")] = False,
    no_color: Annotated[bool, params.option("", "no_color")] = False,
) -> None:
    """Map chat threads to AI coding-agent sessions.

    \b
    Example:
      sessmap create slack:C024BE91L:1700000000.000100
      sessmap exec slack:C024BE91L:1700000000.000100 -- claude -p "hello"
    """
    import os

    context = AppContext(
        store_option=store,
        config_option=expand_home(config) if config else None,
        quiet=quiet,
        verbose=verbose,
        color=not no_color and not os.environ.get("NO_COLOR"),
    )
    ctx.obj = context
    ctx.call_on_close(context.close)


def _wire() -> None:
    """Add every group's commands to the root app, in the order the help lists them."""
    from sessmap.cli import meta
    from sessmap.cli.commands import (
        admin_typer,
        disk_typer,
        exec_typer,
        listing_typer,
        mappings_typer,
        sessions_typer,
    )

    groups = (mappings_typer, sessions_typer, listing_typer, disk_typer, admin_typer, exec_typer, meta)
    commands = {
        info.name or getattr(info.callback, "__name__", "").replace("_", "-"): info
        for g in groups
        for info in g.group.registered_commands
    }
    for name in ORDER:
        app.registered_commands.append(commands.pop(name))
    assert not commands, f"commands missing from ORDER: {sorted(commands)}"
    for g in groups:
        app.registered_groups.extend(g.group.registered_groups)


ORDER: tuple[str, ...] = ("create", "get", "show", "which", "transcript", "list", "export", "du", "set")
ORDER += ("rename", "rm", "delete", "fork")
ORDER += ("prune", "import", "doctor", "exec", "completion", "help")
_wire()
