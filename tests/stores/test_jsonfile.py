"""What only the JSON store promises: a readable file, atomic replace under a lock, privacy."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.support import sha256

from sessmap.errors import Conflict, StoreError
from sessmap.model import Mapping
from sessmap.stores import Query, jsonfile, open_store
from sessmap.stores.jsonfile import JSONStore

FIXTURES = Path(__file__).parent / "fixtures"
MakeMapping = Callable[..., Mapping]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.json"


@pytest.fixture(params=[0o000, 0o077], ids=["umask-000", "umask-077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


# --- the file ---------------------------------------------------------------------------------


def test_file_is_readable_sorted_json(path: Path, make_mapping: MakeMapping) -> None:
    with JSONStore(path) as store:
        store.insert(make_mapping("b"))
        store.insert(make_mapping("a", agent="zeta"))
        store.insert(make_mapping("c", labels={"y": "2", "x": "1"}))
        store.insert(make_mapping("a"))
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert (document["format"], document["version"]) == ("sessmap", 1)
    assert [(m["agent"], m["key"]) for m in document["mappings"]] == [
        ("default", "a"),
        ("default", "b"),
        ("default", "c"),
        ("zeta", "a"),
    ]
    assert document["mappings"][2] == make_mapping("c", labels={"x": "1", "y": "2"}).to_dict()
    assert text.startswith('{\n  "format": "sessmap",\n  "version": 1,\n  "mappings": [\n')
    assert text.endswith("}\n")


def test_unicode_is_written_as_is(path: Path, make_mapping: MakeMapping) -> None:
    with JSONStore(path) as store:
        store.insert(make_mapping("ключ ✓"))
    assert "ключ ✓" in path.read_text(encoding="utf-8")


def test_new_store_creates_no_file_until_the_first_write(tmp_path: Path, make_mapping: MakeMapping) -> None:
    path = tmp_path / "new" / "sessions.json"
    with JSONStore(path) as store:
        assert not path.exists()
        assert list(store.query(Query())) == []
        store.insert(make_mapping("k"))
    assert path.exists()


def test_url_names_the_file(path: Path) -> None:
    with open_store(str(path)) as store:
        assert isinstance(store, JSONStore)
        assert store.url == f"json:{path}"


def test_version_1_fixture_opens_and_keeps_its_rows(path: Path) -> None:
    shutil.copy(FIXTURES / "json-v1.json", path)
    with JSONStore(path) as store:
        rows = list(store.query(Query(sort="key")))
        assert store.check() == []
    assert [m.key for m in rows] == [
        "discord:1234567890123456789",
        "slack:C024BE91L:1700000000.000100",
        "telegram:-1001234567890:42",
        "ticket:ENG-1 ключ ✓",
    ]
    fork = rows[3]
    assert fork.parent is not None and fork.parent.key == rows[1].key


def test_the_sqlite_and_json_fixtures_hold_the_same_mappings(tmp_path: Path) -> None:
    import sqlite3

    db_path = tmp_path / "v1.db"
    db = sqlite3.connect(db_path)
    db.executescript((FIXTURES / "sqlite-v1.sql").read_text(encoding="utf-8"))
    db.close()
    with open_store(f"sqlite:{db_path}") as sql_store, JSONStore(FIXTURES / "json-v1.json") as json_store:
        assert list(sql_store.query(Query(sort="key"))) == list(json_store.query(Query(sort="key")))


# --- privacy ----------------------------------------------------------------------------------


def test_files_are_private_under_any_umask(tmp_path: Path, umask: int, make_mapping: MakeMapping) -> None:
    path = tmp_path / "a" / "b" / "sessions.json"
    with JSONStore(path) as store:
        store.insert(make_mapping("k"))
        with store.thread_lock("default", "k", 0):
            locks_dir = path.with_name("sessions.json.locks")
            assert mode(locks_dir) == 0o700
            assert [mode(lock) for lock in locks_dir.iterdir()] == [0o600]
    assert mode(path) == 0o600
    assert mode(path.with_name("sessions.json.lock")) == 0o600
    assert mode(tmp_path / "a") == mode(tmp_path / "a" / "b") == 0o700


def test_existing_folder_keeps_its_mode(tmp_path: Path, make_mapping: MakeMapping) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    with JSONStore(folder / "sessions.json") as store:
        store.insert(make_mapping("k"))
    assert mode(folder) == 0o755


# --- atomic writes ----------------------------------------------------------------------------


def test_lock_file_is_never_replaced_or_deleted(path: Path, make_mapping: MakeMapping) -> None:
    lock = path.with_name("sessions.json.lock")
    with JSONStore(path) as store:
        store.insert(make_mapping("a"))
        inode = lock.stat().st_ino
        changes: list[Callable[[], object]] = [
            lambda: store.insert(make_mapping("b")),
            lambda: store.update("default", "a", lambda m: m.evolve(turns=1)),
            lambda: store.delete("default", "b"),
        ]
        for change in changes:
            change()
            # Checked after each release: an unlinked and re-created lock file may get the
            # same inode number back, so the number alone cannot tell.
            assert lock.exists()
            assert lock.stat().st_ino == inode
    assert lock.stat().st_ino == inode


def test_every_write_replaces_the_file(path: Path, make_mapping: MakeMapping) -> None:
    with JSONStore(path) as store:
        store.insert(make_mapping("a"))
        first = path.stat().st_ino
        store.insert(make_mapping("b"))
        assert path.stat().st_ino != first  # a new file renamed over the old, never rewritten in place


def test_stale_temp_files_are_swept_under_the_lock(path: Path, make_mapping: MakeMapping) -> None:
    folder = path.parent
    stale = [folder / ".sessions.json.k3x_9a0b.tmp", folder / ".sessions.json.zzzzzzzz.tmp"]
    unrelated = [folder / ".other.json.abcdefgh.tmp", folder / ".sessions.json.notmine", folder / "notes.tmp"]
    for file in stale + unrelated:
        file.write_text("{half a fil")
    with JSONStore(path) as store:
        assert all(file.exists() for file in stale)  # reading sweeps nothing
        store.insert(make_mapping("k"))
    assert not any(file.exists() for file in stale)
    assert all(file.exists() for file in unrelated)


def test_a_failed_change_leaves_no_trace(path: Path, make_mapping: MakeMapping) -> None:
    with JSONStore(path) as store:
        store.insert(make_mapping("k"))
        before = sha256(path)
        with pytest.raises(Conflict):
            store.insert(make_mapping("k"))
    assert sha256(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["sessions.json", "sessions.json.lock"]


HOLD_FILE_LOCK = """
import sys, time
from filelock import FileLock
with FileLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(600)
"""


@contextlib.contextmanager
def held_by_another_process(lock_path: Path) -> Iterator[None]:
    command = [sys.executable, "-c", HOLD_FILE_LOCK, str(lock_path)]
    holder = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_reads_need_no_lock_and_writes_wait_for_it(
    path: Path, make_mapping: MakeMapping, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonfile, "LOCK_TIMEOUT", timedelta(seconds=0.2))
    with JSONStore(path) as store:
        store.insert(make_mapping("k"))
        with held_by_another_process(path.with_name("sessions.json.lock")):
            assert store.get("default", "k") is not None
            with pytest.raises(StoreError, match="locked by another process"):
                store.insert(make_mapping("other"))
            assert [m.key for m in store.query(Query())] == ["k"]
        store.insert(make_mapping("other"))  # free again
    assert [m["key"] for m in json.loads(path.read_text())["mappings"]] == ["k", "other"]


# --- refusing files that are not ours, without touching them -----------------------------------

DOCUMENT = {"format": "sessmap", "version": 1, "mappings": []}
VALID_ENTRY = {"key": "k", "provider": "claude", "session_id": "s1", "created_at": "2026-01-01T00:00:00Z"}


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


BAD_FILES = [
    ("random-bytes", os.urandom(512), "is not valid JSON (corrupt or truncated)"),
    ("truncated", (FIXTURES / "json-v1.json").read_bytes()[:700], "is not valid JSON (corrupt or truncated)"),
    ("not-utf8", b'{"format": "sessmap\xff"}', "is not valid JSON"),
    ("a-list", _json([1, 2]), "is not a sessmap store (a JSON file of another kind)"),
    ("package-json", _json({"name": "app", "version": "1.0.0"}), "is not a sessmap store"),
    ("newer", _json({**DOCUMENT, "version": 7}), "was written by a newer sessmap (format version 7"),
    ("bad-version", _json({**DOCUMENT, "version": "1"}), "invalid version"),
    ("no-mappings", _json({"format": "sessmap", "version": 1}), "'mappings' is not a list"),
    ("sqlite", b"SQLite format 3\x00" + bytes(4080), "is not valid JSON"),
]


@pytest.mark.parametrize(("content", "message"), [pytest.param(c, m, id=n) for n, c, m in BAD_FILES])
def test_bad_file_is_refused_untouched(path: Path, content: bytes, message: str) -> None:
    path.write_bytes(content)
    listing = sorted(os.listdir(path.parent))
    with pytest.raises(StoreError) as caught:
        JSONStore(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_bytes() == content
    assert sorted(os.listdir(path.parent)) == listing


def test_file_damaged_while_open_stops_writes_untouched(path: Path, make_mapping: MakeMapping) -> None:
    with JSONStore(path) as store:
        store.insert(make_mapping("k"))
        path.write_text('{"format": "sessmap", "version": 9, "mappings": []}')
        before = sha256(path)
        with pytest.raises(StoreError, match="newer sessmap"):
            store.insert(make_mapping("other"))
        with pytest.raises(StoreError, match="newer sessmap"):
            store.get("default", "k")
    assert sha256(path) == before


def test_empty_file_is_a_new_store(path: Path, make_mapping: MakeMapping) -> None:
    path.touch()
    with JSONStore(path) as store:
        assert list(store.query(Query())) == []
        store.insert(make_mapping("k"))
        assert store.get("default", "k") is not None


def test_bad_entries_fail_reads_and_show_in_check(path: Path, make_mapping: MakeMapping) -> None:
    bad_id = {**VALID_ENTRY, "key": "a", "session_id": "--resume"}
    bad_key = {**VALID_ENTRY, "key": "b\x00"}
    path.write_text(json.dumps({**DOCUMENT, "mappings": [bad_id, VALID_ENTRY, bad_key, VALID_ENTRY]}))
    before = sha256(path)
    with JSONStore(path) as store:  # opens, so that `doctor` can report
        problems = store.check()
        with pytest.raises(StoreError, match="mapping #1 is invalid"):
            store.get("default", "k")
        with pytest.raises(StoreError, match="mapping #1 is invalid"):
            store.insert(make_mapping("new"))
    assert sha256(path) == before
    assert len(problems) == 3
    assert "mapping #1 is invalid" in problems[0] and "session id" in problems[0]
    assert "mapping #3 is invalid" in problems[1]
    assert "mapping #4 is invalid" in problems[2] and "appears twice" in problems[2]
