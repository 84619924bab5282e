"""``RedisStore.started`` (stores/started.py): the hash ``P:started``, session id → the record
as JSON. Each call is one command, so no write needs a WATCH."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, cast

from sessmap.stores.started import StartedSession, damaged_record

if TYPE_CHECKING:
    import redis


class RedisStarted:
    def __init__(
        self, client: redis.Redis, prefix: str, errors: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self._client = client
        self._hash = f"{prefix}:started"
        self._errors = errors

    def _record(self, text: str) -> StartedSession:
        try:
            return StartedSession.from_dict(json.loads(text))
        except ValueError as err:
            raise damaged_record(self._hash, err) from None

    def add(self, started: StartedSession) -> None:
        with self._errors():
            self._client.hset(self._hash, started.session_id, json.dumps(started.to_dict()))

    def get_many(self, session_ids: Iterable[str]) -> dict[str, StartedSession]:
        ids = sorted(set(session_ids))
        if not ids:
            return {}
        with self._errors():
            texts = cast("list[str | None]", self._client.hmget(self._hash, ids))
        return {sid: self._record(text) for sid, text in zip(ids, texts, strict=True) if text is not None}

    def all(self) -> Iterator[StartedSession]:
        with self._errors():
            found = cast("dict[str, str]", dict(self._client.hscan_iter(self._hash, count=500)))
        return iter([self._record(found[sid]) for sid in sorted(found)])

    def forget(self, session_ids: Iterable[str]) -> None:
        ids = sorted(set(session_ids))
        if ids:
            with self._errors():
                self._client.hdel(self._hash, *ids)
