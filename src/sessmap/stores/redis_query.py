"""The Redis store's reads in order: walking its sorted-set indexes in batches (``ZRANGE …
LIMIT``; ``KEYS`` is never used), and deleting what a query matches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import partial
from itertools import groupby, islice
from typing import Any, cast

import redis  # noqa: TID253 - loaded only once redis.py found the driver
from redis.client import Pipeline  # noqa: TID253

from sessmap.model import Mapping
from sessmap.stores.base import Keep, Query, Removed, by_session_order, count_by_reading, holds_session
from sessmap.stores.redis_docs import RedisDocuments, mget, smembers


class RedisQueries(RedisDocuments):
    """``query`` and ``delete_matching`` of the Redis store."""

    def query(self, query: Query) -> Iterator[Mapping]:
        if query.limit is not None and query.limit <= 0:
            return
        if query.parent is not None:
            # Forks of one mapping: a small set, sorted here.
            with self._errors():
                members = smembers(self._client, self._forks_key(*query.parent))
            yield from query.ordered(self._fetch(members, query))
            return
        yield from islice(self._fetch(self._members_in_order(query), query), query.limit)

    def _fetch(self, members: Iterable[str], query: Query) -> Iterator[Mapping]:
        """The documents of ``members`` (in that order) that match ``query``, read in batches."""
        iterator = iter(members)
        while batch := list(islice(iterator, self._batch)):
            docs = [self._doc_key_of(member) for member in batch]
            with self._errors():
                texts = mget(self._client, docs)
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
                    batch = _zrange(self._client, index, high, low, num=self._batch, desc=True, bylex=True)
                else:
                    batch = _zrange(self._client, index, low, high, num=self._batch, bylex=True)
            yield from batch
            if len(batch) < self._batch:
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
                batch = _zrange_scored(self._client, index, high, low, num=self._batch, desc=True)
            if not batch:
                return
            lowest = batch[-1][1]
            complete = len(batch) < self._batch
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
                batch = _zrange_scored(self._client, index, low, high, num=self._batch, offset=offset)
            yield from (member for member, _ in batch)
            if len(batch) < self._batch:
                return
            last = repr(batch[-1][1])
            ties = sum(1 for _, score in batch if repr(score) == last)
            # Resume inside the last tie group rather than skipping or repeating it.
            offset = offset + ties if low == last else ties
            low = last

    def by_session(self, prefix: str, limit: int) -> list[Mapping]:
        # P:sids holds "<session id>\0<key>\0<agent>" for current and earlier ids alike: one
        # lexicographic range, read in batches until ``limit`` mappings (one mapping may hold
        # several matching ids), then their documents.
        index, low, high = self._name("sids"), "[" + prefix, b"(" + prefix.encode() + b"\xff"
        members: dict[str, None] = {}
        while len(members) < limit:
            with self._errors():
                batch = _zrange(self._client, index, low, high, num=self._batch, bylex=True)
            members.update(dict.fromkeys(member.partition("\0")[2] for member in batch))
            if len(batch) < self._batch:
                break
            low = "(" + batch[-1]
        found = {(m.agent, m.key): m for m in self._fetch(members, Query()) if holds_session(m, prefix)}
        return by_session_order(found.values(), limit)

    def count(self, query: Query) -> int:
        return count_by_reading(self, query)  # type: ignore[arg-type]  # the whole RedisStore

    def delete_matching(self, query: Query, keep: Keep | None = None, removed: Removed | None = None) -> int:
        # Walked by key (the lex index, paged after the last member seen, so deleting behind the
        # cursor skips nothing), one batch in memory at a time, each deleted in one transaction.
        members = self._by_key(query.prefix or "", descending=False)
        count = 0
        while batch := list(islice(members, self._batch)):
            docs = [self._doc_key_of(member) for member in batch]
            doomed = self._transact(docs, partial(self._remove_matching, docs=docs, query=query, keep=keep))
            count += len(doomed)
            if removed is not None:
                for mapping in doomed:
                    removed(mapping)
        return count

    def _remove_matching(
        self, pipe: Pipeline, docs: list[str], query: Query, keep: Keep | None
    ) -> list[Mapping]:
        # Decide again under WATCH: a mapping used since the scan no longer matches.
        doomed = [
            mapping
            for doc, text in zip(docs, mget(pipe, docs), strict=True)
            if text is not None
            and query.matches(mapping := self._decode(text, doc))
            and (keep is None or not keep(mapping))
        ]
        pipe.multi()
        for mapping in doomed:
            pipe.delete(self._doc_key(mapping.agent, mapping.key))
            self._queue_unindex(pipe, mapping)
        pipe.execute()
        return doomed


def _bound(moment: datetime, *, exclusive: bool = False) -> str:
    return ("(" if exclusive else "") + repr(moment.timestamp())


def _zrange(
    client: redis.Redis, index: str, start: str | bytes, end: str | bytes, *, num: int, **options: Any
) -> list[str]:
    return cast("list[str]", client.zrange(index, start, end, offset=0, num=num, **options))


def _zrange_scored(
    client: redis.Redis, index: str, start: str, end: str, *, num: int, offset: int = 0, desc: bool = False
) -> list[tuple[str, float]]:
    batch = client.zrange(index, start, end, desc=desc, byscore=True, offset=offset, num=num, withscores=True)
    return cast("list[tuple[str, float]]", batch)
