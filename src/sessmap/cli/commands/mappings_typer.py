"""The Typer commands for one mapping at a time; each parses and calls its ``run_*``."""

from __future__ import annotations

from typing import Annotated

import typer

from sessmap.cli import params, spec
from sessmap.cli.commands import mappings as run
from sessmap.cli.complete import complete_keys
from sessmap.cli.context import app_context
from sessmap.cli.options import Agent, Cwd, Json, Key, Labels, Provider, SessionId

group = typer.Typer()


@group.command()
def create(
    ctx: typer.Context,
    key: Key,
    agent: Agent = "default",
    provider: Provider = None,
    session_id: SessionId = None,
    cwd: Cwd = None,
    label: Labels = None,
    force: Annotated[bool, params.option("create", "force")] = False,
    force_f: Annotated[bool, params.option("create", "force_f")] = False,
    dry_run: Annotated[bool, params.option("create", "dry_run")] = False,
    json_output: Json = False,
) -> None:
    """Create a mapping for a thread and print its session id.

    Without --session-id, claude gets a fresh UUID; providers that choose their own id
    (codex) start pending and the id is captured on the first exec. An existing mapping
    exits 4 unless --force.

    \b
    Example:
      sessmap create slack:C024BE91L:1700000000.000100 --cwd ~/src/app -l team=infra
      sessmap create -a reviewer --provider codex discord:1234
    """
    context = app_context(ctx)
    if force_f:
        run.deprecated(context, spec.FORCE_F.deprecated or "")
    args = run.CreateArgs(
        key, agent, provider, session_id, cwd, label or (), force or force_f, json_output, dry_run
    )
    run.run_create(context, args)


@group.command()
def get(ctx: typer.Context, key: Key, agent: Agent = "default", json_output: Json = False) -> None:
    """Print a thread's session id, alone on stdout.

    Exits 3 when there is no mapping, or when it is pending (no id until its first exec).
    An agent finds a session only from the directory it ran in, and `get` takes no lock:
    to run the agent, prefer `sessmap exec KEY -- claude …`, which does both.

    \b
    Example:
      sessmap get slack:C024BE91L:1700000000.000100
      cd "$(sessmap show slack:C1:1 --json | jq -r .cwd)" && claude --resume "$(sessmap get slack:C1:1)"
    """
    run.run_get(app_context(ctx), run.KeyArgs(key, agent, json_output))


@group.command()
def show(ctx: typer.Context, key: Key, agent: Agent = "default", json_output: Json = False) -> None:
    """Show every field of a mapping, its forks, and its transcript file.

    \b
    Example:
      sessmap show slack:C024BE91L:1700000000.000100
      sessmap show --json telegram:42:7 | jq .transcript
    """
    run.run_show(app_context(ctx), run.KeyArgs(key, agent, json_output))


@group.command("set")
def set_(
    ctx: typer.Context,
    key: Key,
    agent: Agent = "default",
    session_id: SessionId = None,
    provider: Provider = None,
    cwd: Cwd = None,
    label: Labels = None,
    unlabel: Annotated[list[str] | None, params.option("set", "unlabel")] = None,
    json_output: Json = False,
) -> None:
    """Change fields of a mapping (atomically). A --session-id makes it active.

    \b
    Example:
      sessmap set slack:C024BE91L:1700000000.000100 -l status=done --unlabel wip
      sessmap set discord:1234 --session-id 0199a2b1-7c3e-7d10-9f00-5a3b2c1d0e4f
    """
    args = run.SetArgs(key, agent, session_id, provider, cwd, label or (), unlabel or (), json_output)
    run.run_set(app_context(ctx), args)


@group.command()
def rename(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(metavar="OLD", help="Current key.", autocompletion=complete_keys)],
    new: Annotated[str, typer.Argument(metavar="NEW", help="New key; must not exist.")],
    agent: Agent = "default",
    dry_run: Annotated[bool, params.option("rename", "dry_run")] = False,
    json_output: Annotated[bool, params.option("rename", "json_output")] = False,
) -> None:
    """Re-key a mapping (its forks follow). Exits 4 if NEW exists.

    \b
    Example:
      sessmap rename ticket:OPS-12 ticket:OPS-12-archived
    """
    args = run.PairArgs(old, new, agent, json_output=json_output, dry_run=dry_run)
    run.run_rename(app_context(ctx), args)


def rm(
    ctx: typer.Context,
    keys: Annotated[
        list[str],
        typer.Argument(
            metavar="KEY...",
            help="Keys to delete; - reads stdin: a key a line, or key<TAB>agent… lines as "
            "list -f tsv prints them.",
            autocompletion=complete_keys,
            show_default=False,
        ),
    ],
    agent: Annotated[str, params.option("rm", "agent")] = "default",
    missing_ok: Annotated[bool, params.option("rm", "missing_ok")] = False,
    purge: Annotated[bool, params.option("rm", "purge")] = False,
    dry_run: Annotated[bool, params.option("rm", "dry_run")] = False,
    yes: Annotated[bool, params.option("rm", "yes")] = False,
    json_output: Annotated[bool, params.option("rm", "json_output")] = False,
) -> None:
    """Delete mappings. Deletes those that exist, then exits 3 if any was missing.

    A line of stdin (-) with a tab is key, agent and more columns, as list -f tsv prints
    it, so a pipe from list removes exactly what it listed, of every agent; a line without
    one is a key of --agent. At a terminal, more than one key (or -) asks first; --yes does
    not ask. --purge also deletes the agent's transcripts of the removed sessions (history
    included) that no other mapping holds; with --dry-run it lists them and their bytes.

    \b
    Example:
      sessmap rm slack:C024BE91L:1700000000.000100
      sessmap list -f tsv --prefix tmp: | sessmap rm -
    """
    run.run_rm(app_context(ctx), run.RmArgs(keys, agent, missing_ok, dry_run, yes, json_output, purge))


group.command("rm")(rm)
group.command(
    "delete",
    help="Same as rm: delete mappings.\n\n\b\nExample:\n  sessmap delete slack:C024BE91L:1700000000.000100",
)(rm)


@group.command()
def fork(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SRC", help="Key to fork.", autocompletion=complete_keys)],
    target: Annotated[str, typer.Argument(metavar="DST", help="New key; must not exist.")],
    agent: Agent = "default",
    label: Labels = None,
    json_output: Json = False,
) -> None:
    """Make DST a pending fork of SRC; DST's first exec forks SRC's agent session.

    DST gets SRC's provider, cwd and labels (plus --label ones). Exits 3 if SRC is missing,
    4 if DST exists, 2 if SRC has no session id yet.

    \b
    Example:
      sessmap fork slack:C1:1700000000.000100 slack:C1:1700000999.000200 -l forked=yes
    """
    run.run_fork(app_context(ctx), run.PairArgs(source, target, agent, label or (), json_output))
