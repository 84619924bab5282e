"""The files behind FileTranscripts (transcript_files.py): hashed names, JSON written whole
or not at all, lines files opened at the size their metadata commits, and the errors they raise.

Module-level functions with no state: the folder layout and its rules are FileTranscripts'.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from sessmap import files
from sessmap.errors import StoreError
from sessmap.stores import locks
from sessmap.stores.base import TranscriptInfo
from sessmap.stores.sqlite_transcripts import utf8

DAMAGED = "damaged-store"  # the reason of a damaged file: the CLI points to `doctor`


def digest(text: str) -> str:
    return files.sha256_hex(utf8(text).encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Paths:
    project: Path
    session: Path
    data: Path
    meta: Path


def as_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{value!r} is not a count")
    return value


def as_string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def io_error(path: Path, err: OSError, doing: str = "write") -> NoReturn:
    raise StoreError(f"cannot {doing} {path}: {err.strerror or err}") from None


def damaged(path: Path, err: Exception) -> NoReturn:
    reason = f"no {err} field" if isinstance(err, KeyError) else str(err)
    raise StoreError(f"{path} is damaged ({reason})", reason=DAMAGED) from None


def pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        fd = files.open_regular(path, follow_symlinks=False)  # a FIFO planted here would block
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    except OSError as err:
        io_error(path, err, "read")
    try:
        value = json.loads(data)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise StoreError(f"{path} is damaged (not a JSON object)", reason=DAMAGED)
    return value


def replace_json(path: Path, value: dict[str, Any]) -> None:
    """Write ``path`` whole or not at all: a temp file, fsynced, renamed over it. Only
    under the lock, so one fixed temp name serves (and a crash leaves one at most)."""
    temp = path.with_name(path.name + ".tmp")
    data = json.dumps(value, ensure_ascii=False).encode("utf-8") + b"\n"
    try:
        # O_NONBLOCK: a FIFO planted at the temp name fails (ENXIO) instead of blocking.
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK
        fd = os.open(temp, flags, locks.PRIVATE_FILE_MODE)
        try:
            _require_regular_fd(fd, temp)  # nor is a device renamed over the metadata
            os.fchmod(fd, locks.PRIVATE_FILE_MODE)  # the umask may have removed owner bits
            pwrite_all(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(path)
        files.fsync_dir(path.parent)
    except OSError as err:
        with contextlib.suppress(OSError):
            temp.unlink()
        io_error(path, err)


def _require_regular_fd(fd: int, path: Path) -> None:
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        raise files.NotRegularFile(path, files.kind_of(mode))


def open_data(path: Path, size: int) -> int:
    """The lines file, open for writing at ``size``: what a dead append left past it is cut."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, locks.PRIVATE_FILE_MODE)
    except OSError as err:
        io_error(path, err)
    try:
        _require_regular_fd(fd, path)
        os.fchmod(fd, locks.PRIVATE_FILE_MODE)
        found = os.fstat(fd).st_size
        if found > size:
            os.ftruncate(fd, size)
    except OSError as err:
        os.close(fd)
        io_error(path, err)
    if found < size:
        os.close(fd)
        raise StoreError(
            f"{path} holds {found} bytes where its metadata counts {size}: the transcript is damaged",
            reason=DAMAGED,
        )
    return fd


def meta_of(info: TranscriptInfo) -> dict[str, Any]:
    return {
        "project_key": info.key.project_key,
        "session_id": info.key.session_id,
        "subpath": info.key.subpath,
        "lines": info.lines,
        "size": info.size,
        "tail": base64.b64encode(info.tail).decode("ascii"),
        "mtime_ms": info.mtime_ms,
    }


def remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
