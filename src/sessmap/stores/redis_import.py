"""The Redis store's import: stage the whole stream in a local temporary file (a bad line
anywhere means nothing reached Redis), then apply it in WATCHed batches."""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import suppress
from functools import partial
from itertools import islice
from typing import IO

import redis  # noqa: TID253 - loaded only once redis.py found the driver
from redis.client import Pipeline  # noqa: TID253

from sessmap.model import Mapping
from sessmap.stores.base import ImportResult, OnConflict
from sessmap.stores.redis_docs import RedisDocuments, mget


class RedisImport(RedisDocuments):
    """``insert_many`` of the Redis store."""

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
        while lines := list(islice(staged, self._batch)):
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
            for doc, text in zip(docs, mget(pipe, docs), strict=True)
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
