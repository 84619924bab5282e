"""The Typer command ``du``; it parses and calls ``run_du``."""

from __future__ import annotations

import typer

from sessmap.cli.commands import disk as run
from sessmap.cli.context import app_context
from sessmap.cli.options import filter_options, output_options
from sessmap.service import Filters

group = typer.Typer()


@group.command()
@filter_options
@output_options("du")
def du(ctx: typer.Context, filters: Filters, output: run.Output) -> None:
    """Show the disk each mapping's transcripts take, largest first, and the total.

    Counts the agent's local files of the current session and of the earlier ones in its
    history (side files included), and the store's copies. Nothing is read but sizes. The
    filters are list's.

    \b
    Example:
      sessmap du -n 10
      sessmap du --prefix slack: --json
      sessmap du -f csv > disk.csv
    """
    run.run_du(app_context(ctx), run.DuArgs(filters, output))
