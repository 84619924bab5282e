"""The Typer commands for many mappings at once; each parses and calls its ``run_*``."""

from __future__ import annotations

from typing import Annotated

import typer

from sessmap.cli import params, spec
from sessmap.cli.commands import cleanup
from sessmap.cli.commands import listing as run
from sessmap.cli.commands.mappings import deprecated
from sessmap.cli.context import app_context
from sessmap.cli.options import (
    AgentFilter,
    ConflictPolicy,
    ProviderFilter,
    SortName,
    StateName,
    filter_options,
    output_options,
)
from sessmap.service import Filters

group = typer.Typer()


@group.command("list")
@filter_options
@output_options("list")
def list_(
    ctx: typer.Context,
    filters: Filters,
    output: run.Output,
    sort: Annotated[SortName, params.option("list", "sort")] = "last-used",
    reverse: Annotated[bool, params.option("list", "reverse")] = False,
) -> None:
    """List mappings (every agent unless --agent is given).

    At a terminal it shows 30 rows and says how many more there are (-n 0 for all); piped,
    every row.

    \b
    Example:
      sessmap list --prefix slack: --older-than 7d
      sessmap list --label team=infra --format json
      sessmap list --format keys | xargs sessmap rm
      sessmap list -n 0 --fields key,session_id,last_seen -f csv > threads.csv
    """
    run.run_list(app_context(ctx), run.ListArgs(filters, output, sort, reverse))


@group.command()
@filter_options
@output_options("export")
def export(
    ctx: typer.Context,
    filters: Filters,
    output: run.Output,
    transcripts: Annotated[bool, params.option("export", "transcripts")] = False,
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
    run.run_export(app_context(ctx), run.ExportArgs(filters, output, transcripts))


@group.command()
@output_options("prune")
def prune(
    ctx: typer.Context,
    output: run.Output,
    older_than: Annotated[str | None, params.option("prune", "older_than")] = None,
    missing: Annotated[bool, params.option("prune", "missing")] = False,
    agent: AgentFilter = None,
    provider: ProviderFilter = None,
    prefix: Annotated[str | None, params.option("prune", "prefix")] = None,
    match: Annotated[str | None, params.option("prune", "match")] = None,
    label: Annotated[list[str] | None, params.option("prune", "label")] = None,
    state: Annotated[StateName | None, params.option("prune", "state")] = None,
    purge: Annotated[bool, params.option("prune", "purge")] = False,
    dry_run: Annotated[bool, params.option("prune", "dry_run")] = False,
    dry_run_n: Annotated[bool, params.option("prune", "dry_run_n")] = False,
    yes: Annotated[bool, params.option("prune", "yes")] = False,
) -> None:
    """Delete mappings not used for a while. Prints each one removed on stdout, and one
    summary line on stderr ("removed 12 of 4,211 mappings older than 30d"; -q: none).

    Age is measured from the last exec, else from creation. The filters are list's. A mapping
    labelled pin=true is never pruned unless the prune names it with --label pin=true. At a
    terminal it shows what would go and asks first; --yes does not ask, and neither do
    scripts and cron. A mapping whose thread is running (an exec holds its lock) is kept.
    --purge also deletes the agent's transcripts of the removed sessions.

    \b
    Example:
      sessmap prune --older-than 30d --dry-run
      sessmap prune --prefix tmp: --older-than 1d --yes
      17 3 * * *  sessmap -q prune --missing
    """
    context = app_context(ctx)
    if dry_run_n:
        deprecated(context, spec.DRY_RUN_N.deprecated or "")
    filters = run.make_filters(agent, provider, prefix, match, label, state=state)
    args = cleanup.PruneArgs(older_than, missing, filters, dry_run or dry_run_n, output, yes, purge)
    cleanup.run_prune(context, args)


@group.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE", help="JSONL file, or - for stdin.")],
    on_conflict: Annotated[ConflictPolicy, params.option("import", "on_conflict")] = "fail",
    dry_run: Annotated[bool, params.option("import", "dry_run")] = False,
    yes: Annotated[bool, params.option("import", "yes")] = False,
    json_output: Annotated[bool, params.option("import", "json_output")] = False,
) -> None:
    """Read mappings (and transcripts) from JSONL as export writes. A bad line imports nothing.

    With --on-conflict replace at a terminal, it says how many existing mappings it would
    replace and asks first (--yes does not ask).

    \b
    Example:
      sessmap import backup.jsonl --on-conflict skip
      sessmap import backup.jsonl --on-conflict replace --dry-run --json
      sessmap --store old.db export | sessmap --store json:new.json import -
    """
    args = cleanup.ImportArgs(source, on_conflict, dry_run, yes, json_output)
    cleanup.run_import(app_context(ctx), args)
