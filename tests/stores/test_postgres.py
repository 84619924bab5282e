"""What only the PostgreSQL store does: migrations, plans, connection errors, the driver.

The Store behaviour itself is the contract suite (test_contract.py) run against PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import LiteralString

import pytest
from tests.support.servers import (
    database_name,
    fresh_postgres_database,
    password_postgres,
    postgres_admin,
    postgres_database_url,
    postgres_url,
)

import sessmap.stores.postgres as postgres
from sessmap.errors import InvalidInput, StoreError
from sessmap.model import Mapping
from sessmap.stores import Query, open_store
from sessmap.stores.base import TAIL_BYTES, TranscriptKey
from sessmap.stores.postgres import SCHEMA_VERSION, PostgresStore

pytestmark = pytest.mark.server

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def mapping(key: str, minutes: int = 0) -> Mapping:
    return Mapping(key=key, provider="claude", session_id=f"s-{minutes}", created_at=T0, updated_at=T0,
                   last_used_at=T0 + timedelta(minutes=minutes))  # fmt: skip


@pytest.fixture
def fresh_database() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


MIGRATION_LOG = [
    (1, "create_mappings"),
    (2, "add_host_and_history"),
    (3, "create_transcripts"),
    (4, "add_generation"),
    (5, "index_session_id"),
    (6, "create_started_sessions"),
]


def migrations_table(url: str) -> list[tuple[int, str]]:
    with postgres_admin(database_name(url)) as admin:
        return [(v, n) for v, n in admin.execute("SELECT version, name FROM sessmap.schema_migrations")]


# --- migrations -----------------------------------------------------------------------------------

OPEN_AT = """
import sys, time
from sessmap.stores import open_store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
with open_store(sys.argv[1]) as store:
    print(store.schema_version)
"""


@pytest.mark.slow
def test_hosts_opening_a_fresh_database_together_migrate_it_once(fresh_database: str) -> None:
    start_at = str(time.time() + 1.5)  # every process is up and waiting by then
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AT, fresh_database, start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outcomes = [process.communicate(timeout=60) for process in processes]
    assert [(p.returncode, out.strip()) for p, (out, _) in zip(processes, outcomes, strict=True)] == [
        (0, str(SCHEMA_VERSION))
    ] * 6, [err for _, err in outcomes]
    assert migrations_table(fresh_database) == MIGRATION_LOG


def test_a_newer_schema_is_refused_and_left_untouched(fresh_database: str) -> None:
    with open_store(fresh_database) as store:
        store.insert(mapping("kept"))
    database = database_name(fresh_database)
    with postgres_admin(database) as admin:
        admin.execute("INSERT INTO sessmap.schema_migrations (version, name) VALUES (99, 'from_the_future')")
        before = admin.execute("SELECT * FROM sessmap.mappings").fetchall()
    with pytest.raises(StoreError, match="schema version 99, newer than this sessmap understands"):
        open_store(fresh_database)
    with postgres_admin(database) as admin:
        assert admin.execute("SELECT * FROM sessmap.mappings").fetchall() == before
    assert migrations_table(fresh_database) == [*MIGRATION_LOG, (99, "from_the_future")]


def test_a_foreign_table_in_the_schema_is_an_error_not_a_takeover(fresh_database: str) -> None:
    with postgres_admin(database_name(fresh_database)) as admin:
        admin.execute("CREATE SCHEMA sessmap; CREATE TABLE sessmap.mappings (something int)")
    with pytest.raises(StoreError, match="already exists"):
        open_store(fresh_database)


def test_an_older_schema_is_migrated_and_its_rows_read_with_the_new_fields(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old:  # sessmap before host, history and transcripts
        old.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:1])
        old.setattr(postgres, "SCHEMA_VERSION", 1)
        open_store(fresh_database).close()
    with postgres_admin(database_name(fresh_database)) as admin:
        admin.execute(
            "INSERT INTO sessmap.mappings (agent, key, provider, session_id, state, created_at, updated_at)"
            " VALUES ('default', 'old', 'claude', 's-old', 'active', %s, %s)",
            (T0, T0),
        )
    with open_store(fresh_database) as store:
        assert store.schema_version == SCHEMA_VERSION == 6
        assert [m.key for m in store.by_session("s-o", 10)] == ["old"]  # the index covers old rows
        old_row = store.get("default", "old")
        assert old_row is not None and (old_row.host, old_row.agent_home, old_row.history) == (None, None, ())
        assert store.transcripts.append(MAIN, [line(1)]) is not None
        assert store.check() == []
    assert migrations_table(fresh_database) == MIGRATION_LOG
    monkeypatch.setattr(postgres, "SCHEMA_VERSION", 1)
    with pytest.raises(StoreError, match="schema version 6, newer than this sessmap understands"):
        open_store(fresh_database)


# --- transcripts -------------------------------------------------------------------------------------

MAIN = TranscriptKey("-srv-app", "0d3c4b2a-1111-4222-8333-444455556666")
SIDE = TranscriptKey(MAIN.project_key, MAIN.session_id, "subagents/agent-a1")


def line(n: int, pad: int = 0) -> bytes:
    return json.dumps({"n": n, "pad": "x" * pad}).encode()


@pytest.fixture
def pg_store() -> Iterator[PostgresStore]:
    with postgres_url() as url, open_store(url) as store:
        assert isinstance(store, PostgresStore)
        yield store


def test_lines_and_tails_are_bytes_not_text(pg_store: PostgresStore) -> None:
    lines = [b"\xff\xfe not UTF-8", "ż".encode() * 3000]
    info = pg_store.transcripts.append(MAIN, lines)
    assert list(pg_store.transcripts.read(MAIN)) == lines
    content = b"".join(entry + b"\n" for entry in lines)
    assert info is not None and info.tail == content[-TAIL_BYTES:]
    assert info.tail[:1] == b"\xbc"  # the tail starts inside a two-byte character


def test_mtime_strictly_increases_within_a_millisecond(pg_store: PostgresStore) -> None:
    stamps = [pg_store.transcripts.append(MAIN, [line(n)]).mtime_ms for n in range(30)]  # type: ignore[union-attr]
    assert stamps == sorted(set(stamps))


def test_a_failing_stream_appends_nothing(pg_store: PostgresStore) -> None:
    pg_store.transcripts.append(MAIN, [line(0)])

    def lines() -> Iterator[bytes]:
        yield from (line(n) for n in range(1, 3000))
        raise ValueError("line 3001 is not JSON")

    with pytest.raises(ValueError, match="line 3001"):
        pg_store.transcripts.append(MAIN, lines())
    assert list(pg_store.transcripts.read(MAIN)) == [line(0)]
    assert pg_store.transcripts.info(MAIN).lines == 1  # type: ignore[union-attr]
    assert pg_store.transcripts.append(MAIN, [line(1)]).lines == 2  # type: ignore[union-attr]


@pytest.mark.slow
def test_appends_and_reads_stream_rather_than_holding_the_transcript(pg_store: PostgresStore) -> None:
    import tracemalloc

    megabyte = 1 << 20
    tracemalloc.start()
    try:
        info = pg_store.transcripts.append(MAIN, (line(n, 10_000) for n in range(3_000)))  # 30 MB
        appended = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        assert sum(1 for _ in pg_store.transcripts.read(MAIN)) == 3_000
        read = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info is not None and info.size > 30_000_000
    assert appended < 8 * megabyte and read < 8 * megabyte, (appended / megabyte, read / megabyte)


@pytest.mark.slow
def test_a_reader_may_append_through_the_same_store_while_it_reads(pg_store: PostgresStore) -> None:
    copy = TranscriptKey(MAIN.project_key, "copy")
    pg_store.transcripts.append(MAIN, (line(n) for n in range(2_000)))
    for entry in pg_store.transcripts.read(MAIN):  # what restoring a fork does: read one, write another
        pg_store.transcripts.append(copy, [entry])
    assert list(pg_store.transcripts.read(copy)) == list(pg_store.transcripts.read(MAIN))
    abandoned = pg_store.transcripts.read(MAIN)
    next(abandoned)
    abandoned.close()
    assert pg_store.transcripts.info(copy).lines == 2_000  # type: ignore[union-attr]


def test_key_parts_postgres_cannot_hold_are_invalid_input(pg_store: PostgresStore) -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        pg_store.transcripts.append(TranscriptKey("p\0q", "s"), [line(1)])
    with pytest.raises(InvalidInput, match="not valid Unicode"):
        pg_store.transcripts.info(TranscriptKey("p", "s\udcff"))


def chunks(store: PostgresStore, key: TranscriptKey = MAIN) -> list[tuple[int, int, bytes]]:
    rows = store._connection.execute(
        store._sql(
            "SELECT seq, lines, data FROM {schema}.transcript_entries"
            " WHERE project_key = %s AND session_id = %s AND subpath = %s ORDER BY seq"
        ),
        (key.project_key, key.session_id, key.subpath),
    )
    return [(seq, count, bytes(data)) for seq, count, data in rows]


def test_lines_are_stored_in_chunks_that_never_split_a_line(pg_store: PostgresStore) -> None:
    from sessmap.stores.postgres_transcripts import CHUNK_BYTES, CHUNK_LINES

    short = [line(n) for n in range(CHUNK_LINES + 10)]  # more lines than a chunk holds
    big = [line(n, 300_000) for n in range(8)]  # more bytes than a chunk holds
    huge = line(99, CHUNK_BYTES + 5)  # a line longer than a chunk: a chunk of its own
    lines = [*short, *big, huge, line(100), b"", b""]
    pg_store.transcripts.append(MAIN, iter(lines))
    pg_store.transcripts.append(MAIN, [line(101)])  # a chunk never spans two appends
    lines.append(line(101))
    stored = chunks(pg_store)
    seq = 0
    for start, count, data in stored:
        assert start == seq and data.split(b"\n") == lines[seq : seq + count]
        assert count <= CHUNK_LINES and (count == 1 or len(data) <= CHUNK_BYTES)
        seq += count
    assert seq == len(lines) and stored[-1][1:] == (1, line(101))
    assert (stored[0][1], [count for _, count, data in stored if data == huge]) == (CHUNK_LINES, [1])
    assert len(stored) < 12
    storage = pg_store._connection.execute(
        "SELECT attstorage FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass AND attname = 'data'",
        (f"{pg_store._schema_name}.transcript_entries",),
    ).fetchone()
    assert storage == ("e",)  # out of line, never compressed
    assert list(pg_store.transcripts.read(MAIN)) == lines
    for start in (0, 1, CHUNK_LINES - 1, CHUNK_LINES, CHUNK_LINES + 11, len(lines) - 3, len(lines) - 1):
        assert list(pg_store.transcripts.read(MAIN, start)) == lines[start:], start
    assert list(pg_store.transcripts.read(MAIN, len(lines))) == []
    assert pg_store.check() == []


def test_a_line_with_a_newline_is_refused_and_nothing_of_its_append_kept(pg_store: PostgresStore) -> None:
    pg_store.transcripts.append(MAIN, [line(0)])
    with pytest.raises(InvalidInput, match="newline"):
        pg_store.transcripts.append(MAIN, iter([line(n, 100_000) for n in range(1, 30)] + [b"a\nb"]))
    assert list(pg_store.transcripts.read(MAIN)) == [line(0)]
    assert pg_store.transcripts.info(MAIN).lines == 1  # type: ignore[union-attr]
    assert chunks(pg_store) == [(0, 1, line(0))]


def test_a_read_ends_where_the_transcript_ended_when_it_began(pg_store: PostgresStore) -> None:
    # Appending to the transcript being read (through the same store) neither breaks the read
    # nor makes it endless: it yields the lines there were when it started.
    from sessmap.stores.postgres_transcripts import CHUNK_LINES, READ_BATCH

    count = CHUNK_LINES * (READ_BATCH + 1) + 5  # more than one batch of chunks
    pg_store.transcripts.append(MAIN, (line(n) for n in range(count)))
    seen = []
    for entry in pg_store.transcripts.read(MAIN, 3):
        seen.append(entry)
        if len(seen) % 1000 == 1:
            pg_store.transcripts.append(MAIN, [b"later"])
    assert seen == [line(n) for n in range(3, count)]
    assert pg_store.transcripts.info(MAIN).lines == count + len(range(0, len(seen), 1000))  # type: ignore[union-attr]


def test_check_reports_a_transcript_changed_by_hand(pg_store: PostgresStore) -> None:
    pg_store.transcripts.append(SIDE, [line(1), line(2)])
    pg_store.transcripts.append(SIDE, [line(3)])
    assert pg_store.check() == []
    pg_store._connection.execute(pg_store._sql("DELETE FROM {schema}.transcript_entries WHERE seq = 2"))
    assert pg_store.check() == [f"transcript {SIDE!r}: its entries do not match its 3 recorded line(s)"]
    with pytest.raises(StoreError, match="damaged"):
        list(pg_store.transcripts.read(SIDE))


def test_check_reports_chunks_that_leave_a_gap_though_their_lines_add_up(pg_store: PostgresStore) -> None:
    for n in range(3):
        pg_store.transcripts.append(MAIN, [line(n)])
    pg_store._connection.execute(
        pg_store._sql("UPDATE {schema}.transcript_entries SET seq = 3 WHERE seq = 2")
    )
    assert [(seq, count) for seq, count, _ in chunks(pg_store)] == [(0, 1), (1, 1), (3, 1)]
    assert pg_store.check() == [f"transcript {MAIN!r}: its entries do not match its 3 recorded line(s)"]
    with pytest.raises(StoreError, match="damaged: no chunk at line 2"):
        list(pg_store.transcripts.read(MAIN))


def test_session_lookups_use_indexes_at_size(pg_store: PostgresStore) -> None:
    connection = pg_store._connection
    connection.execute(
        pg_store._sql(
            "INSERT INTO {schema}.transcripts (project_key, session_id, subpath, lines, size, tail, mtime_ms)"
            " SELECT '-p' || (n % 50), 's-' || n, '', 1, 1, '', n FROM generate_series(1, 20000) n"
        )
    )
    connection.execute(pg_store._sql("ANALYZE {schema}.transcripts"))

    def plan(statement: LiteralString, *params: str) -> str:
        rows = connection.execute(pg_store._sql("EXPLAIN " + statement), params)
        return "\n".join(row[0] for row in rows)

    by_session = plan("SELECT DISTINCT project_key FROM {schema}.transcripts WHERE session_id = %s", "s-7")
    assert "transcripts_by_session" in by_session, by_session
    sessions = plan(
        "SELECT session_id FROM {schema}.transcripts WHERE project_key = %s AND subpath = ''", "-p7"
    )
    assert "transcripts_pkey" in sessions, sessions
    assert pg_store.transcripts.projects_of("s-7") == ["-p7"]


# --- plans at size ----------------------------------------------------------------------------------


def plan(store: PostgresStore, query: Query) -> str:
    where, params = store._where(query)
    statement = store._sql("EXPLAIN SELECT {columns} FROM {table} WHERE {where}", where=where)
    return "\n".join(row[0] for row in store._connection.execute(statement, params))


@pytest.mark.slow
def test_get_and_age_ranges_use_indexes_at_size() -> None:
    with postgres_url() as url, open_store(url) as store:
        assert isinstance(store, PostgresStore)
        rows = (mapping(f"slack:C{n % 97}:{n}", minutes=n) for n in range(50_000))
        assert store.insert_many(rows, "fail").inserted == 50_000
        store._connection.execute(store._sql("ANALYZE {table}"))
        by_key = store._connection.execute(
            store._sql("EXPLAIN SELECT {columns} FROM {table} WHERE agent = %s AND key = %s"),
            ("default", "slack:C3:3"),
        ).fetchall()
        assert "Index Scan using mappings_pkey" in by_key[0][0]
        oldest = plan(store, Query(seen_before=T0 + timedelta(minutes=100)))
        assert "mappings_by_last_seen" in oldest, oldest
        newest = plan(store, Query(seen_since=T0 + timedelta(minutes=49_900)))
        assert "mappings_by_last_seen" in newest, newest
        assert "mappings_pkey" in plan(store, Query(prefix="slack:C3:1234")), "a prefix uses the key index"


# --- connection errors: one line, quick, no password -------------------------------------------------

SECRET = "pa55-w0rd-never-shown"


def assert_clean_store_error(url: str, expected: str) -> str:
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        open_store(url)
    elapsed = time.monotonic() - started
    message = str(raised.value)
    assert elapsed < 5, f"took {elapsed:.1f}s"
    assert "\n" not in message
    assert SECRET not in message
    assert expected in message, message
    return message


def test_unreachable_server_is_a_quick_store_error() -> None:
    message = assert_clean_store_error(
        f"postgresql://bot:{SECRET}@127.0.0.1:1/sessions", "Connection refused"
    )
    assert "postgresql://bot:***@127.0.0.1:1/sessions" in message


def test_missing_database_is_a_store_error() -> None:
    postgres_admin().close()  # skip (or fail under CI) when the server is down
    url = postgres_database_url("no_such_database")
    scheme, _, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if at and ":" not in userinfo:  # trust auth ignores the password: it is only there to be hidden
        url = f"{scheme}://{userinfo}:{SECRET}@{host}"
    assert_clean_store_error(url, 'database "no_such_database" does not exist')


@pytest.mark.slow
def test_wrong_password_is_a_store_error() -> None:
    # The shared server trusts 127.0.0.1 and would accept any password, proving nothing; a
    # private cluster with scram-sha-256 authentication proves the real refusal.
    with password_postgres("sessmap_pw", "right-password") as server:
        with open_store(f"{server}/postgres") as store:
            assert store.url == f"{server.replace('right-password', '***')}/postgres"
        message = assert_clean_store_error(
            f"postgresql://sessmap_pw:{SECRET}@{server.rsplit('@', 1)[1]}/postgres",
            'password authentication failed for user "sessmap_pw"',
        )
        assert "right-password" not in message


def test_tls_mode_reaches_the_driver() -> None:
    # The test server runs without TLS: sslmode=require must be refused by libpq, not dropped.
    with postgres_admin() as admin:
        if admin.execute("SHOW ssl").fetchone() != ("off",):
            pytest.skip("the test server has TLS on; this test needs one without")
    with postgres_url() as url:
        assert_clean_store_error(url + "&sslmode=require", "server does not support SSL")


@pytest.mark.slow
def test_cli_reports_an_unreachable_server_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sessmap", "--store", f"postgresql://bot:{SECRET}@127.0.0.1:1/x", "list"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("sessmap: error: cannot connect to PostgreSQL at postgresql://bot:***@"), lines
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr


def test_missing_driver_names_the_extra_to_install() -> None:
    # Simulated: a None entry in sys.modules makes `import psycopg` fail as if not installed.
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from sessmap.errors import StoreError\n"
        "from sessmap.stores import open_store\n"
        "try:\n    open_store('postgresql://127.0.0.1/x')\n"
        "except StoreError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "the PostgreSQL store needs psycopg: pip install 'sessmap[postgres]'"
