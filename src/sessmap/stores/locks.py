"""File locks and private files shared by the file-based stores (SQLite and JSON).

Thread locks are ``flock(2)`` locks (file_queue.py: first come, first served): the kernel
drops a lock the moment its last holder dies, so a killed ``exec`` never leaves a thread stuck.
Lock files are created 0600, opened with O_NOFOLLOW, and never replaced. A deleted mapping's
lock file is unlinked (``discard_thread_lock``) only by a process holding its flock, and a run
that got a flock re-checks that the name still links that inode (file_queue.py), so no waiter
ever holds an unlinked lock while a newcomer holds the new one. (Queue tickets are unlinked,
but only by their owner while it holds them, or once found abandoned.)
Python opens descriptors non-inheritable, so an agent process started while a lock is held
holds it too only when given ``HeldLock.agent_fds()``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from sessmap import files
from sessmap.errors import StoreError
from sessmap.stores.base import HeldLock, OnWait

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


def refuse_special(path: Path) -> None:
    """``StoreError`` if the store file (or a file beside it) ``path`` exists and is neither a
    regular file nor a link (``refuse_symlink``'s case): a FIFO, a device, a socket, a folder.

    Looked at with ``lstat`` only: such a file is never opened (a FIFO would block for ever)
    nor replaced (``json:/dev/null`` would turn the machine's /dev/null into a store file).
    """
    try:
        files.require_regular(path, follow_symlinks=False)
    except files.NotRegularFile as err:
        raise not_a_file(path, err.kind) from None


def not_a_file(path: Path, kind: str) -> StoreError:
    """The error for a store path that is ``kind`` ("a FIFO"), not a regular file."""
    return StoreError(
        f"{path} is {kind}, not a regular file; sessmap neither opens nor replaces it",
        hint="use another path",
        path=str(path),
        found=kind,
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


def thread_lock_path(locks_dir: Path, agent: str, key: str) -> Path:
    # Hash: keys are any Unicode up to 512 characters, too long and too free for a file name.
    digest = files.sha256_hex(f"{agent}\0{key}".encode())
    return locks_dir / f"{digest}.lock"


def thread_lock(
    locks_dir: Path, agent: str, key: str, timeout: float | None, on_wait: OnWait | None = None
) -> AbstractContextManager[HeldLock]:
    """The one-run-per-thread lock for (agent, key); ``Busy`` if it is not free in time.

    A plain ``flock(2)``, not the filelock package (which the JSON store uses for its change
    lock, and which locks the same way, so the two exclude each other): importing filelock
    loads logging, platform, decimal and more, which cost ``sessmap exec`` more start-up time
    than everything else it does.
    """
    make_private_dir(locks_dir)
    from sessmap.stores import file_queue  # threading, signal: only for a run, not a lookup

    return file_queue.FileThreadLock(thread_lock_path(locks_dir, agent, key), agent, key, timeout, on_wait)


def locks_dir_for(store_path: Path) -> Path:
    """``<store path>.locks``: where a file store keeps its per-thread lock files."""
    return store_path.with_name(store_path.name + ".locks")


def thread_busy(locks_dir: Path, agent: str, key: str) -> bool:
    """Whether a run holds or awaits the thread lock of (agent, key); creates no file."""
    if not os.access(locks_dir, os.F_OK):
        return False  # no run ever locked a thread of this store: prune asks once per row
    from sessmap.stores import file_queue

    path = thread_lock_path(locks_dir, agent, key)
    try:
        return file_queue.is_busy(path)
    except files.NotRegularFile as err:
        raise not_a_file(path, err.kind) from None
    except OSError as err:
        raise StoreError(f"cannot look at the lock {path}: {err.strerror or err}") from None


def discard_thread_locks(locks_dir: Path, positions: Iterable[tuple[str, str]]) -> None:
    """Remove the lock files of deleted mappings that no one holds (best effort: a lock file
    left behind costs a few bytes, never correctness)."""
    if not os.access(locks_dir, os.F_OK):
        return  # no run ever locked a thread of this store
    from sessmap.stores import file_queue

    for agent, key in positions:
        with contextlib.suppress(OSError):
            file_queue.discard(thread_lock_path(locks_dir, agent, key))
