"""``du``: the disk the mappings' transcripts take, largest first. Typer-free."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NamedTuple

from sessmap.cli.output import Output as Output  # re-exported: the Typer command names it run.Output

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext
    from sessmap.service import Filters


class DuArgs(NamedTuple):
    filters: Filters
    output: Output = Output()


def run_du(ctx: AppContext, args: DuArgs) -> None:
    from sessmap.cli.commands.mappings import config_or_none
    from sessmap.cli.conversation import write_disk_use
    from sessmap.service_conversation import disk_use

    fmt = args.output.fmt("table" if sys.stdout.isatty() else "tsv")
    store = ctx.existing_store
    rows = disk_use(store.query(args.filters.query(sort="key")), config_or_none(ctx), store)
    if not rows and fmt == "table":
        ctx.info("no mappings")
        return
    write_disk_use(rows, fmt, sys.stdout, shown=args.output.row_limit)
