"""First come, first served thread locks for the file stores: a flock plus a ticket queue.

The lock itself is an exclusive ``flock(2)`` on ``<locks>/<sha256>.lock`` (the 0.1.0 path, so
an older sessmap running beside this one still excludes). The kernel drops a flock the moment
its last holder exits, so a dead holder never leaves a thread stuck. But which waiter gets a
released flock is not ours to say: waiters that poll with ``LOCK_NB`` win at random, and the
order of blocked ones is the kernel's (Linux since 5.0 happens to queue them, others need not;
and a waiter with a time limit cannot block in plain flock). So waiters queue first, in
``<locks>/<sha256>.queue/``, and only the head of the queue ever waits on the lock:

* A waiter takes a ticket number from ``counter`` under a short flock of that file. Still under
  it, it creates ``<n>.tmp``, flocks it and renames it to ``<n>.ticket``: a ticket is visible
  only while its owner holds it, and numbers become visible in the order they were given.
* To wait its turn it goes down the earlier tickets, nearest first, and blocks in ``flock`` on
  the first one still held. A ticket it can lock while the name still links it was abandoned
  (its owner was killed: every other way out unlinks first) and is unlinked by whoever finds
  it. When no earlier ticket is left it blocks on the lock file itself.
* The new holder writes who it is into the lock file, then unlinks its ticket and closes it,
  which wakes the one waiter behind it. A waiter that gives up (time out, Ctrl-C) does the
  same, so it leaves the queue at once; a killed one is skipped the moment it dies.
* A run that finds the lock free takes it only if no ticket is held: between a release and the
  head taking over, the lock is free for a moment, and a newcomer must not jump in then.

Each step is woken by the kernel the instant the flock it waits on is dropped, with one waiter
per flock, so the order never depends on polling luck or on the kernel's wake-up order, and a
hand-over costs one wake-up. An uncontended run pays one ``access`` (the queue folder does not
exist) and two in-place writes of the holder record; nothing is fsynced, since tickets die with
their processes anyway.

Waiting with a limit blocks in ``flock`` too, cut short by a one-shot ``SIGALRM`` timer
(flock_wait.py). A run that holds the lock may hand the descriptor to its agent
(``agent_fds``): the flock then lasts until the agent exits too, which is why release unlocks
explicitly before closing (a flock belongs to the open file description).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sessmap import files
from sessmap.errors import Busy, StoreError
from sessmap.stores.base import LockHolder, OnLost, OnWait, Waiting
from sessmap.stores.flock_wait import lock_by, try_lock

_FILE_MODE = 0o600
_DIR_MODE = 0o700
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC
_TICKET = ".ticket"
_RECORD = 160  # the holder record: pid, timestamp (32) and host name (at most 64) fit
_NO_HOLDER = b" " * (_RECORD - 1) + b"\n"


class FileThreadLock:
    """One use of a thread's lock: a context manager yielding itself as the ``HeldLock``.

    A class rather than a generator: ``exec`` takes it once per run, and every microsecond of
    an uncontended run is start-up time.
    """

    def __init__(
        self, lock_path: Path, agent: str, key: str, timeout: float | None, on_wait: OnWait | None
    ) -> None:
        self._path, self._agent, self._key = lock_path, agent, key
        self._timeout, self._on_wait = timeout, on_wait
        self._fd = -1

    def __enter__(self) -> FileThreadLock:
        """Hold the lock (queueing in ``<lock>.queue``); ``Busy`` if not free in time,
        ``StoreError`` if the files cannot be opened or locked."""
        path = self._path
        while True:
            try:
                fd = _open(path)
            except OSError as err:
                raise StoreError(f"cannot lock {path}: {err.strerror or err}") from None
            try:
                _acquire(fd, path, self._agent, self._key, self._timeout, self._on_wait)
                # The lock file of a deleted mapping is unlinked by whoever holds its flock
                # (discard): a flock got on the unlinked inode excludes nobody, so check that
                # the name still links what we locked, and start over on the new file if not.
                if _links(path, fd):
                    break
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            except OSError as err:
                os.close(fd)  # the only descriptor: closing drops any flock it got
                raise StoreError(f"cannot lock {path}: {err.strerror or err}") from None
            except BaseException:
                os.close(fd)
                raise
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        fd, self._fd = self._fd, -1
        try:
            with contextlib.suppress(OSError):
                os.pwrite(fd, _NO_HOLDER, 0)  # no stale holder shown while the next one comes
            # The agent may have inherited the descriptor and outlive this run: unlock it
            # explicitly, for every descriptor of this open file.
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def agent_fds(self) -> tuple[int, ...]:
        return (self._fd,)

    def guard(self, agent_pid: int, on_lost: OnLost) -> None:
        """Nothing to watch: the kernel never takes a flock from a live holder."""

    def unguard(self) -> None:
        pass


def _acquire(
    fd: int, lock_path: Path, agent: str, key: str, timeout: float | None, on_wait: OnWait | None
) -> None:
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
    queue_path = lock_path.with_suffix(".queue")
    if try_lock(fd):
        if not _anyone_queued(queue_path):
            _write_holder(fd)  # the uncontended case: free, and nobody waiting their turn
            return
        fcntl.flock(fd, fcntl.LOCK_UN)  # free, but others came first: queue behind them
    if timeout is not None and timeout <= 0:
        raise Busy(agent, key)  # --no-wait tries once and never queues
    with _open_queue(queue_path, create=True) as queue, queue.ticket() as number:
        if on_wait is not None:
            on_wait(Waiting(_read_holder(fd), queue.live_before(number)))
        if not (queue.wait_turn(number, deadline) and lock_by(fd, deadline)):
            raise Busy(agent, key)
        _write_holder(fd)  # before the ticket goes, so the next in line can tell who holds


@contextlib.contextmanager
def _open_queue(path: Path, *, create: bool) -> Iterator[_Queue]:
    """The queue folder, opened once so no link planted at its path is followed."""
    if create:
        with contextlib.suppress(FileExistsError):
            path.mkdir(_DIR_MODE)
            path.chmod(_DIR_MODE)  # mkdir's mode went through the umask
    dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _OPEN_FLAGS)
    try:
        yield _Queue(dir_fd)
    finally:
        os.close(dir_fd)


def _anyone_queued(queue_path: Path) -> bool:
    if not os.access(queue_path, os.F_OK):
        return False  # nobody ever queued for this thread: the common case, and no exception
    # Anyone whose ticket appears after this look arrived after us, so the race is harmless.
    with _open_queue(queue_path, create=False) as queue:
        return queue.anyone()


class _Queue:
    """The tickets of one thread: ``counter`` and ``<n>.ticket`` files in one folder."""

    def __init__(self, dir_fd: int) -> None:
        self._dir = dir_fd

    @contextlib.contextmanager
    def ticket(self) -> Iterator[int]:
        """Hold the next ticket; on leaving, unlink it, then release it (waking the next)."""
        number, fd = self._take()
        try:
            yield number
        finally:
            try:
                with contextlib.suppress(FileNotFoundError):  # the folder was cleared by hand
                    os.unlink(f"{number}{_TICKET}", dir_fd=self._dir)
            finally:
                os.close(fd)

    def _take(self) -> tuple[int, int]:
        counter = self._open("counter", os.O_RDWR | os.O_CREAT)
        fd = -1
        try:
            fcntl.flock(counter, fcntl.LOCK_EX)  # held for a few system calls only
            number = _parse_int(os.pread(counter, 32, 0))
            if number is None:  # a counter lost or cut short: start above every ticket
                number = max(self._numbers(), default=-1) + 1
            # Handed out before the ticket exists, so no number is ever given twice: a taker
            # killed here leaves at worst an unlocked ticket (abandoned) or a stray .tmp.
            os.pwrite(counter, b"%d\n" % (number + 1), 0)  # numbers only grow: no shorter text
            # Only a taker holding the counter lock has a .tmp; one found here is a stray.
            fd = self._open(f"{number}.tmp", os.O_RDWR | os.O_CREAT)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # so nobody else can hold it
            os.rename(f"{number}.tmp", f"{number}{_TICKET}", src_dir_fd=self._dir, dst_dir_fd=self._dir)
        except BaseException:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.unlink(f"{number}.tmp", dir_fd=self._dir)
                os.close(fd)  # a renamed ticket left behind is unlocked: abandoned, cleared later
            raise
        finally:
            os.close(counter)
        return number, fd

    def live_before(self, number: int) -> int:
        """How many tickets before ``number`` are still held (clearing abandoned ones)."""
        live = 0
        for earlier in self._numbers():
            if earlier < number and (fd := self._probe(earlier)) is not None:
                os.close(fd)
                live += 1
        return live

    def anyone(self) -> bool:
        """Whether any ticket is held."""
        for number in self._numbers():
            if (fd := self._probe(number)) is not None:
                os.close(fd)
                return True
        return False

    def wait_turn(self, number: int, deadline: float | None) -> bool:
        """Block until no ticket before ``number`` is held; False if the deadline passed.

        One pass, nearest first, suffices: every number below ours was visible when we got
        ours (both happen under the counter lock), and a ticket that left never comes back.
        """
        for earlier in sorted((n for n in self._numbers() if n < number), reverse=True):
            fd = self._probe(earlier)
            if fd is None:
                continue
            try:
                if not lock_by(fd, deadline):
                    return False
                self._clear_if_abandoned(earlier, fd)
            finally:
                os.close(fd)  # it left, or was killed: go on to the one before it
        return True

    def _probe(self, number: int) -> int | None:
        """A descriptor on ticket ``number`` if its owner holds it; None if it is gone."""
        try:
            fd = self._open(f"{number}{_TICKET}", os.O_RDWR)  # writable: NFS emulates flock with write locks
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return fd  # held: its owner is queued
        except BaseException:
            os.close(fd)
            raise
        self._clear_if_abandoned(number, fd)
        os.close(fd)
        return None

    def _clear_if_abandoned(self, number: int, fd: int) -> None:
        """``fd`` holds ticket ``number``'s flock: still linked means its owner died."""
        if os.fstat(fd).st_nlink:
            # A number is handed out once, so the name still links this very file.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{number}{_TICKET}", dir_fd=self._dir)

    def _numbers(self) -> list[int]:
        return [
            number
            for name in os.listdir(self._dir)  # noqa: PTH208 (by descriptor: no link followed)
            if name.endswith(_TICKET) and (number := _parse_int(name[: -len(_TICKET)].encode())) is not None
        ]

    def _open(self, name: str, flags: int) -> int:
        return _open(name, flags, dir_fd=self._dir)


def _open(path: Path | str, flags: int = os.O_RDWR | os.O_CREAT, dir_fd: int | None = None) -> int:
    """Open a lock or queue file, created 0600, never through a link, and only a regular file:
    a FIFO or device planted in the folder is refused (``NotRegularFile``), not locked."""
    fd = os.open(path, flags | _OPEN_FLAGS, _FILE_MODE, dir_fd=dir_fd)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise files.NotRegularFile(Path(path), files.kind_of(mode))
    if flags & os.O_CREAT:
        with contextlib.suppress(PermissionError):  # another user's file keeps its mode
            os.fchmod(fd, _FILE_MODE)  # the umask may have removed owner bits
    return fd


def _links(path: Path, fd: int) -> bool:
    """Whether ``path`` names the very file open as ``fd`` (not unlinked, not replaced)."""
    try:
        named = os.lstat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def is_busy(lock_path: Path) -> bool:
    """Whether a run holds the thread's lock, or queues for it. Creates no file: a thread
    with no lock file was never locked here. The probe holds the flock for two system calls
    when it is free; a run arriving at that instant queues behind it for as long."""
    try:
        fd = _open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        if not try_lock(fd):
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return _anyone_queued(lock_path.with_suffix(".queue"))
    finally:
        os.close(fd)


def discard(lock_path: Path) -> bool:
    """Unlink the lock file of a thread whose mapping is gone, unless someone holds it or has
    ever queued for it (the queue folder stays, and so does its lock file, rather than racing
    a waiter that is creating it). True if removed.

    Unlinked while holding its flock, and only if the name still links the file locked: a run
    that opened it before and gets the flock after sees the name gone (``_links``) and locks
    the new file instead, so two runs never hold "the" lock at once."""
    try:
        fd = _open(lock_path, os.O_RDWR)
    except (FileNotFoundError, files.NotRegularFile):
        return False
    try:
        if not try_lock(fd) or os.access(lock_path.with_suffix(".queue"), os.F_OK):
            return False
        if not _links(lock_path, fd):
            return False
        lock_path.unlink()
        return True
    finally:
        os.close(fd)  # drops the flock: a run blocked on this inode now wakes and re-checks


def _parse_int(text: bytes) -> int | None:
    digits = text.split(b"\n", 1)[0]
    return int(digits) if digits.isdigit() else None


# --- holder record ---------------------------------------------------------------------------


def _write_holder(fd: int) -> None:
    """Record who holds the lock in the lock file: ``pid since host``, space-padded to a fixed
    size, overwritten in place (no truncation, no new block: a page-cache copy)."""
    since = datetime.now(UTC).isoformat()
    host = os.uname().nodename.replace("\n", " ")
    record = f"{os.getpid()} {since} {host}".encode()[: _RECORD - 1].ljust(_RECORD - 1) + b"\n"
    with contextlib.suppress(OSError):  # only news for waiters: a full disk must not stop the run
        os.pwrite(fd, record, 0)


def _read_holder(fd: int) -> LockHolder | None:
    """The holder record, or None if blank (free, or held by an older sessmap, which writes none)."""
    try:
        line = os.pread(fd, _RECORD, 0).decode()
        pid, since, host = line.split("\n", 1)[0].rstrip().split(" ", 2)
        return LockHolder(host=host, pid=int(pid), since=datetime.fromisoformat(since))
    except (OSError, ValueError):  # blank, or torn by a write at that moment
        return None
