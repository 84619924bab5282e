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
from sessmap.transcripts.cleanup import release, sessions_of
from sessmap.validation import validate_agent, validate_provider

if TYPE_CHECKING:
    from sessmap.config import Config
    from sessmap.transcripts.purge import Purge


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
    """What went (or would go); empty when ``on_removed`` was given: then each was told to it
    as it went and none is held (``count`` says how many), so memory stays flat."""
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
    removed_count: int = 0
    """How many went (or would go)."""
    busy: list[Mapping] = []  # noqa: RUF012 - a NamedTuple default, never mutated
    """Mappings old (or gone) enough whose thread is running (its lock held): kept."""
    purge: Purge | None = None
    """With ``purge``: the agent's files deleted (or that would be), and the sessions kept."""


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
    on_removed: Callable[[Mapping], None] | None = None,
    purge: bool = False,
) -> Pruned:
    """Delete the mappings the filters select that were last seen more than ``older_than`` ago
    (default: config ttl), and with ``missing`` those whose transcript is proven gone. A mapping
    labelled ``pin=true`` stays unless ``labels`` holds that label; one whose thread is running
    (its lock held) stays and is listed in ``busy``. Returns what went (or would go), and what
    ``missing`` kept because it could not tell. ``at``: the moment the age is measured from
    (default: now), so a dry run and the run it announced agree. ``count``: count the mappings
    in scope (``scanned``, for the summary). ``on_removed``: told each mapping as it goes,
    instead of listing them in the result. ``purge``: also delete the agent's own files of
    the removed mappings' sessions that no other mapping holds (transcripts/purge.py)."""
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
    if purge:
        from sessmap.transcripts.purge import check_records

        check_records(store)
    tally = _Tally(store, keep_pinned, on_removed, purge=purge)
    scanned = store.count(scope) if count else None
    old = scope._replace(seen_before=cutoff)
    if dry_run:
        for mapping in store.query(old):
            if progress is not None:
                progress(1)
            if not tally.keep(mapping):
                tally.removed(mapping)
    else:
        store.delete_matching(old, keep=tally.keep, removed=tally.removed)
    kept: list[Unverified] = []
    if missing:
        for mapping, transcript in _unresumable(store, config, scope):
            if dry_run and mapping.last_seen < cutoff:
                continue  # old enough: the age already took it
            if transcript.state != "gone":
                kept.append(Unverified(mapping, transcript.reason or "it could not be checked"))
            elif not tally.keep(mapping) and (dry_run or store.delete(mapping.agent, mapping.key, mapping)):
                # Deleted only while still the row judged: one re-created or used since stays.
                tally.removed(mapping)
    purged = None
    if purge:
        from sessmap.transcripts.purge import purge as purge_files

        purged = purge_files(store, config, tally.purgeable, dry_run=dry_run)
    if not dry_run:
        tally.release()
    listed = sorted(tally.listed, key=lambda m: (m.key, m.agent))  # listed only when not streamed
    return Pruned(listed, kept, scanned, cutoff, older_than, tally.pinned, tally.count, tally.busy, purged)


class _Tally:
    """What a prune keeps and removes, counted as it goes; lists only what it must."""

    def __init__(
        self, store: Store, keep_pinned: bool, on_removed: Callable[[Mapping], None] | None, *, purge: bool
    ) -> None:
        self._store, self._keep_pinned, self._on_removed = store, keep_pinned, on_removed
        self.listed: list[Mapping] = []
        self.busy: list[Mapping] = []
        self.purgeable: list[Mapping] = []
        self._purge = purge
        self.pinned = self.count = 0
        # The store's copies to release: only a store that keeps any needs the session ids.
        self._sessions: set[str] | None = set() if _keeps_transcripts(store) else None

    def keep(self, mapping: Mapping) -> bool:
        if self._keep_pinned and is_pinned(mapping):
            self.pinned += 1
            return True
        if self._store.thread_busy(mapping.agent, mapping.key):
            self.busy.append(mapping)  # running threads: a handful, never the bulk
            return True
        return False

    def removed(self, mapping: Mapping) -> None:
        self.count += 1
        if self._on_removed is not None:
            self._on_removed(mapping)
        else:
            self.listed.append(mapping)
        if self._purge:
            self.purgeable.append(mapping)
        if self._sessions is not None:
            self._sessions |= sessions_of((mapping,))

    def release(self) -> None:
        if self._sessions:
            release(self._store, self._sessions)


def _keeps_transcripts(store: Store) -> bool:
    return next(iter(store.transcripts.stored()), None) is not None


def _unresumable(
    store: Store, config: Config | None, query: Query, progress: Progress | None = None
) -> Iterator[tuple[Mapping, Transcript]]:
    """Mappings whose transcript is not here: proven gone, or unknown (with the reason).

    A mapping never used (no turn ran, no transcript here) is "not started", not gone: a
    ``create`` waiting for its first ``exec`` is no loss to repair."""
    for mapping in store.query(query):
        if progress is not None:
            progress(1)
        if mapping.session_id is None or locator_of(mapping, config) is None:
            continue  # pending, or a config template's: there is no transcript to judge
        transcript = transcript_of(mapping, config, store, full=False)
        if transcript.state == "gone" and mapping.turns == 0:
            continue  # not started: no turn ran, so no transcript was lost
        if transcript.state in ("gone", "unknown"):
            yield mapping, transcript


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
    orphaned: Purge | None = None
    """Local transcripts of sessions sessmap started that no mapping uses any more
    (transcripts/purge.orphans; ``purged``: deleted, with ``fix`` and ``purge``; else found)."""
    orphans_deleted: bool = False

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
            "orphaned_transcripts": {
                **(self.orphaned.to_dict() if self.orphaned else {"bytes": 0, "purged": [], "kept": []}),
                "deleted": self.orphans_deleted,
            },
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
    purge: bool = False,
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
        # Each only while still the row judged, and not while its thread runs.
        fixed = [
            m
            for m in missing
            if not store.thread_busy(m.mapping.agent, m.mapping.key)
            and store.delete(m.mapping.agent, m.mapping.key, m.mapping) is not None
        ]
        _release(store, (m.mapping for m in fixed))
        missing = []
    from sessmap.transcripts.purge import orphans

    delete = fix and purge and not dry_run
    orphaned: Purge | None = None
    try:
        orphaned = orphans(store, config, delete=delete)
    except StoreError as err:  # a damaged record of started sessions: a finding, like a bad row
        if err.reason != "damaged-store":
            raise
        problems.append(err.line)
        delete = False
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
        orphaned,
        delete,
    )


def _release(store: Store, removed: Iterable[Mapping]) -> None:
    # Here, not at the top: `show` loads this module for Health and runs no mapping operation.
    from sessmap.service_mappings import release_transcripts

    release_transcripts(store, removed)
