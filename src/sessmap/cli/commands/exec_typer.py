"""The Typer command ``sessmap exec``: parse the options and call ``run_exec``."""

from __future__ import annotations

from typing import Annotated

import typer

from sessmap.cli import params
from sessmap.cli.commands.exec import ExecArgs, run_exec
from sessmap.cli.context import app_context
from sessmap.cli.options import Agent, Cwd, Key, OnStaleName

group = typer.Typer()

HELP = """Run an agent CLI on the thread's own session: start, resume or fork it.

Adds the session flags to CMD (claude, qwen: --session-id / --resume / --fork-session; codex:
exec resume / exec fork; copilot: --session-id / --resume; opencode run: --session / --fork),
runs it in the thread's directory with stdin, stdout, stderr and the terminal passed through,
and exits with the agent's status. One run per thread at a time: later ones wait their turn,
first come, first served (exit 75 with --no-wait, or when --wait-timeout runs out). A failure
of sessmap's own (store, config, usage, conflict, stale with --on-stale fail) exits 125, never
a code the agent uses; 126/127: CMD not executable / not found. The agent's environment gains
SESSMAP_KEY, SESSMAP_AGENT and SESSMAP_SESSION_ID. Signals reach the agent: for claude -p,
SIGINT ends the turn, SIGTERM leaves it to resume.

\b
Example:
  sessmap exec slack:C024BE91L:1700000000.000100 -- claude -p "fix the build"
  sessmap exec -a reviewer discord:1234 --cwd ~/src/app -- codex exec --json "review"
  sessmap exec ticket:42 --new -- claude
  sessmap exec --status-fd 3 slack:C1:17.1 -- claude -p "hi" 3>status.json
"""


@group.command("exec", help=HELP)
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
    provider: Annotated[str | None, params.option("exec", "provider")] = None,
    cwd: Cwd = None,
    new: Annotated[bool, params.option("exec", "new")] = False,
    no_wait: Annotated[bool, params.option("exec", "no_wait")] = False,
    wait_timeout: Annotated[str | None, params.option("exec", "wait_timeout")] = None,
    on_stale: Annotated[OnStaleName | None, params.option("exec", "on_stale")] = None,
    dry_run: Annotated[bool, params.option("exec", "dry_run")] = False,
    status: Annotated[str | None, params.option("exec", "status")] = None,
    status_fd: Annotated[str | None, params.option("exec", "status_fd")] = None,
) -> None:
    args = ExecArgs(
        key, command, agent, provider, cwd, new, no_wait, wait_timeout, on_stale, dry_run, status, status_fd
    )
    code = run_exec(app_context(ctx), args)
    if code:
        raise typer.Exit(code)
