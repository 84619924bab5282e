"""The store's and the config's upkeep: doctor and the config group. Typer-free."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from sessmap.cli.commands.mappings import config_or_none, write_json

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext
    from sessmap.stores import Store


class Exit(Exception):
    """End the command with this exit code and no message (the Typer side raises typer.Exit)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class DoctorArgs(NamedTuple):
    fix: bool = False
    json_output: bool = False


class SettingArgs(NamedTuple):
    """config show / get / set / unset."""

    name: str = ""
    value: str = ""
    json_output: bool = False


def run_doctor(ctx: AppContext, args: DoctorArgs, on_close: Callable[[Callable[[], Any]], Any]) -> None:
    """``on_close`` registers the closing of a store opened here, past the context's own."""
    from sessmap import service
    from sessmap.cli.render import write_health
    from sessmap.errors import ExitCode

    def store() -> Store:
        # The store even when the config is broken: doctor reports that, it should not stop there.
        if ctx.store_option or config_or_none(ctx) is not None:
            return ctx.store
        from sessmap.config import default_store_url
        from sessmap.stores import open_store

        opened = open_store(default_store_url())
        on_close(opened.close)
        return opened

    health = service.doctor(store, ctx.config_path, fix=args.fix)
    if args.json_output:
        write_json(health.to_dict())
    else:
        write_health(health, sys.stdout)
    if not health.healthy:
        raise Exit(ExitCode.ERROR)


def run_config_path(ctx: AppContext, args: SettingArgs) -> None:
    ctx.out(str(ctx.config_path))


def run_config_show(ctx: AppContext, args: SettingArgs) -> None:
    import tomli_w

    from sessmap.config import read_toml

    raw = read_toml(ctx.config_path)
    if args.json_output:
        write_json(raw)
    elif raw:
        sys.stdout.write(tomli_w.dumps(raw))


def run_config_get(ctx: AppContext, args: SettingArgs) -> None:
    import json

    import tomli_w
    import typer  # typer.echo, as before: ANSI codes stripped off a terminal

    from sessmap import service
    from sessmap.config import read_toml
    from sessmap.errors import ExitCode

    value: Any = service.get_setting(read_toml(ctx.config_path), args.name)
    if value is None:
        raise Exit(ExitCode.ERROR)
    if isinstance(value, str):
        typer.echo(value)
    elif isinstance(value, dict):
        sys.stdout.write(tomli_w.dumps(value))
    else:
        # Lists of strings, numbers and booleans read the same in JSON and TOML, on one line.
        typer.echo(json.dumps(value, ensure_ascii=False))


def run_config_set(ctx: AppContext, args: SettingArgs) -> None:
    from sessmap import service

    service.set_setting(ctx.config_path, args.name, args.value)


def run_config_unset(ctx: AppContext, args: SettingArgs) -> None:
    from sessmap import service
    from sessmap.errors import ExitCode

    if not service.unset_setting(ctx.config_path, args.name):
        raise Exit(ExitCode.ERROR)
