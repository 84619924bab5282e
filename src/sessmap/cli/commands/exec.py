"""``sessmap exec``, Typer-free: both CLI paths build the runner's request and run it here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext
    from sessmap.runner import ExecRequest


class ExecArgs(NamedTuple):
    """exec's options as typed (cli/spec.py ``COMMANDS["exec"]``)."""

    key: str
    command: Sequence[str]
    agent: str = "default"
    provider: str | None = None
    cwd: str | None = None
    new: bool = False
    no_wait: bool = False
    wait_timeout: str | None = None
    on_stale: Any = None  # "fresh", "fail" or None: checked by the parser
    dry_run: bool = False
    status: str | None = None
    status_fd: str | None = None


def agent_command(arguments: Sequence[str]) -> list[str]:
    """CMD from what follows KEY. With ``exec -- -rf -- claude`` (a key that starts with -),
    everything after the first ``--`` is positional, so the second one is still in front of
    CMD; no program is called ``--``."""
    return list(arguments[1:] if arguments and arguments[0] == "--" else arguments)


def exec_request(args: ExecArgs) -> ExecRequest:
    """The runner's request from exec's options."""
    from sessmap.errors import InvalidInput

    if args.no_wait and args.wait_timeout is not None:
        raise InvalidInput("--no-wait and --wait-timeout exclude each other")
    timeout = None
    if args.wait_timeout is not None:
        from sessmap.durations import parse_duration

        timeout = parse_duration(args.wait_timeout)
    from sessmap.runner import ExecRequest

    return ExecRequest(
        key=args.key,
        command=agent_command(args.command),
        agent=args.agent,
        provider=args.provider,
        cwd=args.cwd,
        new=args.new,
        no_wait=args.no_wait,
        wait_timeout=timeout,
        on_stale=args.on_stale,
    )


def run_exec(ctx: AppContext, args: ExecArgs) -> int:
    """Run (or with ``dry_run`` only plan) the agent; its exit status."""
    from sessmap.cli.exec_run import StatusTarget, run_exec_command

    if args.dry_run:
        import json

        from sessmap.runner import plan_exec

        plan = plan_exec(exec_request(args), ctx.store, ctx.config)
        ctx.out(json.dumps(list(plan.argv)))
        return 0
    return run_exec_command(
        args.key,
        args.agent,
        lambda: exec_request(args),
        ctx,
        lambda: StatusTarget.parse(args.status, args.status_fd),
    )
