"""What only the Redis store does: layout, ordering across batches, TTLs, KEYS-free iteration,
connection errors, locks' expiry and renewal, the driver.

The Store behaviour itself is the contract suite (test_contract.py) run against Redis.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from tests.support.servers import prefix_of, redis_client, redis_server_url, redis_url

import sessmap.stores.redis as redis_store
import sessmap.stores.redis_transcripts as redis_transcripts
from sessmap.errors import Busy, StoreError
from sessmap.model import HistoryEntry, Mapping, Parent
from sessmap.stores import Query, open_store
from sessmap.stores.base import TAIL_BYTES, TranscriptKey
from sessmap.stores.redis import SCHEMA_VERSION, RedisStore

if TYPE_CHECKING:
    import redis

pytestmark = pytest.mark.server

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def mapping(key: str, *, agent: str = "default", created: int = 0, used: int | None = None) -> Mapping:
    return Mapping(
        key=key,
        agent=agent,
        provider="claude",
        session_id="s-1",
        created_at=T0 + timedelta(minutes=created),
        updated_at=T0,
        last_used_at=None if used is None else T0 + timedelta(minutes=used),
    )


@pytest.fixture
def url() -> Iterator[str]:
    with redis_url() as made:
        yield made


@pytest.fixture
def store(url: str) -> Iterator[RedisStore]:
    with RedisStore(url) as opened:
        yield opened


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    connection = redis_client()
    yield connection
    connection.close()


# --- layout, migrations -----------------------------------------------------------------------------

OPEN_AT = """
import sys, time
from sessmap.stores import open_store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
with open_store(sys.argv[1]) as store:
    print(store.schema_version)
"""


@pytest.mark.slow
def test_clients_opening_a_fresh_prefix_together_migrate_it_once(url: str, client: redis.Redis) -> None:
    start_at = str(time.time() + 1.5)
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN_AT, url, start_at], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    assert [process.communicate(timeout=60)[0].strip() for process in processes] == [str(SCHEMA_VERSION)] * 6
    prefix = prefix_of(url)
    log = client.lrange(f"{prefix}:migrations", 0, -1)
    names = [entry.split('"name": ')[1].split('"')[1] for entry in log]
    assert names == ["create_layout", "add_transcripts", "index_session_ids"]
    assert client.get(f"{prefix}:schema") == str(SCHEMA_VERSION)


def test_a_newer_schema_is_refused_and_left_untouched(url: str, client: redis.Redis) -> None:
    with RedisStore(url) as store:
        store.insert(mapping("kept"))
    prefix = prefix_of(url)
    client.set(f"{prefix}:schema", 99)
    before = {name: client.dump(name) for name in client.scan_iter(match=f"{prefix}:*")}
    with pytest.raises(StoreError, match="schema version 99, newer than this sessmap understands"):
        RedisStore(url)
    assert {name: client.dump(name) for name in client.scan_iter(match=f"{prefix}:*")} == before


def test_layout_is_one_document_and_its_index_entries(
    store: RedisStore, url: str, client: redis.Redis
) -> None:
    store.insert(mapping("slack:C1:1", used=5))
    prefix = prefix_of(url)
    assert client.get(f"{prefix}:m:default:slack:C1:1") is not None
    assert client.zscore(f"{prefix}:keys", "slack:C1:1\0default") == 0
    assert client.zscore(f"{prefix}:seen", "slack:C1:1\0default") == (T0 + timedelta(minutes=5)).timestamp()
    assert client.zscore(f"{prefix}:created", "slack:C1:1\0default") == T0.timestamp()


# --- ordering across batch boundaries, against the reference order of Query.ordered ---------------


@pytest.mark.parametrize("sort", ["last-used", "created", "key"])
@pytest.mark.parametrize("reverse", [False, True])
def test_order_matches_the_reference_across_batches_and_ties(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch, sort: Any, reverse: bool
) -> None:
    # Tiny batches and many equal timestamps: tie groups straddle every batch boundary.
    monkeypatch.setattr(redis_store, "BATCH", 4)
    rows = [
        mapping(f"k{n % 13:02}-{n}", agent=("a", "b")[n % 2], created=n % 3, used=None if n % 4 else n % 5)
        for n in range(60)
    ]
    store.insert_many(iter(rows), "fail")
    for query in (
        Query(sort=sort, reverse=reverse),
        Query(sort=sort, reverse=reverse, seen_before=T0 + timedelta(minutes=2)),
        Query(sort=sort, reverse=reverse, seen_since=T0 + timedelta(minutes=1), limit=9),
        Query(sort=sort, reverse=reverse, prefix="k0", agent="b"),
    ):
        expected = query.ordered(m for m in rows if query.matches(m))
        assert list(store.query(query)) == expected, query


# --- no KEYS, ever ------------------------------------------------------------------------------------


def test_no_operation_sends_keys(store: RedisStore, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_store, "BATCH", 3)
    prefix = prefix_of(url)
    seen: list[str] = []
    watcher = redis_client()
    ready = threading.Event()

    def watch() -> None:
        with watcher.monitor() as monitor:
            ready.set()
            for event in monitor.listen():
                seen.append(event["command"])
                if "STOP-WATCHING" in event["command"]:
                    return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    time.sleep(0.2)
    store.insert_many(iter(mapping(f"k{n}", used=n) for n in range(10)), "fail")
    store.insert_many(iter(mapping(f"k{n}") for n in range(12)), "skip")
    for sort in ("last-used", "created", "key"):
        list(store.query(Query(sort=sort, match="k1*")))  # type: ignore[arg-type]
    store.rename("default", "k1", "k1-renamed", T0)
    store.delete_matching(Query(prefix="k2"))
    assert store.check() == []
    with store.thread_lock("default", "k3", 0):
        pass
    redis_client().echo("STOP-WATCHING")
    thread.join(10)
    ours = [command for command in seen if prefix in command]
    assert any(command.split()[0].upper() == "ZRANGE" for command in ours), "MONITOR saw the store's traffic"
    assert not [command for command in seen if command.split()[0].strip('"').upper() == "KEYS"]


# --- expiry: mappings never carry one; a TTL set by hand is kept, and reported ------------------------


def test_writes_never_set_and_never_drop_an_expiry(store: RedisStore, url: str, client: redis.Redis) -> None:
    prefix = prefix_of(url)
    store.insert(mapping("parent"))
    store.insert(mapping("child").evolve(state="pending-fork", parent=Parent("default", "parent", "s-1")))
    assert client.pttl(f"{prefix}:m:default:parent") == -1  # no expiry
    client.expire(f"{prefix}:m:default:parent", 3600)
    store.update("default", "parent", lambda m: m.evolve(turns=m.turns + 1))
    assert client.ttl(f"{prefix}:m:default:parent") > 3000
    store.rename("default", "parent", "renamed", T0)
    assert client.ttl(f"{prefix}:m:default:renamed") > 3000
    assert store.get("default", "child").parent == Parent("default", "renamed", "s-1")  # type: ignore[union-attr]
    problems = store.check()
    assert problems == [
        f"{prefix}:m:default:renamed: carries a Redis expiry; sessmap mappings expire only by prune"
    ]


def test_a_mapping_that_expired_by_hand_is_gone_everywhere(
    store: RedisStore, url: str, client: redis.Redis
) -> None:
    store.insert(mapping("short-lived"))
    client.delete(f"{prefix_of(url)}:m:default:short-lived")  # what an expiry does
    assert store.get("default", "short-lived") is None
    assert list(store.query(Query())) == []
    assert store.check() == [
        f"{prefix_of(url)}:m:default:short-lived: indexed but missing (deleted or expired outside sessmap)"
    ]
    store.insert(mapping("short-lived"))  # the key is free again
    assert store.check() == []


# --- transcripts: layout, batches, staging, concurrency -----------------------------------------------

MAIN = TranscriptKey("-srv-app", "0d3c4b2a-1111-4222-8333-444455556666")
SIDE = TranscriptKey(MAIN.project_key, MAIN.session_id, "subagents/agent-a1")
ODD = TranscriptKey("p/q:r", "a:b", "subagents/x:y")  # ':' in every part: names must stay unambiguous


def line(n: int, pad: int = 0) -> bytes:
    return json.dumps({"n": n, "pad": "x" * pad}).encode()


def test_an_older_store_is_migrated_and_an_older_sessmap_refuses_this_one(
    url: str, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = prefix_of(url)
    with monkeypatch.context() as old:  # sessmap before transcripts: only create_layout
        old.setattr(redis_store, "MIGRATIONS", redis_store.MIGRATIONS[:1])
        old.setattr(redis_store, "SCHEMA_VERSION", 1)
        with RedisStore(url) as store:
            store.insert(mapping("kept"))
            store.insert(mapping("reset").evolve(history=(HistoryEntry("s-old", T0, "new"),)))
        assert client.get(f"{prefix}:schema") == "1"
    client.delete(f"{prefix}:sids")  # an older sessmap kept no index of session ids
    with RedisStore(url) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
        kept = store.get("default", "kept")
        assert kept is not None and (kept.host, kept.agent_home, kept.history) == (None, None, ())
        # Version 3 indexed the session ids of the mappings already there, history too.
        assert [m.key for m in store.by_session("s-", 10)] == ["kept", "reset"]
        assert [m.key for m in store.by_session("s-old", 10)] == ["reset"]
    monkeypatch.setattr(redis_store, "SCHEMA_VERSION", 1)
    with pytest.raises(StoreError, match="schema version 3, newer than this sessmap understands"):
        RedisStore(url)


def test_transcript_keys_carry_their_parts_in_hex(store: RedisStore, url: str, client: redis.Redis) -> None:
    prefix = prefix_of(url)
    main = TranscriptKey(ODD.project_key, ODD.session_id)
    store.transcripts.append(ODD, [b'{"side":1}'])
    store.transcripts.append(main, [b'{"main":1}'])
    store.transcripts.set_summary(ODD.project_key, ODD.session_id, '{"s":1}')
    p, s, sub = (part.encode().hex() for part in (ODD.project_key, ODD.session_id, ODD.subpath))
    assert set(client.scan_iter(match=f"{prefix}:t*")) == {
        f"{prefix}:tlines:{p}:{s}",
        f"{prefix}:tinfo:{p}:{s}",
        f"{prefix}:tlines:{p}:{s}:{sub}",
        f"{prefix}:tinfo:{p}:{s}:{sub}",
        f"{prefix}:tsessions:{p}",
        f"{prefix}:tsubpaths:{p}:{s}",
        f"{prefix}:tprojects:{s}",
        f"{prefix}:tsummaries:{p}",
        f"{prefix}:tstored",
    }
    assert client.lrange(f"{prefix}:tlines:{p}:{s}", 0, -1) == ['{"main":1}']
    assert client.lrange(f"{prefix}:tlines:{p}:{s}:{sub}", 0, -1) == ['{"side":1}']
    assert set(client.hgetall(f"{prefix}:tinfo:{p}:{s}")) == {"lines", "size", "tail", "mtime_ms"}
    assert client.zrange(f"{prefix}:tsessions:{p}", 0, -1) == [ODD.session_id]
    assert client.smembers(f"{prefix}:tsubpaths:{p}:{s}") == {sub}
    assert client.smembers(f"{prefix}:tprojects:{s}") == {ODD.project_key}
    assert client.hgetall(f"{prefix}:tsummaries:{p}") == {ODD.session_id: '{"s":1}'}
    assert client.zrange(f"{prefix}:tstored", 0, -1) == [f"{p}:{s}"]
    assert list(store.transcripts.stored()) == [(ODD.project_key, ODD.session_id)]
    store.transcripts.delete(main)
    assert list(client.scan_iter(match=f"{prefix}:t*")) == []


def test_the_last_side_file_deleted_unlists_the_session(
    store: RedisStore, url: str, client: redis.Redis
) -> None:
    store.transcripts.append(SIDE, [line(1)])
    store.transcripts.delete(SIDE)
    assert store.transcripts.projects_of(SIDE.session_id) == []
    assert list(store.transcripts.stored()) == []
    assert list(client.scan_iter(match=f"{prefix_of(url)}:t*")) == []


def test_lines_and_tails_are_bytes_not_text(store: RedisStore) -> None:
    lines = [b"\xff\xfe not UTF-8", "ż".encode() * 3000]
    info = store.transcripts.append(MAIN, lines)
    assert list(store.transcripts.read(MAIN)) == lines
    content = b"".join(entry + b"\n" for entry in lines)
    assert info is not None and info.tail == content[-TAIL_BYTES:]
    assert info.tail[:1] == b"\xbc"  # the tail starts inside a two-byte character


def test_mtime_strictly_increases_within_a_millisecond(store: RedisStore) -> None:
    stamps = [store.transcripts.append(MAIN, [line(n)]).mtime_ms for n in range(30)]  # type: ignore[union-attr]
    assert stamps == sorted(set(stamps))
    assert store.transcripts.sessions(MAIN.project_key)[0].mtime_ms == stamps[-1]


def test_a_10_mb_append_is_sent_in_batches_and_lands_whole(
    store: RedisStore, url: str, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis.connection

    sent: list[int] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def spy(self: Any, command: Any, check_health: bool = True) -> None:
        parts = command if isinstance(command, list) else [command]
        sent.append(sum(len(part) for part in parts))
        original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", spy)
    lines = [line(n, 5_000) for n in range(2_100)]
    info = store.transcripts.append(MAIN, iter(lines))  # a fresh list: staged, then renamed
    assert info is not None and (info.lines, info.size) == (2_100, sum(len(entry) + 1 for entry in lines))
    assert sum(sent) > 10_000_000 and max(sent) < 1_100_000, max(sent)
    again = store.transcripts.append(MAIN, iter(lines))  # onto an existing list: staged, then moved
    assert again is not None and again.lines == 4_200
    assert list(store.transcripts.read(MAIN)) == lines + lines
    assert list(client.scan_iter(match=f"{prefix_of(url)}:tstage:*")) == []


def test_appends_and_reads_stream_rather_than_holding_the_transcript(store: RedisStore) -> None:
    import tracemalloc

    megabyte = 1 << 20
    tracemalloc.start()
    try:
        info = store.transcripts.append(MAIN, (line(n, 10_000) for n in range(3_000)))  # 30 MB
        appended = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        assert sum(1 for _ in store.transcripts.read(MAIN)) == 3_000
        read = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info is not None and info.size > 30_000_000
    assert appended < 8 * megabyte and read < 8 * megabyte, (appended / megabyte, read / megabyte)


def test_a_failing_stream_appends_nothing_and_leaves_nothing_staged(
    store: RedisStore, url: str, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_transcripts, "APPEND_LINES", 10)
    store.transcripts.append(MAIN, [line(0)])

    def lines() -> Iterator[bytes]:
        yield from (line(n) for n in range(1, 36))
        raise ValueError("line 37 is not JSON")

    with pytest.raises(ValueError, match="line 37"):
        store.transcripts.append(MAIN, lines())
    assert list(store.transcripts.read(MAIN)) == [line(0)]
    assert store.transcripts.info(MAIN).lines == 1  # type: ignore[union-attr]
    assert list(client.scan_iter(match=f"{prefix_of(url)}:tstage:*")) == []


def test_staged_lines_that_expired_fail_the_append_and_add_nothing(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_transcripts, "APPEND_LINES", 10)
    monkeypatch.setattr(redis_transcripts, "STAGE_TTL_MS", 20)

    def slow() -> Iterator[bytes]:
        for n in range(25):
            if n == 20:  # two batches staged; the appender stalls past the staging TTL
                time.sleep(0.3)
            yield line(n)

    with pytest.raises(StoreError, match="lost while it streamed") as raised:
        store.transcripts.append(MAIN, slow())
    assert "\n" not in str(raised.value)
    assert store.transcripts.info(MAIN) is None
    assert list(store.transcripts.read(MAIN)) == []


def test_a_reader_sees_an_append_call_whole_or_not_at_all(store: RedisStore, url: str) -> None:
    calls = 6
    size = 1_300  # more than one batch: the staged path
    done = threading.Event()
    seen: list[int] = []

    def read_while_appending() -> None:
        with RedisStore(url) as reader:
            while not done.is_set():
                info = reader.transcripts.info(MAIN)
                seen.append(0 if info is None else info.lines)

    watcher = threading.Thread(target=read_while_appending)
    watcher.start()
    try:
        for call in range(calls):
            store.transcripts.append(MAIN, (line(call * size + n) for n in range(size)))
    finally:
        done.set()
        watcher.join(30)
    assert {count % size for count in seen} == {0}
    assert len(list(store.transcripts.read(MAIN))) == calls * size


def _append_large_calls(url: str, worker: int) -> None:
    with open_store(url) as store:
        for call in range(3):
            first = worker * 100_000 + call * 10_000
            store.transcripts.append(MAIN, (line(first + n) for n in range(1_200)))  # > one batch
            store.transcripts.append(MAIN, [line(worker * 100_000 + 90_000 + call)])


@pytest.mark.slow
def test_concurrent_large_appends_stay_contiguous(url: str) -> None:
    with open_store(url):
        pass  # migrate first
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_large_calls, args=(url, w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    with open_store(url) as store:
        numbers = [json.loads(entry)["n"] for entry in store.transcripts.read(MAIN)]
        info = store.transcripts.info(MAIN)
    assert info is not None and info.lines == len(numbers) == 4 * 3 * 1_201
    position = 0
    while position < len(numbers):
        first = numbers[position]
        if first % 100_000 >= 90_000:  # a one-line call
            position += 1
            continue
        assert numbers[position : position + 1_200] == list(range(first, first + 1_200)), position
        position += 1_200


def test_check_reports_a_transcript_changed_by_hand(store: RedisStore, url: str, client: redis.Redis) -> None:
    store.transcripts.append(SIDE, [line(1), line(2)])
    assert store.check() == []
    p, s, sub = (part.encode().hex() for part in (SIDE.project_key, SIDE.session_id, SIDE.subpath))
    client.rpop(f"{prefix_of(url)}:tlines:{p}:{s}:{sub}")
    assert store.check() == [f"transcript {SIDE!r}: 1 line(s) stored, 2 recorded"]


def test_no_transcript_operation_sends_keys(
    store: RedisStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_transcripts, "BATCH", 2)
    monkeypatch.setattr(redis_transcripts, "APPEND_LINES", 3)
    seen: list[str] = []
    watcher = redis_client()
    ready = threading.Event()

    def watch() -> None:
        with watcher.monitor() as monitor:
            ready.set()
            for event in monitor.listen():
                seen.append(event["command"])
                if "STOP-WATCHING" in event["command"]:
                    return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    time.sleep(0.2)
    transcripts = store.transcripts
    for n in range(5):
        transcripts.append(TranscriptKey("proj", f"s{n}"), [line(m) for m in range(7)])
        transcripts.append(TranscriptKey("proj", f"s{n}", "side"), [line(0)])
        transcripts.set_summary("proj", f"s{n}", "{}")
    assert len(list(transcripts.stored())) == 5
    assert len(transcripts.sessions("proj")) == 5
    assert transcripts.summaries("proj") == ["{}"] * 5
    assert transcripts.projects_of("s1") == ["proj"]
    assert transcripts.subpaths("proj", "s1") == ["side"]
    assert len(list(transcripts.read(TranscriptKey("proj", "s1")))) == 7
    assert store.check() == []
    for n in range(5):
        transcripts.delete(TranscriptKey("proj", f"s{n}"))
    redis_client().echo("STOP-WATCHING")
    thread.join(10)
    ours = [command for command in seen if prefix_of(url) in command]
    assert any(command.split()[0].strip('"').upper() == "EVALSHA" for command in ours), "MONITOR saw it"
    assert not [command for command in seen if command.split()[0].strip('"').upper() == "KEYS"]


# --- locks: bounded by the TTL, renewed while held ------------------------------------------------------


@pytest.mark.slow
def test_a_held_lock_is_renewed_past_its_ttl() -> None:
    with redis_url(lock_ttl="1s") as url, RedisStore(url) as store, RedisStore(url) as other:
        with store.thread_lock("default", "long-run", 0):
            time.sleep(2.5)  # more than two TTLs
            with pytest.raises(Busy):
                other.thread_lock("default", "long-run", 0).__enter__()
        with other.thread_lock("default", "long-run", 0):
            pass


def test_lock_ttl_parameter(url: str) -> None:
    assert RedisStore(url).lock_ttl == timedelta(seconds=2)
    assert RedisStore(url.replace("lock_ttl=2s", "lock_ttl=1.5")).lock_ttl == timedelta(seconds=1.5)
    assert RedisStore(url.replace("&lock_ttl=2s", "")).lock_ttl == timedelta(seconds=30)


# --- connection errors: one line, quick, no password ------------------------------------------------------

SECRET = "pa55-w0rd-never-shown"


def assert_clean_store_error(url: str, expected: str, *, within: float = 5) -> str:
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        open_store(url)
    elapsed = time.monotonic() - started
    message = str(raised.value)
    assert elapsed < within, f"took {elapsed:.1f}s"
    assert "\n" not in message
    assert SECRET not in message
    assert expected in message, message
    return message


def test_unreachable_server_is_a_quick_store_error() -> None:
    message = assert_clean_store_error(f"redis://:{SECRET}@127.0.0.1:1/0", "Connection refused")
    assert "redis://:***@127.0.0.1:1/0" in message


def test_wrong_password_is_a_store_error(client: redis.Redis) -> None:
    # An ACL user with a password on the shared server: Redis really checks it (WRONGPASS).
    user = f"sessmap_test_{time.monotonic_ns()}"
    client.acl_setuser(user, enabled=True, passwords=["+right-password"], keys=["*"], commands=["+@all"])
    try:
        host = redis_server_url().split("://", 1)[1].rsplit("@", 1)[-1]
        with open_store(f"redis://{user}:right-password@{host}?prefix={user}") as store:
            assert "right-password" not in store.url
        message = assert_clean_store_error(
            f"redis://{user}:{SECRET}@{host}", "invalid username-password pair"
        )
        assert "right-password" not in message
    finally:
        client.acl_deluser(user)
        client.delete(f"{user}:schema", f"{user}:migrations")


def test_missing_database_is_a_store_error() -> None:
    host = redis_server_url().split("://", 1)[1].split("/", 1)[0]
    assert_clean_store_error(f"redis://:{SECRET}@{host}/999", "DB index is out of range")


@pytest.mark.slow
def test_tls_scheme_reaches_the_driver() -> None:
    # rediss:// against a plain-text server: the TLS handshake fails; the scheme was not dropped.
    host = redis_server_url().split("://", 1)[1].split("/", 1)[0]
    # The server never answers the handshake, so this waits for the socket timeout (4 s).
    message = assert_clean_store_error(f"rediss://:{SECRET}@{host}/0", "cannot connect to Redis", within=6)
    assert message.startswith("cannot connect to Redis at rediss://:***@")


def test_cli_reports_an_unreachable_server_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sessmap", "--store", f"redis://:{SECRET}@127.0.0.1:1/0", "list"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("sessmap: error: cannot connect to Redis at redis://:***@127.0.0.1:1/0")
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr


def test_missing_driver_names_the_extra_to_install() -> None:
    # Simulated: a None entry in sys.modules makes `import redis` fail as if not installed.
    script = (
        "import sys; sys.modules['redis'] = None\n"
        "from sessmap.errors import StoreError\n"
        "from sessmap.stores import open_store\n"
        "try:\n    open_store('redis://127.0.0.1/0')\n"
        "except StoreError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "the Redis store needs redis-py: pip install 'sessmap[redis]'"
