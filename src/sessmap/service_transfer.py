"""JSONL in and out: ``import`` (all or nothing) and ``export`` (optionally with transcripts)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, NamedTuple, Protocol

from sessmap import service
from sessmap.errors import Conflict, InvalidInput
from sessmap.model import MAX_HISTORY, Mapping
from sessmap.stores.base import ImportResult, OnConflict, Query, Store
from sessmap.validation import validate_session_id

# json, tempfile and the transcript archive load inside the functions that use them.


class _Records(Protocol):
    def add(self, data: dict[str, Any]) -> None: ...


def parse_jsonl(lines: Iterable[bytes | str], transcripts: _Records | None = None) -> Iterator[Mapping]:
    """Mappings from JSONL, lazily; blank lines skipped. A bad line raises InvalidInput naming
    its line number, which makes ``insert_many`` write nothing. Transcript records (from
    ``export --transcripts``) go to ``transcripts``; without one they are an error."""
    import json

    from sessmap.transcripts.archive import is_record

    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            raise InvalidInput(f"line {number}: not UTF-8") from None
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInput(f"line {number}: not valid JSON: {err.msg}") from None
        try:
            if transcripts is not None and is_record(data):
                transcripts.add(data)
                continue
            mapping = Mapping.from_dict(data)
            if mapping.session_id is not None:
                validate_session_id(mapping.session_id)  # new input: the current limit, not the stored one
            yield mapping
        except InvalidInput as err:
            raise InvalidInput(f"line {number}: {err}") from None


class Imported(NamedTuple):
    mappings: ImportResult
    transcript_lines: int = 0
    replacing: tuple[tuple[str, str], ...] = ()
    """A dry run's: the (agent, key) of the existing mappings it would replace, in file order."""


Progress = Callable[[int], None]
"""Told how many more mappings were read; the CLI draws a bar from it."""


def _counted(mappings: Iterable[Mapping], progress: Progress | None) -> Iterator[Mapping]:
    for mapping in mappings:
        if progress is not None:
            progress(1)
        yield mapping


def import_mappings(
    store: Store,
    lines: Iterable[bytes | str],
    on_conflict: OnConflict,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Imported:
    """All or nothing. With ``fail``, existing mappings are a Conflict and nothing is written.
    Replaced mappings keep their earlier session in ``history``; transcripts come in last.
    ``dry_run``: every line checked, nothing written; the counts say what the import would do
    (with ``fail`` its conflicts are listed, not raised)."""
    if dry_run:
        return _plan(store, lines, on_conflict, progress)
    from sessmap.transcripts.archive import Spool

    spool = Spool()
    try:
        # The whole input is read and checked before the store writes: a slow pipe (or a bad
        # last line) never holds a store's write lock.
        parsed = _counted(parse_jsonl(lines, spool), progress)
        mappings = _with_history(store, parsed, on_conflict == "replace")
        if not store.reads_imports_unlocked:
            mappings = _spooled(mappings)
        result = store.insert_many(mappings, on_conflict)
        if result.conflicts:
            agent, key = result.conflicts[0]
            raise Conflict(
                f"{len(result.conflicts)} mapping(s) exist already (first: {key!r}, agent {agent}); "
                "nothing imported",
                reason="import-conflict",
                agent=agent,
                key=key,
                count=len(result.conflicts),
            )
        return Imported(result, spool.apply(store))
    finally:
        spool.close()


class _RecordCount:
    """Transcript records of a dry run: validated as an import would, counted, dropped."""

    def __init__(self) -> None:
        self.lines = 0

    def add(self, data: dict[str, Any]) -> None:
        from sessmap.transcripts.archive import _parse  # the import's own check of a record

        self.lines += len(_parse(data)[1])


def _plan(
    store: Store, lines: Iterable[bytes | str], on_conflict: OnConflict, progress: Progress | None
) -> Imported:
    records = _RecordCount()
    inserted = replaced = skipped = 0
    existing: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for mapping in _counted(parse_jsonl(lines, records), progress):
        target = (mapping.agent, mapping.key)
        # A key the file repeats counts once against the store, as the import writes it once.
        exists = target in seen or store.get(*target) is not None
        seen.add(target)
        if not exists:
            inserted += 1
            continue
        existing.append(target)
        if on_conflict == "replace":
            replaced += 1
        elif on_conflict == "skip":
            skipped += 1
    conflicts = tuple(existing) if on_conflict == "fail" else ()
    replacing = tuple(existing) if on_conflict == "replace" else ()
    return Imported(ImportResult(inserted, replaced, skipped, conflicts), records.lines, replacing)


def _with_history(store: Store, mappings: Iterable[Mapping], keep_history: bool) -> Iterator[Mapping]:
    """With ``keep_history``, each mapping with the session it replaces moved into ``history``."""
    stamp = service.now()
    for mapping in mappings:
        current = store.get(mapping.agent, mapping.key) if keep_history else None
        if current is not None:
            kept = current.retired("import", stamp, replacement=mapping.session_id).history
            known = {entry.session_id for entry in mapping.history}
            merged = (*mapping.history, *(e for e in kept if e.session_id not in known))
            mapping = mapping.evolve(history=merged[:MAX_HISTORY]).validate()
        yield mapping


def _spooled(mappings: Iterable[Mapping]) -> Iterator[Mapping]:
    """Every mapping read (and looked up) into a temporary file, memory flat, then replayed:
    for a store that would hold its lock, or its connection, while it reads (PostgreSQL's COPY
    cannot answer the lookups). Pickled: they come back as they went, already checked."""
    import pickle
    import tempfile

    spooled = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _replay
    try:
        pickler = pickle.Pickler(spooled, pickle.HIGHEST_PROTOCOL)
        for count, mapping in enumerate(mappings, start=1):
            pickler.dump(mapping)
            if count % 1000 == 0:
                pickler.clear_memo()  # the memo holds every object dumped: memory would grow
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return _replay(spooled)


def _replay(spooled: IO[bytes]) -> Iterator[Mapping]:
    import pickle

    with spooled:
        unpickler = pickle.Unpickler(spooled)  # noqa: S301 - our own file, written just now
        while True:
            try:
                mapping = unpickler.load()
            except EOFError:
                return
            yield mapping


def export_lines(store: Store, query: Query, *, transcripts: bool) -> Iterator[str]:
    """JSONL for ``export``: the mappings, then (with ``transcripts``) their stored transcripts."""
    from sessmap import jsontext
    from sessmap.transcripts.archive import records
    from sessmap.transcripts.cleanup import sessions_of

    exported: list[Mapping] = []
    for mapping in store.query(query):
        if transcripts:
            exported.append(mapping)
        yield jsontext.dumps(mapping.to_dict())
    if transcripts:
        for record in records(store, sessions_of(exported)):
            yield jsontext.dumps(record)
