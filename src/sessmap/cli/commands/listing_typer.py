"""The Typer commands for many mappings at once; each parses and calls its ``run_*``."""

from __future__ import annotations

from typing import Annotated

import typer

from sessmap.cli import spec
from sessmap.cli.commands import listing as run
from sessmap.cli.commands.mappings import deprecated
from sessmap.cli.context import app_context
from sessmap.cli.options import (
    AgentFilter,
    ConflictPolicy,
    ProviderFilter,
    SortName,
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
    sort: Annotated[SortName, spec.option("list", "sort")] = "last-used",
    reverse: Annotated[bool, spec.option("list", "reverse")] = False,
) -> None:
    """List mappings (every agent unless --agent is given).

    \b
    Example:
      sessmap list --prefix slack: --older-than 7d
      sessmap list --label team=infra --format json
      sessmap list --format keys | xargs sessmap rm
    """
    run.run_list(app_context(ctx), run.ListArgs(filters, output, sort, reverse))


@group.command()
@filter_options
@output_options("export")
def export(
    ctx: typer.Context,
    filters: Filters,
    output: run.Output,
    transcripts: Annotated[bool, spec.option("export", "transcripts")] = False,
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
    older_than: Annotated[str | None, spec.option("prune", "older_than")] = None,
    missing: Annotated[bool, spec.option("prune", "missing")] = False,
    provider: ProviderFilter = None,
    agent: AgentFilter = None,
    dry_run: Annotated[bool, spec.option("prune", "dry_run")] = False,
    dry_run_n: Annotated[bool, spec.option("prune", "dry_run_n")] = False,
) -> None:
    """Delete mappings not used for a while. Prints each one removed; nothing when none.

    Age is measured from the last exec, else from creation.

    \b
    Example:
      sessmap prune --older-than 30d --dry-run
      17 3 * * *  sessmap -q prune --missing
    """
    context = app_context(ctx)
    if dry_run_n:
        deprecated(context, spec.DRY_RUN_N.deprecated or "")
    args = run.PruneArgs(older_than, missing, provider, agent, dry_run or dry_run_n, output)
    run.run_prune(context, args)


@group.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE", help="JSONL file, or - for stdin.")],
    on_conflict: Annotated[ConflictPolicy, spec.option("import", "on_conflict")] = "fail",
) -> None:
    """Read mappings (and transcripts) from JSONL as export writes. A bad line imports nothing.

    \b
    Example:
      sessmap import backup.jsonl --on-conflict skip
      sessmap --store old.db export | sessmap --store json:new.json import -
    """
    run.run_import(app_context(ctx), run.ImportArgs(source, on_conflict))
