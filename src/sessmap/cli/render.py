"""Everything sessmap prints. Rows stream from the store iterator to the output one by one,
so listing a million mappings keeps memory flat (except ``table``, meant for a terminal).
Rich is imported only to draw a table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from typing import IO, Any

from sessmap.durations import format_duration
from sessmap.model import Mapping, format_timestamp, now
from sessmap.service import Details, Health, Transcript

# The documented TSV columns, in order. Empty fields are empty strings (never "None").
SHORT_ID_LENGTH = 8


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def write_json(value: Any, out: IO[str]) -> None:
    out.write(dumps(value) + "\n")


def _row(mapping: Mapping) -> list[str]:
    return [
        mapping.key,
        mapping.agent,
        mapping.provider,
        mapping.session_id or "",
        mapping.state,
        str(mapping.turns),
        format_timestamp(mapping.last_used_at) if mapping.last_used_at else "",
        format_timestamp(mapping.created_at),
    ]


def write_mappings(mappings: Iterable[Mapping], fmt: str, out: IO[str], *, color: bool = True) -> int:
    """Render ``mappings`` in ``fmt`` (table, json, jsonl, tsv, keys); returns how many.

    A store's streaming iterator is closed here even when the reader goes away mid-stream
    (``sessmap list | head``), so it never outlives the store connection it reads from.
    """
    try:
        return _write_mappings(mappings, fmt, out, color=color)
    finally:
        close = getattr(mappings, "close", None)
        if close is not None:
            close()


def _write_mappings(mappings: Iterable[Mapping], fmt: str, out: IO[str], *, color: bool) -> int:
    if fmt == "table":
        return _write_table(mappings, out, color=color)
    count = 0
    if fmt == "json":
        out.write("[")
        for count, mapping in enumerate(mappings, start=1):
            out.write(("\n" if count == 1 else ",\n") + _indent(dumps(mapping.to_dict())))
        out.write("\n]\n" if count else "]\n")
        return count
    for mapping in mappings:
        count += 1
        if fmt == "jsonl":
            out.write(json.dumps(mapping.to_dict(), ensure_ascii=False) + "\n")
        elif fmt == "keys":
            out.write(mapping.key + "\n")
        else:
            # Keys, labels and ids hold no control characters, so tabs and newlines cannot clash.
            out.write("\t".join(_row(mapping)) + "\n")
    return count


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _write_table(mappings: Iterable[Mapping], out: IO[str], *, color: bool) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    # For people skimming: the key in full (folding), the session id short like a git hash
    # (`get`, tsv and json give it whole), the age relative; everything but the key fits 80
    # columns without wrapping.
    table.add_column("KEY", overflow="fold", ratio=1, min_width=16)
    for title in ("AGENT", "PROVIDER", "SESSION", "STATE"):
        table.add_column(title, no_wrap=True)
    table.add_column("TURNS", no_wrap=True, justify="right")
    table.add_column("LAST SEEN", no_wrap=True, justify="right")
    moment = now()
    for mapping in mappings:
        short_id = (mapping.session_id or "-")[:SHORT_ID_LENGTH]
        cells = [mapping.key, mapping.agent, mapping.provider, short_id]
        cells += [mapping.state, str(mapping.turns), _age(moment - mapping.last_seen)]
        # Text cells: keys are user data, never Rich markup or :emoji: codes.
        table.add_row(*[Text(cell) for cell in cells])
    count = table.row_count
    if count:
        console = Console(file=out, no_color=not color, highlight=False, emoji=False, markup=False)
        console.print(table)
    return count


def _age(delta: timedelta) -> str:
    """``3h ago``: the largest whole unit, as people skim a table."""
    largest = format_duration(max(delta, timedelta(0)))
    unit_end = next(i for i, char in enumerate(largest) if not char.isdigit()) + 1
    return "just now" if largest == "0s" else f"{largest[:unit_end]} ago"


def _field(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def write_details(details: Details, out: IO[str]) -> None:
    """``show`` for people: one ``name: value`` line per field, then forks and transcript."""
    fields = details.mapping.to_dict()
    parent = details.mapping.parent
    fields["parent"] = (
        f"{parent.key} (agent {parent.agent}, session {parent.session_id or '-'})" if parent else None
    )
    fields["history"] = (
        ", ".join(
            f"{entry['session_id']} ({entry['reason']} {entry['ended_at']})" for entry in fields["history"]
        )
        or None
    )
    fields["transcript"] = _transcript_line(details.transcript)
    fields["forks"] = (
        ", ".join(f"{fork.key} ({fork.state})" for fork in details.forks) if details.forks else None
    )
    width = max(len(name) for name in fields) + 1
    for name, value in fields.items():
        out.write(f"{name + ':':<{width}} {_field(value)}\n")


def _transcript_line(transcript: Transcript) -> str:
    where = str(transcript.path) if transcript.path else None
    stored = ", a copy in the store" if transcript.stored else ""
    if transcript.state == "local":
        return f"{where} (exists{stored})"
    if transcript.state == "archived":
        return f"{where} (archived by the agent{stored})"
    if transcript.state == "stored":
        return "not on this host; the store holds a copy (restored on the next exec)"
    return f"{transcript.state}: {transcript.reason}"


def write_health(health: Health, out: IO[str]) -> None:
    """``doctor`` for people: one line per check, ``ok`` or what is wrong."""
    if health.store_url is None:
        out.write(f"store: {'; '.join(health.store_problems)}\n")
    else:
        state = "ok" if not health.store_problems else f"{len(health.store_problems)} problem(s)"
        out.write(f"store: {health.store_url} (schema {health.schema_version}): {state}\n")
        for problem in health.store_problems:
            out.write(f"  {problem}\n")
    out.write(f"config: {health.config_path}: {health.config_problem or 'ok'}\n")
    missing = health.missing_transcripts
    if missing:
        out.write(
            f"transcripts: {len(missing)} mapping(s) point at a missing transcript (fix: doctor --fix)\n"
        )
        for item in missing:
            out.write(f"  {item.mapping.key} (agent {item.mapping.agent}): {item.reason}\n")
    else:
        out.write("transcripts: ok\n")
    if health.unverified:
        out.write(
            f"transcripts: {len(health.unverified)} mapping(s) could not be checked from here (kept):\n"
        )
        for item in health.unverified:
            out.write(f"  {item.mapping.key} (agent {item.mapping.agent}): {item.reason}\n")
    for item in health.fixed:
        out.write(f"removed {item.mapping.key} (agent {item.mapping.agent}): {item.reason}\n")
