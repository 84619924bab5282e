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
    dry_run: bool = False
    yes: bool = False
    purge: bool = False


class SettingArgs(NamedTuple):
    """config show / get / set / unset."""

    name: str = ""
    value: str = ""
    json_output: bool = False


def run_doctor(ctx: AppContext, args: DoctorArgs, on_close: Callable[[Callable[[], Any]], Any]) -> None:
    """``on_close`` registers the closing of a store opened here, past the context's own."""
    from sessmap import service
    from sessmap.cli.confirm import confirm, plural, should_ask
    from sessmap.cli.progress import progress
    from sessmap.cli.render import write_health
    from sessmap.errors import ExitCode

    opened: list[Store] = []

    def store() -> Store:
        # The store even when the config is broken: doctor reports that, it should not stop there.
        if ctx.store_option or config_or_none(ctx) is not None:
            return ctx.existing_store
        if not opened:  # once, though a --fix that asks first runs the checks twice
            from sessmap.config import default_store_url
            from sessmap.stores import open_store

            opened.append(open_store(default_store_url(), create=False))
            on_close(opened[0].close)
        return opened[0]

    def check(dry_run: bool) -> service.Health:
        with progress(ctx, "checking transcripts") as tick:
            return service.doctor(
                store, ctx.config_path, fix=args.fix, dry_run=dry_run, progress=tick, purge=args.purge
            )

    if args.fix and not args.dry_run and should_ask(args.yes):
        plan = check(True)
        if plan.fixed:
            count = len(plan.fixed)
            rows = [f"{m.mapping.key} (agent {m.mapping.agent}): {m.reason}" for m in plan.fixed[:10]]
            ctx.echo_err(f"{plural(count)} point at a transcript that is gone:")
            confirm(f"Remove {plural(count)}?", rows, count, cancelled="cancelled; nothing removed")
        orphaned = plan.orphaned.purged if args.purge and plan.orphaned else []
        if orphaned:
            files = [str(path) for s in orphaned for path in s.files]
            ctx.echo_err(
                f"{plural(len(orphaned), 'session')} sessmap started, used by no mapping, still have files:"
            )
            confirm(
                f"Delete {plural(len(files), 'file')}?",
                files[:10],
                len(files),
                cancelled="cancelled; nothing removed",
            )
    health = check(args.dry_run)
    if args.json_output:
        write_json(health.to_dict())
    else:
        write_health(health, sys.stdout)
        _report_orphans(ctx, health)
    if not health.healthy:
        raise Exit(ExitCode.ERROR)


def _report_orphans(ctx: AppContext, health: Any) -> None:
    orphaned = health.orphaned.purged if health.orphaned else []
    if not orphaned:
        return
    size = sum(s.bytes for s in orphaned)
    if health.orphans_deleted:
        ctx.info(
            f"deleted the transcripts of {len(orphaned)} session(s) sessmap started that no mapping used: "
            f"{size:,} bytes"
        )
        return
    ctx.info(
        f"{len(orphaned)} session(s) sessmap started that no mapping uses still take {size:,} bytes "
        f"(first: {orphaned[0].files[0]}); doctor --fix --purge deletes them"
    )


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
