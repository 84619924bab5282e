"""The store's copy of a session's transcript, kept in step with the agent's own files (SPEC §7).

Before a run (under the thread lock) the stored entries are written where the agent looks when
its local file is missing or shorter; after the run the lines it added are appended. Neither
side is read whole where it can be streamed: a file that merely grew is recognised by the
stored copy's size and last bytes, so a turn costs the store the bytes it added.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sessmap.model import format_timestamp, now
from sessmap.stores.base import TranscriptInfo, TranscriptKey, TranscriptStore
from sessmap.transcripts.locate import Found, Locator

if TYPE_CHECKING:
    pass

_CHUNK = 1 << 20
# A restore writes thousands of short lines: far fewer system calls than the 8 KiB default.
_WRITE_BUFFER = 256 << 10

Notify = Callable[[str], None]


class TranscriptSync:
    """Restores and uploads one agent home's transcripts against one store."""

    # A plain class: exec builds one per run, and a frozen dataclass costs ~1 ms of start-up to define.
    __slots__ = ("home", "locator", "notify", "transcripts")

    def __init__(self, locator: Locator, transcripts: TranscriptStore, home: Path, notify: Notify) -> None:
        self.locator = locator
        self.transcripts = transcripts
        self.home = home
        self.notify = notify

    def restore(self, session_id: str, cwd: str) -> None:
        """Make the local transcript (and side files) at least as long as the stored copy."""
        local = self.locator.find(self.home, session_id, cwd)
        if local is not None and local.archived:
            return  # the user archived it on purpose: the agent says so, sessmap does not undo it
        if local is not None:
            settled = self.locator.settle(local)
            if settled != local.path:
                self.notify(f"moved {local.path} to {settled}, where {session_id}'s agent looks for it")
                local = local._replace(path=settled)
        project_key = self._stored_project(session_id, cwd, local)
        if project_key is None:
            return
        main = TranscriptKey(project_key, session_id)
        main_path = self._restore_file(main, local.path if local else None)
        if main_path is None:
            return
        side = dict(self.locator.side_files(main_path))
        for subpath in self.transcripts.subpaths(project_key, session_id):
            self._restore_file(TranscriptKey(project_key, session_id, subpath), side.get(subpath))

    def upload(self, session_id: str, cwd: str) -> Found | None:
        """Append what the run added to the store's copy; the local transcript, if any."""
        local = self.locator.find(self.home, session_id, cwd)
        if local is None or local.archived:
            return local
        self._upload_file(TranscriptKey(local.project_key, session_id), local.path)
        for subpath, path in self.locator.side_files(local.path):
            self._upload_file(TranscriptKey(local.project_key, session_id, subpath), path)
        return local

    def _stored_project(self, session_id: str, cwd: str, local: Found | None) -> str | None:
        if local is not None:
            return local.project_key
        stored = self.transcripts.projects_of(session_id)
        preferred = self.locator.project_key(cwd)
        if preferred in stored:
            return preferred
        return stored[0] if stored else None

    def _restore_file(self, key: TranscriptKey, path: Path | None) -> Path | None:
        info = self.transcripts.info(key)
        if info is None:
            return path
        if path is None:
            return self._write_fresh(key)
        if _grew_from(path, info):
            return path
        lines = self.transcripts.read(key)
        if _extend_if_prefix(path, lines):
            return path
        kept = _aside(path)
        path.replace(kept)
        self.notify(
            f"the local transcript {path} differs from the store's copy; "
            f"kept it as {kept} and continued from the store's copy"
        )
        return self._write_fresh(key)

    def _write_fresh(self, key: TranscriptKey) -> Path | None:
        lines = self.transcripts.read(key)
        first = next(lines, None)
        path = self.locator.restore_path(self.home, key, first)
        if not _inside(self.home, path):
            # Key parts come from SDK callers and imported files too: "../" or "/" in one
            # would put a file anywhere this user can write.
            self.notify(
                f"the store's copy of a transcript of session {key.session_id} names a file outside "
                f"{self.home} ({path}); it was not restored"
            )
            return None
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        import tempfile  # only a restore writes a file: a resumed turn on this host never does

        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb", buffering=_WRITE_BUFFER) as stream:
                if first is not None:
                    stream.write(first + b"\n")
                for line in lines:
                    stream.write(line + b"\n")
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def _upload_file(self, key: TranscriptKey, path: Path) -> None:
        info = self.transcripts.info(key)
        offset = 0
        if info is not None:
            if not _grew_from(path, info):
                self.notify(
                    f"the local transcript {path} no longer matches the store's copy; "
                    "its new lines were not stored"
                )
                return
            offset = info.size
        self.transcripts.append(key, complete_lines(path, offset))


def _inside(home: Path, path: Path) -> bool:
    """``path`` is below ``home`` as written: not absolute elsewhere, no ``..`` on the way."""
    try:
        parts = path.relative_to(home).parts
    except ValueError:
        return False
    return bool(parts) and ".." not in parts


def _aside(path: Path) -> Path:
    """A free name beside ``path`` to keep it under: ``<name>.diverged-<stamp>[-<n>]`` (a second
    divergence within the same second must not replace the file kept by the first)."""
    name = f"{path.name}.diverged-{format_timestamp(now())}"
    kept, number = path.with_name(name), 1
    while os.path.lexists(kept):
        number += 1
        kept = path.with_name(f"{name}-{number}")
    return kept


def _grew_from(path: Path, info: TranscriptInfo) -> bool:
    """The file holds the stored copy's bytes (judged by its size and last bytes), maybe more."""
    try:
        with path.open("rb") as stream:
            stream.seek(0, os.SEEK_END)
            if stream.tell() < info.size:
                return False
            stream.seek(info.size - len(info.tail))
            return stream.read(len(info.tail)) == info.tail
    except OSError:
        return False


def _extend_if_prefix(path: Path, stored: Iterator[bytes]) -> bool:
    """If the file is the stored copy cut at a line end, append the rest; else change nothing."""
    with path.open("rb") as local:
        for line in stored:
            expected = line + b"\n"
            got = local.read(len(expected))
            if got == expected:
                continue
            if got or local.read(1):
                return False
            remaining = [expected]
            break
        else:
            return not local.read(1)
    with path.open("ab") as out:
        for chunk in remaining:
            out.write(chunk)
        for line in stored:
            out.write(line + b"\n")
    return True


def complete_lines(path: Path, offset: int) -> Iterator[bytes]:
    """The newline-ended lines of ``path`` from byte ``offset`` on; a last partial line (still
    being written) is left for the next upload."""
    with path.open("rb") as stream:
        stream.seek(offset)
        pending = b""
        while chunk := stream.read(_CHUNK):
            parts = (pending + chunk).split(b"\n")
            pending = parts.pop()
            yield from parts
