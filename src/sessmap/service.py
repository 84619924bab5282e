"""Domain operations behind the commands: explicit inputs in, values out, typed errors raised.

No Typer and no Rich here: the CLI parses, calls one of these, and renders what comes back.
Library users get the same operations (``from sessmap import service``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from sessmap.errors import Conflict, InvalidInput, NotFound, StoreError
from sessmap.model import (
    MAX_HISTORY,
    Mapping,
    Parent,
    now,
    validate_agent,
    validate_cwd,
    validate_key,
    validate_provider,
    validate_session_id,
)
from sessmap.stores.base import ImportResult, OnConflict, Query, Store

if TYPE_CHECKING:
    from sessmap.config import Config
    from sessmap.transcripts.archive import Spool
    from sessmap.transcripts.locate import Locator

# The config module, uuid, tempfile and tomllib load inside the functions that use them:
# `sessmap get` imports this module for one lookup and needs none of them.

DEFAULT_PROVIDER = "claude"


# --- reading -------------------------------------------------------------------------------


def _no_mapping(agent: str, key: str) -> NotFound:
    return NotFound(f"no mapping for {key!r} (agent {agent})", hint="try: sessmap list")


def _exists_already(agent: str, key: str, hint: str) -> Conflict:
    return Conflict(f"a mapping for {key!r} (agent {agent}) exists already", hint=hint)


def require(store: Store, agent: str, key: str) -> Mapping:
    """The mapping for (agent, key), or NotFound with a hint."""
    mapping = store.get(validate_agent(agent), validate_key(key))
    if mapping is None:
        raise _no_mapping(agent, key)
    return mapping


def session_id_of(store: Store, agent: str, key: str) -> str:
    """The session id alone; NotFound while the mapping is pending (no id yet)."""
    mapping = require(store, agent, key)
    if mapping.session_id is None:
        raise NotFound(
            f"mapping {key!r} (agent {agent}) is {mapping.state}: it has no session id until its first exec",
            hint=f"try: sessmap exec {key} -- CMD",
        )
    return mapping.session_id


@dataclass(frozen=True, slots=True)
class Transcript:
    """Where a mapping's transcript is, as far as this host can tell (SPEC §7).

    ``state``: ``local`` (the agent's file is here), ``archived`` (codex archived it),
    ``stored`` (only the store's copy), ``gone`` (proven gone), ``unknown`` (``reason`` says why).
    """

    path: Path | None
    state: str
    reason: str | None = None
    stored: bool = False

    @property
    def exists(self) -> bool:
        return self.state in ("local", "archived")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "exists": self.exists,
            "state": self.state,
            "archived": self.state == "archived",
            "stored": self.stored,
            "reason": self.reason,
        }


def transcript_of(mapping: Mapping, config: Config | None, store: Store, *, full: bool = True) -> Transcript:
    """Where the agent keeps the mapping's transcript; ``full`` also asks whether the store
    holds a copy when the file is here (``show``), which pruning has no need to know."""
    from sessmap.transcripts.presence import Sighting, presence

    locator = _locator_of(mapping, config)
    if locator is None or mapping.session_id is None:
        why = (
            "the mapping has no session yet" if locator else "sessmap does not know where this agent keeps it"
        )
        return Transcript(None, "unknown", why)
    sighting = Sighting(mapping.session_id, mapping.cwd, mapping.host, mapping.agent_home)
    found = presence(sighting, locator, store.transcripts, look_in=locator.home(None))
    stored = found.state == "stored" or (full and bool(store.transcripts.projects_of(mapping.session_id)))
    return Transcript(found.path, found.state, found.reason, stored)


def _locator_of(mapping: Mapping, config: Config | None) -> Locator | None:
    from sessmap.providers import get_provider

    try:
        return get_provider(mapping.provider, config).locator
    except InvalidInput:  # a provider since removed from the config
        return None


@dataclass(frozen=True, slots=True)
class Details:
    """What ``show`` prints: the mapping (its history included), its forks and its transcript."""

    mapping: Mapping
    forks: list[Mapping]
    transcript: Transcript

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.mapping.to_dict(),
            "forks": [
                {"agent": f.agent, "key": f.key, "session_id": f.session_id, "state": f.state}
                for f in self.forks
            ],
            "transcript": self.transcript.to_dict(),
        }


def describe(store: Store, agent: str, key: str, config: Config | None) -> Details:
    mapping = require(store, agent, key)
    forks = list(store.query(Query(parent=(mapping.agent, mapping.key), sort="key")))
    return Details(mapping=mapping, forks=forks, transcript=transcript_of(mapping, config, store))


# --- filters shared by list, export and prune ----------------------------------------------


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
        moment = at or now()
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


# --- writing -------------------------------------------------------------------------------


def absolute_dir(path: str) -> str:
    """``--cwd`` as typed, made absolute with ``~`` expanded and symlinks resolved (agents see
    the physical directory: Claude Code names its project folder after it); may not exist yet."""
    return validate_cwd(str(Path(path).expanduser().resolve()))


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
) -> Mapping:
    """A new mapping. Provider: given, else the agent's profile, else claude.

    Without ``session_id`` a provider that lets sessmap choose ids gets a fresh UUID (active);
    any other starts ``pending``. Conflict if it exists, unless ``force`` replaces it.
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
    stamp = now()
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
    try:
        store.insert(mapping, replace=force)
    except Conflict:
        raise _exists_already(
            agent, key, f"try: sessmap create --force {key}, or sessmap show {key}"
        ) from None
    return mapping


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
        raise InvalidInput(
            "nothing to change", hint="give --session-id, --provider, --cwd, --label or --unlabel"
        )
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
        changes: dict[str, Any] = {"labels": merged, "updated_at": now()}
        if session_id is not None:
            if session_id != mapping.session_id:
                # sessmap has seen the new session nowhere yet: where the old one lived proves nothing
                changes.update(host=None, agent_home=None)
            mapping = mapping.retired("set", now(), replacement=session_id)
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


def rename(store: Store, *, agent: str, old_key: str, new_key: str) -> Mapping:
    validate_agent(agent)
    validate_key(old_key)
    validate_key(new_key)
    try:
        return store.rename(agent, old_key, new_key, now())
    except NotFound:
        raise _no_mapping(agent, old_key) from None
    except Conflict:
        raise _exists_already(agent, new_key, f"try: sessmap rm {new_key} first") from None


@dataclass(frozen=True, slots=True)
class Removal:
    removed: list[Mapping] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def remove(store: Store, *, agent: str, keys: Iterable[str]) -> Removal:
    """Delete every key that exists; report the missing ones (the caller decides if that fails).

    All keys are validated before anything is deleted, so one bad key changes nothing.
    """
    validate_agent(agent)
    wanted = [validate_key(key) for key in keys]
    result = Removal()
    for key in wanted:
        deleted = store.delete(agent, key)
        if deleted is None:
            result.missing.append(key)
        else:
            result.removed.append(deleted)
    _release(store, result.removed)
    return result


def _release(store: Store, removed: Iterable[Mapping]) -> None:
    from sessmap.transcripts.cleanup import release, sessions_of

    release(store, sessions_of(removed))


def fork(
    store: Store,
    *,
    agent: str,
    source_key: str,
    target_key: str,
    labels: Iterable[tuple[str, str]] = (),
) -> Mapping:
    """DST becomes ``pending-fork`` of SRC: same provider and cwd, SRC's labels plus ``labels``."""
    source = require(store, agent, source_key)
    validate_key(target_key)
    if source.session_id is None:
        raise InvalidInput(
            f"cannot fork {source_key!r}: it has no session id yet ({source.state})",
            hint=f"exec it first: sessmap exec {source_key} -- CMD",
        )
    stamp = now()
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
        store.insert(target)
    except Conflict:
        raise _exists_already(agent, target_key, f"try: sessmap rm {target_key} first") from None
    return target


# --- prune and doctor ----------------------------------------------------------------------


# NamedTuples, not dataclasses, for this round's results: `get` imports this module, and each
# frozen dataclass costs about a millisecond of its start-up to define.
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
    moment = now()
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
        if mapping.session_id is None or _locator_of(mapping, config) is None:
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


# --- import --------------------------------------------------------------------------------


def parse_jsonl(lines: Iterable[bytes | str], transcripts: Spool | None = None) -> Iterator[Mapping]:
    """Mappings from JSONL, lazily; blank lines skipped. A bad line raises InvalidInput naming
    its line number, which makes ``insert_many`` write nothing. Transcript records (from
    ``export --transcripts``) go to ``transcripts``; without one they are an error."""
    import json

    from sessmap.transcripts.archive import is_record

    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            raise InvalidInput(f"line {number}: not UTF-8") from None
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInput(f"line {number}: not valid JSON: {err.msg}") from None
        try:
            if transcripts is not None and is_record(data):
                transcripts.add(data)
                continue
            mapping = Mapping.from_dict(data)
            if mapping.session_id is not None:
                validate_session_id(mapping.session_id)  # new input: the current limit, not the stored one
            yield mapping
        except InvalidInput as err:
            raise InvalidInput(f"line {number}: {err}") from None


class Imported(NamedTuple):
    mappings: ImportResult
    transcript_lines: int = 0


def import_mappings(store: Store, lines: Iterable[bytes | str], on_conflict: OnConflict) -> Imported:
    """All or nothing. With ``fail``, existing mappings are a Conflict and nothing is written.
    Replaced mappings keep their earlier session in ``history``; transcripts come in last."""
    from sessmap.transcripts.archive import Spool

    spool = Spool()
    try:
        mappings = parse_jsonl(lines, spool)
        if on_conflict == "replace":
            mappings = _keeping_history(store, mappings)
        result = store.insert_many(mappings, on_conflict)
        if result.conflicts:
            agent, key = result.conflicts[0]
            raise Conflict(
                f"{len(result.conflicts)} mapping(s) exist already (first: {key!r}, agent {agent}); "
                "nothing imported",
                hint="try: --on-conflict skip or --on-conflict replace",
            )
        return Imported(result, spool.apply(store))
    finally:
        spool.close()


def _keeping_history(store: Store, mappings: Iterable[Mapping]) -> Iterator[Mapping]:
    """The mappings with the session each replaces moved into their ``history``.

    Every lookup happens here, before the import writes anything: a store may not answer reads
    while it imports (PostgreSQL's COPY holds the connection). The merged mappings wait in a
    temporary file, so memory stays flat."""
    import json
    import tempfile

    stamp = now()
    spooled = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by _replay
    try:
        for mapping in mappings:
            current = store.get(mapping.agent, mapping.key)
            if current is not None:
                kept = current.retired("import", stamp, replacement=mapping.session_id).history
                known = {entry.session_id for entry in mapping.history}
                merged = (*mapping.history, *(e for e in kept if e.session_id not in known))
                mapping = mapping.evolve(history=merged[:MAX_HISTORY])
            spooled.write(json.dumps(mapping.to_dict()) + "\n")
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return _replay(spooled)


def _replay(spooled: IO[str]) -> Iterator[Mapping]:
    import json

    with spooled:
        for line in spooled:
            yield Mapping.from_dict(json.loads(line))


def export_lines(store: Store, query: Query, *, transcripts: bool) -> Iterator[str]:
    """JSONL for ``export``: the mappings, then (with ``transcripts``) their stored transcripts."""
    import json

    from sessmap.transcripts.archive import records
    from sessmap.transcripts.cleanup import sessions_of

    exported: list[Mapping] = []
    for mapping in store.query(query):
        if transcripts:
            exported.append(mapping)
        yield json.dumps(mapping.to_dict(), ensure_ascii=False)
    if transcripts:
        for record in records(store, sessions_of(exported)):
            yield json.dumps(record, ensure_ascii=False)


# --- the config file -----------------------------------------------------------------------


def setting_path(name: str, *, leaf: bool) -> list[str]:
    """``agents.reviewer.args`` → its parts; InvalidInput for a name the config cannot hold.

    With ``leaf`` only single settings are accepted, else also ``agents.NAME`` tables.
    """
    from sessmap.config import AGENT_SETTINGS, PROVIDER_SETTINGS, SCALAR_SETTINGS

    parts = name.split(".")
    valid = (
        (len(parts) == 1 and parts[0] in SCALAR_SETTINGS)
        or (len(parts) == 3 and parts[0] == "agents" and parts[2] in AGENT_SETTINGS)
        or (len(parts) == 3 and parts[0] == "providers" and parts[2] in PROVIDER_SETTINGS)
        or (not leaf and len(parts) == 2 and parts[0] in ("agents", "providers") and parts[1] != "")
        or (not leaf and len(parts) == 1 and parts[0] in ("agents", "providers"))
    )
    if not valid:
        raise InvalidInput(
            f"unknown setting {name!r}",
            hint="use store, ttl, wait_timeout, on_stale, transcripts, agents.NAME.{provider,cwd,args} or "
            "providers.NAME.{new,resume,fork,capture,stale}",
        )
    if len(parts) >= 2 and parts[1] and parts[0] == "agents":
        validate_agent(parts[1])
    return parts


def get_setting(raw: dict[str, Any], name: str) -> Any | None:
    """The value at ``name`` in the file's table, or None when it is not set."""
    node: Any = raw
    for part in setting_path(name, leaf=False):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def parse_setting_value(name: str, text: str) -> Any:
    """A TOML value when the text is one (``["--model", "sonnet"]``, ``"x"``), else the text.

    Settings that hold a string keep the text as typed unless it is a quoted TOML string, so
    ``ttl 30`` is the string "30" (and then rejected as a duration) rather than the integer 30.
    """
    import tomllib

    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text
    expected = _expected_type(name)
    if expected is str and not isinstance(value, str):
        return text
    return value


def _expected_type(name: str) -> type:
    from sessmap.config import AGENT_SETTINGS, PROVIDER_SETTINGS

    parts = name.split(".")
    if len(parts) == 3:
        return (AGENT_SETTINGS if parts[0] == "agents" else PROVIDER_SETTINGS)[parts[2]]
    return str


def with_setting(raw: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """A copy of the table with ``name`` set to ``value`` (tables made as needed)."""
    parts = setting_path(name, leaf=True)
    updated = _deep_copy(raw)
    node = updated
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value
    return updated


def without_setting(raw: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A copy without ``name`` (and tables it leaves empty), or None if it was not set."""
    parts = setting_path(name, leaf=False)
    updated = _deep_copy(raw)
    trail: list[dict[str, Any]] = []
    node: Any = updated
    for part in parts[:-1]:
        trail.append(node)
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return None
    if parts[-1] not in node:
        return None
    del node[parts[-1]]
    # Drop tables left empty, innermost first: `unset agents.x.provider` should not leave [agents.x].
    for parent, part in zip(reversed(trail), reversed(parts[:-1]), strict=True):
        if parent[part] == {}:
            del parent[part]
    return updated


def _deep_copy(table: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in table.items()}


def write_config(path: Path, raw: dict[str, Any]) -> Config:
    """Validate the whole table, then write it atomically (temp file + replace), 0600 in 0700."""
    import tempfile

    import tomli_w

    from sessmap.config import parse_config
    from sessmap.stores.locks import make_private_dir

    config = parse_config(raw, path)
    make_private_dir(path.parent)  # mkdir's mode alone would be filtered by the umask
    handle, temporary = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(tomli_w.dumps(raw).encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).chmod(0o600)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return config


def set_setting(path: Path, name: str, text: str) -> Config:
    from sessmap.config import read_toml

    raw = read_toml(path)
    return write_config(path, with_setting(raw, name, parse_setting_value(name, text)))


def unset_setting(path: Path, name: str) -> bool:
    """False when ``name`` was not set (nothing written)."""
    from sessmap.config import read_toml

    updated = without_setting(read_toml(path), name)
    if updated is None:
        return False
    write_config(path, updated)
    return True
