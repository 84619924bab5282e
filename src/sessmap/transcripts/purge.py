"""``--purge``: deleting the agent's own files of the sessions removed mappings held (SPEC §7).

Only what sessmap ran for a mapping is touched: the sessions a removed mapping held (its current
one and its ``history``), looked for in the agent home its runs recorded on this host, never
anywhere else. A session another mapping still holds (current, history, or as a fork's parent)
is kept and reported. claude: ``<id>.jsonl`` and its ``<id>/`` side folder; codex: ``codex
delete --force <id>`` when the installed codex has that command, else the rollout file. The
store's copy goes with the mapping anyway (cleanup.release).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sessmap.model import Mapping
from sessmap.stores.base import Query, Store, TranscriptKey

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


def plan(
    store: Store, config: Config | None, removed: list[Mapping], *, here: str | None = None
) -> tuple[list[tuple[Mapping, str, list[Path], Path | None]], list[KeptSession]]:
    """What ``purge`` would delete: (mapping, session, files, main transcript) per session."""
    from sessmap.service_details import locator_of
    from sessmap.transcripts.presence import this_host

    host = here or this_host()
    wanted = candidates(removed)
    holders = still_held(store, wanted, {(m.agent, m.key) for m in removed}) if wanted else {}
    todo: list[tuple[Mapping, str, list[Path], Path | None]] = []
    kept: list[KeptSession] = []
    for session_id, mapping in sorted(wanted.items()):
        if session_id in holders:
            kept.append(KeptSession(session_id, "another mapping holds it", holders[session_id]))
            continue
        locator = locator_of(mapping, config)
        if locator is None:
            kept.append(KeptSession(session_id, f"sessmap does not know where {mapping.provider} keeps it"))
            continue
        if mapping.agent_home is None or mapping.host not in (None, host):
            # No run recorded an agent home here: nothing sessmap ran is on this host to delete.
            reason = "no run on this host recorded where it lives"
            kept.append(KeptSession(session_id, reason))
            continue
        main, paths = _files(locator, Path(mapping.agent_home), session_id, mapping.cwd)
        stored = _stored_bytes(store, session_id)
        if paths or stored:
            todo.append((mapping, session_id, paths, main))
    return todo, kept


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
    for mapping, session_id, paths, main in todo:
        size = sum(_size(p) for p in paths)
        stored = _stored_bytes(store, session_id)
        via = "unlink"
        if not dry_run and main is not None:
            via = _delete(mapping, session_id, main, paths, run or _run)
        purged.append(PurgedSession(session_id, mapping.provider, tuple(paths), size, stored, via))
    return Purge(purged, kept)


def _delete(mapping: Mapping, session_id: str, main: Path, paths: list[Path], run: Runner) -> str:
    """Delete one session's files; how (``codex delete`` or ``unlink``)."""
    if mapping.provider == "codex" and mapping.agent_home is not None:
        codex = codex_with_delete()
        if codex is not None:
            env = {**os.environ, "CODEX_HOME": mapping.agent_home}
            if run([codex, "delete", "--force", session_id], env) == 0 and not main.exists():
                return "codex delete"
    side = main.with_suffix("")
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
    if mapping.provider == "claude" and side.is_dir() and not side.is_symlink():
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
    """``doctor``: the local transcripts of sessions sessmap ran for a mapping that now only a
    ``history`` entry names (the mapping moved on to another session), with their size;
    ``delete`` removes them. A session any mapping holds as current or fork parent stays."""
    from sessmap.transcripts.presence import this_host

    current: set[str] = set()
    earlier: dict[str, Mapping] = {}
    for mapping in store.query(Query(sort="key")):
        if mapping.session_id is not None:
            current.add(mapping.session_id)
        if mapping.parent is not None and mapping.parent.session_id is not None:
            current.add(mapping.parent.session_id)
        for entry in mapping.history:
            earlier.setdefault(entry.session_id, mapping)
    from sessmap.service_details import locator_of

    found: list[PurgedSession] = []
    host = this_host()
    for session_id, mapping in sorted(earlier.items()):
        locator = locator_of(mapping, config)
        if session_id in current or locator is None or mapping.agent_home is None:
            continue
        if mapping.host not in (None, host):
            continue
        main, paths = _files(locator, Path(mapping.agent_home), session_id, mapping.cwd)
        if main is None:
            continue
        size = sum(_size(path) for path in paths)
        via = _delete(mapping, session_id, main, paths, run or _run) if delete else "unlink"
        found.append(PurgedSession(session_id, mapping.provider, tuple(paths), size, 0, via))
    return Purge(found, [])
