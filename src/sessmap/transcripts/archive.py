"""Transcripts in ``export --transcripts`` / ``import`` streams, so a map moves with its
conversations (SPEC §7).

A transcript travels as records on their own JSONL lines after the mappings:
``{"transcript": {"project_key", "session_id", "subpath"}, "lines": ["<entry>", …]}``, at
most ``CHUNK_LINES`` entries or about ``CHUNK_BYTES`` each, so no line grows with the
conversation. Importing appends only what the store does not hold yet, so importing the same
stream twice keeps one copy.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from sessmap.errors import InvalidInput
from sessmap.stores.base import Store, TranscriptKey

RECORD_FIELD = "transcript"
CHUNK_LINES = 1000
CHUNK_BYTES = 4 << 20


def records(store: Store, session_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The export records of every stored transcript (and side file) of ``session_ids``."""
    transcripts = store.transcripts
    for session_id in sorted(set(session_ids)):
        for project_key in transcripts.projects_of(session_id):
            for subpath in ["", *transcripts.subpaths(project_key, session_id)]:
                yield from _chunks(store, TranscriptKey(project_key, session_id, subpath))


def _chunks(store: Store, key: TranscriptKey) -> Iterator[dict[str, Any]]:
    head = {"project_key": key.project_key, "session_id": key.session_id, "subpath": key.subpath}
    chunk: list[str] = []
    size = 0
    for line in store.transcripts.read(key):
        try:
            chunk.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInput(
                f"a line of transcript {key.session_id} is not UTF-8; it cannot be exported"
            ) from None
        size += len(line)
        if len(chunk) >= CHUNK_LINES or size >= CHUNK_BYTES:
            yield {RECORD_FIELD: head, "lines": chunk}
            chunk, size = [], 0
    if chunk:
        yield {RECORD_FIELD: head, "lines": chunk}


def is_record(data: Any) -> bool:
    return isinstance(data, dict) and RECORD_FIELD in data


class Spool:
    """Transcript records read during an import, held in a temporary file until the mappings
    are in (an import is all or nothing), then appended."""

    def __init__(self) -> None:
        self._file: IO[str] | None = None

    def add(self, data: dict[str, Any]) -> None:
        key, lines = _parse(data)
        if self._file is None:
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._file.write(json.dumps([key.project_key, key.session_id, key.subpath, lines]) + "\n")

    def apply(self, store: Store) -> int:
        """Append what the store does not hold yet; the number of entries appended."""
        if self._file is None:
            return 0
        self._file.seek(0)
        skip: dict[TranscriptKey, int] = {}
        appended = 0
        for row in self._file:
            project_key, session_id, subpath, lines = json.loads(row)
            key = TranscriptKey(project_key, session_id, subpath)
            if key not in skip:
                info = store.transcripts.info(key)
                skip[key] = info.lines if info else 0
            held = min(skip[key], len(lines))
            skip[key] -= held
            new = [line.encode("utf-8") for line in lines[held:]]
            if new:
                store.transcripts.append(key, new)
                appended += len(new)
        return appended

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _parse(data: dict[str, Any]) -> tuple[TranscriptKey, list[str]]:
    head, lines = data.get(RECORD_FIELD), data.get("lines")
    if set(data) != {RECORD_FIELD, "lines"} or not isinstance(head, dict):
        raise InvalidInput('a transcript record must be {"transcript": {...}, "lines": [...]}')
    project_key, session_id, subpath = (head.get(name) for name in ("project_key", "session_id", "subpath"))
    if (
        set(head) - {"project_key", "session_id", "subpath"}
        or not isinstance(project_key, str)
        or not isinstance(session_id, str)
        or not isinstance(subpath, str)
    ):
        raise InvalidInput("a transcript record needs project_key, session_id and subpath strings")
    if not project_key or not session_id:
        raise InvalidInput("a transcript record's project_key and session_id must not be empty")
    if not isinstance(lines, list) or not all(isinstance(line, str) and "\n" not in line for line in lines):
        raise InvalidInput("a transcript record's lines must be strings without newlines")
    # Checked here, not when the spool is applied: by then the mappings are in.
    if not all(_encodable(text) for text in (project_key, session_id, subpath, *lines)):
        raise InvalidInput("a transcript record holds text that is not valid Unicode (a lone surrogate)")
    return TranscriptKey(project_key, session_id, subpath), lines


def _encodable(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form (a lone surrogate from a JSON ``\\udXXX`` has none)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
