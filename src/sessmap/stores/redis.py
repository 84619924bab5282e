"""The Redis store: several hosts sharing one map through a Redis they already run.

Layout under a key prefix ``P`` (``sessmap`` unless the URL says ``?prefix=…``):

* ``P:m:<agent>:<key>``   one JSON document per mapping (agent names have no ``:``);
* ``P:keys``              sorted set, every member ``<key>\\0<agent>`` at score 0: key order
                          and key-prefix ranges (ZRANGE BYLEX; UTF-8 bytes sort as code points);
* ``P:seen``, ``P:created`` sorted sets of the same members scored by last_seen / created_at
                          (epoch seconds): age ranges for ``list`` and ``prune``;
* ``P:forks:<agent>:<key>`` set of the members forked from that mapping;
* ``P:lock:<agent>:<key>``  a thread lock; ``P:schema``, ``P:migrations``: the schema version
                          and the log of applied migrations;
* ``P:t…``                transcripts (SPEC §7): the layout is in redis_transcripts.py.

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
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby, islice
from random import uniform
from typing import IO, Any, TypeVar, cast

from sessmap.errors import Busy, Conflict, InvalidInput, NotFound, SessmapError, StoreError
from sessmap.model import Mapping, format_timestamp, now, validate_key
from sessmap.stores.base import (
    HeldLock,
    ImportResult,
    OnConflict,
    OnWait,
    Query,
    TranscriptStore,
    renamed,
    reparented,
)
from sessmap.stores.redis_transcripts import RedisTranscripts
from sessmap.urls import duration_parameter, mask_password, passwords_in, pop_parameters, redact

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.client import Pipeline
    from redis.retry import Retry
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    raise StoreError("the Redis store needs redis-py: pip install 'sessmap[redis]'") from None

# After the check above: the lock module needs redis-py too.
from sessmap.stores.redis_lock import Lock, LockNames, RedisHeldLock, TimedOut, acquire

T = TypeVar("T")

DEFAULT_PREFIX = "sessmap"
DEFAULT_LOCK_TTL = timedelta(seconds=30)
# No retries, short timeouts: an unreachable server, or a TLS handshake with a plain-text
# one, is a StoreError within seconds. A connection dropped by a server restart fails one
# call; the next one reconnects.
CONNECT_TIMEOUT_SECONDS = 3.0
SOCKET_TIMEOUT_SECONDS = 4.0
BATCH = 500
MAX_ATTEMPTS = 1_000  # optimistic retries before giving up on a hot key
_SESSMAP_PARAMETERS = ("prefix", "lock_ttl")
_SEP = "\0"  # between key and agent in index members; keys hold no control characters


def _create_layout(client: redis.Redis, prefix: str) -> None:
    """Version 1: the layout in the module docstring; nothing existed before it to convert."""


def _add_transcripts(client: redis.Redis, prefix: str) -> None:
    """Version 2: transcripts (``P:t…``) and mappings with host, agent_home and history.

    Nothing to convert: a document without the new fields reads as null / no history. The
    version is raised all the same, so an older sessmap, which would refuse documents that
    carry them, refuses the store instead of failing on them one by one.
    """


MIGRATIONS: list[tuple[str, Callable[[redis.Redis, str], None]]] = [
    ("create_layout", _create_layout),
    ("add_transcripts", _add_transcripts),
]
SCHEMA_VERSION = len(MIGRATIONS)


def _score(moment: datetime) -> float:
    return moment.timestamp()


def _bound(moment: datetime, *, exclusive: bool = False) -> str:
    return ("(" if exclusive else "") + repr(moment.timestamp())


class RedisStore:
    """A Store on Redis (redis-py). One client (with its connection pool) per store object,
    and one more returning bytes, for transcripts."""

    shared = True

    def __init__(self, url: str) -> None:
        self.url = mask_password(url)
        self._secrets = passwords_in(url)
        driver_url, ours = pop_parameters(url, _SESSMAP_PARAMETERS)
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

    def _describe(self, context: str, error: BaseException) -> str:
        detail = " ".join(str(error).split())
        return redact(f"{context}: {detail}" if detail else context, self._secrets)

    @contextmanager
    def _errors(self, context: str | None = None) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as error:
            raise StoreError(self._describe(context or f"Redis store {self.url}", error)) from None

    # --- names ------------------------------------------------------------------------------

    def _name(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    def _doc_key(self, agent: str, key: str) -> str:
        return self._name("m", agent, key)

    def _forks_key(self, agent: str, key: str) -> str:
        return self._name("forks", agent, key)

    @staticmethod
    def _member(agent: str, key: str) -> str:
        return f"{key}{_SEP}{agent}"

    def _doc_key_of(self, member: str) -> str:
        key, _, agent = member.rpartition(_SEP)
        return self._doc_key(agent, key)

    # --- schema -------------------------------------------------------------------------------

    def _stored_version(self) -> int:
        text = _get(self._client, self._name("schema"))
        if text is None:
            return 0
        if not str(text).isdigit():
            raise StoreError(f"{self.url}: {self._name('schema')} is {text!r}, not a sessmap schema version")
        version = int(text)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"Redis store {self.url} has schema version {version}, newer than this sessmap "
                f"understands ({SCHEMA_VERSION}); it was left untouched",
                hint="upgrade sessmap",
            )
        return version

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
        version = self._stored_version()
        for number, (name, migration) in enumerate(MIGRATIONS[version:], start=version + 1):
            migration(self._client, self._prefix)
            record = json.dumps({"version": number, "name": name, "applied_at": _stamp()})
            with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self._name("schema"), number)
                pipe.rpush(self._name("migrations"), record)
                pipe.execute()

    # --- documents and index entries ------------------------------------------------------------

    @staticmethod
    def _encode(mapping: Mapping) -> str:
        return json.dumps(mapping.to_document(), ensure_ascii=False, separators=(",", ":"))

    def _decode(self, text: str, where: str) -> Mapping:
        try:
            return Mapping.from_dict(json.loads(text))
        except (ValueError, SessmapError) as error:
            raise StoreError(f"{self.url}: {where} is corrupt ({error})") from None

    def _queue_unindex(self, pipe: Pipeline, mapping: Mapping) -> None:
        member = self._member(mapping.agent, mapping.key)
        for index in ("keys", "seen", "created"):
            pipe.zrem(self._name(index), member)
        if mapping.parent is not None:
            pipe.srem(self._forks_key(mapping.parent.agent, mapping.parent.key), member)

    def _queue_put(self, pipe: Pipeline, old: Mapping | None, new: Mapping) -> None:
        self._queue_put_many(pipe, [(old, new)])

    def _queue_put_many(self, pipe: Pipeline, changes: list[tuple[Mapping | None, Mapping]]) -> None:
        """Queue writing each ``new`` over its ``old`` (None: absent), a few commands per batch."""
        fresh = {self._doc_key(new.agent, new.key): self._encode(new) for old, new in changes if old is None}
        if fresh:
            pipe.mset(fresh)  # no key to carry an expiry over from
        for old, new in changes:
            if old is not None:
                # KEEPTTL: sessmap never sets an expiry, and must not silently drop one set by hand.
                pipe.set(self._doc_key(new.agent, new.key), self._encode(new), keepttl=True)
        replaced = [old for old, _ in changes if old is not None]
        if replaced:
            members = [self._member(old.agent, old.key) for old in replaced]
            for index in ("keys", "seen", "created"):
                pipe.zrem(self._name(index), *members)
            for old in replaced:
                if old.parent is not None:
                    pipe.srem(
                        self._forks_key(old.parent.agent, old.parent.key), self._member(old.agent, old.key)
                    )
        news = [new for _, new in changes]
        pipe.zadd(self._name("keys"), {self._member(m.agent, m.key): 0 for m in news})
        pipe.zadd(self._name("seen"), {self._member(m.agent, m.key): _score(m.last_seen) for m in news})
        pipe.zadd(self._name("created"), {self._member(m.agent, m.key): _score(m.created_at) for m in news})
        for new in news:
            if new.parent is not None:
                pipe.sadd(self._forks_key(new.parent.agent, new.parent.key), self._member(new.agent, new.key))

    def _transact(self, watched: list[str], body: Callable[[Pipeline], T]) -> T:
        """Run ``body`` with ``watched`` under WATCH; retry it while another client interferes.

        ``body`` reads in immediate mode, then calls ``pipe.multi()``, queues and executes.
        """
        with self._errors():
            for attempt in range(MAX_ATTEMPTS):
                with self._client.pipeline(transaction=True) as pipe:
                    try:
                        _watch(pipe, watched)
                        return body(pipe)
                    except redis.WatchError:
                        # Spread the retries of hosts that collided so they do not collide again.
                        time.sleep(uniform(0, min(0.05, 0.001 * (attempt + 1))))
        raise StoreError(f"{self.url}: gave up after {MAX_ATTEMPTS} conflicting concurrent writes")

    def _current(self, pipe: Pipeline, doc_key: str) -> Mapping | None:
        text = _get(pipe, doc_key)
        return None if text is None else self._decode(text, doc_key)

    # --- the Store protocol ------------------------------------------------------------------------

    def get(self, agent: str, key: str) -> Mapping | None:
        doc_key = self._doc_key(agent, key)
        with self._errors():
            text = _get(self._client, doc_key)
        return None if text is None else self._decode(text, doc_key)

    def insert(self, mapping: Mapping, *, replace: bool = False) -> None:
        mapping.validate()
        doc_key = self._doc_key(mapping.agent, mapping.key)

        def put(pipe: Pipeline) -> None:
            old = self._current(pipe, doc_key)
            if old is not None and not replace:
                raise Conflict(f"mapping {mapping.key!r} (agent {mapping.agent}) exists already")
            pipe.multi()
            self._queue_put(pipe, old, mapping)
            pipe.execute()

        self._transact([doc_key], put)

    def update(self, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
        doc_key = self._doc_key(agent, key)

        def apply(pipe: Pipeline) -> Mapping:
            old = self._current(pipe, doc_key)
            if old is None:
                raise NotFound(f"no mapping for {key!r} (agent {agent})")
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
                raise NotFound(f"no mapping for {old_key!r} (agent {agent})")
            if pipe.exists(new_doc):
                raise Conflict(f"mapping {new_key!r} (agent {agent}) exists already")
            result = renamed(current, new_key, updated_at)
            # The mapping itself may be among its key's forks; it is moved above, not here.
            child_docs = [doc for doc in map(self._doc_key_of, _smembers(pipe, forks)) if doc != old_doc]
            _watch(pipe, child_docs)
            children = [
                self._decode(text, doc)
                for doc, text in zip(child_docs, _mget(pipe, child_docs), strict=True)
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

    def delete(self, agent: str, key: str) -> Mapping | None:
        doc_key = self._doc_key(agent, key)

        def remove(pipe: Pipeline) -> Mapping | None:
            old = self._current(pipe, doc_key)
            if old is None:
                return None
            pipe.multi()
            pipe.delete(doc_key)
            self._queue_unindex(pipe, old)
            pipe.execute()
            return old

        return self._transact([doc_key], remove)

    def query(self, query: Query) -> Iterator[Mapping]:
        if query.limit is not None and query.limit <= 0:
            return
        if query.parent is not None:
            # Forks of one mapping: a small set, sorted here.
            with self._errors():
                members = _smembers(self._client, self._forks_key(*query.parent))
            yield from query.ordered(self._fetch(members, query))
            return
        yield from islice(self._fetch(self._members_in_order(query), query), query.limit)

    def _fetch(self, members: Iterable[str], query: Query) -> Iterator[Mapping]:
        """The documents of ``members`` (in that order) that match ``query``, read in batches."""
        iterator = iter(members)
        while batch := list(islice(iterator, BATCH)):
            docs = [self._doc_key_of(member) for member in batch]
            with self._errors():
                texts = _mget(self._client, docs)
            for doc, text in zip(docs, texts, strict=True):
                # A member without a document: deleted since it was read, or expired by hand.
                if text is not None:
                    mapping = self._decode(text, doc)
                    if query.matches(mapping):
                        yield mapping

    def _members_in_order(self, query: Query) -> Iterator[str]:
        if query.sort == "key":
            return self._by_key(query.prefix or "", descending=query.reverse)
        if query.sort == "last-used":
            low = _bound(query.seen_since) if query.seen_since else "-inf"
            high = _bound(query.seen_before, exclusive=True) if query.seen_before else "+inf"
            return self._by_score(self._name("seen"), low, high, descending=not query.reverse)
        return self._by_score(self._name("created"), "-inf", "+inf", descending=not query.reverse)

    def _by_key(self, prefix: str, *, descending: bool) -> Iterator[str]:
        index = self._name("keys")
        # Members are UTF-8; no UTF-8 text contains the byte 0xFF, so it bounds a prefix range.
        low: str | bytes = "[" + prefix if prefix else "-"
        high: str | bytes = b"(" + prefix.encode() + b"\xff" if prefix else "+"
        while True:
            with self._errors():
                if descending:
                    batch = _zrange(self._client, index, high, low, desc=True, bylex=True)
                else:
                    batch = _zrange(self._client, index, low, high, bylex=True)
            yield from batch
            if len(batch) < BATCH:
                return
            if descending:
                high = "(" + batch[-1]
            else:
                low = "(" + batch[-1]

    def _by_score(self, index: str, low: str, high: str, *, descending: bool) -> Iterator[str]:
        """Members by score, ties by member ascending (key, then agent) in both directions."""
        if not descending:
            yield from self._ascending(index, low, high)
            return
        # ZRANGE … REV orders ties backwards: take batches newest first, and re-read the
        # last (possibly partial) tie group of each batch in ascending order.
        while True:
            with self._errors():
                batch = _zrange_scored(self._client, index, high, low, desc=True)
            if not batch:
                return
            lowest = batch[-1][1]
            complete = len(batch) < BATCH
            for score, group in groupby(batch, key=lambda item: item[1]):
                if score == lowest and not complete:
                    yield from self._ascending(index, repr(score), repr(score))
                else:
                    yield from sorted(member for member, _ in group)
            if complete:
                return
            high = "(" + repr(lowest)

    def _ascending(self, index: str, low: str, high: str) -> Iterator[str]:
        offset = 0
        while True:
            with self._errors():
                batch = _zrange_scored(self._client, index, low, high, offset=offset)
            yield from (member for member, _ in batch)
            if len(batch) < BATCH:
                return
            last = repr(batch[-1][1])
            ties = sum(1 for _, score in batch if repr(score) == last)
            # Resume inside the last tie group rather than skipping or repeating it.
            offset = offset + ties if low == last else ties
            low = last

    def delete_matching(self, query: Query) -> list[Mapping]:
        everything = replace(query, limit=None, sort="last-used", reverse=True)
        members = [self._member(m.agent, m.key) for m in self.query(everything)]
        deleted: list[Mapping] = []
        for start in range(0, len(members), BATCH):
            docs = [self._doc_key_of(member) for member in members[start : start + BATCH]]
            deleted.extend(self._transact(docs, partial(self._remove_matching, docs=docs, query=query)))
        return deleted

    def _remove_matching(self, pipe: Pipeline, docs: list[str], query: Query) -> list[Mapping]:
        # Decide again under WATCH: a mapping used since the scan no longer matches.
        doomed = [
            mapping
            for doc, text in zip(docs, _mget(pipe, docs), strict=True)
            if text is not None and query.matches(mapping := self._decode(text, doc))
        ]
        pipe.multi()
        for mapping in doomed:
            pipe.delete(self._doc_key(mapping.agent, mapping.key))
            self._queue_unindex(pipe, mapping)
        pipe.execute()
        return doomed

    def insert_many(self, mappings: Iterable[Mapping], on_conflict: OnConflict) -> ImportResult:
        # Stage the whole stream in a local temporary file first: a bad line anywhere means
        # nothing reached Redis. Then apply it in WATCHed batches.
        with tempfile.TemporaryFile("w+", encoding="utf-8") as staged:
            for mapping in mappings:
                staged.write(self._encode(mapping.validate()) + "\n")
            if on_conflict == "fail":
                conflicts = self._staged_conflicts(staged)
                if conflicts:
                    return ImportResult(conflicts=conflicts)
            return self._apply_staged(staged, on_conflict)

    def _staged(self, staged: IO[str]) -> Iterator[list[Mapping]]:
        staged.seek(0)
        while lines := list(islice(staged, BATCH)):
            yield [Mapping.from_dict(json.loads(line)) for line in lines]

    def _staged_conflicts(self, staged: IO[str]) -> tuple[tuple[str, str], ...]:
        conflicts: list[tuple[str, str]] = []
        # Repeats inside the stream are found with a scratch set in Redis, not in local memory.
        seen = self._name("import", secrets.token_hex(8))
        try:
            for batch in self._staged(staged):
                members = [self._member(mapping.agent, mapping.key) for mapping in batch]
                with self._errors(), self._client.pipeline(transaction=False) as pipe:
                    pipe.zmscore(self._name("keys"), members)  # in the store already?
                    pipe.smismember(seen, members)  # earlier in the stream?
                    pipe.sadd(seen, *members)
                    pipe.pexpire(seen, 3_600_000)  # gone by itself should this process die
                    stored, repeated, _, _ = pipe.execute()
                in_batch: set[str] = set()
                for mapping, member, score, again in zip(batch, members, stored, repeated, strict=True):
                    if score is not None or again or member in in_batch:
                        conflicts.append((mapping.agent, mapping.key))
                    in_batch.add(member)
        finally:
            with suppress(redis.RedisError):
                self._client.delete(seen)
        return tuple(conflicts)

    def _apply_staged(self, staged: IO[str], on_conflict: OnConflict) -> ImportResult:
        inserted = replaced = 0
        skipped: list[tuple[str, str]] = []
        for batch in self._staged(staged):
            docs = sorted({self._doc_key(m.agent, m.key) for m in batch})
            counts = self._transact(
                docs, partial(self._write, batch=batch, docs=docs, on_conflict=on_conflict)
            )
            inserted, replaced = inserted + counts[0], replaced + counts[1]
            skipped.extend(counts[2])
        if on_conflict == "fail":
            # Only mappings created by another client after the conflict check land here:
            # they are kept, not overwritten, and reported.
            return ImportResult(inserted=inserted, conflicts=tuple(skipped))
        return ImportResult(inserted=inserted, replaced=replaced, skipped=len(skipped))

    def _write(
        self, pipe: Pipeline, batch: list[Mapping], docs: list[str], on_conflict: OnConflict
    ) -> tuple[int, int, list[tuple[str, str]]]:
        """Apply one staged batch as if line by line; returns inserted, replaced and skipped."""
        current = {
            doc: None if text is None else self._decode(text, doc)
            for doc, text in zip(docs, _mget(pipe, docs), strict=True)
        }
        original = dict(current)
        inserted = replaced = 0
        skipped: list[tuple[str, str]] = []
        for mapping in batch:
            doc = self._doc_key(mapping.agent, mapping.key)
            if current[doc] is not None and on_conflict != "replace":
                skipped.append((mapping.agent, mapping.key))
                continue
            if current[doc] is None:
                inserted += 1
            else:
                replaced += 1
            current[doc] = mapping
        pipe.multi()
        changes = [
            (original[doc], new)
            for doc, new in current.items()
            if new is not None and new is not original[doc]
        ]
        if changes:
            self._queue_put_many(pipe, changes)
        pipe.execute()
        return inserted, replaced, skipped

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
            version = _get(self._client, self._name("schema"))
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

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Timeout(Exception):
    """A lock wait ran out (turned into Busy, or a StoreError for the migration lock)."""


# redis-py's annotations are loose (bytes | str, untyped watch); these pin down what a
# decode_responses client returns.
Commands = redis.Redis | Pipeline


def _get(commands: Commands, name: str) -> str | None:
    return cast("str | None", commands.get(name))


def _mget(commands: Commands, names: list[str]) -> list[str | None]:
    return cast("list[str | None]", commands.mget(names)) if names else []


def _smembers(commands: Commands, name: str) -> list[str]:
    return sorted(cast("set[str]", commands.smembers(name)))


def _watch(pipe: Pipeline, names: list[str]) -> None:
    if names:
        pipe.watch(*names)  # type: ignore[no-untyped-call]


def _zrange(
    client: redis.Redis, index: str, start: str | bytes, end: str | bytes, **options: Any
) -> list[str]:
    return cast("list[str]", client.zrange(index, start, end, offset=0, num=BATCH, **options))


def _zrange_scored(
    client: redis.Redis, index: str, start: str, end: str, *, offset: int = 0, desc: bool = False
) -> list[tuple[str, float]]:
    batch = client.zrange(
        index, start, end, desc=desc, byscore=True, offset=offset, num=BATCH, withscores=True
    )
    return cast("list[tuple[str, float]]", batch)


def _stamp() -> str:
    return format_timestamp(now())
