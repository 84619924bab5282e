"""Maintenance: ``prune`` (old mappings, and those whose transcript is gone) and ``doctor``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sessmap import service
from sessmap.errors import InvalidInput, StoreError
from sessmap.model import Mapping, validate_agent, validate_provider
from sessmap.service_details import Transcript, locator_of, transcript_of
from sessmap.stores.base import Query, Store

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


class Pruned(NamedTuple):
    removed: list[Mapping]
    kept: list[Unverified]
    """With ``missing``: mappings whose transcript sessmap could not check, so not removed."""


def prune(
    store: Store,
    config: Config | None,
    *,
    older_than: timedelta | None,
    missing: bool = False,
    agent: str | None = None,
    provider: str | None = None,
    dry_run: bool = False,
) -> Pruned:
    """Delete mappings last seen more than ``older_than`` ago (default: config ttl), and with
    ``missing`` those whose transcript is proven gone. Returns what went (or would go), and
    what ``missing`` kept because it could not tell."""
    if agent is not None:
        validate_agent(agent)
    if provider is not None:
        validate_provider(provider)
    if older_than is None:
        from sessmap.config import DEFAULT_TTL

        older_than = config.ttl if config else DEFAULT_TTL
    moment = service.now()
    old = Query(agent=agent, provider=provider, seen_before=moment - older_than, sort="key")
    if dry_run:
        chosen = list(store.query(old))
    else:
        chosen = sorted(store.delete_matching(old), key=lambda m: (m.key, m.agent))
    result = Pruned(chosen, [])
    if missing:
        taken = {(m.agent, m.key) for m in chosen}
        everything = Query(agent=agent, provider=provider, sort="key")
        gone: list[Mapping] = []
        for mapping, transcript in _unresumable(store, config, everything):
            if (mapping.agent, mapping.key) in taken:
                continue
            if transcript.state == "gone":
                gone.append(mapping)
            else:
                result.kept.append(Unverified(mapping, transcript.reason or "it could not be checked"))
        chosen.extend(gone if dry_run else _delete_each(store, gone))
    if not dry_run:
        _release(store, chosen)
    return result


def _unresumable(store: Store, config: Config | None, query: Query) -> Iterator[tuple[Mapping, Transcript]]:
    """Mappings whose transcript is not here: proven gone, or unknown (with the reason)."""
    for mapping in store.query(query):
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
        }


def check_config(path: Path) -> tuple[Config | None, str | None]:
    """The config, or None and the reason it is invalid."""
    from sessmap.config import parse_config, read_toml

    try:
        return parse_config(read_toml(path), path), None
    except InvalidInput as err:
        return None, err.line


def doctor(open_store: Callable[[], Store], config_path: Path, *, fix: bool) -> Health:
    """Check the config, the store and the transcripts; ``fix`` removes mappings whose
    transcript is gone. A store that cannot be opened is a finding, not a crash."""
    config, config_problem = check_config(config_path)
    try:
        store = open_store()
    except StoreError as err:
        return Health(None, None, [err.line], config_path, config_problem, [], [])
    store_url, schema = store.url, store.schema_version
    problems = list(store.check())
    missing: list[Unverified] = []
    unverified: list[Unverified] = []
    for mapping, transcript in _unresumable(store, config, Query(sort="key")):
        found = Unverified(mapping, transcript.reason or "it could not be checked")
        (missing if transcript.state == "gone" else unverified).append(found)
    fixed: list[Unverified] = []
    if fix:
        fixed = [m for m in missing if store.delete(m.mapping.agent, m.mapping.key) is not None]
        _release(store, (m.mapping for m in fixed))
        missing = []
    return Health(store_url, schema, problems, config_path, config_problem, missing, fixed, unverified)


def _release(store: Store, removed: Iterable[Mapping]) -> None:
    # Here, not at the top: `show` loads this module for Health and runs no mapping operation.
    from sessmap.service_mappings import release_transcripts

    release_transcripts(store, removed)
