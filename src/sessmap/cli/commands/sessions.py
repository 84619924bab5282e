"""From an agent's session to its thread and back: which, transcript. Typer-free."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal, NamedTuple

from sessmap.cli.commands.mappings import config_or_none, write_json

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext
    from sessmap.service_transcript import Conversation
    from sessmap.service_which import Match

TranscriptFormat = Literal["text", "markdown", "jsonl"]
NOTES_SHOWN = 5


class WhichArgs(NamedTuple):
    session_id: str
    agent: str | None = None
    json_output: bool = False


class TranscriptArgs(NamedTuple):
    key: str
    agent: str = "default"
    output_format: TranscriptFormat = "text"
    last: int | None = None


def run_which(ctx: AppContext, args: WhichArgs) -> None:
    from sessmap.cli.render import write_details
    from sessmap.service_details import describe
    from sessmap.service_which import Ambiguous, which

    try:
        match = which(ctx.existing_store, args.session_id, args.agent)
    except Ambiguous as err:
        if args.json_output:
            candidates = [m.to_dict() for m in err.matches]
            write_json(
                {"ambiguous": True, "prefix": err.data["prefix"], "candidates": candidates, "more": err.more}
            )
        raise
    mapping = match.mapping
    details = describe(ctx.existing_store, mapping.agent, mapping.key, config_or_none(ctx))
    if args.json_output:
        write_json({**details.to_dict(), "matched": _matched(match)})
        return
    write_details(details, sys.stdout)
    width = max(len(name) for name in (*mapping.to_dict(), "transcript", "forks", "matched")) + 1
    sys.stdout.write(f"{'matched:':<{width}} {_matched_line(match)}\n")
    if not match.current:
        ctx.info(
            f"{match.session_id} is an earlier session of this mapping (in its history), not its current one"
        )


def _matched(match: Match) -> dict[str, object]:
    from sessmap.model import format_timestamp

    entry = match.entry
    return {
        "session_id": match.session_id,
        "in": "session_id" if entry is None else "history",
        "reason": None if entry is None else entry.reason,
        "ended_at": None if entry is None else format_timestamp(entry.ended_at),
    }


def _matched_line(match: Match) -> str:
    from sessmap.model import format_timestamp

    if match.entry is None:
        return f"{match.session_id} (the current session)"
    ended = format_timestamp(match.entry.ended_at)
    return f"{match.session_id} (in history: {match.entry.reason}, ended {ended})"


def run_transcript(ctx: AppContext, args: TranscriptArgs) -> None:
    from sessmap.service_transcript import conversation

    found = conversation(ctx.existing_store, config_or_none(ctx), args.agent, args.key, args.last)
    where = str(found.path) if found.source == "local" else "the store's copy"
    ctx.debug(f"session {found.session_id} ({found.mapping.provider}), read from {where}")
    if args.output_format == "jsonl":
        _write_jsonl(found)
    elif args.output_format == "markdown":
        _write_markdown(found, where)
    else:
        _write_text(found)
    _tell_notes(ctx, found)


def _tell_notes(ctx: AppContext, found: Conversation) -> None:
    """What could not be read (cut lines, bad bytes, unknown entries): a few lines on stderr."""
    from sessmap.cli.errors import PROG

    for note in found.notes[:NOTES_SHOWN]:
        ctx.info(f"{PROG}: note: {note.message}")
    if len(found.notes) > NOTES_SHOWN:
        ctx.info(f"{PROG}: note: and {len(found.notes) - NOTES_SHOWN} more notes")


def _write_jsonl(found: Conversation) -> None:
    from sessmap.jsontext import dumps

    for turn in found.turns:
        for item in turn.items:
            line = dumps(
                {
                    "turn": turn.number,
                    "kind": item.kind,
                    "role": item.role,
                    "time": _time(item.time),
                    "text": item.text,
                    "tool": item.tool,
                    "line": item.line,
                }
            )
            sys.stdout.write(line + "\n")


def _write_text(found: Conversation) -> None:
    from sessmap.cli.transcript_text import text_turn

    first = True
    for turn in found.turns:
        sys.stdout.write(("" if first else "\n") + text_turn(turn))
        first = False


def _write_markdown(found: Conversation, where: str) -> None:
    from sessmap.cli.transcript_text import markdown_head, markdown_turn

    sys.stdout.write(markdown_head(found, where))
    for turn in found.turns:
        sys.stdout.write(markdown_turn(turn))


def _time(moment: object) -> str | None:
    from datetime import datetime

    from sessmap.model import format_timestamp

    return format_timestamp(moment) if isinstance(moment, datetime) else None
