"""The ``sessmap`` command: global options, the commands, and one place that turns errors
into a single ``sessmap: error: …`` line and an exit code (SPEC §6).

Commands only parse, call ``sessmap.service`` and render; nothing else lives here.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from sessmap import __version__
from sessmap.cli.complete import complete_keys
from sessmap.cli.context import AppContext, app_context
from sessmap.cli.failures import PROG, describe, error_line, exec_describe, reader_went_away, with_hint
from sessmap.cli.options import (
    Agent,
    AgentFilter,
    ConflictPolicy,
    Cwd,
    Json,
    Key,
    Labels,
    OutputFormat,
    Provider,
    ProviderFilter,
    SessionId,
    SortName,
    filter_options,
    parse_labels,
    parse_optional_duration,
)
from sessmap.errors import ExitCode, InvalidInput, NotFound, SessmapError
from sessmap.service import Filters


class SessmapGroup(TyperGroup):
    """The root group. Runs Click without its standalone error printing and maps every error
    to one stderr line and the documented exit code; a traceback only with ``-v``."""

    _root: Any = None  # the root Click context of the last run

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        context = super().make_context(info_name, args, parent=parent, **extra)
        self._root = context  # kept so the error handler can read -v
        return context

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
            code = ExitCode.SESSMAP_FAILED if self._in_exec() else ExitCode.USAGE
            return self._fail(
                err, with_hint(err.format_message().rstrip("."), f"try: {command} --help"), code
            )
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
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(
    name="config",
    help="Read and change the TOML config file.\n\n\b\nExample:\n  sessmap config set ttl 14d",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(config_app)


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
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="SESSMAP_STORE",
            metavar="URL",
            help="sqlite:PATH, json:PATH, a .db/.json path, postgresql://… or redis://… "
            "[default: config 'store', else the user data dir's sessions.db]",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="SESSMAP_CONFIG",
            metavar="PATH",
            help="Config file [default: config.toml in the user config dir].",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only data and errors; no messages.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More messages; tracebacks on errors.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (also: NO_COLOR=1).")] = False,
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
        config_option=config.expanduser() if config else None,
        quiet=quiet,
        verbose=verbose,
        color=not no_color and not os.environ.get("NO_COLOR"),
    )
    ctx.obj = context
    ctx.call_on_close(context.close)


# --- create, get, show ---------------------------------------------------------------------


@app.command()
def create(
    ctx: typer.Context,
    key: Key,
    agent: Agent = "default",
    provider: Provider = None,
    session_id: SessionId = None,
    cwd: Cwd = None,
    label: Labels = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace an existing mapping.")] = False,
    json_output: Json = False,
) -> None:
    """Create a mapping for a thread and print its session id.

    Without --session-id, claude gets a fresh UUID; providers that choose their own id
    (codex) start pending and the id is captured on the first exec. An existing mapping
    exits 4 unless --force.

    \b
    Example:
      sessmap create slack:C024BE91L:1700000000.000100 --cwd ~/src/app -l team=infra
      sessmap create -a reviewer --provider codex discord:1234
    """
    from sessmap import service

    context = app_context(ctx)
    mapping = service.create(
        context.store,
        context.config,
        agent=agent,
        key=key,
        provider=provider,
        session_id=session_id,
        cwd=cwd,
        labels=parse_labels(label),
        force=force,
    )
    if json_output:
        _write_json(mapping.to_dict())
    elif mapping.session_id is None:
        context.info("pending: the id is captured on the first exec")
    else:
        context.out(mapping.session_id)


@app.command()
def get(ctx: typer.Context, key: Key, agent: Agent = "default", json_output: Json = False) -> None:
    """Print a thread's session id, alone on stdout.

    Exits 3 when there is no mapping, or when it is pending (no id until its first exec).

    \b
    Example:
      claude --resume "$(sessmap get slack:C024BE91L:1700000000.000100)"
    """
    from sessmap import service

    context = app_context(ctx)
    if json_output:
        _write_json(service.require(context.store, agent, key).to_dict())
    else:
        context.out(service.session_id_of(context.store, agent, key))


@app.command()
def show(ctx: typer.Context, key: Key, agent: Agent = "default", json_output: Json = False) -> None:
    """Show every field of a mapping, its forks, and its transcript file.

    \b
    Example:
      sessmap show slack:C024BE91L:1700000000.000100
      sessmap show --json telegram:42:7 | jq .transcript
    """
    from sessmap import service
    from sessmap.cli.render import write_details

    context = app_context(ctx)
    details = service.describe(context.store, agent, key, _config_or_none(context))
    if json_output:
        _write_json(details.to_dict())
    else:
        write_details(details, sys.stdout)


def _config_or_none(context: AppContext) -> Any:
    """The config when it is valid; reading commands still work with a broken one."""
    try:
        return context.config
    except SessmapError:
        return None


# --- list and export -----------------------------------------------------------------------


@app.command("list")
@filter_options
def list_(
    ctx: typer.Context,
    filters: Filters,
    sort: Annotated[SortName, typer.Option("--sort", help="Order: newest first for times.")] = "last-used",
    reverse: Annotated[bool, typer.Option("--reverse", "-r", help="Reverse the order.")] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=0, metavar="N", help="At most N rows.")
    ] = None,
    output_format: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="table on a terminal, else tsv (no header; columns: key agent provider session_id "
            "state turns last_used_at created_at).",
            show_default=False,
        ),
    ] = None,
    json_output: Json = False,
) -> None:
    """List mappings (every agent unless --agent is given).

    \b
    Example:
      sessmap list --prefix slack: --older-than 7d
      sessmap list --label team=infra --format json
      sessmap list --format keys | xargs sessmap rm
    """
    from sessmap.cli.render import write_mappings

    context = app_context(ctx)
    fmt = "json" if json_output else output_format or ("table" if sys.stdout.isatty() else "tsv")
    query = filters.query(sort=sort, reverse=reverse, limit=limit)
    count = write_mappings(context.store.query(query), fmt, sys.stdout, color=context.color)
    if not count and fmt == "table":
        context.info("no mappings")


@app.command()
@filter_options
def export(
    ctx: typer.Context,
    filters: Filters,
    transcripts: Annotated[
        bool,
        typer.Option("--transcripts", help="Also write the store's copies of their transcripts."),
    ] = False,
) -> None:
    """Write mappings as JSONL on stdout (one JSON object a line), for import.

    With --transcripts the store's copies of their conversations follow the mappings, so a bot
    moves to a new machine with its threads' memory.

    \b
    Example:
      sessmap export > backup.jsonl
      sessmap export | sessmap --store json:map.json import -
      sessmap export --transcripts | ssh new-host sessmap import -
    """
    from sessmap.cli.render import write_mappings

    context = app_context(ctx)
    query = filters.query(sort="key")
    if not transcripts:
        write_mappings(context.store.query(query), "jsonl", sys.stdout)
        return
    from sessmap import service

    for line in service.export_lines(context.store, query, transcripts=True):
        sys.stdout.write(line + "\n")


# --- changing mappings ---------------------------------------------------------------------


@app.command("set")
def set_(
    ctx: typer.Context,
    key: Key,
    agent: Agent = "default",
    session_id: SessionId = None,
    provider: Provider = None,
    cwd: Cwd = None,
    label: Labels = None,
    unlabel: Annotated[
        list[str] | None, typer.Option("--unlabel", metavar="K", help="Remove a label (repeatable).")
    ] = None,
    json_output: Json = False,
) -> None:
    """Change fields of a mapping (atomically). A --session-id makes it active.

    \b
    Example:
      sessmap set slack:C024BE91L:1700000000.000100 -l status=done --unlabel wip
      sessmap set discord:1234 --session-id 0199a2b1-7c3e-7d10-9f00-5a3b2c1d0e4f
    """
    from sessmap import service

    context = app_context(ctx)
    mapping = service.update(
        context.store,
        _config_or_none(context) if provider is None else context.config,
        agent=agent,
        key=key,
        session_id=session_id,
        provider=provider,
        cwd=cwd,
        labels=parse_labels(label),
        unlabels=unlabel or (),
    )
    if json_output:
        _write_json(mapping.to_dict())


@app.command()
def rename(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(metavar="OLD", help="Current key.", autocompletion=complete_keys)],
    new: Annotated[str, typer.Argument(metavar="NEW", help="New key; must not exist.")],
    agent: Agent = "default",
) -> None:
    """Re-key a mapping (its forks follow). Exits 4 if NEW exists.

    \b
    Example:
      sessmap rename ticket:OPS-12 ticket:OPS-12-archived
    """
    from sessmap import service

    context = app_context(ctx)
    service.rename(context.store, agent=agent, old_key=old, new_key=new)


def _keys_from(arguments: list[str]) -> Iterator[str]:
    """``-`` stands for the keys on stdin, one a line (blank lines skipped)."""
    for argument in arguments:
        if argument == "-":
            yield from (line.rstrip("\r\n") for line in sys.stdin if line.strip())
        else:
            yield argument


def rm(
    ctx: typer.Context,
    keys: Annotated[
        list[str],
        typer.Argument(
            metavar="KEY...",
            help="Keys to delete; - reads keys from stdin, one a line.",
            autocompletion=complete_keys,
            show_default=False,
        ),
    ],
    agent: Agent = "default",
    missing_ok: Annotated[
        bool, typer.Option("--missing-ok", help="A key with no mapping is not an error.")
    ] = False,
) -> None:
    """Delete mappings. Deletes those that exist, then exits 3 if any was missing.

    \b
    Example:
      sessmap rm slack:C024BE91L:1700000000.000100
      sessmap list --format keys --prefix tmp: | sessmap rm -
    """
    from sessmap import service

    context = app_context(ctx)
    result = service.remove(context.store, agent=agent, keys=_keys_from(keys))
    for mapping in result.removed:
        context.debug(f"removed {mapping.key}")
    if result.missing and not missing_ok:
        shown = ", ".join(repr(key) for key in result.missing[:3])
        more = f" and {len(result.missing) - 3} more" if len(result.missing) > 3 else ""
        raise NotFound(f"no mapping for {shown}{more} (agent {agent})", hint="try: --missing-ok")


app.command("rm")(rm)
app.command(
    "delete",
    help="Same as rm: delete mappings.\n\n\b\nExample:\n  sessmap delete slack:C024BE91L:1700000000.000100",
)(rm)


@app.command()
def fork(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SRC", help="Key to fork.", autocompletion=complete_keys)],
    target: Annotated[str, typer.Argument(metavar="DST", help="New key; must not exist.")],
    agent: Agent = "default",
    label: Labels = None,
    json_output: Json = False,
) -> None:
    """Make DST a pending fork of SRC; DST's first exec forks SRC's agent session.

    DST gets SRC's provider, cwd and labels (plus --label ones). Exits 3 if SRC is missing,
    4 if DST exists, 2 if SRC has no session id yet.

    \b
    Example:
      sessmap fork slack:C1:1700000000.000100 slack:C1:1700000999.000200 -l forked=yes
    """
    from sessmap import service

    context = app_context(ctx)
    mapping = service.fork(
        context.store, agent=agent, source_key=source, target_key=target, labels=parse_labels(label)
    )
    if json_output:
        _write_json(mapping.to_dict())
    else:
        context.info(f"{target}: pending-fork of {source}; the fork happens on its first exec")


# --- prune, import, doctor -----------------------------------------------------------------


@app.command()
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DUR",
            help="Age limit [default: config ttl, else 30d].",
            show_default=False,
        ),
    ] = None,
    missing: Annotated[
        bool,
        typer.Option(
            "--missing",
            help="Also remove mappings whose transcript is proven gone (seen before on this host, "
            "now missing there and from the store). Ones that cannot be checked are kept.",
        ),
    ] = False,
    provider: ProviderFilter = None,
    agent: AgentFilter = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Show what would go; delete nothing.")
    ] = False,
    json_output: Json = False,
) -> None:
    """Delete mappings not used for a while. Prints each one removed; nothing when none.

    Age is measured from the last exec, else from creation.

    \b
    Example:
      sessmap prune --older-than 30d --dry-run
      17 3 * * *  sessmap -q prune --missing
    """
    from sessmap import service
    from sessmap.cli.render import write_mappings

    context = app_context(ctx)
    age = parse_optional_duration(older_than)
    config = context.config if age is None or missing else _config_or_none(context)
    pruned = service.prune(
        context.store,
        config,
        older_than=age,
        missing=missing,
        agent=agent,
        provider=provider,
        dry_run=dry_run,
    )
    removed = pruned.removed
    if json_output:
        _write_json(
            {
                "dry_run": dry_run,
                "count": len(removed),
                "removed": [m.to_dict() for m in removed],
                "kept": [k.to_dict() for k in pruned.kept],
            }
        )
    elif not context.quiet:
        write_mappings(removed, "tsv", sys.stdout)
    if pruned.kept:
        first = pruned.kept[0]
        context.info(
            f"kept {len(pruned.kept)} mapping(s) whose transcript could not be checked from here "
            f"(first: {first.mapping.key!r}: {first.reason}); see doctor"
        )


@app.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE", help="JSONL file, or - for stdin.")],
    on_conflict: Annotated[
        ConflictPolicy, typer.Option("--on-conflict", help="What to do with mappings that exist already.")
    ] = "fail",
) -> None:
    """Read mappings (and transcripts) from JSONL as export writes. A bad line imports nothing.

    \b
    Example:
      sessmap import backup.jsonl --on-conflict skip
      sessmap --store old.db export | sessmap --store json:new.json import -
    """
    from sessmap import service

    context = app_context(ctx)
    if source == "-":
        result = service.import_mappings(context.store, sys.stdin.buffer, on_conflict)
    else:
        try:
            stream = Path(source).open("rb")  # noqa: SIM115 - closed below, after the streaming import
        except OSError as err:
            raise InvalidInput(f"cannot read {source}: {err.strerror}") from None
        with stream:
            result = service.import_mappings(context.store, stream, on_conflict)
    counts = result.mappings
    total = counts.inserted + counts.replaced
    transcripts = f"; {result.transcript_lines} transcript entries" if result.transcript_lines else ""
    context.info(
        f"imported {total} mapping(s): {counts.inserted} new, {counts.replaced} replaced, "
        f"{counts.skipped} skipped{transcripts}"
    )


@app.command()
def doctor(
    ctx: typer.Context,
    fix: Annotated[bool, typer.Option("--fix", help="Remove mappings whose transcript is gone.")] = False,
    json_output: Json = False,
) -> None:
    """Check the store, the config and the agents' transcripts. Exits 1 if problems remain.

    \b
    Example:
      sessmap doctor
      sessmap doctor --fix --json
    """
    from sessmap import service
    from sessmap.cli.render import write_health

    context = app_context(ctx)
    health = service.doctor(lambda: _store_for_doctor(ctx, context), context.config_path, fix=fix)
    if json_output:
        _write_json(health.to_dict())
    else:
        write_health(health, sys.stdout)
    if not health.healthy:
        raise typer.Exit(ExitCode.ERROR)


def _store_for_doctor(ctx: typer.Context, context: AppContext) -> Any:
    """The store even when the config is broken: doctor reports that, it should not stop there."""
    if context.store_option or _config_or_none(context) is not None:
        return context.store
    from sessmap.config import default_store_url
    from sessmap.stores import open_store

    store = open_store(default_store_url())
    ctx.call_on_close(store.close)
    return store


def _write_json(value: Any) -> None:
    from sessmap.cli.render import write_json

    write_json(value, sys.stdout)


# --- config --------------------------------------------------------------------------------


@config_app.command("path")
def config_path(ctx: typer.Context) -> None:
    """Print the config file's path (it may not exist yet).

    \b
    Example:
      $EDITOR "$(sessmap config path)"
    """
    app_context(ctx).out(str(app_context(ctx).config_path))


@config_app.command("show")
def config_show(ctx: typer.Context, json_output: Json = False) -> None:
    """Print the settings in the config file (nothing when there are none).

    \b
    Example:
      sessmap config show --json
    """
    import tomli_w

    from sessmap.config import read_toml

    raw = read_toml(app_context(ctx).config_path)
    if json_output:
        _write_json(raw)
    elif raw:
        sys.stdout.write(tomli_w.dumps(raw))


@config_app.command("get")
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
    import json

    import tomli_w

    from sessmap import service
    from sessmap.config import read_toml

    value = service.get_setting(read_toml(app_context(ctx).config_path), name)
    if value is None:
        raise typer.Exit(ExitCode.ERROR)
    if isinstance(value, str):
        typer.echo(value)
    elif isinstance(value, dict):
        sys.stdout.write(tomli_w.dumps(value))
    else:
        # Lists of strings, numbers and booleans read the same in JSON and TOML, on one line.
        typer.echo(json.dumps(value, ensure_ascii=False))


@config_app.command("set")
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
    from sessmap import service

    service.set_setting(app_context(ctx).config_path, name, value)


@config_app.command("unset")
def config_unset(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="e.g. wait_timeout, agents.reviewer")],
) -> None:
    """Remove one setting (or a whole [agents.NAME] table). Exits 1 when it was not set.

    \b
    Example:
      sessmap config unset wait_timeout
    """
    from sessmap import service

    if not service.unset_setting(app_context(ctx).config_path, name):
        raise typer.Exit(ExitCode.ERROR)


# --- exec -----------------------------------------------------------------------------------
# src/sessmap/cli/exec_cmd.py owns `sessmap exec`.
from sessmap.cli import exec_cmd  # noqa: E402 - registered after the other commands, in this order

exec_cmd.register(app)
# --- end exec ---------------------------------------------------------------------------------
