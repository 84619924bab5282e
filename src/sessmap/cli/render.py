"""Everything sessmap prints. Rows stream from the store iterator to the output one by one,
so listing a million mappings keeps memory flat, the table included (cli/table.py draws it as
plain text, row by row; no Rich).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

from sessmap import jsontext
from sessmap.model import Mapping, format_timestamp
from sessmap.service import Details, Health, Transcript

# The documented TSV columns, in order, and csv's without --fields. Empty fields are empty
# strings (never "None").
TSV_FIELDS = ("key", "agent", "provider", "session_id", "state", "turns", "last_used_at", "created_at")

Facts = Callable[[Mapping], dict[str, Any]]
"""The computed fields of a mapping (``list --fields title,…``: service_conversation)."""


def dumps(value: Any) -> str:
    return jsontext.dumps(value, indent=2)


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


def picked(mapping: Mapping, fields: Sequence[str], facts: Facts | None = None) -> dict[str, Any]:
    """The JSON form of ``mapping`` with only ``fields``, in that order; ``last_seen`` is
    computed (last use, else creation), and the transcript's fields by ``facts``."""
    whole = mapping.to_dict()
    whole["last_seen"] = format_timestamp(mapping.last_seen)
    if facts is not None:
        whole.update(facts(mapping))
    return {name: whole[name] for name in fields}


def _text(value: Any) -> str:
    """One tsv/csv cell: empty for null, compact JSON for labels, parent and history."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return jsontext.dumps(value)
    return str(value)


def write_mappings(
    mappings: Iterable[Mapping],
    fmt: str,
    out: IO[str],
    *,
    color: bool = True,
    fields: Sequence[str] | None = None,
    width: int | None = None,
    facts: Facts | None = None,
) -> int:
    """Render ``mappings`` in ``fmt`` (table, json, jsonl, tsv, csv, keys); returns how many.

    ``fields``: only those, in that order (``keys`` ignores it). ``width``: the table's, in
    terminal cells (default: the terminal's, or ``COLUMNS``). A store's streaming iterator is
    closed here even when the reader goes away mid-stream (``sessmap list | head``), so it
    never outlives the store connection it reads from.
    """
    try:
        return _write_mappings(mappings, fmt, out, color=color, fields=fields, width=width, facts=facts)
    finally:
        close = getattr(mappings, "close", None)
        if close is not None:
            close()


def _write_mappings(
    mappings: Iterable[Mapping],
    fmt: str,
    out: IO[str],
    *,
    color: bool,
    fields: Sequence[str] | None,
    width: int | None,
    facts: Facts | None = None,
) -> int:
    if fmt == "table":
        import shutil

        from sessmap.cli.table import write_table

        columns = width if width is not None else shutil.get_terminal_size().columns
        bold = color and out.isatty()
        extra = None
        if facts is not None:
            from sessmap.cli.conversation import list_columns

            extra = list_columns(facts)
        return write_table(mappings, out, width=columns, fields=fields, bold=bold, extra=extra)
    if fmt == "csv":
        return _write_csv(mappings, out, fields or TSV_FIELDS, facts)
    count = 0
    if fmt == "json":
        out.write("[")
        for count, mapping in enumerate(mappings, start=1):
            value = picked(mapping, fields, facts) if fields else mapping.to_dict()
            out.write(("\n" if count == 1 else ",\n") + _indent(dumps(value)))
        out.write("\n]\n" if count else "]\n")
        return count
    if fields and fmt in ("jsonl", "tsv"):
        return _write_picked(mappings, fmt, out, fields, facts)
    # The common case, kept to the fewest steps a row: scripts list whole stores this way.
    for mapping in mappings:
        count += 1
        if fmt == "jsonl":
            out.write(jsontext.dumps(mapping.to_dict()) + "\n")
        elif fmt == "keys":
            out.write(mapping.key + "\n")
        else:
            # Keys, labels and ids hold no control characters, so tabs and newlines cannot clash.
            out.write("\t".join(_row(mapping)) + "\n")
    return count


def _write_picked(
    mappings: Iterable[Mapping], fmt: str, out: IO[str], fields: Sequence[str], facts: Facts | None
) -> int:
    count = 0
    for mapping in mappings:
        count += 1
        value = picked(mapping, fields, facts)
        if fmt == "jsonl":
            out.write(jsontext.dumps(value) + "\n")
        else:
            out.write("\t".join(_text(cell) for cell in value.values()) + "\n")
    return count


def _write_csv(mappings: Iterable[Mapping], out: IO[str], fields: Sequence[str], facts: Facts | None) -> int:
    """RFC 4180 through the csv module (quoting, CRLF), with a header row of field names."""
    import csv

    writer = csv.writer(out)
    writer.writerow(fields)
    count = 0
    for mapping in mappings:
        count += 1
        writer.writerow([_text(cell) for cell in picked(mapping, fields, facts).values()])
    return count


def _indent(text: str) -> str:
    # "\n" only: dumps escapes the other characters splitlines() would break at, and a split
    # inside a string would corrupt it.
    return "\n".join("  " + line for line in text.split("\n"))


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
    fields["where"] = _transcript_place(details.transcript)
    fields["forks"] = (
        ", ".join(f"{fork.key} ({fork.state})" for fork in details.forks) if details.forks else None
    )
    if details.conversation is not None:
        from sessmap.cli.conversation import conversation_lines

        fields.update(conversation_lines(details.conversation))
    width = max(len(name) for name in fields) + 1
    for name, value in fields.items():
        out.write(f"{name + ':':<{width}} {_field(value)}\n")


def _transcript_place(transcript: Transcript) -> str:
    """Where the transcript lives: host and agent home, and whether the store holds a copy."""
    where = [f"host {transcript.host}"] if transcript.host else []
    where += [f"agent home {transcript.agent_home}"] if transcript.agent_home else []
    copy = "the store holds a copy" if transcript.stored else "no copy in the store"
    return ", ".join(where) + f"; {copy}" if where else copy


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
    for item in health.pinned:
        out.write(f"kept {item.mapping.key} (agent {item.mapping.agent}, pin=true): {item.reason}\n")
    verb = "would remove" if health.dry_run else "removed"
    for item in health.fixed:
        out.write(f"{verb} {item.mapping.key} (agent {item.mapping.agent}): {item.reason}\n")
