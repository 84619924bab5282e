"""What only the PostgreSQL store does: migrations, plans, connection errors, URLs, the driver.

The Store behaviour itself is the contract suite (test_contract.py) run against PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from servers import (
    database_name,
    fresh_postgres_database,
    password_postgres,
    postgres_admin,
    postgres_database_url,
    postgres_url,
)
from sessmap.errors import StoreError
from sessmap.model import Mapping
from sessmap.stores import Query, open_store
from sessmap.stores.postgres import SCHEMA_VERSION, PostgresStore
from sessmap.urls import mask_password, passwords_in, pop_parameters

pytestmark = pytest.mark.server

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def mapping(key: str, minutes: int = 0) -> Mapping:
    return Mapping(key=key, provider="claude", session_id=f"s-{minutes}", created_at=T0, updated_at=T0,
                   last_used_at=T0 + timedelta(minutes=minutes))  # fmt: skip


@pytest.fixture
def fresh_database() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


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
    assert migrations_table(fresh_database) == [(1, "create_mappings")]


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
    assert migrations_table(fresh_database) == [(1, "create_mappings"), (99, "from_the_future")]


def test_a_foreign_table_in_the_schema_is_an_error_not_a_takeover(fresh_database: str) -> None:
    with postgres_admin(database_name(fresh_database)) as admin:
        admin.execute("CREATE SCHEMA sessmap; CREATE TABLE sessmap.mappings (something int)")
    with pytest.raises(StoreError, match="already exists"):
        open_store(fresh_database)


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


# --- URLs (sessmap.urls, shared by both server stores) ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://bot:s3cret@db:5432/map", "postgresql://bot:***@db:5432/map"),
        ("postgresql://bot@db/map", "postgresql://bot@db/map"),
        (
            "postgres://db/map?password=s3cret&sslmode=require",
            "postgres://db/map?password=***&sslmode=require",
        ),
        ("redis://:s3cret@cache:6379/0?prefix=bots", "redis://:***@cache:6379/0?prefix=bots"),
        ("rediss://user:p%40ss@cache/1", "rediss://user:***@cache/1"),
    ],
)
def test_passwords_are_masked(url: str, masked: str) -> None:
    assert mask_password(url) == masked


def test_password_forms_are_found_for_scrubbing() -> None:
    assert passwords_in("rediss://user:p%40ss@cache/1") == ["p%40ss", "p@ss"]
    assert passwords_in("postgresql://db/x?password=a%20b") == ["a%20b", "a b"]


def test_sessmap_parameters_are_split_off_and_the_rest_kept_verbatim() -> None:
    url, ours = pop_parameters(
        "redis://h/0?prefix=a%3Ab&socket_keepalive=true&lock_ttl=5s", ["prefix", "lock_ttl"]
    )
    assert (url, ours) == ("redis://h/0?socket_keepalive=true", {"prefix": "a:b", "lock_ttl": "5s"})
    assert pop_parameters("postgresql://h/db", ["schema"]) == ("postgresql://h/db", {})
