"""``--purge``: deleting the agent's own files of the sessions removed mappings held (SPEC §7).

Only what sessmap started for a mapping is touched: of the sessions a removed mapping held (its
current one and its ``history``), those the store records as started by sessmap
(stores/started.py), looked for in the agent homes its runs recorded on this host, never
anywhere else. A session attached by hand or imported is kept, and so is one another mapping
still holds (current, history, or as a fork's parent); each is reported. claude:
``<id>.jsonl`` and its ``<id>/`` side folder; codex: ``codex delete --force <id>`` when the
installed codex has that command, else the rollout file. The store's copy goes with the
mapping anyway (cleanup.release).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sessmap.model import Mapping
from sessmap.stores.base import Query, Store, TranscriptKey
from sessmap.stores.started import StartedSession

if TYPE_CHECKING:
    from sessmap.config import Config
    from sessmap.transcripts.locate import Locator

Position = tuple[str, str]


class PurgedSession(NamedTuple):
    """One session's files: deleted (or, in a dry run, to delete), with their bytes."""

    session_id: str
    provider: str
    files: tuple[Path, ...]
    bytes: int
    stored_bytes: int
    """The store's copy of it, deleted with the mapping (SPEC §7)."""
    via: str = "unlink"
    """``unlink``, or ``codex delete`` when codex deleted it itself."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "provider": self.provider,
            "files": [str(path) for path in self.files],
            "bytes": self.bytes,
            "stored_bytes": self.stored_bytes,
            "via": self.via,
        }


class KeptSession(NamedTuple):
    """A session of a removed mapping that is not purged, and why."""

    session_id: str
    reason: str
    by: Position | None = None
    """(agent, key) of a mapping that still holds it."""

    def to_dict(self) -> dict[str, Any]:
        by = {"agent": self.by[0], "key": self.by[1]} if self.by else None
        return {"session_id": self.session_id, "reason": self.reason, "referenced_by": by}


class Purge(NamedTuple):
    purged: list[PurgedSession]
    kept: list[KeptSession]

    @property
    def bytes(self) -> int:
        return sum(s.bytes + s.stored_bytes for s in self.purged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bytes": self.bytes,
            "purged": [s.to_dict() for s in self.purged],
            "kept": [k.to_dict() for k in self.kept],
        }


Runner = Callable[[list[str], dict[str, str]], int]
"""Runs a command with an environment, returns its exit status (tests put a fake here)."""


def candidates(removed: Iterable[Mapping]) -> dict[str, Mapping]:
    """Each session id the removed mappings held (current and history), with the mapping."""
    found: dict[str, Mapping] = {}
    for mapping in removed:
        for session_id in mapping.session_ids():
            found.setdefault(session_id, mapping)
    return found


def still_held(store: Store, wanted: dict[str, Mapping], removed: set[Position]) -> dict[str, Position]:
    """The wanted sessions some other mapping still holds, with one such mapping."""
    holders: dict[str, Position] = {}
    for mapping in store.query(Query(sort="key")):
        position = (mapping.agent, mapping.key)
        if position in removed:
            continue  # a dry run: it is still there, and going
        ids = mapping.session_ids()
        if mapping.parent is not None and mapping.parent.session_id is not None:
            ids.add(mapping.parent.session_id)
        for session_id in ids & wanted.keys():
            holders.setdefault(session_id, position)
    return holders


class Found(NamedTuple):
    """A session's files in the agent home they were found in (``main`` None: none found)."""

    session_id: str
    provider: str
    home: Path | None
    main: Path | None
    paths: list[Path]


def plan(
    store: Store, config: Config | None, removed: list[Mapping], *, here: str | None = None
) -> tuple[list[Found], list[KeptSession]]:
    """What ``purge`` would delete, session by session, and what it keeps."""
    from sessmap.service_details import locator_of
    from sessmap.transcripts.presence import this_host

    host = here or this_host()
    wanted = candidates(removed)
    holders = still_held(store, wanted, {(m.agent, m.key) for m in removed}) if wanted else {}
    records = store.started.get_many(wanted.keys() - holders.keys())
    todo: list[Found] = []
    kept: list[KeptSession] = []
    for session_id, mapping in sorted(wanted.items()):
        if session_id in holders:
            kept.append(KeptSession(session_id, "another mapping holds it", holders[session_id]))
            continue
        record = records.get(session_id)
        if record is None:
            kept.append(KeptSession(session_id, "sessmap did not start it (attached or imported)"))
            continue
        locator = locator_of(mapping, config)
        if locator is None:
            kept.append(KeptSession(session_id, f"sessmap does not know where {mapping.provider} keeps it"))
            continue
        homes = _homes_here(record, mapping, host)
        if not homes:
            kept.append(KeptSession(session_id, "no run on this host recorded where it lives"))
            continue
        found = _find(locator, homes, record)
        if found.paths or _stored_bytes(store, session_id):
            todo.append(found)
    return todo, kept


def _homes_here(record: StartedSession, mapping: Mapping | None, host: str) -> list[Path]:
    """The agent homes on this host where sessmap ran the session: where it started it, and,
    for a mapping's current session, where its last run was (a resume on another host or home
    restores the transcript there)."""
    places = [(record.host, record.agent_home)]
    if mapping is not None and mapping.session_id == record.session_id:
        places.append((mapping.host, mapping.agent_home))
    homes: list[Path] = []
    for where, home in places:
        if home is not None and where in (None, host) and Path(home) not in homes:
            homes.append(Path(home))
    return homes


def _find(locator: Locator, homes: list[Path], record: StartedSession) -> Found:
    for home in homes:
        main, paths = _files(locator, home, record.session_id, record.cwd)
        if main is not None:
            return Found(record.session_id, record.provider, home, main, paths)
    return Found(record.session_id, record.provider, None, None, [])


def _files(locator: Locator, home: Path, session_id: str, cwd: str | None) -> tuple[Path | None, list[Path]]:
    found = locator.find(home, session_id, cwd)
    if found is None:
        return None, []
    paths = [found.path]
    side = found.path.with_suffix("")  # claude's <id>/ folder; codex has none
    if side.is_dir() and not side.is_symlink():
        paths.extend(sorted(p for p in side.rglob("*") if p.is_file() or p.is_symlink()))
    return found.path, paths


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def _stored_bytes(store: Store, session_id: str) -> int:
    total = 0
    for project in store.transcripts.projects_of(session_id):
        info = store.transcripts.info(TranscriptKey(project, session_id))
        total += info.size if info else 0
    return total


def check_records(store: Store) -> None:
    """Reads every record of the sessions sessmap started: a damaged one raises its
    ``StoreError`` now, before any mapping is deleted, not once its files are to go (the
    mappings would be gone and their files left)."""
    for _ in store.started.all():
        pass


def purge(
    store: Store,
    config: Config | None,
    removed: list[Mapping],
    *,
    dry_run: bool = False,
    run: Runner | None = None,
) -> Purge:
    """Delete (``dry_run``: list) the agent's files of the sessions ``removed`` held that no
    other mapping holds. Call it after the mappings are deleted (before, for a dry run)."""
    todo, kept = plan(store, config, removed)
    purged: list[PurgedSession] = []
    for found in todo:
        stored = _stored_bytes(store, found.session_id)
        purged.append(_purge_one(found, stored, None if dry_run else run or _run))
    if not dry_run:
        store.started.forget(session.session_id for session in purged)
    return Purge(purged, kept)


def _purge_one(found: Found, stored: int, run: Runner | None) -> PurgedSession:
    """``found``'s files measured, then deleted unless ``run`` is None (a dry run, a report)."""
    size = sum(_size(path) for path in found.paths)
    via = "unlink" if run is None else _delete(found, run)
    return PurgedSession(found.session_id, found.provider, tuple(found.paths), size, stored, via)


def _delete(found: Found, run: Runner) -> str:
    """Delete one session's files; how (``codex delete`` or ``unlink``)."""
    main = found.main
    if main is None:
        return "unlink"  # only the store's copy: it goes with the mapping
    from sessmap.transcripts.summary_cache import forget

    forget(main, found.provider)  # its saved summary (title, prompts) goes first
    if found.provider == "codex" and found.home is not None:
        codex = codex_with_delete()
        if codex is not None:
            env = {**os.environ, "CODEX_HOME": str(found.home)}
            if run([codex, "delete", "--force", found.session_id], env) == 0 and not main.exists():
                return "codex delete"
    side = main.with_suffix("")
    for path in found.paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
    if found.provider == "claude" and side.is_dir() and not side.is_symlink():
        shutil.rmtree(side, ignore_errors=True)
    return "unlink"


def _run(argv: list[str], env: dict[str, str]) -> int:
    import subprocess

    try:
        done = subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return -1
    return done.returncode


def codex_with_delete(codex: str | None = None) -> str | None:
    """The installed ``codex`` if it has a ``delete`` subcommand, else None.

    Asked of ``codex --help``'s command list, not by running ``codex delete --help``: a codex
    without the subcommand takes ``delete`` as the prompt of an interactive session."""
    import re
    import subprocess

    path = codex or shutil.which("codex")
    if path is None:
        return None
    try:
        done = subprocess.run(
            [path, "--help"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    listed = re.search(r"^\s+delete\s", done.stdout, re.MULTILINE)
    return path if done.returncode == 0 and listed else None


def orphans(store: Store, config: Config | None, *, delete: bool = False, run: Runner | None = None) -> Purge:
    """``doctor``: the local transcripts of sessions sessmap started that no mapping holds as
    its current session or a fork's parent any more (only a ``history`` entry names them, or
    their mapping is gone), with their size; ``delete`` removes them and forgets their records,
    and those of sessions no mapping names whose files are gone from here and from the store."""
    from sessmap.service_details import locator_for
    from sessmap.transcripts.cleanup import sessions_of
    from sessmap.transcripts.presence import this_host

    current: set[str] = set()
    named: set[str] = set()
    for mapping in store.query(Query(sort="key")):
        parent = mapping.parent.session_id if mapping.parent is not None else None
        current.update(sid for sid in (mapping.session_id, parent) if sid is not None)
        named |= sessions_of([mapping])
    found: list[PurgedSession] = []
    gone: list[str] = []
    host = this_host()
    for record in store.started.all():
        locator = locator_for(record.provider, config)
        homes = _homes_here(record, None, host)
        if record.session_id in current or locator is None or not homes:
            continue
        files = _find(locator, homes, record)
        if files.main is not None:
            found.append(_purge_one(files, 0, run or _run if delete else None))
        elif record.session_id not in named and not store.transcripts.projects_of(record.session_id):
            gone.append(record.session_id)
    if delete:
        store.started.forget([*gone, *(session.session_id for session in found)])
    return Purge(found, [])
