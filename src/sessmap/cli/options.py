"""Typer parameters shared by several commands, made from the table in cli/spec.py.

``Annotated`` aliases for the single options, and two decorators that give a command a whole
set of options and hand them over as one value: ``filter_options`` (``filters: Filters``) and
``output_options`` (``output: Output``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import typer

from sessmap.cli import params, spec
from sessmap.cli.commands.listing import make_filters
from sessmap.cli.complete import complete_keys
from sessmap.cli.output import Output
from sessmap.config import OnStale
from sessmap.model import State
from sessmap.service import Filters
from sessmap.stores.base import OnConflict, SortOrder

R = TypeVar("R")

# The model's own Literal types, under the names the options use.
StateName = State
OutputFormat = Literal["table", "json", "jsonl", "tsv", "csv", "keys"]
SortName = SortOrder
ConflictPolicy = OnConflict
OnStaleName = OnStale

Agent = Annotated[str, params.typer_option(spec.AGENT)]
AgentFilter = Annotated[str | None, params.typer_option(spec.AGENT_FILTER)]
Provider = Annotated[str | None, params.typer_option(spec.PROVIDER)]
ProviderFilter = Annotated[str | None, params.typer_option(spec.PROVIDER_FILTER)]
Labels = Annotated[list[str] | None, params.typer_option(spec.LABEL)]
Json = Annotated[bool, params.typer_option(spec.JSON)]
Cwd = Annotated[str | None, params.typer_option(spec.CWD)]
SessionId = Annotated[str | None, params.typer_option(spec.SESSION_ID)]
Key = Annotated[
    str,
    typer.Argument(
        metavar="KEY",
        help="Thread key, e.g. slack:C024BE91L:1700000000.000100 (after -- if it starts with -).",
        autocompletion=complete_keys,
        show_default=False,
    ),
]


def _filters(
    agent: AgentFilter = None,
    provider: ProviderFilter = None,
    prefix: Annotated[str | None, params.option("list", "prefix")] = None,
    match: Annotated[str | None, params.option("list", "match")] = None,
    label: Annotated[list[str] | None, params.option("list", "label")] = None,
    older_than: Annotated[str | None, params.option("list", "older_than")] = None,
    newer_than: Annotated[str | None, params.option("list", "newer_than")] = None,
    state: Annotated[StateName | None, params.option("list", "state")] = None,
) -> Filters:
    return make_filters(agent, provider, prefix, match, label, older_than, newer_than, state)


def _parameters(function: Callable[..., Any]) -> list[inspect.Parameter]:
    return list(inspect.signature(function, eval_str=True).parameters.values())


def _bundle(
    name: str, builder: Callable[..., Any], extra: list[inspect.Parameter]
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A decorator giving a command the parameters ``extra``; it receives ``builder(**them)`` as
    ``name``. Typer reads parameters from the signature, so the wrapper advertises the
    command's own parameters (less ``name``) followed by ``extra``."""

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        own = [p for p in _parameters(command) if p.name != name]
        names = [p.name for p in extra]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> R:
            kwargs[name] = builder(**{key: kwargs.pop(key) for key in names})
            return command(**kwargs)

        parameters = [*own, *extra]
        wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper

    return decorate


filter_options = _bundle("filters", _filters, _parameters(_filters))

_OUTPUT_TYPES: dict[str, Any] = {
    "output_format": OutputFormat | None,
    "json_output": bool,
    "limit": int | None,
    "fields": str | None,
}


def output_options(command: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """``-f/--format``, ``--json``, ``-n/--limit`` and ``--fields``: those of them ``command``
    has in the table (spec.OUTPUT), handed over as one ``Output``."""
    extra = [
        inspect.Parameter(
            opt.dest,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=opt.default,
            annotation=Annotated[_OUTPUT_TYPES[opt.dest], params.option(command, opt.dest)],
        )
        for opt in spec.COMMANDS[command]
        if opt.dest in _OUTPUT_TYPES
    ]
    return _bundle("output", Output, extra)
