"""Pick a store from its URL or path (SPEC §2). Backends are imported only when used."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sessmap.errors import InvalidInput, StoreError
from sessmap.stores.base import ImportResult, OnConflict, Query, SortOrder, Store

__all__ = ["ImportResult", "OnConflict", "Query", "SortOrder", "Store", "open_store", "store_kind"]

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
# RFC 3986's scheme, two characters or more (so a Windows drive `C:` is a path).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+")
_SCHEMES = ("sqlite", "json", "postgresql", "postgres", "redis", "rediss")


def store_kind(url: str) -> tuple[str, str]:
    """``(kind, location)`` for a store URL: kind is sqlite, json, postgres or redis."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgres", url
    if url.startswith(("redis://", "rediss://")):
        return "redis", url
    scheme, sep, rest = url.partition(":")
    if sep and scheme in ("sqlite", "json"):
        if not rest:
            raise InvalidInput(f"store URL {url!r} has no path", hint=f"use {scheme}:PATH")
        return scheme, rest
    # Anything that starts like a URL scheme (`SQLITE:/x.db`, `sqlte:x.db`, `mysql://…`) is a
    # typo, never a file name: it would create `SQLITE:…` in the current folder. A plain path
    # with a colon in its name still works as `./NAME` or `sqlite:NAME`.
    if "://" in url or (sep and _SCHEME.fullmatch(scheme)):
        known = scheme.lower() in _SCHEMES
        raise InvalidInput(
            f"unknown store {url!r}"
            + (f": write the scheme in lower case, {scheme.lower()}:" if known else ""),
            hint="use sqlite:PATH, json:PATH, a path ending .db/.sqlite/.sqlite3/.json, "
            "postgresql://… or redis://…",
        )
    if url.endswith(_SQLITE_SUFFIXES):
        return "sqlite", url
    if url.endswith(".json"):
        return "json", url
    raise InvalidInput(
        f"cannot tell which store {url!r} is",
        hint="end the path with .db or .json, or write sqlite:PATH / json:PATH",
    )


def open_store(url: str, *, create: bool = True) -> Store:
    """Open (creating and migrating as needed) the store at ``url``.

    ``create=False``: for callers that only read, a store file that does not exist is a
    ``StoreError`` (reason ``no-store``), not a new empty store left behind by a typo.

    >>> store = open_store("sqlite:/tmp/sessions.db")  # doctest: +SKIP
    """
    kind, location = store_kind(url)
    # lexists: a dangling link is there, and the store refuses it as a link (not "no store").
    if not create and kind in ("sqlite", "json") and not os.path.lexists(_expand(location)):
        path = _expand(location)
        raise StoreError(f"no store at {path}", reason="no-store", path=str(path))
    if kind == "sqlite":
        from sessmap.stores.sqlite import SQLiteStore

        return SQLiteStore(_expand(location))
    if kind == "json":
        from sessmap.stores.jsonfile import JSONStore

        return JSONStore(_expand(location))
    if kind == "postgres":
        from sessmap.stores.postgres import PostgresStore

        return PostgresStore(location)
    from sessmap.stores.redis import RedisStore

    return RedisStore(location)


def _expand(path: str) -> Path:
    from sessmap.validation import expand_home

    return expand_home(path).absolute()
