"""Writing a file so that readers see the old content or the new, never half of either."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path


class NoTempFile(OSError):
    """``atomic_write`` could not create its temp file in the folder (``filename``)."""


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``, durably: a temp file in the same folder (``mode``, whatever
    the umask), written and fsynced, ``os.replace``d over ``path``, then the folder fsynced.

    A symbolic link at ``path`` is replaced, not followed. On failure the temp file is removed
    and the ``OSError`` raised: ``NoTempFile`` (its ``filename`` the folder) when the temp file
    could not be made, so a caller can tell "cannot write in the folder" from the rest.
    """
    import tempfile

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
