"""Many mappings at once: list and export (prune and import: cleanup.py). Typer-free.

``list``, ``export`` and ``prune`` print rows with the same output options (cli/spec.py
``OUTPUT``): ``-f/--format``, ``--json``, ``-n/--limit``, ``--fields``; cli/output.py checks
them and prints the rows (``Output``, ``show``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sessmap.cli.commands.mappings import parse_labels
from sessmap.cli.output import Output as Output  # re-exported: the Typer commands name it run.Output

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext
    from sessmap.service import Filters


def parse_optional_duration(text: str | None) -> Any:
    from sessmap.durations import parse_duration

    return None if text is None else parse_duration(text)


def make_filters(
    agent: str | None = None,
    provider: str | None = None,
    prefix: str | None = None,
    match: str | None = None,
    label: Sequence[str] | None = None,
    older_than: str | None = None,
    newer_than: str | None = None,
    state: Any = None,
) -> Filters:
    """The list/export filters, as typed, checked and parsed."""
    from sessmap.service import Filters
    from sessmap.validation import validate_agent, validate_provider

    return Filters(
        agent=validate_agent(agent) if agent is not None else None,
        provider=validate_provider(provider) if provider is not None else None,
        prefix=prefix,
        match=match,
        labels=tuple(parse_labels(label)),
        older_than=parse_optional_duration(older_than),
        newer_than=parse_optional_duration(newer_than),
        state=state,
    )


class ListArgs(NamedTuple):
    filters: Filters
    output: Output = Output()
    sort: Any = "last-used"
    reverse: bool = False


class ExportArgs(NamedTuple):
    filters: Filters
    output: Output = Output()
    transcripts: bool = False


def run_list(ctx: AppContext, args: ListArgs) -> None:
    from sessmap.cli.output import DEFAULT_PAGE, show

    terminal = sys.stdout.isatty()
    default = "table" if terminal else "tsv"
    fmt, _ = args.output.check(default)
    # A person at a terminal gets a page and the count of the rest; a pipe gets every row.
    page = DEFAULT_PAGE if terminal and args.output.limit is None else None
    query = args.filters.query(sort=args.sort, reverse=args.reverse, limit=args.output.row_limit)
    count = show(ctx, ctx.existing_store.query(query), args.output, default_format=default, page=page)
    if not count and fmt == "table":
        ctx.info("no mappings")


def run_export(ctx: AppContext, args: ExportArgs) -> None:
    from sessmap.cli.output import show
    from sessmap.cli.progress import counted, progress

    fmt, fields = args.output.check("jsonl")
    query = args.filters.query(sort="key", limit=args.output.row_limit)
    if not args.transcripts:
        with progress(ctx, "exporting") as tick:
            rows = counted(ctx.existing_store.query(query), tick)
            show(ctx, rows, args.output, default_format="jsonl")
        return
    if fmt != "jsonl" or fields is not None:
        from sessmap.errors import InvalidInput

        what = fmt if fields is None else "chosen fields"
        raise InvalidInput(
            f"--transcripts writes whole jsonl, not {what}", hint="drop --format/--json/--fields"
        )
    from sessmap import service

    with progress(ctx, "exporting") as tick:
        for line in counted(service.export_lines(ctx.existing_store, query, transcripts=True), tick):
            sys.stdout.write(line + "\n")
