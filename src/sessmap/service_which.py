"""``which``: from an agent's session id (or a unique prefix of one, as with git hashes) back
to the mapping that holds it, as its current session or in its ``history``."""

from __future__ import annotations

from typing import NamedTuple

from sessmap.errors import InvalidInput, NotFound
from sessmap.model import HistoryEntry, Mapping
from sessmap.stores.base import Store
from sessmap.validation import validate_agent, validate_session_id

CANDIDATES = 20
"""How many matches an ambiguous prefix reports at most."""


class Match(NamedTuple):
    """One mapping holding a session id that starts with the prefix asked for."""

    mapping: Mapping
    session_id: str  # the full id
    entry: HistoryEntry | None  # None: the mapping's current session; else its history entry

    @property
    def current(self) -> bool:
        return self.entry is None

    def to_dict(self) -> dict[str, object]:
        return {
            "session_id": self.session_id,
            "agent": self.mapping.agent,
            "key": self.mapping.key,
            "in": "session_id" if self.current else "history",
        }


class Ambiguous(InvalidInput):
    """A prefix that more than one session (or mapping) matches; ``matches`` lists them."""

    def __init__(self, prefix: str, matches: list[Match], more: bool) -> None:
        shown = ", ".join(_describe(match) for match in matches[:5])
        rest = len(matches) - 5
        tail = f" and {rest}{'+' if more else ''} more" if rest > 0 else (" and more" if more else "")
        if not matches:
            shown, tail = f"it starts the ids of more than {CANDIDATES} mappings", ""
        super().__init__(
            f"session id prefix {prefix!r} is ambiguous: {shown}{tail}",
            reason="ambiguous-session",
            prefix=prefix,
        )
        self.matches = matches
        self.more = more


def _describe(match: Match) -> str:
    where = "" if match.current else ", in history"
    return f"{match.session_id} ({match.mapping.key}, agent {match.mapping.agent}{where})"


def _matches(mapping: Mapping, prefix: str) -> list[Match]:
    found = []
    if mapping.session_id is not None and mapping.session_id.startswith(prefix):
        found.append(Match(mapping, mapping.session_id, None))
    found.extend(
        Match(mapping, entry.session_id, entry)
        for entry in mapping.history
        if entry.session_id.startswith(prefix) and entry.session_id != mapping.session_id
    )
    return found


def which(store: Store, session_id: str, agent: str | None = None) -> Match:
    """The one mapping holding ``session_id``, or a session id starting with it.

    A full id wins over longer ids it is a prefix of, and a mapping's current session over a
    history entry of another mapping with the same id. ``NotFound`` when nothing matches,
    ``Ambiguous`` (exit 2) when several do.
    """
    prefix = validate_session_id(session_id)
    if agent is not None:
        validate_agent(agent)
    # One more than reported, so an ambiguous answer can say that there are more.
    mappings = store.by_session(prefix, CANDIDATES + 1)
    more = len(mappings) > CANDIDATES
    matches = [
        m
        for mapping in mappings[:CANDIDATES]
        if agent in (None, mapping.agent)
        for m in _matches(mapping, prefix)
    ]
    if not matches and more:  # the agent's own may be among those not read
        raise Ambiguous(prefix, [], more)
    if not matches:
        whose = "" if agent is None else f" of agent {agent}"
        raise NotFound(
            f"no mapping{whose} holds a session id starting with {prefix!r} (as its session or in "
            "its history)",
            reason="no-session-match",
            prefix=prefix,
        )
    exact = [match for match in matches if match.session_id == prefix] or matches
    current = [match for match in exact if match.current] or exact
    # Narrowed to an exact id or a current session: what was not read cannot compete.
    unread = more and len(current) == len(matches)
    if len(current) == 1 and not unread:
        return current[0]
    raise Ambiguous(prefix, current, unread)
