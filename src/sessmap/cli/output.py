"""The output options every command that prints rows of mappings shares (cli/spec.py
``OUTPUT``: ``-f/--format``, ``--json``, ``-n/--limit``, ``--fields``), checked once, and the
one function that prints rows with them. Typer-free and cheap to import.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext
    from sessmap.cli.render import Facts
    from sessmap.model import Mapping

DEFAULT_PAGE = 30
"""Rows ``list`` shows at a terminal unless ``-n`` says otherwise (as ``gh``): a person reads a
page, a script in a pipe gets everything."""


class Output(NamedTuple):
    """The shared output options, as typed; the methods say what they amount to."""

    output_format: str | None = None
    json_output: bool = False
    limit: int | None = None
    fields: str | None = None  # "key,session_id", checked by ``field_names``

    def fmt(self, default: str) -> str:
        """The format, given the command's default; ``--json`` with another ``-f`` is an error
        rather than a silent choice of one."""
        if self.json_output and self.output_format not in (None, "json"):
            from sessmap.errors import InvalidInput

            raise InvalidInput(f"--json and --format {self.output_format} disagree", hint="use one")
        return "json" if self.json_output else self.output_format or default

    @property
    def row_limit(self) -> int | None:
        """The store query's limit: ``-n 0`` means every row, as no ``-n`` does."""
        return self.limit or None

    def field_names(self) -> tuple[str, ...] | None:
        """``--fields`` as names, in the order given; None without it. An unknown or repeated
        name is a usage error that lists the valid ones."""
        if self.fields is None:
            return None
        from sessmap.cli.spec import MAPPING_FIELDS
        from sessmap.errors import InvalidInput

        names = tuple(name.strip() for name in self.fields.split(","))
        unknown = [name for name in names if name not in MAPPING_FIELDS]
        if unknown:
            raise InvalidInput(
                f"unknown field {unknown[0]!r} in --fields", hint=f"valid fields: {','.join(MAPPING_FIELDS)}"
            )
        repeated = next((name for name in names if names.count(name) > 1), None)
        if repeated is not None:
            raise InvalidInput(f"--fields names {repeated!r} twice", hint="name it once")
        return names

    def check(self, default: str) -> tuple[str, tuple[str, ...] | None]:
        """The format and the fields, both checked: call before opening the store, so a bad
        command line fails fast."""
        return self.fmt(default), self.field_names()


def show(
    ctx: AppContext,
    mappings: Iterator[Mapping],
    output: Output,
    *,
    default_format: str,
    page: int | None = None,
) -> int:
    """Print ``mappings`` (already limited by the query's ``output.row_limit``) on stdout with
    the output options; returns how many were printed.

    ``page``: print at most that many, then count the rest without rendering them and say on
    stderr how many more there are (``list`` at a terminal). Counting walks the stream, so
    memory stays flat and no store needs a count query; the page is flushed first, so people
    read it while the count runs.
    """
    from sessmap.cli.render import write_mappings

    fmt, fields = output.check(default_format)
    facts = _facts(ctx, fields)
    if page is None:
        return write_mappings(mappings, fmt, sys.stdout, color=ctx.color, fields=fields, facts=facts)
    try:
        head = itertools.islice(mappings, page)
        count = write_mappings(head, fmt, sys.stdout, color=ctx.color, fields=fields, facts=facts)
        sys.stdout.flush()
        more = sum(1 for _ in mappings)
    finally:
        mappings_close = getattr(mappings, "close", None)
        if mappings_close is not None:
            mappings_close()
    if more:
        ctx.info(f"{more} more; use -n 0 for all")
    return count


def _facts(ctx: AppContext, fields: tuple[str, ...] | None) -> Facts | None:
    """The transcript reader for the computed fields, only when ``fields`` names one: a plain
    ``list`` never loads it."""
    from sessmap.cli.spec import CONVERSATION_FIELDS

    if not fields or not any(name in CONVERSATION_FIELDS for name in fields):
        return None
    from sessmap.cli.commands.mappings import config_or_none
    from sessmap.service_conversation import ConversationFields

    return ConversationFields(ctx.existing_store, config_or_none(ctx))
