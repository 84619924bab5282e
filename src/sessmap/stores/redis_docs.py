"""The Redis store's documents and index entries: names, encoding, and the WATCHed
transaction every write runs in (the layout is in redis.py's docstring)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from random import uniform
from typing import TypeVar, cast

import redis  # noqa: TID253 - loaded only once redis.py found the driver
from redis.client import Pipeline  # noqa: TID253

from sessmap.errors import SessmapError, StoreError
from sessmap.model import Mapping
from sessmap.urls import redact

T = TypeVar("T")

MAX_ATTEMPTS = 1_000  # optimistic retries before giving up on a hot key
_SEP = "\0"  # between key and agent in index members; keys hold no control characters


class RedisDocuments:
    """What every part of the Redis store reads and writes through (RedisStore's base)."""

    url: str
    _secrets: list[str]
    _prefix: str
    _client: redis.Redis

    @property
    def _batch(self) -> int:
        """Documents or index members per round trip (``redis.BATCH``, read at each use)."""
        raise NotImplementedError

    # --- errors -------------------------------------------------------------------------------

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

    # --- documents and index entries ------------------------------------------------------------

    @staticmethod
    def _encode(mapping: Mapping) -> str:
        return json.dumps(mapping.to_document(), ensure_ascii=False, separators=(",", ":"))

    def _decode(self, text: str, where: str) -> Mapping:
        try:
            return Mapping.from_dict(json.loads(text))
        except (ValueError, SessmapError) as error:
            raise StoreError(f"{self.url}: {where} is corrupt ({error})") from None

    def _session_members(self, mapping: Mapping) -> set[str]:
        """The mapping's entries in ``P:sids`` (``which``): ``<session id>\\0<key>\\0<agent>``
        for its current id and every id of its history."""
        member = self._member(mapping.agent, mapping.key)
        return {f"{session_id}{_SEP}{member}" for session_id in mapping.session_ids()}

    def _queue_unindex(self, pipe: Pipeline, mapping: Mapping) -> None:
        member = self._member(mapping.agent, mapping.key)
        for index in ("keys", "seen", "created"):
            pipe.zrem(self._name(index), member)
        if sessions := self._session_members(mapping):
            pipe.zrem(self._name("sids"), *sessions)
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
        self._queue_sessions(pipe, changes)
        news = [new for _, new in changes]
        pipe.zadd(self._name("keys"), {self._member(m.agent, m.key): 0 for m in news})
        pipe.zadd(self._name("seen"), {self._member(m.agent, m.key): _score(m.last_seen) for m in news})
        pipe.zadd(self._name("created"), {self._member(m.agent, m.key): _score(m.created_at) for m in news})
        for new in news:
            if new.parent is not None:
                pipe.sadd(self._forks_key(new.parent.agent, new.parent.key), self._member(new.agent, new.key))

    def _queue_sessions(self, pipe: Pipeline, changes: list[tuple[Mapping | None, Mapping]]) -> None:
        """Queue the ``P:sids`` changes: only ids (or keys) that changed, so a turn costs none."""
        gone: set[str] = set()
        added: set[str] = set()
        for old, new in changes:
            before = self._session_members(old) if old is not None else set()
            after = self._session_members(new)
            gone |= before - after
            added |= after - before
        if gone:
            pipe.zrem(self._name("sids"), *gone)
        if added:
            pipe.zadd(self._name("sids"), dict.fromkeys(added, 0))

    def _transact(self, watched: list[str], body: Callable[[Pipeline], T]) -> T:
        """Run ``body`` with ``watched`` under WATCH; retry it while another client interferes.

        ``body`` reads in immediate mode, then calls ``pipe.multi()``, queues and executes.
        """
        with self._errors():
            for attempt in range(MAX_ATTEMPTS):
                with self._client.pipeline(transaction=True) as pipe:
                    try:
                        watch(pipe, watched)
                        return body(pipe)
                    except redis.WatchError:
                        # Spread the retries of hosts that collided so they do not collide again.
                        time.sleep(uniform(0, min(0.05, 0.001 * (attempt + 1))))
        raise StoreError(f"{self.url}: gave up after {MAX_ATTEMPTS} conflicting concurrent writes")

    def _current(self, pipe: Pipeline, doc_key: str) -> Mapping | None:
        text = get_text(pipe, doc_key)
        return None if text is None else self._decode(text, doc_key)

    # --- the Store protocol ------------------------------------------------------------------------


def _score(moment: datetime) -> float:
    return moment.timestamp()


# redis-py's annotations are loose (bytes | str, untyped watch); these pin down what a
# decode_responses client returns.
Commands = redis.Redis | Pipeline


def get_text(commands: Commands, name: str) -> str | None:
    return cast("str | None", commands.get(name))


def mget(commands: Commands, names: list[str]) -> list[str | None]:
    return cast("list[str | None]", commands.mget(names)) if names else []


def smembers(commands: Commands, name: str) -> list[str]:
    return sorted(cast("set[str]", commands.smembers(name)))


def watch(pipe: Pipeline, names: list[str]) -> None:
    if names:
        pipe.watch(*names)  # type: ignore[no-untyped-call]
