"""The Typer commands which and transcript; each parses and calls its ``run_*``."""

from __future__ import annotations

from typing import Annotated

import typer

from sessmap.cli import params
from sessmap.cli.commands import sessions as run
from sessmap.cli.context import app_context
from sessmap.cli.options import Agent, Key

group = typer.Typer()


@group.command()
def which(
    ctx: typer.Context,
    session_id: Annotated[
        str,
        typer.Argument(
            metavar="SESSION_ID",
            help="An agent's session id, or its first characters (enough to be unique).",
            show_default=False,
        ),
    ],
    agent: Annotated[str | None, params.option("which", "agent")] = None,
    json_output: Annotated[bool, params.option("which", "json_output")] = False,
) -> None:
    """Find the mapping that holds a session id: as its session, or in its history.

    A unique prefix is enough, as with git hashes. Prints the mapping as show does, and what
    matched. Exits 3 if no mapping holds it, 2 if the prefix is ambiguous (the candidates are
    listed; with --json, on stdout too).

    \b
    Example:
      sessmap which 0199a213-81c0-7800-8aa1-bbab2a035a53
      sessmap which 0199a2
      sessmap which 5f3b2c --json | jq -r .key
    """
    run.run_which(app_context(ctx), run.WhichArgs(session_id, agent, json_output))


@group.command()
def transcript(
    ctx: typer.Context,
    key: Key,
    agent: Agent = "default",
    output_format: Annotated[run.TranscriptFormat, params.option("transcript", "output_format")] = "text",
    last: Annotated[int | None, params.option("transcript", "last")] = None,
) -> None:
    """Print a thread's conversation: prompts and replies with their times, a line per tool call.

    Reads the agent's transcript on this host, or the store's copy when there is none here.
    Exits 3 without a mapping (or before its first exec), 1 when no transcript can be found
    on this host or in the store.

    \b
    Example:
      sessmap transcript slack:C024BE91L:1700000000.000100 | less
      sessmap transcript slack:C1:1 --last 1
      sessmap transcript ticket:OPS-12 -f markdown > OPS-12.md
      sessmap transcript discord:1234 -f jsonl | jq -r 'select(.kind == "reply") | .text'
    """
    run.run_transcript(app_context(ctx), run.TranscriptArgs(key, agent, output_format, last))
