"""Maintenance: ``prune`` (old mappings, and those whose transcript is gone) and ``doctor``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sessmap import service
from sessmap.errors import SessmapError, StoreError
from sessmap.model import Mapping, State
from sessmap.service_details import Transcript, locator_of, transcript_of
from sessmap.stores.base import Query, Store
from sessmap.validation import validate_agent, validate_provider

if TYPE_CHECKING:
    from sessmap.config import Config


# NamedTuples, not dataclasses, for prune's results: each frozen dataclass costs about a
# millisecond to define.
class Unverified(NamedTuple):
    """A mapping kept because its transcript could not be checked from here, and why."""

    mapping: Mapping
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.mapping.agent, "key": self.mapping.key, "reason": self.reason}


PIN = ("pin", "true")
"""The label that keeps a mapping from ``prune`` and ``doctor``'s fix, unless a prune names it
(filters on this very label): a thread someone wants kept whatever its age."""

Progress = Callable[[int], None]
"""Told how many more mappings were looked at; the CLI draws a bar from it, a library ignores it."""


def is_pinned(mapping: Mapping) -> bool:
    return mapping.labels.get(PIN[0]) == PIN[1]


class Pruned(NamedTuple):
    removed: list[Mapping]
    kept: list[Unverified]
    """With ``missing``: mappings whose transcript sessmap could not check, so not removed."""
    scanned: int | None = None
    """Mappings the filters (all but the age) selected: what the age and ``missing`` judged.
    None when not counted (``count=False``)."""
    cutoff: datetime | None = None
    """Mappings last seen before this moment were old enough."""
    older_than: timedelta | None = None
    pinned: int = 0
    """Mappings old (or gone) enough that were kept for their ``pin=true`` label."""


def prune(
    store: Store,
    config: Config | None,
    *,
    older_than: timedelta | None,
    missing: bool = False,
    agent: str | None = None,
    provider: str | None = None,
    prefix: str | None = None,
    match: str | None = None,
    labels: Iterable[tuple[str, str]] = (),
    state: State | None = None,
    dry_run: bool = False,
    at: datetime | None = None,
    progress: Progress | None = None,
    count: bool = True,
) -> Pruned:
    """Delete the mappings the filters select that were last seen more than ``older_than`` ago
    (default: config ttl), and with ``missing`` those whose transcript is proven gone. A mapping
    labelled ``pin=true`` stays unless ``labels`` holds that label. Returns what went (or would
    go), and what ``missing`` kept because it could not tell. ``at``: the moment the age is
    measured from (default: now), so a dry run and the run it announced agree. ``count``:
    count the mappings in scope (``scanned``, for the summary)."""
    if agent is not None:
        validate_agent(agent)
    if provider is not None:
        validate_provider(provider)
    if older_than is None:
        from sessmap.config import DEFAULT_TTL

        older_than = config.ttl if config else DEFAULT_TTL
    moment = at or service.now()
    cutoff = moment - older_than
    scope = Query(
        agent=agent,
        provider=provider,
        prefix=prefix,
        match=match,
        labels=tuple(labels),
        state=state,
        sort="key",
    )
    keep_pinned = PIN not in scope.labels
    old = scope._replace(seen_before=cutoff)
    # Counted by the store (one COUNT on SQL): the scope for the summary, and the pinned among
    # the old ones (then the old go one by one; otherwise in one atomic delete).
    scanned = store.count(scope) if count else None
    pinned = store.count(old._replace(labels=(*old.labels, PIN))) if keep_pinned else 0
    if dry_run:
        chosen: list[Mapping] = []
        for mapping in store.query(old):
            if progress is not None:
                progress(1)
            if not (keep_pinned and is_pinned(mapping)):
                chosen.append(mapping)
    elif pinned:
        chosen = _delete_each(store, [m for m in store.query(old) if not is_pinned(m)])
    else:
        chosen = sorted(store.delete_matching(old), key=lambda m: (m.key, m.agent))
    result = Pruned(chosen, [], scanned, cutoff, older_than, pinned)
    if missing:
        taken = {(m.agent, m.key) for m in chosen}
        gone: list[Mapping] = []
        for mapping, transcript in _unresumable(store, config, scope):
            if (mapping.agent, mapping.key) in taken:
                continue
            if transcript.state == "gone":
                if keep_pinned and is_pinned(mapping):
                    result = result._replace(pinned=result.pinned + 1)
                else:
                    gone.append(mapping)
            else:
                result.kept.append(Unverified(mapping, transcript.reason or "it could not be checked"))
        chosen.extend(gone if dry_run else _delete_each(store, gone))
    if not dry_run:
        _release(store, chosen)
    return result


def _unresumable(
    store: Store, config: Config | None, query: Query, progress: Progress | None = None
) -> Iterator[tuple[Mapping, Transcript]]:
    """Mappings whose transcript is not here: proven gone, or unknown (with the reason)."""
    for mapping in store.query(query):
        if progress is not None:
            progress(1)
        if mapping.session_id is None or locator_of(mapping, config) is None:
            continue  # pending, or a config template's: there is no transcript to judge
        transcript = transcript_of(mapping, config, store, full=False)
        if transcript.state in ("gone", "unknown"):
            yield mapping, transcript


def _delete_each(store: Store, mappings: list[Mapping]) -> list[Mapping]:
    deleted = (store.delete(m.agent, m.key) for m in mappings)
    return [m for m in deleted if m is not None]


@dataclass(frozen=True, slots=True)
class Health:
    """``doctor``'s findings. ``healthy`` when nothing is left to fix."""

    store_url: str | None
    schema_version: int | None
    store_problems: list[str]
    config_path: Path
    config_problem: str | None
    missing_transcripts: list[Unverified]
    """Mappings whose transcript is proven gone (``reason`` says from where)."""
    fixed: list[Unverified]
    unverified: list[Unverified] = field(default_factory=list)
    """Mappings whose transcript could not be checked from here: never removed."""
    pinned: list[Unverified] = field(default_factory=list)
    """Mappings whose transcript is gone but that are labelled ``pin=true``: kept, by request."""
    dry_run: bool = False
    """``fixed`` lists what a fix would remove; nothing was."""

    @property
    def healthy(self) -> bool:
        return not (self.store_problems or self.config_problem or self.missing_transcripts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "store": {
                "url": self.store_url,
                "schema_version": self.schema_version,
                "problems": self.store_problems,
            },
            "config": {"path": str(self.config_path), "problem": self.config_problem},
            "missing_transcripts": [m.to_dict() for m in self.missing_transcripts],
            "fixed": [m.to_dict() for m in self.fixed],
            "unverified_transcripts": [m.to_dict() for m in self.unverified],
            "pinned": [m.to_dict() for m in self.pinned],
            "dry_run": self.dry_run,
        }


def check_config(path: Path) -> tuple[Config | None, str | None]:
    """The config, or None and the reason it is invalid."""
    from sessmap.config import parse_config, read_toml

    try:
        return parse_config(read_toml(path), path), None
    except SessmapError as err:  # invalid, or not a file to read at all (a FIFO)
        return None, err.line


def doctor(
    open_store: Callable[[], Store],
    config_path: Path,
    *,
    fix: bool,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Health:
    """Check the config, the store and the transcripts; ``fix`` removes mappings whose
    transcript is gone (``dry_run``: lists them in ``fixed``, removes nothing). Mappings
    labelled ``pin=true`` are never removed: they are reported in ``pinned``. A store that
    cannot be opened is a finding, not a crash."""
    config, config_problem = check_config(config_path)
    try:
        store = open_store()
    except StoreError as err:
        return Health(None, None, [err.line], config_path, config_problem, [], [])
    store_url, schema = store.url, store.schema_version
    problems = list(store.check())
    missing: list[Unverified] = []
    unverified: list[Unverified] = []
    pinned: list[Unverified] = []
    for mapping, transcript in _unresumable(store, config, Query(sort="key"), progress):
        found = Unverified(mapping, transcript.reason or "it could not be checked")
        if transcript.state != "gone":
            unverified.append(found)
        else:
            (pinned if is_pinned(mapping) else missing).append(found)
    fixed: list[Unverified] = []
    if fix and dry_run:
        fixed, missing = missing, []
    elif fix:
        fixed = [m for m in missing if store.delete(m.mapping.agent, m.mapping.key) is not None]
        _release(store, (m.mapping for m in fixed))
        missing = []
    return Health(
        store_url,
        schema,
        problems,
        config_path,
        config_problem,
        missing,
        fixed,
        unverified,
        pinned,
        dry_run and fix,
    )


def _release(store: Store, removed: Iterable[Mapping]) -> None:
    # Here, not at the top: `show` loads this module for Health and runs no mapping operation.
    from sessmap.service_mappings import release_transcripts

    release_transcripts(store, removed)
