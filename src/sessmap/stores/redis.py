"""The Redis store: several hosts sharing one map through a Redis they already run.

Layout under a key prefix ``P`` (``sessmap`` unless the URL says ``?prefix=…``):

* ``P:m:<agent>:<key>``   one JSON document per mapping (agent names have no ``:``);
* ``P:keys``              sorted set, every member ``<key>\\0<agent>`` at score 0: key order
                          and key-prefix ranges (ZRANGE BYLEX; UTF-8 bytes sort as code points);
* ``P:seen``, ``P:created`` sorted sets of the same members scored by last_seen / created_at
                          (epoch seconds): age ranges for ``list`` and ``prune``;
* ``P:forks:<agent>:<key>`` set of the members forked from that mapping;
* ``P:sids``              sorted set, ``<session id>\\0<key>\\0<agent>`` at score 0 for every
                          current and earlier (history) session id: ``which`` by id prefix;
* ``P:lock:<agent>:<key>``  a thread lock; ``P:schema``, ``P:migrations``: the schema version
                          and the log of applied migrations;
* ``P:t…``                transcripts (SPEC §7): the layout is in redis_transcripts.py;
* ``P:started``           hash of the sessions sessmap started (redis_started.py).

Every write WATCHes the documents it reads and commits the document and its index entries in
one MULTI/EXEC, retrying when another client got there first: no unguarded read-then-write.
Iteration walks the indexes in batches (ZRANGE … LIMIT, SCAN); ``KEYS`` is never used.

Mappings never carry a Redis expiry: like in every store, they expire only through ``prune``.
Should someone set a TTL on a document by hand, writes keep it (``SET … KEEPTTL``, and RENAME
carries it over) rather than silently dropping it, and ``check`` (``sessmap doctor``) reports it.

Thread locks are fair queues, designed in redis_lock.py: ``P:lock:<agent>:<key>`` holds
``<token> <pid> <since> <host>`` (who holds it, for waiters) with a PX expiry of the lock TTL
(30 s, ``?lock_ttl=…``); waiters take it in ticket order (``P:lockn``, ``P:lockq:…``,
``P:lockw:…``, ``P:lockx:…``), every decision a Lua script; release is compare-and-delete and
wakes the next waiter. A thread of the holder renews the lock, and while the agent runs a
keeper process does, so the lock outlives a stopped or killed sessmap until the agent exits.
A waiter, or a holder outside an agent's run, killed with -9 holds up the thread for at most
the lock TTL. Like every single-instance Redis lock, it is not safe across a failover (a
replica promoted before it received the lock lets a second holder in), and the lock carries no
fencing token of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice
from typing import cast

from sessmap.errors import Busy, InvalidInput, StoreError
from sessmap.model import Mapping, format_timestamp, now
from sessmap.stores.base import (
    Closing,
    HeldLock,
    OnWait,
    TranscriptStore,
    conflict,
    not_found,
    renamed,
    reparented,
)
from sessmap.stores.migrations import migrate, newer_schema, refuse_newer
from sessmap.stores.redis_transcripts import RedisTranscripts
from sessmap.urls import check_redis_database, duration_parameter, mask_password, passwords_in, pop_parameters
from sessmap.validation import validate_key

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.client import Pipeline
    from redis.retry import Retry
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    raise StoreError("the Redis store needs redis-py: pip install 'sessmap[redis]'") from None

# After the check above: these modules need redis-py too.
from sessmap.stores.redis_docs import MAX_ATTEMPTS, get_text, mget, smembers, watch
from sessmap.stores.redis_import import RedisImport
from sessmap.stores.redis_lock import Lock, LockNames, RedisHeldLock, TimedOut, acquire, lock_busy
from sessmap.stores.redis_query import RedisQueries
from sessmap.stores.redis_started import RedisStarted
from sessmap.stores.started import StartedSessions

__all__ = ["BATCH", "MAX_ATTEMPTS", "MIGRATIONS", "SCHEMA_VERSION", "RedisStore"]

DEFAULT_PREFIX = "sessmap"
DEFAULT_LOCK_TTL = timedelta(seconds=30)
# No retries, short timeouts: an unreachable server, or a TLS handshake with a plain-text
# one, is a StoreError within seconds. A connection dropped by a server restart fails one
# call; the next one reconnects.
CONNECT_TIMEOUT_SECONDS = 3.0
SOCKET_TIMEOUT_SECONDS = 4.0
BATCH = 500  # documents or index members per round trip
_SESSMAP_PARAMETERS = ("prefix", "lock_ttl")


def _create_layout(client: redis.Redis, prefix: str) -> None:
    """Version 1: the layout in the module docstring; nothing existed before it to convert."""


def _add_transcripts(client: redis.Redis, prefix: str) -> None:
    """Version 2: transcripts (``P:t…``) and mappings with host, agent_home and history.

    Nothing to convert: a document without the new fields reads as null / no history. The
    version is raised all the same, so an older sessmap, which would refuse documents that
    carry them, refuses the store instead of failing on them one by one.
    """


def _index_session_ids(client: redis.Redis, prefix: str) -> None:
    """Version 3: ``P:sids`` (``which``), every mapping's current and earlier session ids,
    filled from the documents in batches. A document that does not parse is left to ``check``."""
    start = 0
    while members := cast("list[str]", client.zrange(f"{prefix}:keys", start, start + BATCH - 1)):
        start += BATCH
        docs = [f"{prefix}:m:{agent}:{key}" for key, _, agent in (m.rpartition("\0") for m in members)]
        entries: dict[str, int] = {}
        for member, text in zip(members, cast("list[str | None]", client.mget(docs)), strict=True):
            try:
                document = json.loads(text) if text else {}
                ids = [document.get("session_id")] + [e["session_id"] for e in document.get("history") or ()]
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
            entries.update({f"{sid}\0{member}": 0 for sid in ids if isinstance(sid, str)})
        if entries:
            client.zadd(f"{prefix}:sids", entries)


Migration = Callable[[redis.Redis, str], None]

MIGRATIONS: list[tuple[str, Migration]] = [
    ("create_layout", _create_layout),
    ("add_transcripts", _add_transcripts),
    ("index_session_ids", _index_session_ids),
]
SCHEMA_VERSION = len(MIGRATIONS)


class RedisStore(RedisQueries, RedisImport, Closing):
    """A Store on Redis (redis-py). One client (with its connection pool) per store object,
    and one more returning bytes, for transcripts."""

    shared = True
    reads_imports_unlocked = False

    def __init__(self, url: str) -> None:
        self.url = mask_password(url)
        self._secrets = passwords_in(url)
        driver_url, ours = pop_parameters(url, _SESSMAP_PARAMETERS)
        check_redis_database(driver_url)
        self._prefix = ours.get("prefix", DEFAULT_PREFIX)
        if not self._prefix or any(ch.isspace() or not ch.isprintable() for ch in self._prefix):
            raise InvalidInput(f"invalid prefix={self._prefix!r}: use printable characters, no spaces")
        ttl = ours.get("lock_ttl")
        self.lock_ttl = duration_parameter("lock_ttl", ttl) if ttl else DEFAULT_LOCK_TTL
        self._client = self._connect(driver_url)
        try:
            self.schema_version = self._migrate()
        except BaseException:
            self._client.close()
            raise
        # Transcript lines are bytes, and a tail may end inside a UTF-8 sequence: they need a
        # client that does not decode. It connects on first use.
        self._bytes_client = self._new_client(driver_url, decode_responses=False)
        self._transcripts = RedisTranscripts(self._bytes_client, self._prefix, self._errors)
        self.transcripts: TranscriptStore = self._transcripts
        self.started: StartedSessions = RedisStarted(self._client, self._prefix, self._errors)

    # --- connection and errors --------------------------------------------------------------

    def _connect(self, driver_url: str) -> redis.Redis:
        with self._errors(f"cannot connect to Redis at {self.url}"):
            client = self._new_client(driver_url, decode_responses=True)
            client.ping()
        return client

    def _new_client(self, driver_url: str, *, decode_responses: bool) -> redis.Redis:
        try:
            return redis.Redis.from_url(
                driver_url,
                decode_responses=decode_responses,
                socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
                client_name="sessmap",
            )
        except ValueError as error:
            raise InvalidInput(self._describe(f"invalid Redis URL {self.url}", error)) from None

    @property
    def _batch(self) -> int:
        return BATCH

    # --- schema -------------------------------------------------------------------------------

    def _stored_version(self) -> int:
        text = get_text(self._client, self._name("schema"))
        if text is None:
            return 0
        if not str(text).isdigit():
            raise StoreError(f"{self.url}: {self._name('schema')} is {text!r}, not a sessmap schema version")
        return refuse_newer(int(text), SCHEMA_VERSION, newer_schema(f"Redis store {self.url}"))

    def _migrate(self) -> int:
        with self._errors():
            if self._stored_version() == SCHEMA_VERSION:
                return SCHEMA_VERSION
            # Clients opening a fresh store together queue on this lock; the later ones find
            # the work done when they re-read the version.
            try:
                with self._held(self._name("migrate-lock"), timeout=60.0, ttl_ms=60_000):
                    self._apply_migrations()
            except _Timeout:
                raise StoreError(f"{self.url}: another client has been migrating for a minute") from None
        return SCHEMA_VERSION

    def _apply_migrations(self) -> None:
        migrate(
            self._stored_version(), MIGRATIONS, self._apply_migration, newer_schema(f"Redis store {self.url}")
        )

    def _apply_migration(self, number: int, name: str, migration: Migration) -> None:
        migration(self._client, self._prefix)
        record = json.dumps({"version": number, "name": name, "applied_at": _stamp()})
        with self._client.pipeline(transaction=True) as pipe:
            pipe.set(self._name("schema"), number)
            pipe.rpush(self._name("migrations"), record)
            pipe.execute()

    # --- the Store protocol ------------------------------------------------------------------------

    def get(self, agent: str, key: str) -> Mapping | None:
        doc_key = self._doc_key(agent, key)
        with self._errors():
            text = get_text(self._client, doc_key)
        return None if text is None else self._decode(text, doc_key)

    def insert(self, mapping: Mapping, *, replace: bool = False, require_parent: bool = False) -> None:
        mapping.validate()
        doc_key = self._doc_key(mapping.agent, mapping.key)
        parent = mapping.parent if require_parent else None
        # Watching the parent's document: a rename moves it, so this retries and finds it gone;
        # a rename after this adds the fork to the parent's fork set, which the rename watches.
        parent_doc = self._doc_key(parent.agent, parent.key) if parent is not None else None

        def put(pipe: Pipeline) -> None:
            if parent is not None and parent_doc is not None and not pipe.exists(parent_doc):
                raise not_found(parent.agent, parent.key)
            old = self._current(pipe, doc_key)
            if old is not None and not replace:
                raise conflict(mapping.agent, mapping.key)
            pipe.multi()
            self._queue_put(pipe, old, mapping)
            pipe.execute()

        self._transact([doc_key] if parent_doc is None else [doc_key, parent_doc], put)

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        doc_key = self._doc_key(agent, key)

        def apply(pipe: Pipeline) -> Mapping:
            old = self._current(pipe, doc_key)
            if old is None:
                raise not_found(agent, key)
            changed = change(old).validate()
            if (changed.agent, changed.key) != (agent, key):
                raise ValueError("update() must not change agent or key; use rename()")
            pipe.multi()
            self._queue_put(pipe, old, changed)
            pipe.execute()
            return changed

        return self._transact([doc_key], apply)

    def rename(self, agent: str, old_key: str, new_key: str, updated_at: datetime) -> Mapping:
        validate_key(new_key)
        old_doc, new_doc = self._doc_key(agent, old_key), self._doc_key(agent, new_key)
        forks = self._forks_key(agent, old_key)

        def move(pipe: Pipeline) -> Mapping:
            current = self._current(pipe, old_doc)
            if current is None:
                raise not_found(agent, old_key)
            if pipe.exists(new_doc):
                raise conflict(agent, new_key)
            result = renamed(current, new_key, updated_at)
            # The mapping itself may be among its key's forks; it is moved above, not here.
            child_docs = [doc for doc in map(self._doc_key_of, smembers(pipe, forks)) if doc != old_doc]
            watch(pipe, child_docs)
            children = [
                self._decode(text, doc)
                for doc, text in zip(child_docs, mget(pipe, child_docs), strict=True)
                if text is not None
            ]
            pipe.multi()
            pipe.rename(old_doc, new_doc)  # carries over any TTL, like KEEPTTL below
            self._queue_put(pipe, current, result)
            for child in children:
                self._queue_put(pipe, child, reparented(child, agent, old_key, new_key))
            pipe.execute()
            return result

        return self._transact([old_doc, new_doc, forks], move)

    def delete(self, agent: str, key: str, expected: Mapping | None = None) -> Mapping | None:
        doc_key = self._doc_key(agent, key)

        def remove(pipe: Pipeline) -> Mapping | None:
            old = self._current(pipe, doc_key)
            if old is None or (expected is not None and old != expected):
                return None  # gone, or changed since the caller read it (WATCHed: decided now)
            pipe.multi()
            pipe.delete(doc_key)
            self._queue_unindex(pipe, old)
            pipe.execute()
            return old

        return self._transact([doc_key], remove)

    @contextmanager
    def thread_lock(
        self, agent: str, key: str, timeout: float | None, on_wait: OnWait | None = None
    ) -> Iterator[HeldLock]:
        ttl_ms = max(1, round(self.lock_ttl.total_seconds() * 1000))
        try:
            with self._held(
                self._name("lock", agent, key), timeout=timeout, ttl_ms=ttl_ms, on_wait=on_wait
            ) as held:
                yield held
        except _Timeout:
            raise Busy(agent, key) from None

    def thread_busy(self, agent: str, key: str) -> bool:
        names = LockNames.of(self._prefix, self._name("lock", agent, key))
        with self._errors():
            return lock_busy(self._client, names)

    @contextmanager
    def _held(
        self, lock_key: str, *, timeout: float | None, ttl_ms: int, on_wait: OnWait | None = None
    ) -> Iterator[RedisHeldLock]:
        """Hold ``lock_key`` in turn (the queue, the keeper and their bounds: redis_lock.py)."""
        lock = Lock(self._client, LockNames.of(self._prefix, lock_key), ttl_ms, self._describe)
        try:
            with self._errors():
                held = acquire(lock, timeout, on_wait)
        except TimedOut:
            raise _Timeout from None
        try:
            yield held
        finally:
            held.release()

    def check(self) -> list[str]:
        problems: list[str] = []
        with self._errors():
            version = get_text(self._client, self._name("schema"))
            if version != str(SCHEMA_VERSION):
                problems.append(f"schema version {version}, expected {SCHEMA_VERSION}")
            members = self._by_key("", descending=False)
            while batch := list(islice(members, BATCH)):
                docs = [self._doc_key_of(member) for member in batch]
                with self._client.pipeline(transaction=False) as pipe:
                    pipe.mget(docs)
                    for doc in docs:
                        pipe.pttl(doc)
                    texts, *ttls = pipe.execute()
                for doc, text, ttl in zip(docs, texts, ttls, strict=True):
                    if text is None:
                        problems.append(f"{doc}: indexed but missing (deleted or expired outside sessmap)")
                        continue
                    try:
                        self._decode(text, doc)
                    except StoreError as error:
                        problems.append(str(error))
                    if ttl is not None and ttl >= 0:
                        problems.append(
                            f"{doc}: carries a Redis expiry; sessmap mappings expire only by prune"
                        )
        problems.extend(self._transcripts.problems())
        return problems

    def close(self) -> None:
        self._client.close()
        self._bytes_client.close()


class _Timeout(Exception):
    """A lock wait ran out (turned into Busy, or a StoreError for the migration lock)."""


def _stamp() -> str:
    return format_timestamp(now())
