"""sessmap's transcript storage as the Claude Agent SDK's ``SessionStore`` (SPEC §7).

A Python bot on ``claude-agent-sdk`` keeps its sessions in a sessmap store::

    from claude_agent_sdk import ClaudeAgentOptions, query
    from sessmap import open_store
    from sessmap.sdk import ClaudeSessionStore

    with open_store("postgresql://bot@db/sessions") as store:
        options = ClaudeAgentOptions(session_store=ClaudeSessionStore(store), cwd="/srv/app")
        async for message in query(prompt="hello", options=options):
            ...

What the bot writes there, ``sessmap exec … -- claude`` continues on any host that uses the
same store, and the other way round: both keep one JSONL line per entry under
``(project_key, session_id[, subpath])``, ``project_key`` being the folder name claude gives
the working directory (``project_key_for``).

Needs the SDK: ``pip install 'sessmap[sdk]'``. Only this module imports it, and only when a
``ClaudeSessionStore`` is made; ``sessmap.sdk_keys`` never does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, cast

from sessmap.sdk_keys import project_key_for
from sessmap.stores.base import Store, TranscriptInfo, TranscriptKey

if TYPE_CHECKING:
    from claude_agent_sdk import (
        SessionKey,
        SessionListSubkeysKey,
        SessionStoreEntry,
        SessionStoreListEntry,
        SessionSummaryEntry,
    )

    Fold = Callable[[SessionSummaryEntry | None, SessionKey, list[SessionStoreEntry]], SessionSummaryEntry]

__all__ = ["ClaudeSessionStore", "project_key_for"]

INSTALL_HINT = "sessmap.sdk needs the Claude Agent SDK: pip install 'sessmap[sdk]'"

_FOLDED_LINES = "sessmap_folded_lines"
"""Our own field in a stored summary text: how many transcript lines the summary folds. It
tells whether the summary still matches the transcript before folding more into it; it is
removed before the SDK sees the summary."""

_REFOLD_BATCH = 256

_log = logging.getLogger(__name__)


def _load_fold() -> Fold:
    try:
        from claude_agent_sdk import fold_session_summary
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return fold_session_summary


def _line(entry: object) -> bytes:
    """One entry as the compact JSON line claude writes, ``type`` first as the SDK's
    ``_entries_to_jsonl`` puts it (claude finds some entries by their line prefix)."""
    if isinstance(entry, dict) and "type" in entry:
        entry = {"type": entry["type"], **entry}
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()


def _transcript_key(key: SessionKey | SessionListSubkeysKey) -> TranscriptKey:
    # The SDK omits subpath for the main transcript (an empty one is invalid there); sessmap
    # spells the main transcript "".
    subpath = cast("dict[str, Any]", key).get("subpath") or ""
    return TranscriptKey(key["project_key"], key["session_id"], subpath)


class ClaudeSessionStore:
    """The SDK's ``SessionStore`` protocol (every optional method included) over ``store``.

    The caller owns ``store``: open it before, close it after (this never closes it).

    Calls into the store run directly on the event loop's thread, not on a worker thread:
    sessmap stores are not thread-safe (a SQLite store's connection belongs to the thread that
    opened it), and each call here is one short store operation (one transaction, or one
    round trip to the server) that the SDK makes once per turn, off its streaming path. A
    side effect worth having: with no ``await`` inside, calls never interleave, so the
    summary's read-fold-write below is serialised within the process for free. So open the
    store on the thread that runs the event loop.

    Entries are kept as sessmap keeps transcripts: one compact JSON line each, appended,
    never rewritten. Appends are atomic (a failed one wrote nothing) and nothing after a
    successful one raises, so the SDK's retry of a failed batch cannot duplicate entries and
    no dedup by ``uuid`` is needed.
    """

    def __init__(self, store: Store) -> None:
        self._fold = _load_fold()
        self._store = store
        # Summaries this handle last wrote: (summary, lines it folds), by (project, session).
        self._summaries: dict[tuple[str, str], tuple[SessionSummaryEntry, int]] = {}

    @property
    def store(self) -> Store:
        return self._store

    # --- required -------------------------------------------------------------------------

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        if not entries:
            return
        tkey = _transcript_key(key)
        info = self._store.transcripts.append(tkey, (_line(entry) for entry in entries))
        if info is None or tkey.subpath:  # side files never feed the session's summary
            return
        # The entries are stored: from here on nothing may raise, or the SDK would retry the
        # batch and store it twice. The summary is derived data that heals itself: left
        # behind, it is older than the session, so the SDK re-derives that session from load
        # (and the next append here refolds it).
        try:
            self._update_summary(key, tkey, entries, info)
        except Exception:
            _log.warning("could not update the summary of session %s", tkey.session_id, exc_info=True)

    def _update_summary(
        self, key: SessionKey, tkey: TranscriptKey, entries: list[SessionStoreEntry], info: TranscriptInfo
    ) -> None:
        folded, lines = self._folded(key, tkey, entries, info.lines)
        # Stamped with the append's own time: the clock list_sessions reports, as the SDK's
        # freshness check (summary mtime >= session mtime) needs.
        folded["mtime"] = info.mtime_ms
        self._summaries[(tkey.project_key, tkey.session_id)] = (folded, lines)
        text = json.dumps({**folded, _FOLDED_LINES: lines}, ensure_ascii=False, separators=(",", ":"))
        self._store.transcripts.set_summary(tkey.project_key, tkey.session_id, text)

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        entries = [json.loads(line) for line in self._store.transcripts.read(_transcript_key(key))]
        # A transcript is created by its first non-empty append, so "no lines" is "never written".
        return entries or None

    # --- optional -------------------------------------------------------------------------

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        return [
            {"session_id": info.key.session_id, "mtime": info.mtime_ms}
            for info in self._store.transcripts.sessions(project_key)
        ]

    async def list_session_summaries(self, project_key: str) -> list[SessionSummaryEntry]:
        summaries: list[SessionSummaryEntry] = []
        for text in self._store.transcripts.summaries(project_key):
            parsed = _parse_summary(text)
            if parsed is not None:
                summaries.append(parsed[0])
        return summaries

    async def delete(self, key: SessionKey) -> None:
        tkey = _transcript_key(key)
        self._store.transcripts.delete(tkey)  # a main transcript takes its side files along
        if not tkey.subpath:
            self._summaries.pop((tkey.project_key, tkey.session_id), None)

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        return self._store.transcripts.subpaths(key["project_key"], key["session_id"])

    # --- the summary sidecar --------------------------------------------------------------

    def _folded(
        self, key: SessionKey, tkey: TranscriptKey, entries: list[SessionStoreEntry], total: int
    ) -> tuple[SessionSummaryEntry, int]:
        """The summary of the transcript's first ``total`` lines, the last of which are
        ``entries`` (just appended), and ``total``.

        Incremental when the previous summary (this handle's, else the stored one) folds
        exactly the lines before ``entries``. Otherwise (the first append of a session that
        exists, or another writer appended in between: ``sessmap exec`` uploading a turn, or
        a bot on another host) it is folded again from the stored lines, so no writer's
        entries are missing from it. Two writers racing may leave the summary of the earlier
        append: it then carries an mtime older than the session's, which the SDK treats as
        stale (it re-derives that session from ``load``), and the next append here refolds.
        """
        before = total - len(entries)
        if before == 0:
            return self._fold(None, key, entries), total
        cached = self._summaries.get((tkey.project_key, tkey.session_id))
        if cached is not None and cached[1] == before:
            return self._fold(cached[0], key, entries), total
        stored = self._stored_summary(tkey)
        if stored is not None and stored[1] == before:
            return self._fold(stored[0], key, entries), total
        summary: SessionSummaryEntry | None = None
        lines = islice(self._store.transcripts.read(tkey), total)
        for batch in _batches((json.loads(line) for line in lines), _REFOLD_BATCH):
            summary = self._fold(summary, key, batch)
        if summary is None:  # deleted meanwhile: fold what we know
            return self._fold(None, key, entries), len(entries)
        return summary, total

    def _stored_summary(self, tkey: TranscriptKey) -> tuple[SessionSummaryEntry, int] | None:
        for text in self._store.transcripts.summaries(tkey.project_key):
            parsed = _parse_summary(text)
            if parsed is not None and parsed[0]["session_id"] == tkey.session_id:
                return parsed
        return None


def _parse_summary(text: str) -> tuple[SessionSummaryEntry, int] | None:
    """A stored summary text as the SDK's entry and the lines it folds (-1: unknown); None
    for a text that is not one of ours."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not (
        isinstance(value, dict)
        and isinstance(value.get("session_id"), str)
        and isinstance(value.get("mtime"), int)
        and isinstance(value.get("data"), dict)
    ):
        return None
    lines = value.get(_FOLDED_LINES)
    summary: SessionSummaryEntry = {
        "session_id": value["session_id"],
        "mtime": value["mtime"],
        "data": value["data"],
    }
    return summary, lines if isinstance(lines, int) else -1


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
