"""The one migration loop the SQLite, PostgreSQL and Redis stores share.

A store's migrations are an append-only list of ``(name, migration)``: version N is the N-th,
and an applied migration is never edited or renumbered. Each store keeps its own record of
what ran (a table, a key) and its own transaction or lock around each step; this module only
decides what is outstanding, in which order, and refuses a schema newer than the list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from sessmap.errors import StoreError

M = TypeVar("M")

NewerSchema = Callable[[int, int], StoreError]
"""The error for a store at schema ``version`` when this code knows only ``latest``."""


def newer_schema(store: str) -> NewerSchema:
    """The wording of the server stores: ``<store> has schema version N, newer than…``."""

    def error(version: int, latest: int) -> StoreError:
        return StoreError(
            f"{store} has schema version {version}, newer than this sessmap understands ({latest}); "
            "it was left untouched",
            reason="newer-schema",
            hint="upgrade sessmap",
            version=version,
            latest=latest,
        )

    return error


def refuse_newer(version: int, latest: int, newer: NewerSchema) -> int:
    """``version``, unless it is newer than ``latest``: then ``newer``'s error is raised."""
    if version > latest:
        raise newer(version, latest)
    return version


def migrate(
    applied: int,
    migrations: Sequence[tuple[str, M]],
    apply: Callable[[int, str, M], None],
    newer: NewerSchema,
) -> int:
    """Apply the migrations after version ``applied``, in order; return the latest version.

    ``apply(version, name, migration)`` runs one migration and records it, inside whatever
    transaction or lock the store needs (it may find it applied meanwhile and do nothing). A
    store at a newer schema than ``migrations`` knows is refused with ``newer``'s error.
    """
    latest = len(migrations)
    refuse_newer(applied, latest, newer)
    for version, (name, migration) in enumerate(migrations[applied:], start=applied + 1):
        apply(version, name, migration)
    return latest
