"""Files sessmap keeps (stores, config): opened only when they are regular files, and
written so that readers see the old content or the new, never half of either."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import Any


class NoTempFile(OSError):
    """``atomic_write`` could not create its temp file in the folder (``filename``)."""


class NotRegularFile(OSError):
    """``filename`` exists but is not a regular file; ``kind`` says what it is ("a FIFO").

    Such a path is never opened nor replaced: reading a FIFO blocks until someone writes to
    it, ``/dev/zero`` never ends, opening a device may act on the device, and replacing
    ``/dev/null`` with a file breaks every program on the machine.
    """

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", str(path))
        self.kind = kind


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words: ``a regular file``, ``a FIFO``…"""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def require_regular(path: Path, *, follow_symlinks: bool = True) -> None:
    """``NotRegularFile`` if ``path`` exists and is not a regular file; a missing path passes.

    Looked at with ``stat`` alone, so a device or a FIFO is never opened. With
    ``follow_symlinks=False`` a symbolic link itself passes: the caller deals with links.
    """
    try:
        mode = path.stat(follow_symlinks=follow_symlinks).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or (not follow_symlinks and stat.S_ISLNK(mode))):
        raise NotRegularFile(path, kind_of(mode))


def open_regular(path: Path, flags: int = os.O_RDONLY, *, follow_symlinks: bool = True) -> int:
    """A descriptor on the regular file ``path``: ``NotRegularFile`` for anything else,
    ``FileNotFoundError`` if it is missing (and ``OSError`` ``ELOOP`` for a link when not
    ``follow_symlinks``).

    Checked before the open (a device is never opened) and again on the descriptor: something
    swapped in between is opened with ``O_NONBLOCK``, which cannot hang on a FIFO, then refused.
    """
    require_regular(path, follow_symlinks=follow_symlinks)
    flags |= os.O_NONBLOCK | os.O_NOCTTY | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, kind_of(mode))
        os.set_blocking(fd, True)  # a regular file reads the same either way: hand back a plain one
    except BaseException:
        os.close(fd)
        raise
    return fd


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``, durably: a temp file in the same folder (``mode``, whatever
    the umask), written and fsynced, ``os.replace``d over ``path``, then the folder fsynced.

    A symbolic link at ``path`` is replaced, not followed; anything else that is not a regular
    file (``/dev/null``, a FIFO) is refused with ``NotRegularFile`` before anything is made. On
    failure the temp file is removed and the ``OSError`` raised: ``NoTempFile`` (its
    ``filename`` the folder) when the temp file could not be made, so a caller can tell
    "cannot write in the folder" from the rest.
    """
    import tempfile

    require_regular(path, follow_symlinks=False)
    folder = path.parent
    try:
        # The name ``.NAME.XXXXXXXX.tmp``: a writer's leftover is recognisable as such.
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise NoTempFile(err.errno, err.strerror, str(folder)) from None
    try:
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(path)
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise


def fsync_dir(path: Path) -> None:
    """Make a rename inside the folder ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as err:
        # Some filesystems cannot fsync a folder; the rename itself is still atomic.
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


_SHA256: list[Any] = []  # the constructor, found once: a failed import is searched for anew


def sha256_hex(data: bytes) -> str:
    """hashlib's sha256 without loading OpenSSL (~5 ms of every exec's start), as ``random``
    does for sha512: CPython's built-in module, under its 3.12+ or its 3.11 name. Found once:
    a prune probes a lock per row, and each failed import walks sys.path again."""
    if not _SHA256:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            try:
                from _sha256 import sha256  # type: ignore[import-not-found, no-redef, unused-ignore]
            except ImportError:
                from hashlib import sha256  # type: ignore[assignment, unused-ignore]
        _SHA256.append(sha256)
    return str(_SHA256[0](data).hexdigest())
