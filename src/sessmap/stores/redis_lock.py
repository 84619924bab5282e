"""The Redis store's thread lock: a fair queue on Redis primitives, and a lease keeper.

Keys, for a lock ``P:L`` (``P:lock:<agent>:<key>`` for a thread): ``P:L`` holds ``<token> <pid>
<since ms> <host>`` with a PX expiry (the lock TTL); ``P:lockn`` is a ticket counter shared by
all locks, ``P:lockq:L`` the queue (a sorted set of tickets by number), ``P:lockw:<ticket>:L`` a
waiter's lease (PX two thirds of the TTL, renewed as it waits) and ``P:lockx:<ticket>:L`` its
wake-up list. Each decision is one Lua script, so atomic:

* ACQUIRE drops dead tickets (lease gone) and takes the lock if it is free and no live ticket
  waits: one round trip uncontended. Else (unless trying once) it queues a new ticket (INCR)
  and returns the holder and the live tickets ahead, for ``on_wait``.
* A waiter blocks in BLPOP on its wake-up list for at most a sixth of the TTL, or until the lock
  or the head's lease would lapse, then runs TRY: renew its lease (rejoining at its own number
  if it lapsed: a stalled waiter keeps its place) and take the lock if it is free and its ticket
  the first live one. A newcomer never overtakes a live ticket.
* LEAVE removes a ticket (timeout, Ctrl-C, any exception: at once), compare-and-deletes the lock
  (release; or a lock a lost reply made ours) and, when the lock is free, LPUSHes to the first
  live waiter's list: a hand-over costs that waiter one BLPOP reply and one TRY.

Bounds: a waiter killed with -9 holds up the queue until its lease lapses (less than the lock
TTL); an unguarded holder killed or stopped, for one TTL. ``guard`` forks a keeper process that
renews the lock every third of the TTL while the agent lives (a pidfd tells when it exits), even
with sessmap stopped or killed, and after that while sessmap lives; it stops on ``unguard``, and
once sessmap and the agent are both gone it releases the lock itself. It reaches Redis over a
connection it makes after the fork from plain settings, so no lock another thread held at the
fork can hang it, and it reports over a pipe when a renewal finds the lock gone or renewals
failed for half the TTL; a thread here calls ``on_lost`` once. Outside ``guard`` a thread here
renews the lock. Like every single-instance Redis lock it is not safe across a failover.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

# Loaded only by redis.py, after it checked that the driver is there: like it, this module
# may import redis at the top (the start-up rule is about the file stores' path).
import redis  # noqa: TID253
from redis.exceptions import NoScriptError  # noqa: TID253

from sessmap.stores.base import LockHolder, LockLost, OnLost, OnWait, Waiting

if TYPE_CHECKING:
    from sessmap.stores.redis_keeper import Keeper

Describe = Callable[[str, BaseException], str]

LEASE = 2 / 3  # of the lock TTL: a dead waiter stalls the queue for less than one TTL
MAX_POLL_SECONDS = 2.0  # below the client's socket timeout, which a BLPOP must not reach
MAX_KEEPER_TIMEOUT = 4.0  # the keeper's socket timeouts: ttl/8, at most this

# Shared by the queue scripts. KEYS[1] lock, KEYS[2] queue; ARGV[1] lease prefix, ARGV[2]
# wake-up prefix, ARGV[3] name suffix, ARGV[4] this run's lock value. Names are built here
# from the ticket: fine on one server (the store relies on MULTI across keys already).
_COMMON = """
local function lease(t) return ARGV[1] .. t .. ARGV[3] end
local function wake(t) return ARGV[2] .. t .. ARGV[3] end
local function live(t) return redis.call('exists', lease(t)) == 1 end
local function head()  -- the first live ticket, dropping the dead ones before it
  for _, t in ipairs(redis.call('zrange', KEYS[2], 0, -1)) do
    if live(t) then return t end
    redis.call('zrem', KEYS[2], t)
  end
  return false
end
local function wake_head(ms)
  local t = head()
  if t then redis.call('lpush', wake(t), '1'); redis.call('pexpire', wake(t), ms) end
end
local function hint(first)  -- ms until the lock (or, if free, the head's lease) lapses
  local p = redis.call('pttl', KEYS[1])
  if p == -2 and first then p = redis.call('pttl', lease(first)) end
  return p
end
"""
# KEYS[3] counter; ARGV[5] ttl ms, ARGV[6] lease ms (0: try once, never queue).
_ACQUIRE = """
local alive = {}
for _, t in ipairs(redis.call('zrange', KEYS[2], 0, -1)) do
  if live(t) then alive[#alive + 1] = t else redis.call('zrem', KEYS[2], t) end
end
if #alive == 0 and redis.call('set', KEYS[1], ARGV[4], 'NX', 'PX', ARGV[5]) then return {1} end
local holder = redis.call('get', KEYS[1])
if ARGV[6] == '0' then return {0, holder} end
local t = redis.call('incr', KEYS[3])
redis.call('zadd', KEYS[2], t, t)
redis.call('set', lease(t), '1', 'PX', ARGV[6])
return {2, holder, t, #alive, hint(alive[1])}
"""
# ARGV[5] ttl ms, ARGV[6] lease ms, ARGV[7] ticket.
_TRY = """
local t = ARGV[7]
redis.call('set', lease(t), '1', 'PX', ARGV[6])
redis.call('zadd', KEYS[2], t, t)
local first = head()
if first ~= t then return {0, hint(first)} end
local taken = redis.call('set', KEYS[1], ARGV[4], 'NX', 'PX', ARGV[5])
if not taken then return {0, redis.call('pttl', KEYS[1])} end
redis.call('zrem', KEYS[2], t)
redis.call('del', lease(t), wake(t))
return {1}
"""
# ARGV[5] wake-up list lifetime ms, ARGV[6] ticket ('' to release, or when unknown).
_LEAVE = """
redis.call('zrem', KEYS[2], ARGV[6])
redis.call('del', lease(ARGV[6]), wake(ARGV[6]))
if redis.call('get', KEYS[1]) == ARGV[4] then redis.call('del', KEYS[1]) end
if redis.call('exists', KEYS[1]) == 0 then wake_head(ARGV[5]) end
return 1
"""
# KEYS[1] lock; ARGV[1] value, ARGV[2] ttl ms. 1: renewed, 0: gone, -1: another run's now.
_RENEW = """
local v = redis.call('get', KEYS[1])
if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
if v then return -1 end
return 0
"""


@dataclass(frozen=True)
class Script:
    text: str
    sha: str


def _script(text: str) -> Script:
    return Script(text, hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest())


ACQUIRE, TRY, LEAVE = (_script(_COMMON + body) for body in (_ACQUIRE, _TRY, _LEAVE))
RENEW = _script(_RENEW)

GONE = "the thread's lock expired in Redis: it was not renewed in time"
TAKEN = "another run holds the thread's lock in Redis: it expired while it was not renewed"
FAILING = "cannot renew the thread's lock in Redis"


def _call(client: redis.Redis, script: Script, keys: Sequence[str], args: Sequence[object]) -> Any:
    """One EVALSHA; EVAL (which caches the script too) when the server does not know it."""
    try:
        return client.evalsha(script.sha, len(keys), *keys, *args)  # type: ignore[arg-type]
    except NoScriptError:
        return client.eval(script.text, len(keys), *keys, *args)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class LockNames:
    """The Redis keys of one lock and its queue (see the module docstring)."""

    lock: str
    queue: str
    counter: str
    lease_prefix: str
    wake_prefix: str
    suffix: str

    @classmethod
    def of(cls, prefix: str, lock: str) -> LockNames:
        rest = lock.removeprefix(f"{prefix}:")
        p = prefix
        return cls(lock, f"{p}:lockq:{rest}", f"{p}:lockn", f"{p}:lockw:", f"{p}:lockx:", f":{rest}")

    def common(self, value: str) -> list[object]:
        return [self.lease_prefix, self.wake_prefix, self.suffix, value]


@dataclass(frozen=True, slots=True)
class Lock:
    """One lock as a store uses it: the client, the names, the TTL, how errors read."""

    client: redis.Redis
    names: LockNames
    ttl_ms: int
    describe: Describe

    @property
    def ttl(self) -> float:
        return self.ttl_ms / 1000

    def run(self, script: Script, value: str, *args: object) -> Any:
        names = self.names
        return _call(self.client, script, [names.lock, names.queue], [*names.common(value), *args])


def lock_busy(client: redis.Redis, names: LockNames) -> bool:
    """Whether the lock is held, or a live ticket queues for it: reads only, writes nothing."""
    if client.exists(names.lock):
        return True
    tickets = cast("list[str]", client.zrange(names.queue, 0, -1))
    return any(client.exists(f"{names.lease_prefix}{t}{names.suffix}") for t in tickets)


class TimedOut(Exception):
    """Busy: tried once in vain, or the wait ran out (the ticket has left the queue)."""


def parse_holder(value: object) -> LockHolder | None:
    """The holder a lock value names; None for another version's value."""
    try:
        _, pid, since_ms, host = str(value).split(" ", 3)
        return LockHolder(host, int(pid), datetime.fromtimestamp(int(since_ms) / 1000, UTC))
    except ValueError:
        return None


def acquire(lock: Lock, timeout: float | None, on_wait: OnWait | None) -> RedisHeldLock:
    """Take the lock in turn; ``TimedOut`` when busy (``timeout`` 0) or the wait ran out.

    Redis errors propagate (the caller makes them ``StoreError``), after leaving the queue.
    """
    value = f"{secrets.token_hex(16)} {os.getpid()} {time.time_ns() // 1_000_000} {os.uname().nodename}"
    names, lease_ms = lock.names, max(1, round(lock.ttl_ms * LEASE))
    try_once = timeout is not None and timeout <= 0
    deadline = None if timeout is None else time.monotonic() + timeout
    ticket: object = ""  # until the reply says: LEAVE then only undoes a lock taken unawares
    try:
        sent = time.monotonic()
        keys = [names.lock, names.queue, names.counter]
        args = [*names.common(value), lock.ttl_ms, 0 if try_once else lease_ms]
        reply = cast("list[Any]", _call(lock.client, ACQUIRE, keys, args))
        if reply[0] == 1:
            return RedisHeldLock(lock, value, sent)
        if reply[0] == 0:
            raise TimedOut
        _, holder, ticket, ahead, hint_ms = reply
        if on_wait is not None:
            on_wait(Waiting(parse_holder(holder) if holder else None, int(ahead)))
        wake = f"{names.wake_prefix}{ticket}{names.suffix}"
        while True:
            wait = min(lock.ttl / 6, MAX_POLL_SECONDS)
            if int(hint_ms) >= 0:  # the lock, or the head's lease, lapses sooner: look then
                wait = min(wait, int(hint_ms) / 1000 + 0.002)
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            if wait > 0:  # BLPOP 0 would block for ever
                lock.client.blpop([wake], timeout=max(wait, 0.001))
            sent = time.monotonic()
            reply = cast("list[Any]", lock.run(TRY, value, lock.ttl_ms, lease_ms, ticket))
            if reply[0] == 1:
                return RedisHeldLock(lock, value, sent)
            hint_ms = reply[1]
            if deadline is not None and time.monotonic() >= deadline:
                raise TimedOut
    except BaseException as error:
        if ticket != "" or not isinstance(error, TimedOut):  # not after trying once in vain
            _leave(lock, value, lease_ms, ticket)
        raise


def _leave(lock: Lock, value: str, lease_ms: int, ticket: object) -> None:
    # Out of the queue now, not when the lease lapses; should this fail, the lease will.
    with suppress(redis.RedisError):
        lock.run(LEAVE, value, lease_ms, ticket)


class _Lease:
    """A held lock's renewals, by the thread here or by the keeper: when the last one worked,
    and whether failing renewals were told of."""

    def __init__(self, lock: Lock, last_ok: float) -> None:
        self.lock, self.last_ok, self.told = lock, last_ok, False  # last_ok: when it was sent

    def renew(self, attempt: Callable[[], Any], tell: Callable[[str, float | None], None]) -> float | None:
        """One renewal; seconds until the next one, or None once the lock is not ours. ``tell``
        hears why it is lost (None: already) or when it lapses (failing for half the TTL)."""
        ttl, sent = self.lock.ttl, time.monotonic()
        try:
            outcome = int(attempt())
        except (redis.RedisError, OSError) as error:
            if not self.told and sent - self.last_ok >= ttl / 2:
                self.told = True
                tell(self.lock.describe(FAILING, error), self.last_ok + ttl)
            return ttl / 12  # soon: the lease is running out
        if outcome != 1:
            tell(GONE if outcome == 0 else TAKEN, None)
            return None
        self.last_ok = sent
        return ttl / 3


class RedisHeldLock:
    """A held lock (``HeldLock``): renewed by a thread here, or by a keeper while guarded."""

    def __init__(self, lock: Lock, value: str, acquired: float) -> None:
        self.lock, self.value = lock, value
        self.lease = _Lease(lock, acquired)
        self._gone: str | None = None  # why, once a renewal found the lock no longer ours
        self.state = threading.Lock()
        self._on_lost: OnLost | None = None  # set while guarding
        self._reported = False
        self.keeper: Keeper | None = None
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_loop, name="sessmap-redis-lock", daemon=True)
        self._renewer.start()

    def agent_fds(self) -> tuple[int, ...]:
        return ()  # a lease cannot be inherited: the keeper renews it for the agent instead

    def guard(self, agent_pid: int, on_lost: OnLost) -> None:
        self.unguard()
        with self.state:
            self._on_lost, self._reported, self.lease.told = on_lost, False, False
        if self._gone is not None:  # found lost before the agent started: say so now
            threading.Thread(target=self.report, args=(self._gone, None), daemon=True).start()
            return
        try:
            pidfd: int | None = os.pidfd_open(agent_pid)
        except ProcessLookupError:
            return  # the agent has exited already: nothing to keep the lock for
        except (AttributeError, OSError):
            pidfd = None  # no pidfd (not Linux, old kernel): the keeper polls kill(pid, 0)
        from sessmap.stores.redis_keeper import Keeper

        try:
            Keeper.start(self, agent_pid, pidfd)
        except OSError:
            pass  # cannot fork: the thread here goes on renewing, as without guard
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def unguard(self) -> None:
        with self.state:
            keeper, self.keeper, self._on_lost = self.keeper, None, None
        if keeper is not None:
            keeper.stop()

    def release(self) -> None:
        """Stop renewing, compare-and-delete and wake the next waiter; on a Redis error the
        lock lapses within its TTL."""
        self.unguard()
        self._stop.set()
        self._renewer.join()
        with suppress(redis.RedisError):
            self.lock.run(LEAVE, self.value, round(self.lock.ttl_ms * LEASE), "")

    def _renew_loop(self) -> None:
        lock, delay = self.lock, self.lock.ttl / 3

        def renew() -> Any:
            return _call(lock.client, RENEW, [lock.names.lock], [self.value, lock.ttl_ms])

        while not self._stop.wait(delay):
            if self.keeper is not None or self._gone is not None:
                delay = lock.ttl / 3  # the keeper renews; or there is nothing left to renew
            else:
                delay = self.lease.renew(renew, self._lost) or lock.ttl / 3

    def _lost(self, reason: str, lapses_at: float | None) -> None:
        if lapses_at is None:
            self._gone = reason
        self.report(reason, lapses_at)

    def report(self, reason: str, lapses_at: float | None) -> None:
        """Call ``on_lost`` once per guard; ``lapses_at`` None: lost already (grace 0)."""
        with self.state:
            on_lost = self._on_lost
            if on_lost is None or self._reported:
                return
            self._reported = True
        margin = self.lock.ttl / 10  # Redis' clock, the network, the agent's own stop
        grace = 0.0 if lapses_at is None else max(0.0, lapses_at - margin - time.monotonic())
        with suppress(Exception):  # the runner's callback: nothing here could do better
            on_lost(LockLost(reason, grace))
