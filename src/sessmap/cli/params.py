"""Typer parameters made from the option table (cli/spec.py). Typer loads here, so only the
full app imports this module; the fast path reads the table itself."""

from __future__ import annotations

from typing import Any

from sessmap.cli.spec import Opt, find


def option(command: str, dest: str, **extra: Any) -> Any:
    """The ``typer.Option(...)`` of ``command``'s option ``dest``, for ``Annotated[...]``."""
    return typer_option(find(command, dest), **extra)


def typer_option(opt: Opt, **extra: Any) -> Any:
    """As ``option``, for an ``Opt`` of the table."""
    import typer

    from sessmap.cli import complete

    kwargs: dict[str, Any] = {"help": opt.help, "show_default": opt.show_default, "hidden": opt.hidden}
    if opt.metavar:
        kwargs["metavar"] = opt.metavar
    if opt.envvar:
        kwargs["envvar"] = opt.envvar
    if opt.minimum is not None:
        kwargs["min"] = opt.minimum
    if opt.complete:
        kwargs["autocompletion"] = getattr(complete, f"complete_{opt.complete}")
    make: Any = typer.Option  # flags in the place of the default, as Typer reads them with Annotated
    return make(*opt.flags, **kwargs, **extra)
