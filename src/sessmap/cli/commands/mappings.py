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
    from sessmap.validation import parse_label

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
    dry_run: bool = False


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
    dry_run: bool = False


class RmArgs(NamedTuple):
    keys: Sequence[str]
    agent: str = "default"
    missing_ok: bool = False
    dry_run: bool = False
    yes: bool = False
    json_output: bool = False
    purge: bool = False


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
        dry_run=args.dry_run,
    )
    if args.dry_run:
        from sessmap.service_mappings import would_replace

        replacing = args.force and would_replace(ctx.store, args.agent, args.key)
        action = "replace" if replacing else "create"
        if args.json_output:
            write_json({"dry_run": True, "action": action, "mapping": mapping.to_dict()})
        else:
            ctx.info(f"would {action} the mapping for {args.key!r} (agent {args.agent}); nothing changed")
    elif args.json_output:
        write_json(mapping.to_dict())
    elif mapping.session_id is None:
        ctx.info("pending: the id is captured on the first exec")
    else:
        ctx.out(mapping.session_id)


def run_get(ctx: AppContext, args: KeyArgs) -> None:
    """Both paths answer ``get`` here; the store opens before agent and key are validated."""
    from sessmap import service

    if args.json_output:
        write_json(service.require(ctx.existing_store, args.agent, args.key).to_dict())
    else:
        ctx.out(service.session_id_of(ctx.existing_store, args.agent, args.key))


def run_show(ctx: AppContext, args: KeyArgs) -> None:
    from sessmap import service
    from sessmap.cli.render import write_details

    details = service.describe(ctx.existing_store, args.agent, args.key, config_or_none(ctx))
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

    mapping = service.rename(
        ctx.store, agent=args.agent, old_key=args.source, new_key=args.target, dry_run=args.dry_run
    )
    if args.json_output:
        write_json(
            {
                "dry_run": args.dry_run,
                "agent": args.agent,
                "old_key": args.source,
                "new_key": args.target,
                "mapping": mapping.to_dict(),
            }
        )
    elif args.dry_run:
        ctx.info(f"would rename {args.source!r} to {args.target!r} (agent {args.agent}); nothing changed")


def _targets_from(arguments: Sequence[str], agent: str) -> Iterator[tuple[str, str]]:
    """(agent, key) for each argument; ``-`` stands for the lines of stdin (blank ones skipped):
    a bare key (of ``agent``), or a line with a tab, read as ``list -f tsv`` prints one: key,
    agent, then columns ignored. Keys hold no control characters, so a tab cannot be a key's."""
    for argument in arguments:
        if argument != "-":
            yield agent, argument
            continue
        for raw in sys.stdin:
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            if "\t" in line:
                key, line_agent = line.split("\t")[:2]
                yield line_agent, key
            else:
                yield agent, line


def _who(mapping_agent: str, key: str) -> str:
    return f"{key} (agent {mapping_agent})"


def run_rm(ctx: AppContext, args: RmArgs) -> None:
    from sessmap import service
    from sessmap.cli.confirm import confirm, plural, should_ask
    from sessmap.errors import NotFound

    targets = list(_targets_from(args.keys, args.agent))
    several = len(targets) > 1 or "-" in args.keys
    from_stdin = "-" in args.keys
    if several and not args.dry_run and should_ask(args.yes, input_on_stdin=from_stdin):
        from sessmap.cli.commands.cleanup import removal_question

        config = ctx.config if args.purge else None
        plan = service.remove(
            ctx.store, agent=args.agent, targets=targets, dry_run=True, purge=args.purge, config=config
        )
        if plan.removed:
            rows = [_who(m.agent, m.key) for m in plan.removed[:10]]
            count = len(plan.removed)
            confirm(
                removal_question(count, plan.purge),
                rows,
                count,
                cancelled="cancelled; nothing removed",
                input_on_stdin=from_stdin,
            )
    result = service.remove(
        ctx.store,
        agent=args.agent,
        targets=targets,
        dry_run=args.dry_run,
        purge=args.purge,
        config=ctx.config if args.purge else None,
    )
    if args.json_output:
        purged = {"purge": result.purge.to_dict()} if result.purge is not None else {}
        write_json(
            {
                "dry_run": args.dry_run,
                "count": len(result.removed),
                "removed": [m.to_dict() for m in result.removed],
                "missing": [{"agent": a, "key": k} for a, k in result.missing_targets],
                **purged,
            }
        )
    elif args.dry_run:
        from sessmap.cli.render import write_mappings

        write_mappings(result.removed, "tsv", sys.stdout)
    if args.dry_run:
        ctx.info(f"would remove {plural(len(result.removed))}; nothing changed")
    for mapping in result.removed:
        ctx.debug(f"{'would remove' if args.dry_run else 'removed'} {mapping.key}")
    if result.purge is not None:
        from sessmap.cli.commands.cleanup import report_purge

        report_purge(ctx, result.purge, dry_run=args.dry_run)
    missing = result.missing_targets
    if missing and not args.missing_ok:
        shown = ", ".join(repr(key) for _, key in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        agents = sorted({agent for agent, _ in missing})
        whose = f"agent {agents[0]}" if len(agents) == 1 else f"agents {', '.join(agents)}"
        raise NotFound(f"no mapping for {shown}{more} ({whose})", hint="try: --missing-ok")


def run_fork(ctx: AppContext, args: PairArgs) -> None:
    from sessmap import service

    mapping = service.fork(
        ctx.store,
        agent=args.agent,
        source_key=args.source,
        target_key=args.target,
        labels=parse_labels(args.label),
        config=config_or_none(ctx),
    )
    if args.json_output:
        write_json(mapping.to_dict())
    else:
        ctx.info(f"{args.target}: pending-fork of {args.source}; the fork happens on its first exec")
