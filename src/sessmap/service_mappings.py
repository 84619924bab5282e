"""The mapping operations: create, set (``update``), rename, rm (``remove``) and fork."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sessmap import service
from sessmap.errors import Conflict, InvalidInput, NotFound
from sessmap.model import Mapping, Parent
from sessmap.service import _exists_already, _no_mapping, require
from sessmap.stores.base import Store
from sessmap.validation import expand_home, validate_agent, validate_cwd, validate_key, validate_session_id

if TYPE_CHECKING:
    from sessmap.config import Config
    from sessmap.transcripts.purge import Purge

# uuid loads inside create, the providers inside the functions that check one.

DEFAULT_PROVIDER = "claude"


def absolute_dir(path: str) -> str:
    """A directory as typed, made absolute with ``~`` expanded and symlinks resolved (agents see
    the physical directory: Claude Code names its project folder after it); may not exist yet."""
    return validate_cwd(str(expand_home(path).resolve()))


def create(
    store: Store,
    config: Config | None,
    *,
    agent: str,
    key: str,
    provider: str | None = None,
    session_id: str | None = None,
    cwd: str | None = None,
    labels: Iterable[tuple[str, str]] = (),
    force: bool = False,
    dry_run: bool = False,
) -> Mapping:
    """A new mapping. Provider: given, else the agent's profile, else claude.

    Without ``session_id`` a provider that lets sessmap choose ids gets a fresh UUID (active);
    any other starts ``pending``. Conflict if it exists, unless ``force`` replaces it.
    ``dry_run``: every check, then the mapping it would write, unwritten (``would_replace``
    tells whether one exists).
    """
    from sessmap.providers import get_provider

    validate_agent(agent)
    validate_key(key)
    profile = config.agents.get(agent) if config else None
    provider_name = provider or (profile.provider if profile else None) or DEFAULT_PROVIDER
    chosen = get_provider(provider_name, config)
    if session_id is None and chosen.chooses_id:
        import uuid

        session_id = str(uuid.uuid4())
    if cwd is None and profile is not None and profile.cwd:
        cwd = profile.cwd
    stamp = service.now()
    mapping = Mapping(
        key=key,
        agent=agent,
        provider=provider_name,
        session_id=validate_session_id(session_id) if session_id is not None else None,
        state="active" if session_id is not None else "pending",
        cwd=absolute_dir(cwd) if cwd is not None else None,
        created_at=stamp,
        updated_at=stamp,
        labels=dict(labels),
    ).validate()
    if dry_run:
        if store.get(agent, key) is not None and not force:
            raise _exists_already(agent, key, reason="mapping-exists")
        return mapping
    try:
        store.insert(mapping, replace=force)
    except Conflict:
        raise _exists_already(agent, key, reason="mapping-exists") from None
    return mapping


def would_replace(store: Store, agent: str, key: str) -> bool:
    """Whether (agent, key) exists, so that a forced create would replace it."""
    return store.get(validate_agent(agent), validate_key(key)) is not None


def update(
    store: Store,
    config: Config | None,
    *,
    agent: str,
    key: str,
    session_id: str | None = None,
    provider: str | None = None,
    cwd: str | None = None,
    labels: Iterable[tuple[str, str]] = (),
    unlabels: Iterable[str] = (),
) -> Mapping:
    """``set``: change fields atomically. A new session id makes the mapping active."""
    from sessmap.providers import get_provider

    new_labels = dict(labels)
    removed = list(unlabels)
    if session_id is None and provider is None and cwd is None and not new_labels and not removed:
        raise InvalidInput("nothing to change", reason="nothing-to-change", agent=agent, key=key)
    if session_id is not None:
        validate_session_id(session_id)
    if provider is not None:
        get_provider(provider, config)
    new_cwd = absolute_dir(cwd) if cwd is not None else None
    validate_agent(agent)
    validate_key(key)

    def change(mapping: Mapping) -> Mapping:
        merged = {name: value for name, value in mapping.labels.items() if name not in removed}
        merged.update(new_labels)
        changes: dict[str, Any] = {"labels": merged, "updated_at": service.now()}
        if session_id is not None:
            if session_id != mapping.session_id:
                # sessmap has seen the new session nowhere yet: where the old one lived proves nothing
                changes.update(host=None, agent_home=None)
            mapping = mapping.retired("set", service.now(), replacement=session_id)
            changes.update(session_id=session_id, state="active", history=mapping.history)
        if provider is not None:
            changes["provider"] = provider
        if new_cwd is not None:
            changes["cwd"] = new_cwd
        return mapping.evolve(**changes).validate()

    return _update_or_not_found(store, agent, key, change)


def _update_or_not_found(store: Store, agent: str, key: str, change: Callable[[Mapping], Mapping]) -> Mapping:
    try:
        return store.update(agent, key, change)
    except NotFound:
        raise _no_mapping(agent, key) from None


def rename(store: Store, *, agent: str, old_key: str, new_key: str, dry_run: bool = False) -> Mapping:
    """Re-key a mapping; ``dry_run``: the same checks, and the mapping as it would be stored."""
    validate_agent(agent)
    validate_key(old_key)
    validate_key(new_key)
    if dry_run:
        from sessmap.stores.base import renamed

        current = require(store, agent, old_key)
        if old_key != new_key and store.get(agent, new_key) is not None:
            raise _exists_already(agent, new_key, reason="target-exists")
        if store.thread_busy(agent, old_key):
            raise _thread_running(agent, old_key)
        return renamed(current, new_key, service.now())
    from sessmap.errors import Busy

    # Under the thread's lock, taken without waiting: a running thread's exec would otherwise
    # go on under the old key while a second one starts its session under the new key.
    try:
        with store.thread_lock(agent, old_key, timeout=0):
            return store.rename(agent, old_key, new_key, service.now())
    except Busy:
        raise _thread_running(agent, old_key) from None
    except NotFound:
        raise _no_mapping(agent, old_key) from None
    except Conflict:
        raise _exists_already(agent, new_key, reason="target-exists") from None


def _thread_running(agent: str, key: str) -> Conflict:
    return Conflict(
        f"cannot rename {key!r} (agent {agent}): its thread is running (an exec holds its lock)",
        reason="thread-running",
        agent=agent,
        key=key,
    )


@dataclass(slots=True)
class Removal:
    removed: list[Mapping] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """The keys with no mapping (of any agent named); ``missing_targets`` says whose."""
    missing_targets: list[tuple[str, str]] = field(default_factory=list)
    """(agent, key) of each missing key, in order."""
    purge: Purge | None = None
    """With ``purge``: the agent's files deleted (or that would be), and the sessions kept."""


def remove(
    store: Store,
    *,
    agent: str = "default",
    keys: Iterable[str] = (),
    targets: Iterable[tuple[str, str]] = (),
    dry_run: bool = False,
    purge: bool = False,
    config: Config | None = None,
) -> Removal:
    """Delete every ``keys`` of ``agent`` and every (agent, key) of ``targets`` that exists;
    report the missing ones (the caller decides if that fails). ``dry_run``: report what
    would go, delete nothing. ``purge``: also delete the agent's own files of the removed
    sessions that no other mapping holds (transcripts/purge.py; ``config`` for its providers).

    All of them are validated before anything is deleted, so one bad key changes nothing.
    """
    validate_agent(agent)
    wanted = [(agent, validate_key(key)) for key in keys]
    wanted += [(validate_agent(a), validate_key(k)) for a, k in targets]
    result = Removal()
    if purge:
        from sessmap.transcripts.purge import check_records

        check_records(store)
    gone: set[tuple[str, str]] = set()
    for target in wanted:
        # A dry run reads: one named twice is missing the second time, as when deleting.
        if target in gone:
            found = None
        elif dry_run:
            found = store.get(*target)
        else:
            found = store.delete(*target)
        gone.add(target)
        if found is None:
            result.missing.append(target[1])
            result.missing_targets.append(target)
        else:
            result.removed.append(found)
    if purge:
        from sessmap.transcripts.purge import purge as purge_files

        result.purge = purge_files(store, config, result.removed, dry_run=dry_run)
    if not dry_run:
        release_transcripts(store, result.removed)
    return result


def release_transcripts(store: Store, removed: Iterable[Mapping]) -> None:
    from sessmap.transcripts.cleanup import release, sessions_of

    release(store, sessions_of(removed))


def fork(
    store: Store,
    *,
    agent: str,
    source_key: str,
    target_key: str,
    labels: Iterable[tuple[str, str]] = (),
    config: Config | None = None,
) -> Mapping:
    """DST becomes ``pending-fork`` of SRC: same provider and cwd, SRC's labels plus ``labels``.
    Refused at once when SRC's agent cannot fork (copilot, a template with no ``fork``);
    ``config`` names the template providers."""
    source = require(store, agent, source_key)
    validate_key(target_key)
    refusal = _fork_refusal(source.provider, config)
    if refusal is not None:
        raise refusal
    if source.session_id is None:
        raise InvalidInput(
            f"cannot fork {source_key!r}: it has no session id yet ({source.state})",
            reason="fork-without-session",
            agent=agent,
            key=source_key,
            found=source.state,
        )
    stamp = service.now()
    target = Mapping(
        key=target_key,
        agent=agent,
        provider=source.provider,
        session_id=None,
        state="pending-fork",
        cwd=source.cwd,
        created_at=stamp,
        updated_at=stamp,
        parent=Parent(agent=source.agent, key=source.key, session_id=source.session_id),
        labels={**source.labels, **dict(labels)},
    ).validate()
    try:
        store.insert(target, require_parent=True)  # atomic with a concurrent rename of SRC
    except Conflict:
        raise _exists_already(agent, target_key, reason="target-exists") from None
    return target


def _fork_refusal(provider: str, config: Config | None) -> InvalidInput | None:
    from sessmap.providers import get_provider

    try:
        return get_provider(provider, config).fork_refusal()
    except InvalidInput:
        return None  # a provider the config no longer names: the first exec says so
