"""The filter options of ``list``, ``export`` and ``prune``, as typed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sessmap import service
from sessmap.stores.base import Query


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter options as typed; ``query()`` turns them into a store Query at a moment."""

    agent: str | None = None
    provider: str | None = None
    prefix: str | None = None
    match: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    state: str | None = None

    def query(self, *, at: datetime | None = None, **order: Any) -> Query:
        moment = at or service.now()
        return Query(
            agent=self.agent,
            provider=self.provider,
            prefix=self.prefix,
            match=self.match,
            labels=self.labels,
            seen_before=moment - self.older_than if self.older_than is not None else None,
            seen_since=moment - self.newer_than if self.newer_than is not None else None,
            state=self.state,  # type: ignore[arg-type]
            **order,
        )
