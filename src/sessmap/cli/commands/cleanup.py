"""The commands that remove or replace many mappings at once: prune and import. Typer-free.

Both show what they will do and ask first when a person is at a terminal (cli/confirm.py),
take ``--dry-run`` and ``--json`` (a summary object), and draw a progress bar on a terminal
when the work takes a while (cli/progress.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from sessmap.cli.commands.listing import Output, make_filters, parse_optional_duration
from sessmap.cli.commands.mappings import config_or_none, write_json

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext
    from sessmap.model import Mapping
    from sessmap.service import Filters, Imported, Pruned
    from sessmap.transcripts.purge import Purge


class PruneArgs(NamedTuple):
    older_than: str | None = None
    missing: bool = False
    filters: Filters | None = None  # list's filters but the age ones: --older-than is prune's own
    dry_run: bool = False
    output: Output = Output()
    yes: bool = False
    purge: bool = False


class ImportArgs(NamedTuple):
    source: str
    on_conflict: Any = "fail"
    dry_run: bool = False
    yes: bool = False
    json_output: bool = False


def _who(agent: str, key: str) -> str:
    return f"{key} (agent {agent})"


def run_prune(ctx: AppContext, args: PruneArgs) -> None:
    from sessmap import service
    from sessmap.cli.confirm import confirm, should_ask
    from sessmap.cli.progress import progress

    args.output.fmt("tsv")  # --json with another --format: a usage error before any work
    age = parse_optional_duration(args.older_than)
    config = ctx.config if age is None or args.missing else config_or_none(ctx)
    chosen = args.filters or make_filters()
    moment = service.now()  # one cutoff for the question and the run it asked about

    def prune(dry_run: bool, on_removed: Callable[[Mapping], None] | None) -> Pruned:
        with progress(ctx, "checking" if dry_run else "pruning") as tick:
            return service.prune(
                ctx.store,
                config,
                older_than=age,
                missing=args.missing,
                agent=chosen.agent,
                provider=chosen.provider,
                prefix=chosen.prefix,
                match=chosen.match,
                labels=chosen.labels,
                state=chosen.state,  # type: ignore[arg-type]
                dry_run=dry_run,
                at=moment,
                progress=tick,
                # The count is for the summary; cron's `-q prune` skips the pass it costs.
                count=not ctx.quiet or args.output.json_output,
                on_removed=on_removed,
                purge=args.purge,
            )

    if not args.dry_run and should_ask(args.yes):
        plan = prune(True, None)  # the question shows the first rows
        if plan.removed_count:
            count = plan.removed_count
            rows = [_who(m.agent, m.key) for m in plan.removed[:10]]
            ctx.echo_err(_summary(plan, True, args.missing))
            confirm(removal_question(count, plan.purge), rows, count, cancelled="cancelled; nothing removed")
    # Rows are printed only once the prune has committed. Cron's quiet prune prints none, and
    # the printed ones wait on disk, so memory stays flat however many go (benchmarks/bench.py).
    # JSON lists every row in one object: those are collected.
    spool = None if ctx.quiet or args.output.json_output else _Spool(args.output.fmt("tsv"))
    tell = spool.add if spool is not None else None if args.output.json_output else _discard
    try:
        pruned = prune(args.dry_run, tell)
        _report_prune(ctx, args, pruned, spool)
    finally:
        if spool is not None:
            spool.close()


def age_text(age: timedelta | None) -> str | None:
    """``30d`` as people write a TTL, not ``4w2d``; other lengths as durations print."""
    if age is None:
        return None
    from sessmap.durations import format_duration

    seconds = int(age.total_seconds())
    return f"{seconds // 86400}d" if seconds and seconds % 86400 == 0 else format_duration(age)


def _summary(pruned: Pruned, dry_run: bool, missing: bool) -> str:
    """``removed 12 of 4,211 mappings older than 30d``: the one line cron mails."""
    from sessmap.cli.confirm import plural

    verb = "would remove" if dry_run else "removed"
    age = age_text(pruned.older_than)
    what = f"older than {age}" + (" or whose transcript is gone" if missing else "")
    scope = f"of {plural(pruned.scanned)}" if pruned.scanned is not None else "mappings"
    line = f"{verb} {pruned.removed_count:,} {scope} {what}"
    if pruned.pinned:
        line += f"; kept {pruned.pinned:,} labelled pin=true"
    if pruned.busy:
        line += f"; kept {len(pruned.busy):,} whose thread is running"
    return line


def _discard(mapping: Mapping) -> None:
    """Cron's ``-q prune``: told each removed mapping, keeps none."""


class _Spool:
    """The removed mappings in a temporary file until the prune has committed and they are
    printed: a row is never shown as removed before it is. A row-by-row format (tsv, jsonl,
    keys) is written there as it will print; the others (a table's widths, a JSON array, a
    CSV header) keep each mapping as a JSON line and render them all at the end."""

    _STREAMED = frozenset({"tsv", "jsonl", "keys"})

    def __init__(self, fmt: str) -> None:
        import tempfile

        self._fmt = fmt
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - see close()

    def add(self, mapping: Mapping) -> None:
        if self._fmt in self._STREAMED:
            from sessmap.cli.render import write_mappings

            write_mappings((mapping,), self._fmt, self._file)
        else:
            from sessmap import jsontext

            self._file.write(jsontext.dumps(mapping.to_dict()) + "\n")

    def print(self, out: IO[str], color: bool) -> None:
        self._file.seek(0)
        if self._fmt in self._STREAMED:
            import shutil

            shutil.copyfileobj(self._file, out)
            return
        from sessmap.cli.render import write_mappings

        write_mappings(self._rows(), self._fmt, out, color=color)

    def _rows(self) -> Iterator[Mapping]:
        import json

        from sessmap.model import Mapping

        for line in self._file:
            yield Mapping.from_dict(json.loads(line))

    def close(self) -> None:
        self._file.close()


def _report_prune(ctx: AppContext, args: PruneArgs, pruned: Pruned, spool: _Spool | None) -> None:
    from sessmap.model import format_timestamp

    removed = pruned.removed
    if args.output.json_output:
        write_json(
            {
                "dry_run": args.dry_run,
                "count": pruned.removed_count,
                "scanned": pruned.scanned,
                "pinned": pruned.pinned,
                "busy": [{"agent": m.agent, "key": m.key} for m in pruned.busy],
                "older_than": age_text(pruned.older_than),
                "cutoff": format_timestamp(pruned.cutoff) if pruned.cutoff is not None else None,
                "removed": [m.to_dict() for m in removed],
                "kept": [k.to_dict() for k in pruned.kept],
                **({"purge": pruned.purge.to_dict()} if pruned.purge is not None else {}),
            }
        )
    elif spool is not None:
        spool.print(sys.stdout, ctx.color)
    if pruned.removed_count or pruned.busy:  # nothing gone, nothing said: cron mails any output
        ctx.info(_summary(pruned, args.dry_run, args.missing))
    if pruned.busy:
        running = pruned.busy[0]
        ctx.info(f"kept {len(pruned.busy)} mapping(s) whose thread is running (first: {running.key!r})")
    if pruned.purge is not None:
        report_purge(ctx, pruned.purge, dry_run=args.dry_run)
    if pruned.kept:
        first = pruned.kept[0]
        ctx.info(
            f"kept {len(pruned.kept)} mapping(s) whose transcript could not be checked from here "
            f"(first: {first.mapping.key!r}: {first.reason}); see doctor"
        )


def removal_question(count: int, purge: Purge | None) -> str:
    """``Remove 2 mappings?``; with ``--purge``, also what of the agent's goes with them."""
    from sessmap.cli.confirm import plural

    if purge is None or not purge.purged:
        return f"Remove {plural(count)}?"
    files = sum(len(session.files) for session in purge.purged)
    deleted = f"{plural(files, 'file')} of their sessions ({purge.bytes:,} bytes)"
    return f"Remove {plural(count)} and delete {deleted}?"


def report_purge(ctx: AppContext, purge: Purge, *, dry_run: bool) -> None:
    """``--purge``'s lines on stderr: each file (a dry run), the total, and what was kept."""
    from sessmap.cli.confirm import plural

    if dry_run:
        for session in purge.purged:
            for path in session.files:
                ctx.info(f"would delete {path}")
            if session.stored_bytes:
                ctx.info(
                    f"would delete the store's copy of {session.session_id} ({session.stored_bytes:,} bytes)"
                )
    files = sum(len(s.files) for s in purge.purged)
    if purge.purged:
        verb = "would free" if dry_run else "freed"
        ctx.info(
            f"{verb} {purge.bytes:,} bytes: {files} file(s) of {len(purge.purged)} session(s)"
            + ("; nothing changed" if dry_run else "")
        )
    held = [k for k in purge.kept if k.by is not None]
    if held:
        agent, key = held[0].by or ("", "")
        ctx.info(
            f"kept {plural(len(held), 'session')} another mapping still holds "
            f"(first: {held[0].session_id} of {key!r}, agent {agent})"
        )
    others: dict[str, list[str]] = {}
    for kept in purge.kept:
        if kept.by is None:
            others.setdefault(kept.reason, []).append(kept.session_id)
    for reason, ids in others.items():
        ctx.info(f"kept {plural(len(ids), 'session')}: {reason} (first: {ids[0]})")


@contextmanager
def _lines(source: str, *, again: bool) -> Iterator[Iterable[bytes]]:
    """The JSONL of ``source`` (a path, or - for stdin). ``again``: it will be read twice (a
    dry pass for the question, then the import), so stdin is read into memory first."""
    from sessmap.errors import InvalidInput

    if source == "-":
        yield sys.stdin.buffer.readlines() if again else sys.stdin.buffer
        return
    try:
        stream = Path(source).open("rb")  # noqa: SIM115 - closed below, after the streaming import
    except OSError as err:
        raise InvalidInput(f"cannot read {source}: {err.strerror}") from None
    with stream:
        yield stream


def run_import(ctx: AppContext, args: ImportArgs) -> None:
    from sessmap import service
    from sessmap.cli.confirm import confirm, plural, should_ask
    from sessmap.cli.progress import progress

    ask = args.on_conflict == "replace" and not args.dry_run and should_ask(args.yes)
    with _lines(args.source, again=ask) as lines:
        if ask:
            lines = list(lines)  # a file too: the question and the import read the same lines
            with progress(ctx, "checking") as tick:
                plan = service.import_mappings(
                    ctx.store, lines, args.on_conflict, dry_run=True, progress=tick
                )
            if plan.replacing:
                count = len(plan.replacing)
                rows = [_who(agent, key) for agent, key in plan.replacing[:10]]
                ctx.echo_err(f"{plural(plan.mappings.inserted)} new, {plural(count)} to replace:")
                confirm(f"Replace {plural(count)}?", rows, count, cancelled="cancelled; nothing imported")
        with progress(ctx, "checking" if args.dry_run else "importing") as tick:
            result = service.import_mappings(
                ctx.store, lines, args.on_conflict, dry_run=args.dry_run, progress=tick
            )
    _report_import(ctx, args, result)


def _report_import(ctx: AppContext, args: ImportArgs, result: Imported) -> None:
    from sessmap.errors import Conflict

    counts = result.mappings
    if args.json_output:
        write_json(
            {
                "dry_run": args.dry_run,
                "inserted": counts.inserted,
                "replaced": counts.replaced,
                "skipped": counts.skipped,
                "conflicts": [{"agent": agent, "key": key} for agent, key in counts.conflicts],
                "transcript_lines": result.transcript_lines,
            }
        )
    total = counts.inserted + counts.replaced
    entries = "transcript entries read" if args.dry_run else "transcript entries"
    transcripts = f"; {result.transcript_lines} {entries}" if result.transcript_lines else ""
    verb = "would import" if args.dry_run else "imported"
    ctx.info(
        f"{verb} {total} mapping(s): {counts.inserted} new, {counts.replaced} replaced, "
        f"{counts.skipped} skipped{transcripts}" + ("; nothing changed" if args.dry_run else "")
    )
    if counts.conflicts:  # a dry run's: the import would fail as a whole
        agent, key = counts.conflicts[0]
        raise Conflict(
            f"the import would fail: {len(counts.conflicts)} mapping(s) exist already "
            f"(first: {key!r}, agent {agent})",
            reason="import-conflict",
            agent=agent,
            key=key,
            count=len(counts.conflicts),
        )
