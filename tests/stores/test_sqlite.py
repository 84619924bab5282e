"""What only the SQLite store promises: privacy, WAL, indexes, safe opening, migrations."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import stat
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.support import sha256

from sessmap.errors import InvalidInput, StoreError
from sessmap.model import HistoryEntry, Mapping
from sessmap.stores import Query, open_store
from sessmap.stores import sqlite as sqlite_store
from sessmap.stores.base import TAIL_BYTES, TranscriptInfo, TranscriptKey, next_tail
from sessmap.stores.sqlite import SCHEMA_VERSION, SQLiteStore, prefix_upper_bound
from sessmap.stores.sqlite_transcripts import tail_after

FIXTURES = Path(__file__).parent / "fixtures"
MakeMapping = Callable[..., Mapping]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o077], ids=["umask-000", "umask-077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.db"


# --- privacy ----------------------------------------------------------------------------------


def test_new_store_is_private_under_any_umask(tmp_path: Path, umask: int, make_mapping: MakeMapping) -> None:
    path = tmp_path / "a" / "b" / "sessions.db"
    with SQLiteStore(path) as store:
        store.insert(make_mapping("k"))
        assert mode(path) == 0o600
        for sidecar in (path.with_name("sessions.db-wal"), path.with_name("sessions.db-shm")):
            assert mode(sidecar) == 0o600  # SQLite gives them the database file's mode
        with store.thread_lock("default", "k", 0):
            locks_dir = path.with_name("sessions.db.locks")
            assert mode(locks_dir) == 0o700
            assert [mode(lock) for lock in locks_dir.iterdir()] == [0o600]
    assert mode(tmp_path / "a") == 0o700
    assert mode(tmp_path / "a" / "b") == 0o700


def test_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    SQLiteStore(folder / "sessions.db").close()
    assert mode(folder) == 0o755
    assert mode(folder / "sessions.db") == 0o600


def test_url_names_the_file(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        assert store.url == f"sqlite:{db_path}"


def test_open_store_picks_sqlite_for_db_paths(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "x.sqlite3")) as store:
        assert isinstance(store, SQLiteStore)


# --- WAL and indexes --------------------------------------------------------------------------


def test_store_runs_in_wal_mode(db_path: Path) -> None:
    SQLiteStore(db_path).close()
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()


@pytest.fixture
def traced(db_path: Path, make_mapping: MakeMapping) -> Iterator[tuple[SQLiteStore, list[str]]]:
    """A store with some rows, and the SQL (values inlined) each call runs."""
    with SQLiteStore(db_path) as store:
        store.insert_many((make_mapping(f"slack:C{n % 7}:{n}") for n in range(300)), "fail")
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        yield store, statements
        store._db.set_trace_callback(None)


def plan(store: SQLiteStore, statements: list[str]) -> str:
    """The query plan of the one SELECT the store ran."""
    (select,) = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    store._db.set_trace_callback(None)
    return "\n".join(row[3] for row in store._db.execute(f"EXPLAIN QUERY PLAN {select}"))


CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)
LAST_SEEN_BEFORE = "USING INDEX mappings_last_seen (<expr><?)"
KEY_RANGE = "USING INDEX mappings_key (key>? AND key<?)"
QUERY_PLANS: list[tuple[str, Callable[[SQLiteStore], object], str]] = [
    ("get", lambda s: s.get("default", "slack:C1:1"), "sqlite_autoindex_mappings_1 (agent=? AND key=?)"),
    ("older-than", lambda s: list(s.query(Query(seen_before=CUTOFF))), LAST_SEEN_BEFORE),
    ("newer-than", lambda s: list(s.query(Query(seen_since=CUTOFF))), "mappings_last_seen (<expr>>?)"),
    ("prune", lambda s: s.delete_matching(Query(seen_before=CUTOFF)), LAST_SEEN_BEFORE),
    ("prefix", lambda s: list(s.query(Query(prefix="slack:C1:", sort="key"))), KEY_RANGE),
    ("glob", lambda s: list(s.query(Query(match="slack:C1:*", sort="key"))), KEY_RANGE),
    ("agent-prefix", lambda s: list(s.query(Query(agent="default", prefix="s"))), "(agent=? AND key>?"),
    ("forks", lambda s: list(s.query(Query(parent=("default", "x")))), "(parent_agent=? AND parent_key=?)"),
]


@pytest.mark.parametrize(("call", "expected"), [pytest.param(c, e, id=n) for n, c, e in QUERY_PLANS])
def test_lookups_use_an_index(
    traced: tuple[SQLiteStore, list[str]], call: Callable[[SQLiteStore], object], expected: str
) -> None:
    store, statements = traced
    call(store)
    found = plan(store, statements)
    assert expected in found
    assert "SCAN mappings\n" not in found + "\n"  # never a full table scan


@pytest.mark.parametrize(
    ("query", "index"),
    [
        pytest.param(Query(), "mappings_last_seen", id="last-used"),
        pytest.param(Query(sort="created"), "mappings_created", id="created"),
        pytest.param(Query(sort="key"), "mappings_key", id="key"),
        pytest.param(Query(sort="key", reverse=True), "mappings_key", id="key-reverse"),
    ],
)
def test_listing_order_comes_from_an_index(
    traced: tuple[SQLiteStore, list[str]], query: Query, index: str
) -> None:
    store, statements = traced
    next(store.query(query))
    found = plan(store, statements)
    assert f"SCAN mappings USING INDEX {index}" in found
    assert "TEMP B-TREE" not in found  # no sort step: rows stream in index order


def test_prefix_upper_bound() -> None:
    assert prefix_upper_bound("ab") == "ac"
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\U0010ffff") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"  # skips the surrogates


def test_prefix_at_the_top_of_unicode(db_path: Path, make_mapping: MakeMapping) -> None:
    with SQLiteStore(db_path) as store:
        for key in ("\U0010ffff", "\U0010ffffa", "\U0010fffe", "z"):
            store.insert(make_mapping(key))
        assert [m.key for m in store.query(Query(prefix="\U0010ffff", sort="key"))] == [
            "\U0010ffff",
            "\U0010ffffa",
        ]


# --- refusing files that are not ours, without touching them -----------------------------------


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _text(path: Path) -> None:
    path.write_text("name,session\nslack,abc\n")


def _json(path: Path) -> None:
    path.write_text('{"format": "sessmap", "version": 1, "mappings": []}\n')


def _populated(path: Path) -> None:
    with SQLiteStore(path) as store:
        for n in range(400):
            store.insert(
                Mapping(
                    key=f"k{n:04}" + "x" * 200,
                    provider="claude",
                    session_id=f"s{n}",
                    created_at=datetime(2026, 1, 1, tzinfo=UTC),
                    updated_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )


def _truncated_at_a_page(path: Path) -> None:
    _populated(path)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 4096 // 2 * 4096)


def _truncated_mid_page(path: Path) -> None:
    _populated(path)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size - 1000)


def _truncated_to_a_stub(path: Path) -> None:
    _populated(path)
    with path.open("r+b") as handle:
        handle.truncate(60)


def _damaged_schema(path: Path) -> None:
    _populated(path)
    with path.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\xff" * 3000)  # page 1 holds sqlite_master


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO users (name) VALUES ('ada')")
    db.commit()
    db.close()


def _recorded_schema(version: int, name: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        _populated(path)
        db = sqlite3.connect(path)
        db.execute(
            "INSERT OR REPLACE INTO sessmap_migrations VALUES (?, ?, '2030-01-01T00:00:00Z')", (version, name)
        )
        db.commit()
        db.execute("PRAGMA journal_mode = DELETE")  # leave no -wal/-shm behind
        db.close()

    return make


NEWER = f"was written by a newer sessmap (schema 7, this one knows {SCHEMA_VERSION}); upgrade sessmap"
FOREIGN = "is not a sessmap store (a SQLite database with other tables); use another path"
BAD_FILES = [
    ("random-bytes", _random_bytes, "is not a sessmap store (not a SQLite database"),
    ("text", _text, "is not a sessmap store (not a SQLite database"),
    ("a-json-store", _json, "is not a sessmap store (not a SQLite database"),
    ("truncated-at-page", _truncated_at_a_page, "is truncated or corrupt"),
    ("truncated-mid-page", _truncated_mid_page, "is truncated or corrupt"),
    ("truncated-stub", _truncated_to_a_stub, "is not a sessmap store (not a SQLite database"),
    ("damaged-schema", _damaged_schema, "is corrupt"),
    ("foreign", _foreign, FOREIGN),
    ("newer", _recorded_schema(7, "m007_future"), NEWER),
    ("other-history", _recorded_schema(1, "m001_something_else"), "unknown schema history"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "message"), [pytest.param(m, e, id=n) for n, m, e in BAD_FILES])
def test_bad_file_is_refused_untouched(tmp_path: Path, make: Callable[[Path], None], message: str) -> None:
    path = tmp_path / "sessions.db"
    make(path)
    before, listing = sha256(path), sorted(os.listdir(tmp_path))
    with pytest.raises(StoreError) as caught:
        SQLiteStore(path)
    text = str(caught.value)
    assert message in text
    assert str(path) in text and "\n" not in text  # one clear line naming the file
    assert sha256(path) == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -wal, -shm or .locks either


def test_a_folder_in_the_way_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "sessions.db").mkdir()
    with pytest.raises(StoreError, match=r"sessions\.db"):
        SQLiteStore(tmp_path / "sessions.db")


def test_empty_file_becomes_a_store(db_path: Path, make_mapping: MakeMapping) -> None:
    db_path.touch()
    with SQLiteStore(db_path) as store:
        store.insert(make_mapping("k"))
        assert store.get("default", "k") is not None


def test_empty_sqlite_database_becomes_a_store(db_path: Path) -> None:
    sqlite3.connect(db_path).close()
    with SQLiteStore(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION


# --- migrations -------------------------------------------------------------------------------


def load_fixture(name: str, path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript((FIXTURES / name).read_text(encoding="utf-8"))
    finally:
        db.close()


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("sqlite-v*.sql")))
def test_every_historical_schema_opens_and_keeps_its_rows(db_path: Path, fixture: str) -> None:
    load_fixture(fixture, db_path)
    raw = sqlite3.connect(db_path)
    count = raw.execute("SELECT count(*) FROM mappings").fetchone()[0]
    raw.close()
    with SQLiteStore(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        rows = list(store.query(Query(sort="key")))
        assert store.check() == []
    assert len(rows) == count == 4
    fork = next(m for m in rows if m.state == "pending-fork")
    assert fork.key == "ticket:ENG-1 ключ ✓"
    assert fork.parent is not None and fork.parent.key == "slack:C024BE91L:1700000000.000100"
    first = next(m for m in rows if m.key.startswith("slack:"))
    assert dict(first.labels) == {"channel": "#eng", "team": "core"}
    assert (first.turns, first.last_exit, first.cwd) == (4, 0, "/home/bot/app")


def test_fixture_matches_the_current_schema(db_path: Path, tmp_path: Path) -> None:
    """The newest fixture is what a new store looks like, so the fixtures stay honest."""
    newest = sorted(FIXTURES.glob("sqlite-v*.sql"))[-1].name
    assert newest == f"sqlite-v{SCHEMA_VERSION}.sql"
    load_fixture(newest, db_path)
    SQLiteStore(tmp_path / "new.db").close()

    def schema(path: Path) -> list[tuple[str, str]]:
        db = sqlite3.connect(path)
        try:
            rows = db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            return [(name, " ".join(sql.split())) for name, sql in rows]
        finally:
            db.close()

    assert schema(db_path) == schema(tmp_path / "new.db")


NEXT = SCHEMA_VERSION + 1  # the version a pretend future migration gets


def test_a_version_1_store_migrates_with_the_new_fields_empty(db_path: Path) -> None:
    load_fixture("sqlite-v1.sql", db_path)
    with SQLiteStore(db_path) as store:
        rows = list(store.query(Query(sort="key")))
        assert len(rows) == 4
        assert all((m.host, m.agent_home, m.history) == (None, None, ()) for m in rows)
        assert list(store.transcripts.stored()) == []
        assert store.check() == []
        # The migrated table takes the new fields like a new one.
        store.update("default", rows[0].key, lambda m: m.evolve(host="h", agent_home="/home/h/.claude"))
        assert store.get("default", rows[0].key) == rows[0].evolve(host="h", agent_home="/home/h/.claude")


def test_the_version_3_fixture_holds_its_fields_and_transcripts(db_path: Path) -> None:
    load_fixture("sqlite-v3.sql", db_path)
    with SQLiteStore(db_path) as store:
        slack = store.get("default", "slack:C024BE91L:1700000000.000100")
        codex = store.get("reviewer", "telegram:-1001234567890:42")
        transcripts = store.transcripts
        main = TranscriptKey("-home-bot-app", "5f3b2c9e-8a4d-4c1e-9b7a-2d6e8f0a1b3c")
        lines = list(transcripts.read(main))
        info = transcripts.info(main)
        subpaths = transcripts.subpaths(main.project_key, main.session_id)
        summaries = transcripts.summaries(main.project_key)
        stored = sorted(transcripts.stored())
    assert slack is not None and codex is not None
    assert (slack.host, slack.agent_home) == ("bot-1.example", "/home/bot/.claude")
    assert slack.history == (
        HistoryEntry("1a2b3c4d-0000-4000-8000-000000000001", datetime(2026, 9, 30, 18, tzinfo=UTC), "new"),
    )
    assert (codex.host, codex.agent_home, codex.history) == ("bot-2", "/home/bot/.codex", ())
    assert [json.loads(line)["uuid"] for line in lines] == ["u1", "a1"]
    assert json.loads(lines[0])["message"]["content"] == "hi żółw"
    content = b"".join(line + b"\n" for line in lines)
    assert info == TranscriptInfo(main, 2, len(content), content, 1764579600001)
    assert subpaths == ["subagents/agent-a1"]
    assert [json.loads(text)["summary"] for text in summaries] == ["greeting"]
    assert stored == [("-home-bot-app", main.session_id), ("codex", "0199a213-81c0-7800-8aa1-bbab2a035a53")]


@pytest.fixture
def next_migration(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Pretend the code knows one more schema, which adds a column; records each run."""
    runs: list[str] = []

    def m_next_add_note(db: sqlite3.Connection) -> None:
        runs.append("next")
        db.execute("ALTER TABLE mappings ADD COLUMN note TEXT")

    monkeypatch.setattr(sqlite_store, "MIGRATIONS", (*sqlite_store.MIGRATIONS, m_next_add_note))
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", NEXT)
    return runs


def test_outstanding_migrations_run_once_on_open(db_path: Path, next_migration: list[str]) -> None:
    load_fixture("sqlite-v1.sql", db_path)
    with SQLiteStore(db_path) as store:
        assert store.schema_version == NEXT
        assert len(list(store.query(Query()))) == 4
    SQLiteStore(db_path).close()
    assert next_migration == ["next"]
    db = sqlite3.connect(db_path)
    recorded = db.execute("SELECT version, name FROM sessmap_migrations ORDER BY version").fetchall()
    db.close()
    assert recorded == [
        (1, "m001_create_mappings"),
        (2, "m002_add_host_agent_home_history"),
        (3, "m003_create_transcripts"),
        (4, "m004_add_generation"),
        (5, "m005_index_session_id"),
        (6, "m006_create_started_sessions"),
        (NEXT, "m_next_add_note"),
    ]


def test_a_failing_migration_leaves_the_store_as_it_was(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def m_next_broken(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE mappings ADD COLUMN half_done TEXT")
        db.execute("THIS IS NOT SQL")

    load_fixture(f"sqlite-v{SCHEMA_VERSION}.sql", db_path)
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", (*sqlite_store.MIGRATIONS, m_next_broken))
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", NEXT)
    with pytest.raises(StoreError):
        SQLiteStore(db_path)
    db = sqlite3.connect(db_path)
    columns = [row[1] for row in db.execute("PRAGMA table_info(mappings)")]
    versions = [row[0] for row in db.execute("SELECT version FROM sessmap_migrations")]
    db.close()
    assert "half_done" not in columns  # the migration and its record are one transaction
    assert versions == list(range(1, SCHEMA_VERSION + 1))


# --- check ------------------------------------------------------------------------------------


def test_check_reports_damaged_rows(db_path: Path, make_mapping: MakeMapping) -> None:
    with SQLiteStore(db_path) as store:
        store.insert(make_mapping("good"))
        store.insert(make_mapping("bad"))
        store._db.execute("UPDATE mappings SET session_id = '--resume' WHERE key = 'bad'")
        store._db.execute("UPDATE mappings SET state = 'active', created_at = 'yesterday' WHERE key = 'good'")
        problems = store.check()
        assert len(problems) == 2
        assert any("'bad'" in p and "invalid session id" in p for p in problems)
        assert any("'good'" in p and "timestamp" in p for p in problems)
        with pytest.raises(StoreError, match="damaged"):
            store.get("default", "good")


def test_invalid_input_never_reaches_the_file(db_path: Path, make_mapping: MakeMapping) -> None:
    with SQLiteStore(db_path) as store:
        store.insert(make_mapping("k"))
        with pytest.raises(InvalidInput):
            store.update("default", "k", lambda m: m.evolve(labels={"a=b": "c"}))
        assert store.check() == []


# --- transcripts ------------------------------------------------------------------------------

MAIN = TranscriptKey("-home-bot-app", "0d3c4b2a-1111-4222-8333-444455556666")
SIDE = TranscriptKey(MAIN.project_key, MAIN.session_id, "subagents/agent-a1")


def line(n: int, text: str = "") -> bytes:
    return json.dumps({"type": "user", "n": n, "text": text}).encode()


def plans(store: SQLiteStore, statements: list[str]) -> list[str]:
    """The query plan of every SELECT and DELETE the store ran."""
    store._db.set_trace_callback(None)
    found = []
    for statement in statements:
        if statement.lstrip().upper().startswith(("SELECT", "DELETE")):
            rows = store._db.execute(f"EXPLAIN QUERY PLAN {statement}")
            found.append("\n".join(row[3] for row in rows))
    return found


TRANSCRIPT_CALLS: list[tuple[str, Callable[[SQLiteStore], object]]] = [
    ("append", lambda s: s.transcripts.append(MAIN, [line(9)])),
    ("info", lambda s: s.transcripts.info(SIDE)),
    ("read", lambda s: list(s.transcripts.read(MAIN, 100))),
    ("sessions", lambda s: s.transcripts.sessions(MAIN.project_key)),
    ("subpaths", lambda s: s.transcripts.subpaths(MAIN.project_key, MAIN.session_id)),
    ("summaries", lambda s: s.transcripts.summaries(MAIN.project_key)),
    ("projects-of", lambda s: s.transcripts.projects_of(MAIN.session_id)),
    ("delete-side", lambda s: s.transcripts.delete(SIDE)),
    ("delete", lambda s: s.transcripts.delete(MAIN)),
]


@pytest.mark.parametrize("call", [pytest.param(c, id=n) for n, c in TRANSCRIPT_CALLS])
def test_transcript_lookups_use_an_index(db_path: Path, call: Callable[[SQLiteStore], object]) -> None:
    with SQLiteStore(db_path) as store:
        for n in range(40):
            key = TranscriptKey(f"-p{n % 4}", f"s{n}")
            store.transcripts.append(key, [line(i) for i in range(20)])
            store.transcripts.append(TranscriptKey(key.project_key, key.session_id, "side"), [line(0)])
            store.transcripts.set_summary(key.project_key, key.session_id, "{}")
        store.transcripts.append(MAIN, [line(i) for i in range(200)])
        store.transcripts.append(SIDE, [line(0)])
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        call(store)
        found = plans(store, statements)
    assert found
    for text in found:
        assert "SCAN transcript" not in text, text  # a search by key, never a scan


def test_mtime_strictly_increases_per_key(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SQLiteStore(db_path) as store:
        monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)  # a clock that stands still
        stamps = [store.transcripts.append(MAIN, [line(n)]) for n in range(3)]
        monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)  # and one that steps back
        stamps.append(store.transcripts.append(MAIN, [line(3)]))
    assert [info.mtime_ms for info in stamps if info] == [1_800_000_000_000 + n for n in range(4)]


def test_an_append_is_all_or_nothing(db_path: Path) -> None:
    def failing() -> Iterator[bytes]:
        yield from (line(n) for n in range(1200))  # more than one executemany batch
        raise OSError("the agent's file went away")

    with SQLiteStore(db_path) as store:
        before = store.transcripts.append(MAIN, [line(0)])
        with pytest.raises(OSError, match="went away"):
            store.transcripts.append(MAIN, failing())
        with pytest.raises(InvalidInput, match="newline"):
            store.transcripts.append(MAIN, [line(1), b'{"a":\n1}'])
        assert store.transcripts.info(MAIN) == before
        assert list(store.transcripts.read(MAIN)) == [line(0)]
        assert store.check() == []


def test_a_key_sqlite_cannot_hold_is_invalid_input(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        with pytest.raises(InvalidInput, match="not valid Unicode"):
            store.transcripts.append(TranscriptKey("-home-\udcff", "s"), [line(0)])
        assert list(store.transcripts.stored()) == []


def test_appends_and_reads_of_10_mb_stream(db_path: Path) -> None:
    count, text = 5000, "z" * 2000  # about 10 MB
    with SQLiteStore(db_path) as store:
        tracemalloc.start()
        try:
            info = store.transcripts.append(MAIN, (line(n, text) for n in range(count)))
            _, append_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            total = sum(len(entry) for entry in store.transcripts.read(MAIN))
            _, read_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert info is not None and info.lines == count and info.size == total + count > 10_000_000
    assert append_peak < 3_000_000 and read_peak < 1_000_000  # a batch or a page, never the whole


def test_writes_while_reading_on_the_same_handle(db_path: Path) -> None:
    """Copying a transcript within one store, while another process appends elsewhere."""
    copy = TranscriptKey(MAIN.project_key, "copy")
    with SQLiteStore(db_path) as store, SQLiteStore(db_path) as other:
        store.transcripts.append(MAIN, [line(n) for n in range(1000)])
        lines = store.transcripts.read(MAIN)
        first = next(lines)
        other.transcripts.append(SIDE, [line(0)])  # commits while the read is under way
        info = store.transcripts.append(copy, itertools.chain([first], lines))
        assert info is not None and info.lines == 1000
        assert list(store.transcripts.read(copy)) == list(store.transcripts.read(MAIN))
        for project_key, session_id in store.transcripts.stored():  # cleanup while listing
            store.transcripts.delete(TranscriptKey(project_key, session_id))
        assert list(store.transcripts.stored()) == []


def test_stored_pages_through_many_sessions(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        expected = []
        for n in range(300):
            key = TranscriptKey(f"-p{n % 3}", f"s{n:03}")
            expected.append((key.project_key, key.session_id))
            if n % 2:
                store.transcripts.append(key, [line(n)])
            else:
                store.transcripts.set_summary(key.project_key, key.session_id, "{}")  # a summary alone
        assert list(store.transcripts.stored()) == sorted(expected)


def test_tail_stays_bounded_by_tail_bytes(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        info = store.transcripts.append(MAIN, [line(0, "q" * 10_000)])
    assert info is not None and len(info.tail) == TAIL_BYTES


def test_check_reports_transcripts_that_lost_lines(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        store.transcripts.append(MAIN, [line(0), line(1)])
        store.transcripts.append(SIDE, [line(0)])
        store._db.execute("DELETE FROM transcript_entries WHERE subpath = ?", (SIDE.subpath,))
        store._db.execute("DELETE FROM transcript_entries WHERE subpath = '' AND seq = 1")
        problems = store.check()
        assert len(problems) == 2
        assert any("agent-a1" in p and "1 lines, 0 stored" in p for p in problems)
        assert any("2 lines, 1 stored" in p for p in problems)
        # Stray rows past the count (a tampered file) do not block the next append.
        store._db.execute(
            "INSERT INTO transcript_entries VALUES (?, ?, ?, 2, x'00')",
            (MAIN.project_key, MAIN.session_id, ""),
        )
        size = len(line(0)) + 1
        store._db.execute("UPDATE transcripts SET lines = 1, size = ? WHERE subpath = ''", (size,))
        info = store.transcripts.append(MAIN, [line(5), line(6)])
        assert info is not None and info.lines == 3
        assert list(store.transcripts.read(MAIN)) == [line(0), line(5), line(6)]


@given(
    tail=st.binary(max_size=TAIL_BYTES),
    batch=st.lists(st.binary(max_size=3 * TAIL_BYTES).map(lambda b: b.replace(b"\n", b"")), min_size=1),
)
def test_tail_after_equals_next_tail(tail: bytes, batch: list[bytes]) -> None:
    assert tail_after(tail, batch) == next_tail(tail, batch)


def test_by_session_finds_current_ids_through_the_index(traced: tuple[SQLiteStore, list[str]]) -> None:
    store, statements = traced
    store.by_session("s-", 5)
    current, earlier = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    store._db.set_trace_callback(None)
    found = "\n".join(row[3] for row in store._db.execute(f"EXPLAIN QUERY PLAN {current}"))
    assert "USING INDEX mappings_session_id (session_id>? AND session_id<?)" in found
    assert "instr(history" in earlier  # earlier ids: only rows with a history are parsed
