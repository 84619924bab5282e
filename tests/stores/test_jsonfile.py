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

from sessmap.errors import Conflict, InvalidInput, StoreError
from sessmap.model import Mapping
from sessmap.stores import Query, jsonfile, open_store
from sessmap.stores import transcript_files as transcript_files_module
from sessmap.stores.base import TranscriptInfo, TranscriptKey
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
    assert (document["format"], document["version"]) == ("sessmap", 2)
    assert [(m["agent"], m["key"]) for m in document["mappings"]] == [
        ("default", "a"),
        ("default", "b"),
        ("default", "c"),
        ("zeta", "a"),
    ]
    assert document["mappings"][2] == make_mapping("c", labels={"x": "1", "y": "2"}).to_document()
    assert text.startswith('{\n  "format": "sessmap",\n  "version": 2,\n  "mappings": [\n')
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
    assert all((m.host, m.agent_home, m.history) == (None, None, ()) for m in rows)


def test_a_version_1_file_is_rewritten_as_version_2_on_the_next_change(path: Path) -> None:
    shutil.copy(FIXTURES / "json-v1.json", path)
    with JSONStore(path) as store:
        before = list(store.query(Query(sort="key")))
        assert store.schema_version == 2
        assert json.loads(path.read_text())["version"] == 1  # reading changes nothing
        store.update("default", before[0].key, lambda m: m.evolve(host="bot-3"))
        after = list(store.query(Query(sort="key")))
    document = json.loads(path.read_text())
    assert document["version"] == 2
    assert after == [before[0].evolve(host="bot-3"), *before[1:]]
    assert document["mappings"][0]["host"] == "bot-3" and document["mappings"][1]["history"] == []


def test_the_version_2_fixture_holds_its_fields_and_transcripts(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    shutil.copy(FIXTURES / "json-v2.json", path)
    shutil.copytree(FIXTURES / "json-v2.json.transcripts", tmp_path / "sessions.json.transcripts")
    main = TranscriptKey("-home-bot-app", "5f3b2c9e-8a4d-4c1e-9b7a-2d6e8f0a1b3c")
    with JSONStore(path) as store:
        slack = store.get("default", "slack:C024BE91L:1700000000.000100")
        lines = list(store.transcripts.read(main))
        info = store.transcripts.info(main)
        assert store.transcripts.subpaths(main.project_key, main.session_id) == ["subagents/agent-a1"]
        assert [json.loads(text)["summary"] for text in store.transcripts.summaries(main.project_key)] == [
            "greeting"
        ]
        assert sorted(store.transcripts.stored()) == [
            (main.project_key, main.session_id),
            ("codex", "0199a213-81c0-7800-8aa1-bbab2a035a53"),
        ]
        assert store.check() == []
    assert slack is not None and (slack.host, slack.agent_home) == ("bot-1.example", "/home/bot/.claude")
    assert [entry.reason for entry in slack.history] == ["new"]
    assert [json.loads(line)["uuid"] for line in lines] == ["u1", "a1"]
    content = b"".join(line + b"\n" for line in lines)
    assert info == TranscriptInfo(main, 2, len(content), content, 1764579600002)


@pytest.mark.parametrize(
    ("sql", "document"), [("sqlite-v1.sql", "json-v1.json"), ("sqlite-v3.sql", "json-v2.json")]
)
def test_the_sqlite_and_json_fixtures_hold_the_same_mappings(tmp_path: Path, sql: str, document: str) -> None:
    import sqlite3

    db_path = tmp_path / "fixture.db"
    db = sqlite3.connect(db_path)
    db.executescript((FIXTURES / sql).read_text(encoding="utf-8"))
    db.close()
    with open_store(f"sqlite:{db_path}") as sql_store, JSONStore(FIXTURES / document) as json_store:
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


@pytest.mark.slow
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
            with pytest.raises(StoreError, match="locked by another process"):
                store.transcripts.append(MAIN, [b"{}"])  # transcripts change under the same lock
            assert store.transcripts.info(MAIN) is None
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


# --- transcripts: files beside the document ---------------------------------------------------

MAIN = TranscriptKey("-home-bot-app", "0d3c4b2a-1111-4222-8333-444455556666")
SIDE = TranscriptKey(MAIN.project_key, MAIN.session_id, "subagents/agent-a1")


def line(n: int, text: str = "") -> bytes:
    return json.dumps({"type": "user", "n": n, "text": text}).encode()


def transcript_files(path: Path) -> list[Path]:
    return sorted(p for p in path.with_name(path.name + ".transcripts").rglob("*") if p.is_file())


def data_file(path: Path, key: TranscriptKey) -> Path:
    (found,) = [
        p
        for p in transcript_files(path)
        if p.suffix == ".jsonl"
        and p.with_suffix(".json").exists()
        and json.loads(p.with_suffix(".json").read_text())["subpath"] == key.subpath
    ]
    return found


def test_transcripts_stay_out_of_the_document_in_private_files(
    tmp_path: Path, umask: int, make_mapping: MakeMapping
) -> None:
    path = tmp_path / "a" / "sessions.json"
    odd = TranscriptKey("../../etc", "a:b/../c", "x/../../y")  # parts are never used as names
    with JSONStore(path) as store:
        store.insert(make_mapping("k"))
        store.transcripts.append(MAIN, [line(1)])
        store.transcripts.append(odd, [line(2)])
        store.transcripts.set_summary(MAIN.project_key, MAIN.session_id, "{}")
        assert list(store.transcripts.read(odd)) == [line(2)]
    document = {"format": "sessmap", "version": 2, "mappings": [make_mapping("k").to_document()]}
    assert json.loads(path.read_text()) == document  # the transcripts are not in it
    root = path.with_name("sessions.json.transcripts")
    assert mode(root) == 0o700
    folders = [p for p in root.rglob("*") if p.is_dir()]
    files = transcript_files(path)
    assert {mode(p) for p in folders} == {0o700} and {mode(p) for p in files} == {0o600}
    assert len(files) == 5  # two lines files, their metadata, one summary
    for item in (*folders, *files):
        assert jsonfile_name(item.name), item.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # nothing escaped the store's folder


def jsonfile_name(name: str) -> bool:
    import re

    return bool(re.fullmatch(r"[0-9a-f]{64}(\.jsonl?)?|summary\.json", name))


def test_no_folder_appears_before_the_first_transcript(path: Path, make_mapping: MakeMapping) -> None:
    with JSONStore(path) as store:
        store.insert(make_mapping("k"))
        assert store.transcripts.append(MAIN, []) is None
        assert list(store.transcripts.read(MAIN)) == [] and list(store.transcripts.stored()) == []
        store.transcripts.delete(MAIN)
    assert sorted(p.name for p in path.parent.iterdir()) == ["sessions.json", "sessions.json.lock"]


def test_lines_a_crash_left_past_the_metadata_are_ignored_then_cut(path: Path) -> None:
    with JSONStore(path) as store:
        store.transcripts.append(MAIN, [line(0)])
        data = data_file(path, MAIN)
        with data.open("ab") as handle:
            handle.write(line(99) + b"\n" + b'{"half a li')  # written, never counted
        assert list(store.transcripts.read(MAIN)) == [line(0)]
        assert store.check() == []  # an append that died is not damage
        info = store.transcripts.append(MAIN, [line(1)])
        assert list(store.transcripts.read(MAIN)) == [line(0), line(1)]
    assert (
        info is not None
        and data.read_bytes() == line(0) + b"\n" + line(1) + b"\n"
        and info.size == data.stat().st_size
    )


def test_lines_are_fsynced_before_the_metadata_counts_them(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, Path.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(self: Path, target: Path) -> Path:
        events.append(("replace", str(target)))
        return real_replace(self, target)

    with JSONStore(path) as store:
        store.transcripts.append(MAIN, [line(0)])
        monkeypatch.setattr(transcript_files_module.os, "fsync", fsync)
        monkeypatch.setattr(Path, "replace", replace)
        store.transcripts.append(MAIN, [line(1)])
    data = str(data_file(path, MAIN))
    meta = data.removesuffix("l")
    assert events.index(("fsync", data)) < events.index(("replace", meta))
    assert ("fsync", meta + ".tmp") in events[: events.index(("replace", meta))]


def test_a_failed_append_leaves_the_transcript_as_it_was(path: Path) -> None:
    def failing() -> Iterator[bytes]:
        yield from (line(n) for n in range(1200))
        raise OSError("the agent's file went away")

    with JSONStore(path) as store:
        with pytest.raises(OSError, match="went away"):
            store.transcripts.append(SIDE, failing())
        assert store.transcripts.info(SIDE) is None
        before = store.transcripts.append(MAIN, [line(0)])
        with pytest.raises(OSError, match="went away"):
            store.transcripts.append(MAIN, failing())
        with pytest.raises(InvalidInput, match="newline"):
            store.transcripts.append(MAIN, [line(1), b'{"a":\n1}'])
        assert store.transcripts.info(MAIN) == before
        assert list(store.transcripts.read(MAIN)) == [line(0)]
        assert store.check() == []
    assert [p.suffix for p in transcript_files(path)] == [".json", ".jsonl"]


def test_damaged_transcript_files_are_store_errors_and_show_in_check(path: Path) -> None:
    with JSONStore(path) as store:
        store.transcripts.append(MAIN, [line(0), line(1)])
        store.transcripts.append(SIDE, [line(0)])
        main_data, side_data = data_file(path, MAIN), data_file(path, SIDE)
        main_data.write_bytes(line(0) + b"\n")  # lost its last line
        side_data.with_suffix(".json").write_text("{not json")
        with pytest.raises(StoreError, match="ends before the 2 lines") as caught:
            list(store.transcripts.read(MAIN))
        assert "\n" not in str(caught.value)
        with pytest.raises(StoreError, match="damaged"):
            store.transcripts.info(SIDE)
        with pytest.raises(StoreError, match="damaged"):
            store.transcripts.append(MAIN, [line(2)])
        problems = store.check()
    assert len(problems) == 2
    assert any(str(main_data) in p and "bytes where its metadata counts" in p for p in problems)
    assert any("damaged" in p for p in problems)


def test_a_symlinked_transcripts_folder_is_refused(path: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path.with_name("sessions.json.transcripts").symlink_to(elsewhere)
    with JSONStore(path) as store:
        with pytest.raises(StoreError, match="symbolic link"):
            store.transcripts.append(MAIN, [line(0)])
        with pytest.raises(StoreError, match="symbolic link"):
            store.transcripts.info(MAIN)
    assert list(elsewhere.iterdir()) == []


def test_deleting_a_session_removes_its_folders(path: Path) -> None:
    other = TranscriptKey(MAIN.project_key, "other")
    with JSONStore(path) as store:
        store.transcripts.append(MAIN, [line(0)])
        store.transcripts.append(SIDE, [line(1)])
        store.transcripts.append(other, [line(2)])
        store.transcripts.delete(SIDE)
        store.transcripts.delete(MAIN)
        assert len(transcript_files(path)) == 2
        store.transcripts.delete(other)
    root = path.with_name("sessions.json.transcripts")
    assert list(root.iterdir()) == []


def test_appends_and_reads_of_10_mb_stream(path: Path) -> None:
    import tracemalloc

    count, text = 5000, "z" * 2000
    with JSONStore(path) as store:
        tracemalloc.start()
        try:
            info = store.transcripts.append(MAIN, (line(n, text) for n in range(count)))
            _, append_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            total = sum(len(entry) for entry in store.transcripts.read(MAIN, 10))
            _, read_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert info is not None and info.lines == count and info.size > 10_000_000
    assert total == info.size - count - sum(len(line(n, text)) + 1 for n in range(10)) + 10
    assert append_peak < 4_000_000 and read_peak < 500_000  # a batch, or a line: never the whole
