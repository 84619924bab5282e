"""Deleting the store's transcript copies that nothing needs any more (SPEC §7).

A copy is needed while a mapping holds its session as its current one, in its ``history``, or
as the parent of a fork not yet made. Removing mappings (``rm``, ``prune``, ``doctor --fix``,
and history entries falling off) releases the copies of their sessions that no one else needs.
"""

from __future__ import annotations

from collections.abc import Iterable

from sessmap.model import Mapping
from sessmap.stores.base import Query, Store, TranscriptKey


def sessions_of(mappings: Iterable[Mapping]) -> set[str]:
    """Every session id the mappings hold: current, earlier, and fork parents'."""
    ids: set[str] = set()
    for mapping in mappings:
        ids |= mapping.session_ids()
        if mapping.parent is not None and mapping.parent.session_id is not None:
            ids.add(mapping.parent.session_id)
    return ids


def release(store: Store, session_ids: Iterable[str]) -> int:
    """Delete the stored copies of ``session_ids`` that no remaining mapping needs; how many."""
    stored = {sid: keys for sid in set(session_ids) if (keys := store.transcripts.projects_of(sid))}
    if not stored:
        return 0  # the common case on file stores: nothing kept, so no scan of the map
    needed = sessions_of(store.query(Query(sort="key")))
    deleted = 0
    for session_id, projects in stored.items():
        if session_id in needed:
            continue
        for project_key in projects:
            store.transcripts.delete(TranscriptKey(project_key, session_id))
            deleted += 1
    return deleted
