"""One mapping at a time: create, get, show, set, rename, rm, fork. Typer-free."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext
    from sessmap.config import Config


def write_json(value: Any) -> None:
    from sessmap.cli.render import write_json as write

    write(value, sys.stdout)


def config_or_none(ctx: AppContext) -> Config | None:
    """The config when it is valid; reading commands still work with a broken one."""
    from sessmap.errors import SessmapError

    try:
        return ctx.config
    except SessmapError:
        return None


def deprecated(ctx: AppContext, note: str) -> None:
    """A short flag whose meaning changes: one line on stderr, even under -q."""
    from sessmap.cli.errors import PROG

    ctx.echo_err(f"{PROG}: warning: {note}")


def parse_labels(values: Sequence[str] | None) -> list[tuple[str, str]]:
    """``--label k=v`` values; InvalidInput (exit 2) for a malformed one."""
    from sessmap.model import parse_label

    return [parse_label(value) for value in values or ()]


class KeyArgs(NamedTuple):
    """get and show."""

    key: str
    agent: str = "default"
    json_output: bool = False


class CreateArgs(NamedTuple):
    key: str
    agent: str = "default"
    provider: str | None = None
    session_id: str | None = None
    cwd: str | None = None
    label: Sequence[str] = ()
    force: bool = False
    json_output: bool = False


class SetArgs(NamedTuple):
    key: str
    agent: str = "default"
    session_id: str | None = None
    provider: str | None = None
    cwd: str | None = None
    label: Sequence[str] = ()
    unlabel: Sequence[str] = ()
    json_output: bool = False


class PairArgs(NamedTuple):
    """rename OLD NEW and fork SRC DST."""

    source: str
    target: str
    agent: str = "default"
    label: Sequence[str] = ()
    json_output: bool = False


class RmArgs(NamedTuple):
    keys: Sequence[str]
    agent: str = "default"
    missing_ok: bool = False


def run_create(ctx: AppContext, args: CreateArgs) -> None:
    from sessmap import service

    mapping = service.create(
        ctx.store,
        ctx.config,
        agent=args.agent,
        key=args.key,
        provider=args.provider,
        session_id=args.session_id,
        cwd=args.cwd,
        labels=parse_labels(args.label),
        force=args.force,
    )
    if args.json_output:
        write_json(mapping.to_dict())
    elif mapping.session_id is None:
        ctx.info("pending: the id is captured on the first exec")
    else:
        ctx.out(mapping.session_id)


def run_get(ctx: AppContext, args: KeyArgs) -> None:
    """Both paths answer ``get`` here; the store opens before agent and key are validated."""
    from sessmap import service

    if args.json_output:
        write_json(service.require(ctx.store, args.agent, args.key).to_dict())
    else:
        ctx.out(service.session_id_of(ctx.store, args.agent, args.key))


def run_show(ctx: AppContext, args: KeyArgs) -> None:
    from sessmap import service
    from sessmap.cli.render import write_details

    details = service.describe(ctx.store, args.agent, args.key, config_or_none(ctx))
    if args.json_output:
        write_json(details.to_dict())
    else:
        write_details(details, sys.stdout)


def run_set(ctx: AppContext, args: SetArgs) -> None:
    from sessmap import service

    mapping = service.update(
        ctx.store,
        config_or_none(ctx) if args.provider is None else ctx.config,
        agent=args.agent,
        key=args.key,
        session_id=args.session_id,
        provider=args.provider,
        cwd=args.cwd,
        labels=parse_labels(args.label),
        unlabels=args.unlabel,
    )
    if args.json_output:
        write_json(mapping.to_dict())


def run_rename(ctx: AppContext, args: PairArgs) -> None:
    from sessmap import service

    service.rename(ctx.store, agent=args.agent, old_key=args.source, new_key=args.target)


def _keys_from(arguments: Sequence[str]) -> Iterator[str]:
    """``-`` stands for the keys on stdin, one a line (blank lines skipped)."""
    for argument in arguments:
        if argument == "-":
            yield from (line.rstrip("\r\n") for line in sys.stdin if line.strip())
        else:
            yield argument


def run_rm(ctx: AppContext, args: RmArgs) -> None:
    from sessmap import service
    from sessmap.errors import NotFound

    result = service.remove(ctx.store, agent=args.agent, keys=_keys_from(args.keys))
    for mapping in result.removed:
        ctx.debug(f"removed {mapping.key}")
    if result.missing and not args.missing_ok:
        shown = ", ".join(repr(key) for key in result.missing[:3])
        more = f" and {len(result.missing) - 3} more" if len(result.missing) > 3 else ""
        raise NotFound(f"no mapping for {shown}{more} (agent {args.agent})", hint="try: --missing-ok")


def run_fork(ctx: AppContext, args: PairArgs) -> None:
    from sessmap import service

    mapping = service.fork(
        ctx.store,
        agent=args.agent,
        source_key=args.source,
        target_key=args.target,
        labels=parse_labels(args.label),
    )
    if args.json_output:
        write_json(mapping.to_dict())
    else:
        ctx.info(f"{args.target}: pending-fork of {args.source}; the fork happens on its first exec")
