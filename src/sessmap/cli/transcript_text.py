"""``transcript``'s text and markdown: a turn at a time, for people.

Transcripts hold whatever the model and the tools printed, terminal escape sequences too: in
these two formats control characters other than newline and tab are shown as ``\\xNN``, so
printing a transcript can never drive the terminal (jsonl keeps every character, escaped).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from sessmap.model import format_timestamp

if TYPE_CHECKING:
    from sessmap.service_transcript import Conversation, Item, Turn

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
INDENT = "  "


def safe(text: str) -> str:
    """``text`` with its control characters (not newline or tab) made visible."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _stamp(moment: datetime | None) -> str:
    return f"  {format_timestamp(moment)}" if moment is not None else ""


def _runs(turn: Turn) -> list[list[Item]]:
    """The turn's items grouped by who acted: the user's prompt, then the agent's replies and
    tool calls, each group under one heading."""
    runs: list[list[Item]] = []
    for item in turn.items:
        if runs and runs[-1][0].role == item.role and item.kind != "prompt":
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def text_turn(turn: Turn) -> str:
    """One turn as plain text: a rule with its number, then who said what, indented::

    --- turn 2 ---
    user  2026-12-01T10:00:00Z
      hello
    assistant  2026-12-01T10:00:04Z
      [tool] Bash: ls -la
      Here are the files.
    """
    out = [f"--- turn {turn.number} ---\n" if turn.number else "--- before the first prompt ---\n"]
    for run in _runs(turn):
        out.append(f"{run[0].role}{_stamp(run[0].time)}\n")
        for item in run:
            if item.kind == "tool_call":
                out.append(f"{INDENT}[tool] {safe(item.text)}\n")
            else:
                out.extend(f"{INDENT}{line}\n" if line else "\n" for line in safe(item.text).split("\n"))
    return "".join(out)


def markdown_head(found: Conversation, where: str) -> str:
    mapping = found.mapping
    return (
        f"# {_inline(mapping.key)}\n\n"
        f"Session `{found.session_id}` ({mapping.provider}, agent {mapping.agent}), "
        f"read from {_code(where)}.\n"
    )


def markdown_turn(turn: Turn) -> str:
    """One turn as markdown: a heading, then a bold role per speaker; replies are the model's own
    markdown, kept as written; tool calls are list items in code spans. Every block is preceded
    by one blank line."""
    title = f"Turn {turn.number}" if turn.number else "Before the first prompt"
    out = [f"\n## {title}\n"]
    for run in _runs(turn):
        when = run[0].time
        out.append(f"\n**{run[0].role}**" + (f" · {format_timestamp(when)}" if when else "") + "\n")
        listing = False
        for item in run:
            if item.kind == "tool_call":
                out.append(("" if listing else "\n") + f"- tool: {_code(safe(item.text))}\n")
                listing = True
            else:
                out.append("\n" + safe(item.text).strip("\n") + "\n")
                listing = False
    return "".join(out)


def _code(text: str) -> str:
    """``text`` as a markdown code span, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _inline(text: str) -> str:
    return safe(text).replace("\n", " ")
