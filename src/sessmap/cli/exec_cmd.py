"""``sessmap exec``: parse the options, call ``sessmap.runner``, exit with the agent's status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sessmap.cli.complete import complete_providers
from sessmap.cli.context import app_context
from sessmap.cli.options import Agent, Cwd, Key
from sessmap.config import OnStale

if TYPE_CHECKING:
    from sessmap.runner.request import ExecRequest

OnStaleName = OnStale  # config's Literal, under the name the option uses

HELP = """Run an agent CLI on the thread's own session: start, resume or fork it.

Adds the session flags to CMD (claude: --session-id / --resume / --fork-session; codex:
exec resume / exec fork), runs it in the thread's directory with stdin, stdout, stderr and
the terminal passed through, and exits with the agent's status. One run per thread at a
time: later ones wait their turn, first come, first served (exit 75 with --no-wait, or when
--wait-timeout runs out). A failure of sessmap's own (store, config, usage, conflict, stale
with --on-stale fail) exits 125, never a code the agent uses; 126/127: CMD not executable /
not found. The agent's environment gains SESSMAP_KEY, SESSMAP_AGENT and SESSMAP_SESSION_ID.
Signals reach the agent: for claude -p, SIGINT ends the turn, SIGTERM leaves it to resume.

\b
Example:
  sessmap exec slack:C024BE91L:1700000000.000100 -- claude -p "fix the build"
  sessmap exec -a reviewer discord:1234 --cwd ~/src/app -- codex exec --json "review"
  sessmap exec ticket:42 --new -- claude
  sessmap exec --status-fd 3 slack:C1:17.1 -- claude -p "hi" 3>status.json
"""


def exec_command(
    ctx: typer.Context,
    key: Key,
    command: Annotated[
        list[str],
        typer.Argument(
            metavar="CMD", help="The agent command and its arguments, after --.", show_default=False
        ),
    ],
    agent: Agent = "default",
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider",
            metavar="NAME",
            help="claude, codex, or a provider from the config [default: the agent's profile, "
            "else CMD's name].",
            autocompletion=complete_providers,
            show_default=False,
        ),
    ] = None,
    cwd: Cwd = None,
    new: Annotated[bool, typer.Option("--new", help="Start a fresh session, replacing the mapping.")] = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Exit 75 at once if another exec holds the thread.")
    ] = False,
    wait_timeout: Annotated[
        str | None,
        typer.Option(
            "--wait-timeout",
            metavar="DUR",
            help="Wait at most DUR for the thread, then exit 75 "
            "[default: config wait_timeout, else no limit].",
            show_default=False,
        ),
    ] = None,
    on_stale: Annotated[
        OnStaleName | None,
        typer.Option(
            "--on-stale",
            help="When the session is gone: start a new one (fresh), or exit 125 (fail) "
            "[default: config on_stale, else fresh].",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the command it would run (a JSON array); change nothing.")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="FILE",
            help="When the run ends, write one JSON object there: key, agent, session_id, "
            "previous_session_id, action, turns, exit, error.",
            show_default=False,
        ),
    ] = None,
    status_fd: Annotated[
        str | None,
        typer.Option(
            "--status-fd", metavar="N", help="The same report, to file descriptor N.", show_default=False
        ),
    ] = None,
) -> None:
    from sessmap.cli.exec_run import StatusTarget, run_exec_command
    from sessmap.cli.fast import exec_request

    def build() -> ExecRequest:
        return exec_request(
            key,
            command,
            agent=agent,
            provider=provider,
            cwd=cwd,
            new=new,
            no_wait=no_wait,
            wait_timeout=wait_timeout,
            on_stale=on_stale,
        )

    context = app_context(ctx)
    if dry_run:
        import json

        from sessmap.runner import plan_exec

        plan = plan_exec(build(), context.store, context.config)
        context.out(json.dumps(list(plan.argv)))
        return
    code = run_exec_command(key, agent, build, context, lambda: StatusTarget.parse(status, status_fd))
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("exec", help=HELP)(exec_command)
