"""File locks and private files shared by the file-based stores (SQLite and JSON).

Locks are ``flock(2)`` locks: the kernel drops a lock the moment its
holder dies, so a killed ``exec`` never leaves a thread stuck. Lock files are created 0600
and never deleted or replaced: unlinking a locked file would let a waiter lock a new inode
while the old holder still runs. Python opens descriptors non-inheritable, so an agent process
started while a lock is held does not hold it too.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sessmap.errors import Busy, StoreError

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def refuse_symlink(path: Path) -> None:
    """``StoreError`` if the store file ``path`` is a symbolic link (dangling or not).

    Following it would let anyone who can write the folder point the map at another file, or
    make sessmap create one wherever the link points. The real path works; the link does not.
    """
    if path.is_symlink():
        raise StoreError(
            f"{path} is a symbolic link; sessmap does not follow links to its store",
            hint=f"use the real path ({os.path.realpath(path)})",
        )


def refuse_read_only(path: Path) -> None:
    """``StoreError`` if the store file ``path`` exists but this user may not write it.

    A file made read-only (``chmod a-w``) is a user saying "do not change this": the JSON
    store's replace-by-rename would otherwise overwrite it anyway, and SQLite would leave
    -wal/-shm files behind that block later writers.
    """
    effective = os.access in os.supports_effective_ids
    if path.exists() and not os.access(path, os.W_OK, effective_ids=effective):
        raise StoreError(
            f"cannot write {path}: the file is read-only for this user",
            hint="make it writable (chmod u+w) or use another store",
        )


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700; folders that exist are left alone."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process made it first; it is theirs to have set up
        except OSError as err:
            raise StoreError(f"cannot create folder {folder}: {err.strerror}") from None
        # mkdir's mode is filtered by the umask; 0700 must hold whatever the umask is.
        folder.chmod(PRIVATE_DIR_MODE)


def create_private_file(path: Path) -> bool:
    """Create an empty 0600 file unless one exists; True if this call created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    except OSError as err:
        raise StoreError(f"cannot create {path}: {err.strerror}") from None
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have removed owner bits
    finally:
        os.close(fd)
    return True


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as err:
        # Some filesystems cannot fsync a folder; the rename itself is still atomic.
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


_POLL_INTERVAL = 0.05  # seconds between tries while waiting with a timeout


def _flock(fd: int, timeout: float | None) -> bool:
    """None waits for ever, 0 tries once, else up to ``timeout`` seconds; False if in vain."""
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks; a signal handler that raises still gets through
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(_POLL_INTERVAL, remaining))


def _locked_fd(path: Path, timeout: float | None) -> int | None:
    """A descriptor holding an exclusive flock on ``path`` (created 0600, never deleted), or
    None when the time ran out; ``StoreError`` when the file cannot be opened or locked."""
    try:
        # No following a link planted at the lock path: the lock file is never anything else.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    except OSError as err:
        raise StoreError(f"cannot lock {path}: {err.strerror or err}") from None
    try:
        with contextlib.suppress(PermissionError):  # another user's file keeps its mode
            os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have removed owner bits
        if _flock(fd, None if timeout is None else max(timeout, 0.0)):
            return fd
    except OSError as err:
        os.close(fd)
        raise StoreError(f"cannot lock {path}: {err.strerror or err}") from None
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def thread_lock_path(locks_dir: Path, agent: str, key: str) -> Path:
    # Hash: keys are any Unicode up to 512 characters, too long and too free for a file name.
    import hashlib

    digest = hashlib.sha256(f"{agent}\0{key}".encode()).hexdigest()
    return locks_dir / f"{digest}.lock"


@contextlib.contextmanager
def thread_lock(locks_dir: Path, agent: str, key: str, timeout: float | None) -> Iterator[None]:
    """The one-run-per-thread lock for (agent, key); ``Busy`` if it is not free in time.

    A plain ``flock(2)``, not the filelock package (which the JSON store uses for its change
    lock, and which locks the same way, so the two exclude each other): importing filelock
    loads logging, platform, decimal and more, which cost ``sessmap exec`` more start-up time
    than everything else it does.
    """
    make_private_dir(locks_dir)
    fd = _locked_fd(thread_lock_path(locks_dir, agent, key), timeout)
    if fd is None:
        raise Busy(f"thread '{key}' (agent {agent}) is busy: another exec is running")
    try:
        yield
    finally:
        os.close(fd)  # closing the only descriptor drops the flock


def locks_dir_for(store_path: Path) -> Path:
    """``<store path>.locks``: where a file store keeps its per-thread lock files."""
    return store_path.with_name(store_path.name + ".locks")
