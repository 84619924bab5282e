"""Opening a SQLite store file safely: look at it read-only before anything writes to it.

A file that is not a healthy sessmap store (another program's database, truncated, corrupt)
is refused untouched; one being created or checkpointed by another process is waited for.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sessmap import files
from sessmap.errors import StoreError
from sessmap.stores.locks import not_a_file

BUSY_TIMEOUT = timedelta(seconds=30)
_SETTLE_SECONDS = 1.0  # how long a file that looks short may take to be whole (a checkpoint)
MIGRATIONS_TABLE = "sessmap_migrations"
_HEADER = b"SQLite format 3\x00"

T = TypeVar("T")

# --- Opening safely --------------------------------------------------------------------------


def while_busy(action: Callable[[], T]) -> T:
    """``action()``, retried for up to ``BUSY_TIMEOUT`` while another connection holds a lock.

    SQLite does not call the busy handler when a new file switches to WAL or while another
    connection recovers the WAL, so processes racing to open a fresh store would otherwise
    fail at once with "database is locked".
    """
    deadline = time.monotonic() + BUSY_TIMEOUT.total_seconds()
    delay = 0.001
    while True:
        try:
            return action()
        except sqlite3.OperationalError as err:
            busy = (err.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def applied_migrations(path: Path) -> list[tuple[Any, Any]]:
    """The ``(version, name)`` of the migrations recorded in ``path`` (none: a new store), read
    without changing it.

    ``StoreError`` if the file is corrupt, truncated or another program's database.
    """
    # Another process may be checkpointing: it grows the file and rewrites the header while we
    # look, and a moment later deletes the WAL. A file that only looks short while that happens
    # is looked at again; a truncated copy stays short.
    deadline = time.monotonic() + _SETTLE_SECONDS
    while True:
        read = _header(path)
        if read is None:
            return []
        header, size = read
        if not _HEADER.startswith(header[: len(_HEADER)]):
            raise StoreError(
                f"{path} is not a sessmap store (not a SQLite database, or damaged); use another path"
            )
        if len(header) == 100 and _whole(path, header, size):
            break
        if time.monotonic() >= deadline:  # a short header is a file being created, for a moment
            if len(header) < 100:
                raise StoreError(
                    f"{path} is not a sessmap store (not a SQLite database, or damaged); use another path"
                )
            raise StoreError(
                f"{path} is truncated or corrupt ({size} bytes); restore it from a backup or use another path"
            )
        time.sleep(0.02)
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    if header[18] == 2 and not path.with_name(path.name + "-wal").exists():
        # A WAL database nobody has open: even a read-only connection would leave -wal and
        # -shm files behind, so read it as immutable and create nothing.
        uri += "&immutable=1"
    try:
        reader = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as err:
        raise StoreError(f"cannot open {path}: {err}") from None
    try:
        tables = while_busy(lambda: _table_names(reader))
        if not tables:
            return []
        if MIGRATIONS_TABLE not in tables:
            raise StoreError(
                f"{path} is not a sessmap store (a SQLite database with other tables); use another path"
            )
        applied = while_busy(
            lambda: reader.execute("SELECT version, name FROM sessmap_migrations ORDER BY version").fetchall()
        )
    except sqlite3.OperationalError as err:
        raise StoreError(f"cannot open {path}: {err}") from None
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{path} is corrupt ({err}); restore it from a backup or use another path") from None
    finally:
        reader.close()
    return applied


def _table_names(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _header(path: Path) -> tuple[bytes, int] | None:
    """The first 100 bytes and the size (taken after them), or None for a missing or empty file.
    Anything but a regular file is refused unopened (a FIFO would block, a device act)."""
    try:
        with os.fdopen(files.open_regular(path), "rb") as handle:
            header = handle.read(100)
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except files.NotRegularFile as err:
        raise not_a_file(path, err.kind) from None
    except OSError as err:
        raise StoreError(f"cannot read {path}: {err.strerror}") from None
    return (header, size) if header else None  # empty: a new store, or one just being created


def _whole(path: Path, header: bytes, size: int) -> bool:
    """The file is as long as its header says, or a WAL holds the rest (a truncated copy is not)."""
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return True  # a checkpoint may have been cut short; SQLite recovers it from the WAL
    page_size = int.from_bytes(header[16:18], "big")  # header fields are big-endian
    page_size = 65536 if page_size == 1 else page_size
    change_counter = int.from_bytes(header[24:28], "big")
    page_count = int.from_bytes(header[28:32], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    if page_size < 512 or size % page_size != 0:
        return False
    return not (valid_for == change_counter and size < page_count * page_size)
