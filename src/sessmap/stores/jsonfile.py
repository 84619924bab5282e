"""A store in one readable JSON file (``json:PATH``), for tiny setups and people who diff it.

The file is ``{"format": "sessmap", "version": 2, "mappings": [...]}``, pretty-printed and
sorted by agent then key. Every change takes ``<path>.lock``, reads the file, changes and
validates it, writes a temp file in the same folder, fsyncs it and ``os.replace``s it over
the old one. Readers take no lock: a replace is atomic, so they see the old or the new file.
Transcripts are too big for the document: they live in ``<path>.transcripts/``
(transcript_files.py), changed under the same lock.
The document's format (decoding, upgrades, encoding) is in jsonfile_document.py.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from sessmap import files
from sessmap.errors import StoreError
from sessmap.model import Mapping
from sessmap.stores import jsonfile_document, locks
from sessmap.stores.base import (
    Closing,
    HeldLock,
    ImportResult,
    Keep,
    OnConflict,
    OnWait,
    Query,
    Removed,
    TranscriptStore,
    by_session_order,
    conflict,
    holds_session,
    not_found,
    renamed,
    reparented,
)
from sessmap.stores.jsonfile_document import Snapshot
from sessmap.stores.started import FileStartedSessions, StartedSessions
from sessmap.stores.transcript_files import FileTranscripts
from sessmap.validation import validate_key

if TYPE_CHECKING:
    from filelock import BaseFileLock

LOCK_TIMEOUT = timedelta(seconds=30)

_Signature = tuple[int, int, int]
T = TypeVar("T")


class JSONStore(Closing):
    """The mapping store in one JSON file."""

    shared: bool = False
    reads_imports_unlocked = True  # read into memory before the lock

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"json:{path}"
        self.schema_version = jsonfile_document.FORMAT_VERSION
        self.lock_path = path.with_name(path.name + ".lock")
        self._locks_dir = locks.locks_dir_for(path)
        self._temp_name = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}\.tmp")
        self._cache: tuple[_Signature, Snapshot] | None = None
        # Refuse a file that is not ours now, before anything is created. Bad entries do not
        # stop the open (like damaged SQLite rows): reads fail on them and check() lists them.
        locks.refuse_symlink(path)
        locks.refuse_special(path)
        jsonfile_document.entries(self.path, self._read_bytes())
        locks.make_private_dir(path.parent)
        self._lock: BaseFileLock | None = None  # made on the first change: reads need none
        self._transcripts = FileTranscripts(path.with_name(path.name + ".transcripts"), self._locked)
        self.transcripts: TranscriptStore = self._transcripts
        self.started: StartedSessions = FileStartedSessions(
            path.with_name(path.name + ".started.json"), self._locked
        )

    # --- reading ---

    def _load(self) -> Snapshot:
        """The mappings on disk (cached while the file is the same); {} for a new store."""
        try:
            with self._open_for_reading() as handle:
                stat = os.fstat(handle.fileno())
                signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                if self._cache is not None and self._cache[0] == signature:
                    return self._cache[1]
                data = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise StoreError(f"cannot read {self.path}: {err.strerror}") from None
        snapshot = jsonfile_document.parse(self.path, data, problems=None)
        self._cache = (signature, snapshot)
        return snapshot

    def _read_bytes(self) -> bytes:
        try:
            with self._open_for_reading() as handle:
                return handle.read()
        except FileNotFoundError:
            return b""
        except OSError as err:
            raise StoreError(f"cannot read {self.path}: {err.strerror}") from None

    def _open_for_reading(self) -> BinaryIO:
        """The store file, never through a symlink (one swapped in after the open fails ELOOP;
        writes need no such care: ``os.replace`` replaces a link, it does not follow it), and
        only if it is a regular file (a FIFO swapped in is opened non-blocking, then refused)."""
        try:
            fd = files.open_regular(self.path, follow_symlinks=False)
        except files.NotRegularFile as err:
            raise locks.not_a_file(self.path, err.kind) from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                locks.refuse_symlink(self.path)
            raise
        return os.fdopen(fd, "rb")

    # --- writing ---

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from filelock import Timeout

        # filelock opens the lock file O_NONBLOCK and O_NOFOLLOW, but would still lock a FIFO
        # or open a device planted there: refuse those first.
        locks.refuse_special(self.lock_path)
        if self._lock is None:
            self._lock = _change_lock(self.lock_path)
        try:
            self._lock.acquire(timeout=LOCK_TIMEOUT.total_seconds())
        except Timeout:
            raise StoreError(
                f"{self.url}: locked by another process for more than {int(LOCK_TIMEOUT.total_seconds())}s"
            ) from None
        except OSError as err:
            raise StoreError(f"cannot lock {self.lock_path}: {err.strerror or err}") from None
        try:
            yield
        finally:
            self._lock.release()

    def _modify(self, change: Callable[[Snapshot], tuple[T, bool]]) -> T:
        """Run ``change`` on a fresh copy under the lock; write it back if it says so."""
        with self._locked():
            self._sweep_temp_files()
            mappings = dict(self._load())
            result, write = change(mappings)
            if write:
                self._write(mappings)
            return result

    def _sweep_temp_files(self) -> None:
        # Called with the lock held: a temp file now is from a writer that died before replace.
        with os.scandir(self.path.parent) as entries:
            for entry in entries:
                if self._temp_name.fullmatch(entry.name):
                    with contextlib.suppress(FileNotFoundError):
                        Path(entry.path).unlink()

    def _write(self, mappings: Snapshot) -> None:
        data = jsonfile_document.encode(mappings)
        folder = self.path.parent
        locks.refuse_read_only(self.path)
        try:
            files.atomic_write(self.path, data, locks.PRIVATE_FILE_MODE)
        except files.NoTempFile as err:
            raise StoreError(f"cannot write in {folder}: {err.strerror}") from None
        except files.NotRegularFile as err:
            raise locks.not_a_file(self.path, err.kind) from None
        except OSError as err:
            raise StoreError(f"cannot write {self.path}: {err.strerror or err}") from None
        stat = self.path.stat()
        self._cache = ((stat.st_ino, stat.st_mtime_ns, stat.st_size), dict(mappings))

    # --- the Store protocol ---

    def get(self, agent: str, key: str) -> Mapping | None:
        return self._load().get((agent, key))

    def insert(self, mapping: Mapping, *, replace: bool = False, require_parent: bool = False) -> None:
        mapping.validate()
        parent = mapping.parent if require_parent else None

        def change(mappings: Snapshot) -> tuple[None, bool]:
            if parent is not None and (parent.agent, parent.key) not in mappings:
                raise not_found(parent.agent, parent.key)
            if not replace and (mapping.agent, mapping.key) in mappings:
                raise conflict(mapping.agent, mapping.key)
            mappings[mapping.agent, mapping.key] = mapping
            return None, True

        self._modify(change)

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        def apply(mappings: Snapshot) -> tuple[Mapping, bool]:
            current = mappings.get((agent, key))
            if current is None:
                raise not_found(agent, key)
            changed = change(current).validate()
            if (changed.agent, changed.key) != (agent, key):
                raise ValueError("update() must not change agent or key; use rename()")
            mappings[agent, key] = changed
            return changed, True

        return self._modify(apply)

    def rename(self, agent: str, old_key: str, new_key: str, updated_at: datetime) -> Mapping:
        validate_key(new_key)

        def apply(mappings: Snapshot) -> tuple[Mapping, bool]:
            current = mappings.get((agent, old_key))
            if current is None:
                raise not_found(agent, old_key)
            if (agent, new_key) in mappings:
                raise conflict(agent, new_key)
            del mappings[agent, old_key]
            mappings[agent, new_key] = result = renamed(current, new_key, updated_at)
            for position, mapping in mappings.items():
                mappings[position] = reparented(mapping, agent, old_key, new_key)
            return result, True

        return self._modify(apply)

    def delete(self, agent: str, key: str, expected: Mapping | None = None) -> Mapping | None:
        def apply(mappings: Snapshot) -> tuple[Mapping | None, bool]:
            current = mappings.get((agent, key))
            if current is None or (expected is not None and current != expected):
                return None, False
            del mappings[agent, key]
            return current, True

        gone = self._modify(apply)
        if gone is not None:
            locks.discard_thread_locks(self._locks_dir, [(agent, key)])
        return gone

    def query(self, query: Query) -> Iterator[Mapping]:
        yield from query.ordered(m for m in self._load().values() if query.matches(m))

    def count(self, query: Query) -> int:
        return sum(1 for mapping in self._load().values() if query.matches(mapping))

    def by_session(self, prefix: str, limit: int) -> list[Mapping]:
        # The file is read whole for any question; nothing to index.
        return by_session_order((m for m in self._load().values() if holds_session(m, prefix)), limit)

    def delete_matching(self, query: Query, keep: Keep | None = None, removed: Removed | None = None) -> int:
        # The file is read whole anyway: what goes is told once it is written, not before.
        def apply(mappings: Snapshot) -> tuple[list[Mapping], bool]:
            doomed = [m for m in mappings.values() if query.matches(m) and (keep is None or not keep(m))]
            for mapping in doomed:
                del mappings[mapping.agent, mapping.key]
            return doomed, bool(doomed)

        doomed = self._modify(apply)
        locks.discard_thread_locks(self._locks_dir, ((m.agent, m.key) for m in doomed))
        if removed is not None:
            for mapping in doomed:
                removed(mapping)
        return len(doomed)

    def insert_many(self, mappings: Iterable[Mapping], on_conflict: OnConflict) -> ImportResult:
        # Read and validated before the lock: other writers wait only for the merge and the write.
        incoming = [mapping.validate() for mapping in mappings]

        def apply(stored: Snapshot) -> tuple[ImportResult, bool]:
            inserted = replaced = skipped = 0
            conflicts: list[tuple[str, str]] = []
            for mapping in incoming:
                position = (mapping.agent, mapping.key)
                if position not in stored:
                    inserted += 1
                elif on_conflict == "replace":
                    replaced += 1
                elif on_conflict == "skip":
                    skipped += 1
                    continue
                else:
                    conflicts.append(position)
                    continue
                stored[position] = mapping
            if conflicts:
                return ImportResult(conflicts=tuple(conflicts)), False
            # An import writes the file even when it adds nothing: it makes the store, as the
            # SQLite store's does, so the commands that only read find it afterwards.
            written = bool(inserted or replaced) or not self.path.exists()
            return ImportResult(inserted=inserted, replaced=replaced, skipped=skipped), written

        return self._modify(apply)

    def thread_lock(
        self, agent: str, key: str, timeout: float | None, on_wait: OnWait | None = None
    ) -> AbstractContextManager[HeldLock]:
        return locks.thread_lock(self._locks_dir, agent, key, timeout, on_wait)

    def thread_busy(self, agent: str, key: str) -> bool:
        return locks.thread_busy(self._locks_dir, agent, key)

    def check(self) -> list[str]:
        problems: list[str] = []
        try:
            jsonfile_document.parse(self.path, self._read_bytes(), problems)
        except StoreError as err:
            problems.append(str(err))
        try:
            problems.extend(self._transcripts.check())
        except StoreError as err:
            problems.append(str(err))
        return problems

    def close(self) -> None:
        self._cache = None


def _change_lock(path: Path) -> BaseFileLock:
    """The lock every change of the file is made under: filelock's flock on ``path``.

    The lock file is created 0600 and never removed or replaced: a waiter holding the old
    inode and a newcomer locking a new one would both "hold" it. filelock keeps flock files;
    its soft-lock fallback (for filesystems without flock) would not, so it is off, and
    ``preserve_lock_file`` says the same for any path a later filelock may add.
    """
    from filelock import FileLock

    return FileLock(
        path,
        mode=locks.PRIVATE_FILE_MODE,
        preserve_lock_file=True,
        fallback_to_soft=False,
    )
