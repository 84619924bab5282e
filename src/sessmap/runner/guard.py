"""The agent under its thread's lock: it inherits the lock, and it stops when the lock is lost.

Two rules keep two agents off one thread:

* the lock lives as long as the agent. The agent inherits what holds the lock (a file store's
  flock, PostgreSQL's connection), and a Redis lock's keeper renews it while the agent lives,
  so a ``sessmap exec`` killed with -9 leaves a running agent that still holds its thread;
* when the store reports the lock lost (a server restart dropped it, renewals failed until the
  lease is about to lapse), the agent is stopped: SIGTERM at once, which claude and codex
  answer by ending the turn so that the next resume continues it, then SIGKILL when the lease
  runs out (or ``STOP_GRACE`` later, when another run could start already).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading

from sessmap.stores.base import HeldLock, LockLost

STOP_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL when the lock is already gone."""


class AgentGuard:
    """Ties one agent process to the held lock of its thread."""

    def __init__(self, lock: HeldLock) -> None:
        self.lock = lock
        self.lost: LockLost | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._kill: threading.Timer | None = None
        self._mutex = threading.Lock()

    def fds(self) -> tuple[int, ...]:
        """What the agent must inherit."""
        return self.lock.agent_fds()

    def start(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self.lock.guard(process.pid, self._on_lost)

    def stop(self) -> None:
        """The agent has exited: stop watching, forget the pending SIGKILL."""
        self.lock.unguard()
        with self._mutex:
            if self._kill is not None:
                self._kill.cancel()
            self._process = None

    def _on_lost(self, lost: LockLost) -> None:
        with self._mutex:
            if self.lost is not None or self._process is None:
                return
            self.lost = lost
            self._signal(signal.SIGTERM)
            self._kill = threading.Timer(lost.grace or STOP_GRACE, self._signal, (signal.SIGKILL,))
            self._kill.daemon = True
            self._kill.start()

    def _signal(self, number: int) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(number)
