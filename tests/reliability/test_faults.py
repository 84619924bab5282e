"""Faults under the installed CLI: a full disk, read-only folders and files, a store path that
is a symlink or a folder, foreign, newer and truncated store files.

Each case checks the whole promise of SPEC §6: exactly one ``sessmap: error: …`` line on
stderr, no traceback, the documented exit code (1: operational), nothing on stdout, and the
store folder byte for byte as it was (every file's hash and mode, and the listing: no temp,
-wal or -shm file left behind).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from reliability_support import Unprivileged, fingerprint, ok
from tests.support.backends import file_store_url, store_path
from tests.support.cli import one_error_line, run_sessmap

from sessmap.stores.locks import locks_dir_for, thread_lock_path

# 40 labels of 1000 four-byte characters: a write of about 160 KB, far past the limits below.
BIG_LABELS = [arg for n in range(40) for arg in ("-l", f"big{n}=" + "\U0001f600" * 1000)]
FILE_SIZE_LIMIT = 128 * 1024  # a new SQLite store is 16 pages (64 KiB); BIG_LABELS are 160 kB


def assert_failed_cleanly(result: subprocess.CompletedProcess[str], exit_code: int, needle: str) -> str:
    line = one_error_line(result)
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert needle in line, line
    return line


def seeded_store(folder: Path, kind: str, **options: object) -> str:
    """A store of ``kind`` in ``folder`` holding one mapping; returns its URL."""
    url = file_store_url(kind, folder)
    ok("--store", url, "create", "seed", "-l", "team=infra", **options)
    return url


# --- a full disk -----------------------------------------------------------------------------


def file_size_limit(limit: int) -> Callable[[], None]:
    """preexec_fn: files may not grow past ``limit`` bytes; writes past it fail with EFBIG
    (SIGXFSZ, which would kill the process instead, is ignored)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_a_write_past_the_file_size_limit_fails_cleanly(tmp_path: Path, file_kind: str) -> None:
    url = seeded_store(tmp_path, file_kind)
    assert store_path(tmp_path, file_kind).stat().st_size < FILE_SIZE_LIMIT
    before = fingerprint(tmp_path)

    result = run_sessmap(
        "--store", url, "create", "big", *BIG_LABELS, preexec_fn=file_size_limit(FILE_SIZE_LIMIT)
    )

    # SQLite says "database or disk is full"; the JSON store names the errno (File too large).
    line = assert_failed_cleanly(result, 1, "")
    assert any(text in line for text in ("disk is full", "disk I/O error", "File too large")), line
    assert fingerprint(tmp_path) == before
    # Nothing half-written blocks the next write.
    ok("--store", url, "set", "seed", "-l", "after=yes")
    assert json.loads(ok("--store", url, "show", "seed", "--json").stdout)["labels"] == {
        "after": "yes",
        "team": "infra",
    }


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted for this test (needs root and a kernel that allows it).

    Where mounting is not possible the test is skipped with the reason; the RLIMIT_FSIZE test
    above covers the same failure path (a write error in the middle of a write) everywhere.
    """
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "sessmap-test", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def fill(folder: Path, leave: int) -> None:
    """Fill the filesystem of ``folder`` until about ``leave`` bytes are free."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with (folder / "filler").open("wb") as filler:
        filler.write(b"\0" * max(free - leave, 0))


@pytest.mark.slow
def test_a_full_tmpfs_fails_cleanly(small_tmpfs: Path, file_kind: str) -> None:
    store_folder = small_tmpfs / "store"
    url = seeded_store(store_folder, file_kind)
    fill(small_tmpfs, leave=48 * 1024)  # room for SQLite's 32 KiB -shm, not for the write
    before = fingerprint(small_tmpfs)

    result = run_sessmap("--store", url, "create", "big", *BIG_LABELS)

    line = assert_failed_cleanly(result, 1, "")
    assert any(text in line for text in ("disk is full", "disk I/O error", "No space left")), line
    assert fingerprint(small_tmpfs) == before
    (small_tmpfs / "filler").unlink()
    ok("--store", url, "set", "seed", "-l", "after=yes")


# --- read-only folders and files, for a user permissions apply to ----------------------------


@pytest.mark.slow
def test_a_read_only_store_folder_refuses_writes(unprivileged: Unprivileged, file_kind: str) -> None:
    folder = unprivileged.folder
    run = {"env": unprivileged.env(), "prefix": unprivileged.prefix, "cwd": folder}
    url = seeded_store(folder, file_kind, **run)
    folder.chmod(0o500)
    before = fingerprint(folder)

    for args in (["create", "new"], ["set", "seed", "-l", "x=y"], ["rm", "seed"]):
        result = run_sessmap("--store", url, *args, **run)  # type: ignore[arg-type]
        line = assert_failed_cleanly(result, 1, "")
        assert any(text in line for text in ("Permission denied", "readonly", "unable to open")), line
        assert fingerprint(folder) == before, args
    reading = run_sessmap("--store", url, "list", "--format", "keys", **run)  # type: ignore[arg-type]
    if file_kind == "json":
        assert (reading.returncode, reading.stdout) == (0, "seed\n"), reading.stderr
    else:
        # A WAL database cannot be opened where its -wal and -shm files cannot be made:
        # SQLite refuses reads too, cleanly.
        assert_failed_cleanly(reading, 1, "readonly")
    assert fingerprint(folder) == before


@pytest.mark.slow
def test_a_read_only_store_file_refuses_writes(unprivileged: Unprivileged, file_kind: str) -> None:
    folder = unprivileged.folder
    run = {"env": unprivileged.env(), "prefix": unprivileged.prefix, "cwd": folder}
    url = seeded_store(folder, file_kind, **run)
    store_path(folder, file_kind).chmod(0o400)
    before = fingerprint(folder)

    for args in (["create", "new"], ["set", "seed", "-l", "x=y"], ["rm", "seed"]):
        result = run_sessmap("--store", url, *args, **run)  # type: ignore[arg-type]
        line = assert_failed_cleanly(result, 1, "")
        assert any(text in line for text in ("read-only", "readonly", "Permission denied")), line
        assert fingerprint(folder) == before, args


# --- what is at the store path -----------------------------------------------------------------


@pytest.mark.slow
def test_a_symlinked_store_is_refused(tmp_path: Path, file_kind: str) -> None:
    """A store path that is a symlink is refused, for reads and writes: following it would let
    whoever can write the folder redirect the map (or create files) wherever the link points."""
    real = tmp_path / "real"
    url = seeded_store(real, file_kind)
    link_folder = tmp_path / "links"
    link_folder.mkdir(mode=0o700)
    link = store_path(link_folder, file_kind)
    link.symlink_to(store_path(real, file_kind))
    before = fingerprint(tmp_path)

    link_url = f"{file_kind}:{link}"
    for args in (["create", "new"], ["get", "seed"], ["list"]):
        result = run_sessmap("--store", link_url, *args)
        assert_failed_cleanly(result, 1, "symbolic link")
        assert fingerprint(tmp_path) == before, args
    assert ok("--store", url, "get", "seed").stdout.strip()


def test_a_dangling_symlinked_store_is_refused(tmp_path: Path, file_kind: str) -> None:
    target = tmp_path / "elsewhere" / "planted"
    target.parent.mkdir()
    link = store_path(tmp_path / "links", file_kind)
    link.parent.mkdir()
    link.symlink_to(target)
    before = fingerprint(tmp_path)

    for args in (["create", "new"], ["get", "seed"]):
        result = run_sessmap("--store", f"{file_kind}:{link}", *args)
        assert_failed_cleanly(result, 1, "symbolic link")
        assert not target.exists()
        assert fingerprint(tmp_path) == before, args


def test_a_symlink_at_a_thread_lock_path_is_refused(tmp_path: Path, file_kind: str) -> None:
    """A link planted where a thread's lock file goes is never followed, so exec cannot be made
    to create or lock a file elsewhere; the run fails cleanly and runs no agent."""
    url = seeded_store(tmp_path / "store", file_kind)
    target = tmp_path / "elsewhere" / "planted"
    target.parent.mkdir()
    lock = thread_lock_path(locks_dir_for(store_path(tmp_path / "store", file_kind)), "default", "seed")
    lock.parent.mkdir(mode=0o700, exist_ok=True)
    lock.symlink_to(target)
    ran = tmp_path / "agent-ran"

    result = run_sessmap("--store", url, "exec", "seed", "--", "touch", str(ran))
    assert_failed_cleanly(result, 125, "cannot lock")  # exec: sessmap failed, not the agent
    assert not target.exists() and not ran.exists()


def test_a_folder_at_the_store_path_is_refused(tmp_path: Path, file_kind: str) -> None:
    path = store_path(tmp_path, file_kind)
    path.mkdir()
    (path / "inside").write_text("keep me")
    before = fingerprint(tmp_path)
    for args in (["create", "new"], ["get", "seed"]):
        result = run_sessmap("--store", f"{file_kind}:{path}", *args)
        assert_failed_cleanly(result, 1, "")
        assert fingerprint(tmp_path) == before, args


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO invoices (total) VALUES (9.5)")
    db.close()
    before = fingerprint(tmp_path)
    for args in (["create", "new"], ["get", "seed"], ["list"]):
        result = run_sessmap("--store", f"sqlite:{path}", *args)
        assert_failed_cleanly(result, 1, "not a sessmap store")
        assert fingerprint(tmp_path) == before, args


def _newer_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO sessmap_migrations (version, name, applied_at) VALUES (99, 'm099', 'x')")
    db.close()


def _newer_json(path: Path) -> None:
    document = json.loads(path.read_text())
    document["version"] = 99
    path.write_text(json.dumps(document))


@pytest.mark.slow
def test_a_store_of_a_newer_schema_is_refused(tmp_path: Path, file_kind: str) -> None:
    url = seeded_store(tmp_path, file_kind)
    {"sqlite": _newer_sqlite, "json": _newer_json}[file_kind](store_path(tmp_path, file_kind))
    before = fingerprint(tmp_path)
    for args in (["create", "new"], ["get", "seed"], ["set", "seed", "-l", "a=b"], ["rm", "seed"]):
        result = run_sessmap("--store", url, *args)
        assert_failed_cleanly(result, 1, "newer sessmap")
        assert fingerprint(tmp_path) == before, args


@pytest.mark.slow
def test_a_truncated_store_is_refused(tmp_path: Path, file_kind: str) -> None:
    url = seeded_store(tmp_path, file_kind)
    for n in range(20):
        ok("--store", url, "create", f"k{n}", "-l", "pad=" + "x" * 500)
    path = store_path(tmp_path, file_kind)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = fingerprint(tmp_path)
    for args in (["create", "new"], ["get", "seed"], ["list"]):
        result = run_sessmap("--store", url, *args)
        assert_failed_cleanly(result, 1, "truncated")
        assert fingerprint(tmp_path) == before, args
