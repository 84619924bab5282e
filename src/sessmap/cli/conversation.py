"""How a conversation's facts look to people: ``show``'s lines, ``list``'s computed columns,
and ``du``'s table. Typer-free; the facts come from ``sessmap.service_conversation``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessmap.cli.table import Column
    from sessmap.model import Mapping
    from sessmap.service_conversation import Conversation, DiskUse

_UNITS = ("B", "kB", "MB", "GB", "TB")


def human_size(size: int | None) -> str:
    """``1.2 MB``: powers of 1000, as ``du -h --si`` and file managers show them."""
    if size is None:
        return "-"
    value, unit = float(size), 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value, unit = value / 1000, unit + 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def human_count(count: int) -> str:
    """``12.3k``, ``4.1M``: token counts at a glance."""
    for limit, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if count >= limit:
            return f"{count / limit:.1f}{suffix}"
    return str(count)


def tokens_text(tokens: dict[str, Any] | None) -> str:
    if not tokens:
        return "-"
    return f"{human_count(tokens['input'])} in / {human_count(tokens['output'])} out"


def _prompt(prompt: dict[str, Any] | None) -> str | None:
    if prompt is None:
        return None
    return f"{prompt['text']} ({prompt['at']})" if prompt.get("at") else prompt["text"]


def conversation_lines(conversation: Conversation) -> dict[str, str | None]:
    """``show``'s lines for the conversation, after the transcript's."""
    facts = conversation.to_dict()
    tokens = facts["tokens"]
    cached = (
        f", {human_count(tokens['cache_read'])} of the input from cache"
        if tokens and tokens["cache_read"]
        else ""
    )
    parts = f"{facts['prompts']} prompts, {facts['replies']} replies, {facts['tool_calls']} tool calls"
    counts = f"{facts['messages']} ({parts})"
    source = "" if facts["source"] == "local" else " (read from the store's copy)"
    lines: dict[str, str | None] = {
        "title": facts["title"],
        "first_prompt": _prompt(facts["first_prompt"]),
        "last_prompt": _prompt(facts["last_prompt"]),
        "messages": counts,
        "size": f"{human_size(facts['size'])}, {facts['lines']} lines{source}",
        "tokens": tokens_text(tokens) + cached if tokens else None,
    }
    if facts["cost_usd"] is not None:
        lines["cost"] = f"${facts['cost_usd']:.4f} (as the agent wrote it)"
    if facts["notes"]:
        lines["notes"] = "; ".join(facts["notes"])
    return lines


def list_columns(facts: Callable[[Mapping], dict[str, Any]]) -> dict[str, Column]:
    """The table columns of the computed ``list`` fields, reading ``facts`` per mapping."""
    from sessmap.cli.table import Column

    def text(value: object) -> str:
        return "-" if value is None or value == "" else str(value)

    return {
        "title": Column("TITLE", lambda m, at: text(facts(m)["title"])),
        "messages": Column("MESSAGES", lambda m, at: text(facts(m)["messages"]), right=True),
        "size": Column("SIZE", lambda m, at: human_size(facts(m)["size"]), right=True),
        "tokens": Column("TOKENS", lambda m, at: tokens_text(facts(m)["tokens"]), right=True),
    }


DU_FIELDS = ("key", "agent", "provider", "session_id", "local", "stored", "total", "files", "sessions")


def write_disk_use(rows: Sequence[DiskUse], fmt: str, out: IO[str], shown: int | None = None) -> None:
    """``du``: one row per mapping, largest first (the first ``shown`` of them), then the total
    of all ``rows`` (table: a TOTAL line; json: ``{"mappings": [...], "total": {...}}``;
    jsonl/tsv/csv/keys: rows only)."""
    total = {
        "local": sum(row.local for row in rows),
        "stored": sum(row.stored for row in rows),
        "total": sum(row.total for row in rows),
        "files": sum(row.files for row in rows),
        "mappings": len(rows),
    }
    rows = rows[:shown] if shown else rows
    if fmt == "json":
        from sessmap.cli.render import write_json

        write_json({"mappings": [row.to_dict() for row in rows], "total": total}, out)
    elif fmt == "jsonl":
        from sessmap import jsontext

        for row in rows:
            out.write(jsontext.dumps(row.to_dict()) + "\n")
    elif fmt in ("tsv", "csv"):
        _write_cells(rows, fmt, out)
    elif fmt == "keys":
        for row in rows:
            out.write(row.mapping.key + "\n")
    else:
        _write_du_table(rows, total, out)


def _write_cells(rows: Sequence[DiskUse], fmt: str, out: IO[str]) -> None:
    cells = ([("" if v is None else str(v)) for v in row.to_dict().values()] for row in rows)
    if fmt == "tsv":
        for line in cells:
            out.write("\t".join(line) + "\n")
        return
    import csv

    writer = csv.writer(out)
    writer.writerow(DU_FIELDS)
    writer.writerows(cells)


def _write_du_table(rows: Sequence[DiskUse], total: dict[str, int], out: IO[str]) -> None:
    """Sizes right-aligned, then the agent, then the key last (keys are long and never cut)."""
    from sessmap.cli.confirm import plural

    table = [("SIZE", "LOCAL", "STORED", "FILES", "AGENT", "KEY")]
    for row in rows:
        sizes = (human_size(row.total), human_size(row.local), human_size(row.stored))
        table.append((*sizes, str(row.files), row.mapping.agent, row.mapping.key))
    sizes = (human_size(total["total"]), human_size(total["local"]), human_size(total["stored"]))
    table.append((*sizes, str(total["files"]), "", f"TOTAL ({plural(total['mappings'])})"))
    widths = [max(len(line[i]) for line in table) for i in range(5)]
    for line in table:
        numbers = "  ".join(cell.rjust(width) for cell, width in zip(line[:4], widths, strict=False))
        out.write(f"{numbers}  {line[4].ljust(widths[4])}  {line[5]}\n")
