"""Taking an exclusive ``flock(2)`` with a deadline, for the file stores' thread locks
(file_queue.py): at once (``try_lock``), or blocking until a monotonic deadline (``lock_by``).

Waiting with a limit blocks in ``flock`` too, cut short by a one-shot ``SIGALRM`` timer: the
kernel wakes the waiter the instant the flock is dropped, so no polling luck decides who goes
next. Main thread only; the previous handler comes back, and an already armed timer is left
alone by not using this. Elsewhere it retries every few milliseconds.
"""

from __future__ import annotations

import fcntl
import signal
import threading
import time
from types import FrameType

_POLL_SECONDS = 0.005  # the fallback outside the main thread, where no alarm can interrupt


class _TimedOut(Exception):
    """Raised by the alarm handler to cut a blocking flock short."""


def try_lock(fd: int) -> bool:
    """Exclusive flock on ``fd`` if free at once; False if someone holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def lock_by(fd: int, deadline: float | None) -> bool:
    """Exclusive flock on ``fd``, blocking until ``deadline`` (monotonic; None: for ever)."""
    if deadline is None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a handler that raises (Ctrl-C) still gets through
        return True
    if try_lock(fd):
        return True
    if _alarm_usable():
        try:
            return _lock_with_alarm(fd, deadline)
        except _TimedOut:  # the alarm landed between two statements of the clean-up
            return False
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(_POLL_SECONDS, remaining))
        if try_lock(fd):
            return True
    return False


def _alarm_usable() -> bool:
    """SIGALRM can interrupt us: main thread, no timer of someone else's, a Python-settable
    handler (not one installed from C), and the signal not blocked."""
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        and signal.getsignal(signal.SIGALRM) is not None
        and signal.SIGALRM not in signal.pthread_sigmask(signal.SIG_BLOCK, ())
    )


def _lock_with_alarm(fd: int, deadline: float) -> bool:
    armed = True

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if armed:
            raise _TimedOut

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        signal.setitimer(signal.ITIMER_REAL, remaining)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True  # an alarm right after this returns False: the caller closes fd, unlocking
    except _TimedOut:
        return False
    finally:
        armed = False  # a signal still in flight is now harmless
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
