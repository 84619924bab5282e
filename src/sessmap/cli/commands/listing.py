"""Many mappings at once: list, export, prune, import. Typer-free.

``list``, ``export`` and ``prune`` print rows with the same output options (cli/spec.py
``OUTPUT``): ``-f/--format``, ``--json``, ``-n/--limit``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sessmap.cli.commands.mappings import config_or_none, parse_labels, write_json

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
    from sessmap.model import validate_agent, validate_provider
    from sessmap.service import Filters

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


class Output(NamedTuple):
    """The shared output options; ``fmt`` is what they amount to, given the command's default."""

    output_format: str | None = None
    json_output: bool = False
    limit: int | None = None

    def fmt(self, default: str) -> str:
        return "json" if self.json_output else self.output_format or default


class ListArgs(NamedTuple):
    filters: Filters
    output: Output = Output()
    sort: Any = "last-used"
    reverse: bool = False


class ExportArgs(NamedTuple):
    filters: Filters
    output: Output = Output()
    transcripts: bool = False


class PruneArgs(NamedTuple):
    older_than: str | None = None
    missing: bool = False
    provider: str | None = None
    agent: str | None = None
    dry_run: bool = False
    output: Output = Output()


class ImportArgs(NamedTuple):
    source: str
    on_conflict: Any = "fail"


def run_list(ctx: AppContext, args: ListArgs) -> None:
    from sessmap.cli.render import write_mappings

    fmt = args.output.fmt("table" if sys.stdout.isatty() else "tsv")
    query = args.filters.query(sort=args.sort, reverse=args.reverse, limit=args.output.limit)
    count = write_mappings(ctx.store.query(query), fmt, sys.stdout, color=ctx.color)
    if not count and fmt == "table":
        ctx.info("no mappings")


def run_export(ctx: AppContext, args: ExportArgs) -> None:
    from sessmap.cli.render import write_mappings

    fmt = args.output.fmt("jsonl")
    query = args.filters.query(sort="key", limit=args.output.limit)
    if not args.transcripts:
        write_mappings(ctx.store.query(query), fmt, sys.stdout, color=ctx.color)
        return
    if fmt != "jsonl":
        from sessmap.errors import InvalidInput

        raise InvalidInput(f"--transcripts writes jsonl, not {fmt}", hint="drop --format/--json")
    from sessmap import service

    for line in service.export_lines(ctx.store, query, transcripts=True):
        sys.stdout.write(line + "\n")


def run_prune(ctx: AppContext, args: PruneArgs) -> None:
    from sessmap import service
    from sessmap.cli.render import write_mappings

    age = parse_optional_duration(args.older_than)
    config = ctx.config if age is None or args.missing else config_or_none(ctx)
    pruned = service.prune(
        ctx.store,
        config,
        older_than=age,
        missing=args.missing,
        agent=args.agent,
        provider=args.provider,
        dry_run=args.dry_run,
    )
    removed = pruned.removed
    if args.output.json_output:
        write_json(
            {
                "dry_run": args.dry_run,
                "count": len(removed),
                "removed": [m.to_dict() for m in removed],
                "kept": [k.to_dict() for k in pruned.kept],
            }
        )
    elif not ctx.quiet:
        write_mappings(removed, args.output.fmt("tsv"), sys.stdout, color=ctx.color)
    if pruned.kept:
        first = pruned.kept[0]
        ctx.info(
            f"kept {len(pruned.kept)} mapping(s) whose transcript could not be checked from here "
            f"(first: {first.mapping.key!r}: {first.reason}); see doctor"
        )


def run_import(ctx: AppContext, args: ImportArgs) -> None:
    from sessmap import service
    from sessmap.errors import InvalidInput

    if args.source == "-":
        result = service.import_mappings(ctx.store, sys.stdin.buffer, args.on_conflict)
    else:
        try:
            stream = Path(args.source).open("rb")  # noqa: SIM115 - closed below, after the streaming import
        except OSError as err:
            raise InvalidInput(f"cannot read {args.source}: {err.strerror}") from None
        with stream:
            result = service.import_mappings(ctx.store, stream, args.on_conflict)
    counts = result.mappings
    total = counts.inserted + counts.replaced
    transcripts = f"; {result.transcript_lines} transcript entries" if result.transcript_lines else ""
    ctx.info(
        f"imported {total} mapping(s): {counts.inserted} new, {counts.replaced} replaced, "
        f"{counts.skipped} skipped{transcripts}"
    )
