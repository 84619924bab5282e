"""The JSON store's copy of transcripts (SPEC §7): files in a private folder beside the store.

The JSON document stays small enough to read and diff; transcripts (tens of MB) live in
``<store>.transcripts/``, named by SHA-256 of each key part (the parts are arbitrary
strings, unfit for file names)::

    sessions.json.transcripts/                     0700, as are the folders below
      <sha256(project_key)>/
        <sha256(session_id)>/
          <sha256(subpath)>.jsonl   0600  the lines, one newline each (subpath "" is the main one)
          <sha256(subpath)>.json    0600  metadata: the key, lines, size, tail (base64), mtime_ms
          summary.json              0600  the key and the SDK's summary text

Changes are made under the store's change lock. An append writes and fsyncs its lines before
it replaces the metadata, and the metadata is the truth: bytes past its ``size`` are an
append that died before it committed, and the next append cuts them off. Readers take no
lock: they read no further than the metadata they found. The file-level steps (hashed
names, JSON written whole, a lines file opened at its committed size) are transcript_file_io.py's.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from sessmap import files
from sessmap.errors import StoreError
from sessmap.stores import locks
from sessmap.stores.base import TranscriptInfo, TranscriptKey
from sessmap.stores.sqlite_transcripts import batches, tail_after, utf8
from sessmap.stores.transcript_file_io import (
    DAMAGED,
    Paths,
    as_count,
    as_string,
    damaged,
    digest,
    io_error,
    meta_of,
    open_data,
    pwrite_all,
    read_json,
    remove_if_empty,
    replace_json,
)

SUMMARY = "summary.json"
_DIGEST = re.compile(r"[0-9a-f]{64}")  # a folder of ours; anything else (.…deleting) is skipped
_META = re.compile(r"[0-9a-f]{64}\.json")


class FileTranscripts:
    """``Store.transcripts`` of a JSONStore: the folder ``root``, changed under ``locked()``."""

    def __init__(self, root: Path, locked: Callable[[], AbstractContextManager[None]]) -> None:
        self.root = root
        self._locked = locked

    # --- paths and small files ---

    def _top(self) -> Path:
        # A link planted where the folder goes would send transcripts to whoever planted it.
        locks.refuse_symlink(self.root)
        return self.root

    def _paths(self, key: TranscriptKey) -> Paths:
        project = self._top() / digest(key.project_key)
        session = project / digest(key.session_id)
        name = digest(key.subpath)
        return Paths(project, session, session / f"{name}.jsonl", session / f"{name}.json")

    def _listdir(self, folder: Path) -> list[str]:
        try:
            return sorted(os.listdir(folder))  # noqa: PTH208 - names, not Paths: most are skipped
        except (FileNotFoundError, NotADirectoryError):
            return []  # nothing stored there (or deleted meanwhile: readers take no lock)
        except OSError as err:
            io_error(folder, err, "read")

    def _folders(self, folder: Path) -> Iterator[Path]:
        for name in self._listdir(folder):
            if _DIGEST.fullmatch(name):
                yield folder / name

    def _make_folders(self, paths: Paths) -> None:
        """The folders down to the session's, 0700; each new one made durable in its parent."""
        chain = (self._top(), paths.project, paths.session)
        missing = [folder for folder in chain if not folder.exists()]
        locks.make_private_dir(paths.session)
        try:
            for folder in missing:
                files.fsync_dir(folder.parent)
        except OSError as err:
            io_error(paths.session, err)

    def _info(self, path: Path) -> TranscriptInfo | None:
        """The metadata file at ``path``; None if absent, StoreError if damaged or misplaced."""
        data = read_json(path)
        if data is None:
            return None
        try:
            key = TranscriptKey(
                as_string(data["project_key"]), as_string(data["session_id"]), as_string(data["subpath"])
            )
            info = TranscriptInfo(
                key,
                as_count(data["lines"]),
                as_count(data["size"]),
                base64.b64decode(as_string(data["tail"]), validate=True),
                as_count(data["mtime_ms"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            damaged(path, err)
        if self._paths(key).meta != path:
            raise StoreError(f"{path} holds the metadata of another transcript", reason=DAMAGED)
        return info

    def _summary(self, path: Path) -> tuple[str, str, str] | None:
        """``(project_key, session_id, summary)`` of a summary file; None if absent."""
        data = read_json(path)
        if data is None:
            return None
        try:
            found = (
                as_string(data["project_key"]),
                as_string(data["session_id"]),
                as_string(data["summary"]),
            )
        except (KeyError, TypeError) as err:
            damaged(path, err)
        if self._paths(TranscriptKey(*found[:2])).session / SUMMARY != path:
            raise StoreError(f"{path} holds the summary of another session", reason=DAMAGED)
        return found

    def _session_key(self, session: Path) -> tuple[str, str] | None:
        """``(project_key, session_id)`` of a session folder, from any file in it."""
        for name in self._listdir(session):
            if name == SUMMARY:
                summary = self._summary(session / name)
                if summary is not None:
                    return summary[0], summary[1]
            elif _META.fullmatch(name):
                info = self._info(session / name)
                if info is not None:
                    return info.key.project_key, info.key.session_id
        return None

    # --- the TranscriptStore protocol ---

    def append(self, key: TranscriptKey, lines: Iterable[bytes]) -> TranscriptInfo | None:
        paths = self._paths(key)
        stream = iter(lines)
        first = next(stream, None)
        if first is None:
            return self.info(key)  # nothing to add: no lock taken
        with self._locked():
            before = self._info(paths.meta)
            count, size, tail, previous_ms = (
                (0, 0, b"", 0)
                if before is None
                else (before.lines, before.size, before.tail, before.mtime_ms)
            )
            self._make_folders(paths)
            created = not paths.data.exists()
            fd = open_data(paths.data, size)
            start = size
            try:
                for batch in batches(itertools.chain((first,), stream)):
                    data = b"\n".join([*batch, b""])  # one copy of the batch, newline-ended
                    try:
                        pwrite_all(fd, data, size)
                    except OSError as err:
                        io_error(paths.data, err)
                    size += len(data)
                    count += len(batch)
                    tail = tail_after(tail, batch)
                try:
                    os.fsync(fd)  # on disk before any metadata counts them
                    if created:
                        files.fsync_dir(paths.session)
                except OSError as err:
                    io_error(paths.data, err)
            except BaseException:
                # All or nothing: the caller's stream or the disk failed part way.
                with contextlib.suppress(OSError):
                    if created:
                        paths.data.unlink()
                    else:
                        os.ftruncate(fd, start)
                raise
            finally:
                os.close(fd)
            # The store's clock, never behind the previous append: SDK clients order by mtime.
            info = TranscriptInfo(key, count, size, tail, max(int(time.time() * 1000), previous_ms + 1))
            replace_json(paths.meta, meta_of(info))
        return info

    def info(self, key: TranscriptKey) -> TranscriptInfo | None:
        return self._info(self._paths(key).meta)

    def read(self, key: TranscriptKey, start: int = 0) -> Iterator[bytes]:
        paths = self._paths(key)
        info = self._info(paths.meta)
        if info is None:
            return
        try:
            fd = files.open_regular(paths.data, follow_symlinks=False)  # never a FIFO: it would block
        except FileNotFoundError:
            return  # deleted since its metadata was read
        except OSError as err:
            io_error(paths.data, err, "read")
        with os.fdopen(fd, "rb") as handle:
            # Only as many lines as the metadata counts: anything after is an append under way.
            for index in range(info.lines):
                try:
                    raw = handle.readline()
                except OSError as err:
                    io_error(paths.data, err, "read")
                if not raw.endswith(b"\n"):
                    raise StoreError(
                        f"{paths.data} ends before the {info.lines} lines its metadata counts", reason=DAMAGED
                    )
                if index >= start:
                    yield raw[:-1]

    def sessions(self, project_key: str) -> list[TranscriptInfo]:
        found = []
        for session in self._folders(self._top() / digest(project_key)):
            info = self._info(session / f"{digest('')}.json")
            if info is not None:
                found.append(info)
        return sorted(found, key=lambda info: info.key.session_id)

    def subpaths(self, project_key: str, session_id: str) -> list[str]:
        session = self._paths(TranscriptKey(project_key, session_id)).session
        main = f"{digest('')}.json"
        found = []
        for name in self._listdir(session):
            if _META.fullmatch(name) and name != main:
                info = self._info(session / name)
                if info is not None:
                    found.append(info.key.subpath)
        return sorted(found)

    def delete(self, key: TranscriptKey) -> None:
        paths = self._paths(key)
        with self._locked():
            try:
                if key.subpath:
                    # The metadata first: from then on the side file is gone for readers.
                    for path in (paths.meta, paths.data, paths.meta.with_name(paths.meta.name + ".tmp")):
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
                    remove_if_empty(paths.session)
                else:
                    self._remove_session(paths)
                remove_if_empty(paths.project)
            except OSError as err:
                io_error(paths.session, err, "delete")

    def _remove_session(self, paths: Paths) -> None:
        """The session's folder, gone for readers at once: renamed aside, then removed."""
        import shutil

        doomed = paths.project / f".{paths.session.name}.deleting"
        if doomed.exists():
            shutil.rmtree(doomed)  # left by a delete that died part way
        try:
            paths.session.rename(doomed)
        except FileNotFoundError:
            return
        files.fsync_dir(paths.project)
        shutil.rmtree(doomed)

    def set_summary(self, project_key: str, session_id: str, summary: str) -> None:
        paths = self._paths(TranscriptKey(project_key, session_id))
        value = {"project_key": project_key, "session_id": session_id, "summary": utf8(summary)}
        with self._locked():
            self._make_folders(paths)
            replace_json(paths.session / SUMMARY, value)

    def summaries(self, project_key: str) -> list[str]:
        found = []
        for session in self._folders(self._top() / digest(project_key)):
            summary = self._summary(session / SUMMARY)
            if summary is not None:
                found.append(summary[1:])
        return [text for _, text in sorted(found)]

    def projects_of(self, session_id: str) -> list[str]:
        name = digest(session_id)
        found = []
        for project in self._folders(self._top()):
            key = self._session_key(project / name)
            if key is not None:
                found.append(key[0])
        return sorted(found)

    def stored(self) -> Iterator[tuple[str, str]]:
        # Listed whole before the first is given: cleanup deletes folders while it walks this.
        found = []
        for project in self._folders(self._top()):
            for session in self._folders(project):
                key = self._session_key(session)
                if key is not None:
                    found.append(key)
        yield from sorted(found)

    def check(self) -> list[str]:
        """Damaged metadata, and lines files shorter than their metadata or not ending in its tail."""
        problems: list[str] = []
        for project in self._folders(self._top()):
            for session in self._folders(project):
                for name in self._listdir(session):
                    path = session / name
                    try:
                        if name == SUMMARY:
                            self._summary(path)
                        elif _META.fullmatch(name):
                            problem = self._check_lines(path)
                            if problem:
                                problems.append(problem)
                    except StoreError as err:
                        problems.append(str(err))
        return problems

    def _check_lines(self, meta: Path) -> str | None:
        info = self._info(meta)
        if info is None:
            return None
        data = meta.with_suffix(".jsonl")
        try:
            with data.open("rb") as handle:
                found = os.fstat(handle.fileno()).st_size
                handle.seek(max(info.size - len(info.tail), 0))
                tail = handle.read(len(info.tail)) if found >= info.size else b""
        except FileNotFoundError:
            return f"{data} is missing; its metadata counts {info.lines} lines"
        except OSError as err:
            return f"cannot read {data}: {err.strerror or err}"
        if found < info.size:
            return f"{data} holds {found} bytes where its metadata counts {info.size}"
        if tail != info.tail:
            return f"{data} does not end as its metadata says (changed by hand?)"
        return None
