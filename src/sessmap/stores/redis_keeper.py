"""The Redis lock's keeper: a process forked while the agent runs, renewing the lock for as
long as the agent lives, even while sessmap is stopped or after it was killed (see
redis_lock.py). Its whole life is ``_keep``, in the child; ``Keeper`` is sessmap's side.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import suppress
from typing import Any

# Loaded only from redis_lock.py, which loads only once the driver is known to be there.
import redis  # noqa: TID253
from redis.backoff import NoBackoff  # noqa: TID253
from redis.retry import Retry  # noqa: TID253

from sessmap.stores.redis_lock import LEASE, LEAVE, MAX_KEEPER_TIMEOUT, RENEW, RedisHeldLock, Script


class Keeper:
    """sessmap's side of a keeper process: its pid, the control pipe, the report reader."""

    def __init__(self, held: RedisHeldLock, control: int, report: int) -> None:
        self.held, self.pid, self.control, self.report = held, 0, control, report
        self.watcher = threading.Thread(target=self._watch, name="sessmap-lock-keeper", daemon=True)

    @classmethod
    def start(cls, held: RedisHeldLock, agent_pid: int, pidfd: int | None) -> None:
        import warnings

        pool = held.lock.client.connection_pool
        # Plain settings only (host, port, path, db, credentials, TLS files): the pool's own
        # objects (handlers, registries) may hold locks of this process's other threads.
        kwargs = {
            name: value
            for name, value in pool.connection_kwargs.items()
            if isinstance(value, str | bytes | int | float | None) and not name.startswith("orig_")
        }
        # Short timeouts: a hung server must not keep the keeper from reporting in time.
        timeout = min(MAX_KEEPER_TIMEOUT, max(0.1, held.lock.ttl / 8))
        kwargs.update(socket_timeout=timeout, socket_connect_timeout=timeout)
        control_r, control_w = os.pipe()
        report_r, report_w = os.pipe()
        keeper = cls(held, control_w, report_r)
        # Started before the fork, not racing the new child for the CPU. It sees the end of
        # the report pipe only once both copies of its write end are closed, below.
        keeper.watcher.start()
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns about fork in a threaded process: the child uses only
                # objects it makes itself, and leaves by os._exit.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            for fd in (control_r, control_w, report_w):
                os.close(fd)
            raise
        if pid == 0:  # the keeper: never returns, never runs this process's cleanup
            code = 1
            try:
                _keep(held, pool.connection_class, kwargs, agent_pid, pidfd, control_r, report_w)
                code = 0
            finally:
                os._exit(code)
        keeper.pid = pid
        with held.state:  # before the watcher can see the keeper end
            held.keeper = keeper
        os.close(control_r)
        os.close(report_w)

    def stop(self) -> None:
        """Tell the keeper to stop. Not waited for: it exits at once and leaves the lock alone
        (a renewal in flight only extends a lock still ours); the watcher reaps it."""
        with suppress(OSError):
            os.write(self.control, b"s")  # before the end of file, which means "sessmap died"
        os.close(self.control)

    def _watch(self) -> None:
        pending = b""
        while chunk := os.read(self.report, 4096):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                lapses_at, _, reason = line.decode(errors="replace").partition(" ")
                with suppress(ValueError):
                    self.held.report(reason, float(lapses_at) or None)
        os.close(self.report)
        # The only place that reaps the keeper, so no other child's pid is ever waited for.
        if self.pid:
            with suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        with self.held.state:
            died = self.held.keeper is self  # not stopped: it died; the thread here renews
            if died:
                self.held.keeper = None
        if died:
            os.close(self.control)


def _keep(
    held: RedisHeldLock,
    connection_class: type[Any],
    kwargs: dict[str, Any],
    agent_pid: int,
    pidfd: int | None,
    control: int,
    report: int,
) -> None:
    """The keeper's life, in the forked child. It reads plain values of ``held`` and never
    touches its threads, locks or client."""
    import select
    import signal

    # Out of the terminal's process group: Ctrl-C, Ctrl-Z and hang-ups are for the agent and
    # sessmap; the keeper follows the agent's life, not the terminal's.
    os.setsid()
    with suppress(ValueError):  # the forking thread is the child's main thread: this works
        for name in ("SIGINT", "SIGQUIT", "SIGHUP", "SIGTSTP", "SIGTTIN", "SIGTTOU"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not sessmap's: it forwards to the agent
        signal.set_wakeup_fd(-1)
    # Keep none of sessmap's descriptors (its stdout pipe, sockets, lock files) past sessmap.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    kept = sorted(fd for fd in (control, report, pidfd) if fd is not None)
    for low, high in zip([2, *kept], [*kept, os.sysconf("SC_OPEN_MAX")], strict=True):
        os.closerange(low + 1, high)
    os.set_blocking(report, False)  # a stopped sessmap must not block the keeper
    lock, value, ttl = held.lock, held.value, held.lock.ttl
    connections: list[Any] = []  # made at the first renewal: most runs end before it

    def evaluate(script: Script, keys: list[str], args: list[object]) -> Any:
        if not connections:
            connections.append(connection_class(**kwargs, retry=Retry(NoBackoff(), 0)))
        try:
            connections[0].send_command("EVAL", script.text, len(keys), *keys, *args)
            return connections[0].read_response()
        except BaseException:
            connections[0].disconnect()
            raise

    def tell(reason: str, lapses_at: float | None) -> None:
        with suppress(OSError):
            os.write(report, f"{lapses_at or 0.0!r} {reason}\n".encode())

    poller = select.poll()
    poller.register(control, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)  # readable once the agent has exited
    sessmap_alive = agent_alive = True
    lease = held.lease  # this process's copy: CLOCK_MONOTONIC is the machine's, the same here
    due: float | None = lease.last_ok + ttl / 3
    while due is not None and (sessmap_alive or agent_alive):
        wait = max(0.0, due - time.monotonic())
        for fd, _ in poller.poll(1000 * (wait if pidfd is not None else min(wait, 0.1))):
            if fd == control and os.read(control, 1):
                return  # unguard: sessmap renews from here on
            sessmap_alive = sessmap_alive and fd != control  # end of file: sessmap died
            agent_alive = agent_alive and fd != pidfd
            poller.unregister(fd)
        if pidfd is None and agent_alive:
            agent_alive = _alive(agent_pid)
        if (sessmap_alive or agent_alive) and time.monotonic() >= due:
            delay = lease.renew(lambda: evaluate(RENEW, [lock.names.lock], [value, lock.ttl_ms]), tell)
            due = None if delay is None else time.monotonic() + delay
    # sessmap and the agent are both gone: release, handing the lock to the next waiter.
    names = lock.names
    while due is not None and time.monotonic() < lease.last_ok + ttl:
        with suppress(redis.RedisError, OSError):
            evaluate(LEAVE, [names.lock, names.queue], [*names.common(value), round(lock.ttl_ms * LEASE), ""])
            return
        time.sleep(ttl / 12)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as error:
        return not isinstance(error, ProcessLookupError)  # EPERM: it exists, another user's
    return True
