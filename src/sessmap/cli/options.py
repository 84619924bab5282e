"""Parameters shared by several commands, defined once.

``Annotated`` aliases for the single options, and ``filter_options``, a decorator that gives
a command the whole set of list/export filters and hands them over as one ``Filters``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, TypeVar

import typer

from sessmap.cli.complete import complete_agents, complete_keys, complete_providers
from sessmap.model import State
from sessmap.service import Filters
from sessmap.stores.base import OnConflict, SortOrder

R = TypeVar("R")

# The model's own Literal types, under the names the options use.
StateName = State
OutputFormat = Literal["table", "json", "jsonl", "tsv", "keys"]
SortName = SortOrder
ConflictPolicy = OnConflict

Agent = Annotated[
    str,
    typer.Option(
        "--agent",
        "-a",
        envvar="SESSMAP_AGENT",
        metavar="NAME",
        help="Agent name: one thread can hold a separate session per agent.",
        autocompletion=complete_agents,
    ),
]
AgentFilter = Annotated[
    str | None,
    typer.Option(
        "--agent",
        "-a",
        metavar="NAME",
        help="Only this agent's mappings (default: every agent).",
        autocompletion=complete_agents,
    ),
]
Key = Annotated[
    str,
    typer.Argument(
        metavar="KEY",
        help="Thread key, e.g. slack:C024BE91L:1700000000.000100 (after -- if it starts with -).",
        autocompletion=complete_keys,
        show_default=False,
    ),
]
Provider = Annotated[
    str | None,
    typer.Option(
        "--provider",
        "-p",
        metavar="NAME",
        help="claude, codex, or a provider from the config.",
        autocompletion=complete_providers,
    ),
]
ProviderFilter = Annotated[
    str | None,
    typer.Option(
        "--provider",
        "-p",
        metavar="NAME",
        help="Only mappings of this provider.",
        autocompletion=complete_providers,
    ),
]
Labels = Annotated[
    list[str] | None,
    typer.Option("--label", "-l", metavar="K=V", help="Set a label (repeatable).", show_default=False),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Cwd = Annotated[
    str | None,
    typer.Option(
        "--cwd", metavar="DIR", help="Directory the agent runs in (made absolute).", show_default=False
    ),
]
SessionId = Annotated[
    str | None, typer.Option("--session-id", metavar="ID", help="The agent's session id.", show_default=False)
]


def parse_labels(values: Iterable[str] | None) -> list[tuple[str, str]]:
    """``--label k=v`` values; InvalidInput (exit 2) for a malformed one."""
    from sessmap.model import parse_label

    return [parse_label(value) for value in values or ()]


def parse_optional_duration(text: str | None) -> Any:
    from sessmap.durations import parse_duration

    return None if text is None else parse_duration(text)


def _filters(
    agent: AgentFilter = None,
    provider: ProviderFilter = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", metavar="S", help="Only keys starting with S.")
    ] = None,
    match: Annotated[
        str | None,
        typer.Option("--match", metavar="GLOB", help="Only keys matching GLOB (case-sensitive, * ? [..])."),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            "-l",
            metavar="K=V",
            help="Only mappings with this label (repeatable, ANDed).",
            show_default=False,
        ),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", metavar="DUR", help="Last used (or created) more than DUR ago."),
    ] = None,
    newer_than: Annotated[
        str | None, typer.Option("--newer-than", metavar="DUR", help="Last used (or created) within DUR.")
    ] = None,
    state: Annotated[StateName | None, typer.Option("--state", help="Only mappings in this state.")] = None,
) -> Filters:
    from sessmap.model import validate_agent, validate_provider

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


def filter_options(command: Callable[..., R]) -> Callable[..., R]:
    """Give ``command`` every filter option; it receives them parsed, as ``filters: Filters``.

    Typer reads parameters from the signature, so the wrapper advertises the command's own
    parameters (less ``filters``) followed by those of ``_filters``.
    """
    filter_parameters = list(inspect.signature(_filters, eval_str=True).parameters.values())
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "filters"]
    names = [p.name for p in filter_parameters]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> R:
        filters = _filters(**{name: kwargs.pop(name) for name in names})
        return command(filters=filters, **kwargs)

    parameters = [*own, *filter_parameters]
    wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper
