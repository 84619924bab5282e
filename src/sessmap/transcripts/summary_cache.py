"""A saved summary of each local claude or codex transcript, resumed where it was left: agents
only ever append to a transcript, so the next ``show`` (or ``list --fields``) of it reads only
the lines added since.

One small JSON file per transcript, ``<cache dir>/summaries/<provider>-<device>-<inode>.json``
(the cache dir: ``SESSMAP_HOME/cache``, else platformdirs' user cache folder, app ``sessmap``),
private (0700 folder, 0600 files), written whole (a temporary file, then ``os.replace``), the
JSON after a hash of it. It holds the summary's running state at the end of the last whole line
read (counts, tokens, notes; the title and the first and last prompt as ``show`` prints them)
and what that state was read from: the file's path, device, inode, size, mtime and ctime, and
hashes of its first 4 KiB and of the 4 KiB before that offset. ``--purge`` drops the entry of
each transcript it deletes (``forget``); deleting the folder is always safe.

It is never trusted blindly. An entry is used only when it is well formed, written by this
code (its source files' sizes and mtimes), for this very file, and the file has only grown
since (larger, or the same size, mtime and ctime) with the hashed bytes unchanged; anything else
(corrupt, foreign, truncated, replaced, rewritten) reads the file from its start. A cache
that cannot be read or written (a read-only folder) changes nothing but the speed: the result
is always the one reading the whole file gives (tests/transcripts/test_summary_cache.py).
What it cannot see: bytes changed in the middle of a file (outside the hashed ones) that then
also grew; no agent writes so, and deleting the cache folder undoes a hand edit.

Why ``pread`` and not ``mmap``: on a 10 MB transcript, mapping it and finding its newlines
saves ~1 ms of the ~2.7 ms reading costs, and checking the mapped bytes are UTF-8 costs that
back; a mapped file truncated underneath raises SIGBUS, which would kill the process.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from functools import cache
from hashlib import blake2b
from pathlib import Path
from typing import Any

from sessmap.transcripts import lines as reading
from sessmap.transcripts.entries import Note
from sessmap.transcripts.sniff import Scan
from sessmap.transcripts.summary import Summary, _Builder, summarize

FORMAT = 1
SMALLEST = 1 << 18
"""A smaller file is read whole, no cache: reading 256 KiB costs about what a cache file's
lookup and write do (``list --fields`` over a thousand 20 kB transcripts would only slow)."""
EDGE = 4096
"""How many bytes at the start of the file, and before the saved offset, must be unchanged."""
LARGEST = 8 << 20
"""A cache file larger than this is not read (a summary's state is a few hundred bytes, more
only with many notes)."""
# What reading a corrupt or foreign entry can raise (JSON nested too deep: RecursionError).
_BROKEN = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)
_SOURCES = ("entries.py", "entries_codex.py", "lines.py", "sniff.py", "summary.py", "summary_cache.py")


def cache_dir() -> Path:
    """Where the summaries are kept: ``SESSMAP_HOME/cache``, else the user cache folder."""
    from sessmap.config import APP_NAME, home_override

    home = home_override()
    if home is not None:
        return home / "cache"
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME, appauthor=False)


def forget(path: Path, provider: str) -> None:
    """Drop the saved summary of the transcript at ``path``, before it is deleted: nothing of
    it (its title, its prompts) outlives it here."""
    with contextlib.suppress(OSError):
        _entry_of(provider, path.stat()).unlink(missing_ok=True)


def _entry_of(provider: str, status: os.stat_result) -> Path:
    return cache_dir() / "summaries" / f"{provider}-{status.st_dev}-{status.st_ino}.json"


def summarize_file(path: Path, provider: str) -> Summary:
    """``summary.summarize(path, provider)`` of a claude or codex transcript, resumed from the
    saved state when it still holds (``summarize(path, provider, cache=True)`` calls this)."""
    with path.open("rb", buffering=0) as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_size < SMALLEST:
            return summarize(path, provider)
        return _Resume(path, provider, stream.fileno(), status).run()


class _Resume:
    """One summary of an open regular file: load, read on, save, finish."""

    def __init__(self, path: Path, provider: str, fd: int, status: os.stat_result) -> None:
        self.provider, self.fd, self.status = provider, fd, status
        self.file = _entry_of(provider, status)
        self.where = str(path.absolute())
        self.head = self.tail = b""  # the hashed bytes the loaded state was checked against

    def run(self) -> Summary:
        size = self.status.st_size
        loaded = self._load()
        scan, start = loaded if loaded is not None else (Scan(self.provider), 0)
        stop = _after_last_newline(self.fd, start, size)
        lines = _Range(self.fd, start, stop)
        scan.feed(reading.spans(lines))
        if lines.read < stop - start:
            return scan.result()  # the file shrank as it was read: say what was there, keep nothing
        if stop > start:
            head = self.head if len(self.head) >= EDGE else (self.head + lines.first)[:EDGE]
            self._save(scan, stop, head, (self.tail + lines.last)[-EDGE:])
        scan.feed(reading.spans(_Range(self.fd, stop, size)))  # a last line not yet ended
        return scan.result()

    def _load(self) -> tuple[Scan, int] | None:
        try:
            entry = _read_json(self.file)
            return None if entry is None else self._check(entry)
        except _BROKEN:
            return None  # corrupt or foreign: read the file from its start

    def _check(self, entry: Any) -> tuple[Scan, int] | None:
        status = self.status
        if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("code") != _code():
            return None
        same = (entry["provider"], entry["path"], entry["dev"], entry["ino"]) == (
            self.provider,
            self.where,
            status.st_dev,
            status.st_ino,
        )
        # The same size: untouched only if no write changed its times (ctime cannot be set back).
        grown = status.st_size > entry["size"] or (
            status.st_size == entry["size"]
            and [status.st_mtime_ns, status.st_ctime_ns] == [entry["mtime_ns"], entry["ctime_ns"]]
        )
        offset = entry["offset"]
        if not (same and grown and isinstance(offset, int) and 0 < offset <= entry["size"]):
            return None
        head = os.pread(self.fd, min(EDGE, offset), 0)
        tail = os.pread(self.fd, min(EDGE, offset), max(0, offset - EDGE))
        if [_hash(head), _hash(tail)] != [entry["head"], entry["tail"]]:
            return None
        self.head, self.tail = head, tail
        return _restore(self.provider, entry["scan"]), offset

    def _save(self, scan: Scan, offset: int, head: bytes, tail: bytes) -> None:
        status = self.status
        entry = {
            "format": FORMAT,
            "code": _code(),
            "provider": self.provider,
            "path": self.where,
            "dev": status.st_dev,
            "ino": status.st_ino,
            "size": status.st_size,
            "mtime_ns": status.st_mtime_ns,
            "ctime_ns": status.st_ctime_ns,
            "offset": offset,
            "head": _hash(head),
            "tail": _hash(tail),
            "scan": _state(scan),
        }
        _write_private(self.file, _dump(entry))


def _state(scan: Scan) -> dict[str, Any]:
    """What ``_restore`` needs to go on from where ``scan`` is (after whole lines), as JSON."""
    return {
        "builder": scan.builder.state(),
        "notes": [[note.line, note.message] for note in scan.notes],
        "unknown": dict(scan.unknown),
        "lines": scan.number,
        "size": scan.size,
        "complete": scan.complete,  # False after a line cut at MAX_LINE: the size counts it so
    }


def _restore(provider: str, state: dict[str, Any]) -> Scan:
    """The scan ``state`` gave; ValueError (or TypeError, KeyError) for any other shape."""
    scan = Scan(provider, _Builder.restore(provider, state["builder"]))
    scan.notes = [_note(note) for note in state["notes"]]
    unknown, lines, size, complete = state["unknown"], state["lines"], state["size"], state["complete"]
    if not isinstance(unknown, dict) or not all(_counted(count) for count in unknown.values()):
        raise ValueError("not counts by type")
    if not (_counted(lines) and _counted(size) and lines <= size and isinstance(complete, bool)):
        raise ValueError("not a line count, size and flag")
    scan.unknown, scan.number, scan.size, scan.complete = dict(unknown), lines, size, complete
    return scan


def _counted(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _note(value: object) -> Note:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("not a note")
    line, message = value
    if not (line is None or _counted(line)) or not isinstance(message, str):
        raise ValueError("not a note")
    return Note(line, message)


class _Range:
    """The bytes ``[start, stop)`` of a file, read where one read of the whole file would cut
    them (at multiples of ``CHUNK``: the ``MAX_LINE`` cut is checked after each read, so
    reading from elsewhere could cut a long line differently); what was read, its first and
    last ``EDGE`` bytes kept."""

    def __init__(self, fd: int, start: int, stop: int) -> None:
        self.fd, self.start, self.stop = fd, start, stop
        self.read = 0
        self.first = self.last = b""

    def __iter__(self) -> Iterator[bytes]:
        at, stop, size = self.start, self.stop, reading.CHUNK
        while at < stop:
            chunk = os.pread(self.fd, min(size - at % size, stop - at), at)
            if not chunk:
                break  # the file shrank
            if len(self.first) < EDGE:
                self.first += chunk[: EDGE - len(self.first)]
            self.last = chunk[-EDGE:] if len(chunk) >= EDGE else (self.last + chunk)[-EDGE:]
            at += len(chunk)
            self.read = at - self.start
            yield chunk


def _after_last_newline(fd: int, start: int, size: int) -> int:
    """The offset after the file's last newline (``start`` when none follows it)."""
    at = size
    while at > start:
        low = max(start, at - reading.CHUNK)
        found = os.pread(fd, at - low, low).rfind(b"\n")
        if found >= 0:
            return low + found + 1
        at = low
    return start


def _hash(data: bytes) -> str:
    return blake2b(data, digest_size=16).hexdigest()


@cache
def _code() -> str:
    """This code's version: a cache written by other parsing code is not used."""
    from sessmap import __version__

    here = Path(__file__).parent
    marks = [__version__]
    for name in _SOURCES:
        try:
            found = (here / name).stat()
        except OSError:
            continue
        marks.append(f"{found.st_size}:{found.st_mtime_ns}")
    return " ".join(marks)


def _read_json(file: Path) -> Any:
    """The JSON of a cache file that is ours (a regular file of this user, not too large);
    None when there is none."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as stream:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.getuid() or found.st_size > LARGEST:
            return None
        return _parse(stream.read(LARGEST))


def _dump(entry: dict[str, Any]) -> bytes:
    """An entry as its file holds it: a hash of its JSON, then the JSON (a file cut short, or
    changed by a flipped bit or a hand, is seen, not believed)."""
    data = json.dumps(entry, separators=(",", ":")).encode()
    return _hash(data).encode() + b"\n" + data


def _parse(found: bytes) -> Any:
    check, _, data = found.partition(b"\n")
    if check.decode("ascii") != _hash(data):
        raise ValueError("not the JSON its hash says")
    return json.loads(data)


def _write_private(file: Path, data: bytes) -> None:
    """``file`` holds ``data`` whole or is left as it was; a folder that cannot be written
    (read-only, full) is no error: the cache is only a shortcut."""
    if len(data) > LARGEST:
        return
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        temporary.replace(file)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
