"""The Typer commands doctor and config; each parses and calls its ``run_*``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from sessmap.cli import params
from sessmap.cli.commands import admin as run
from sessmap.cli.context import AppContext, app_context
from sessmap.cli.options import Json

group = typer.Typer()
config_group = typer.Typer(
    name="config",
    help="Read and change the TOML config file.\n\n\b\nExample:\n  sessmap config set ttl 14d",
    no_args_is_help=True,
    rich_markup_mode=None,
)
group.add_typer(config_group)


def _call(
    ctx: typer.Context, command: Callable[[AppContext, run.SettingArgs], None], args: run.SettingArgs
) -> None:
    try:
        command(app_context(ctx), args)
    except run.Exit as done:
        raise typer.Exit(done.code) from None


@group.command()
def doctor(
    ctx: typer.Context,
    fix: Annotated[bool, params.option("doctor", "fix")] = False,
    purge: Annotated[bool, params.option("doctor", "purge")] = False,
    dry_run: Annotated[bool, params.option("doctor", "dry_run")] = False,
    yes: Annotated[bool, params.option("doctor", "yes")] = False,
    json_output: Json = False,
) -> None:
    """Check the store, the config and the agents' transcripts. Exits 1 if problems remain.

    --fix removes the mappings whose transcript is proven gone, except those labelled
    pin=true; at a terminal it lists them and asks first (--yes does not ask). It also
    reports the local transcripts of sessions sessmap started that no mapping uses any more
    (only a history entry names them, or their mapping was removed without --purge), and
    their size; --fix --purge deletes them.

    \b
    Example:
      sessmap doctor
      sessmap doctor --fix --dry-run
      sessmap doctor --fix --json
    """
    try:
        args = run.DoctorArgs(fix, json_output, dry_run, yes, purge)
        run.run_doctor(app_context(ctx), args, ctx.call_on_close)
    except run.Exit as done:
        raise typer.Exit(done.code) from None


@config_group.command("path")
def config_path(ctx: typer.Context) -> None:
    """Print the config file's path (it may not exist yet).

    \b
    Example:
      $EDITOR "$(sessmap config path)"
    """
    _call(ctx, run.run_config_path, run.SettingArgs())


@config_group.command("show")
def config_show(ctx: typer.Context, json_output: Json = False) -> None:
    """Print the settings in the config file (nothing when there are none).

    \b
    Example:
      sessmap config show --json
    """
    _call(ctx, run.run_config_show, run.SettingArgs(json_output=json_output))


@config_group.command("get")
def config_get(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="e.g. ttl, agents.reviewer.args")],
) -> None:
    """Print one setting. Like git config: exits 1, printing nothing, when it is not set.

    Strings print as they are; lists and tables print as TOML.

    \b
    Example:
      sessmap config get ttl
      sessmap config get agents.reviewer.args
    """
    _call(ctx, run.run_config_get, run.SettingArgs(name))


@config_group.command("set")
def config_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="e.g. ttl, agents.reviewer.provider")],
    value: Annotated[
        str, typer.Argument(metavar="VALUE", help='A TOML value (["--model","sonnet"]) or text.')
    ],
) -> None:
    """Set one setting. The whole resulting config is validated before the file is written.

    VALUE is taken as TOML when it parses as TOML (lists, quoted strings), else as text.

    \b
    Example:
      sessmap config set ttl 14d
      sessmap config set agents.reviewer.provider codex
      sessmap config set agents.reviewer.args '["--model", "sonnet"]'
    """
    _call(ctx, run.run_config_set, run.SettingArgs(name, value))


@config_group.command("unset")
def config_unset(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="e.g. wait_timeout, agents.reviewer")],
) -> None:
    """Remove one setting (or a whole [agents.NAME] table). Exits 1 when it was not set.

    \b
    Example:
      sessmap config unset wait_timeout
    """
    _call(ctx, run.run_config_unset, run.SettingArgs(name))
