"""The TranscriptStore contract (stores/base.py), run against every backend of
tests/support/backends.py, the test-only memory store too.

Transcripts are append-only JSONL lines under (project_key, session_id[, subpath]), as the
Claude Agent SDK's SessionStore keeps them; every store holds them the same way.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable

import pytest
from tests.support.backends import ALL_KINDS, BACKENDS, backend_params, open_url

from sessmap.model import Mapping
from sessmap.stores import Store, open_store
from sessmap.stores.base import TAIL_BYTES, TranscriptKey

MAIN = TranscriptKey("-tmp-work", "0d3c4b2a-1111-4222-8333-444455556666")
SIDE = TranscriptKey(MAIN.project_key, MAIN.session_id, "subagents/agent-a1")


@pytest.fixture(params=backend_params(ALL_KINDS))
def backend(request: pytest.FixtureRequest) -> str:
    """Every backend, the memory store too (tests/stores/conftest.py builds the store from it)."""
    name: str = request.param
    return name


def entry(n: int, text: str = "") -> bytes:
    return json.dumps({"type": "user", "uuid": f"u{n}", "n": n, "text": text}).encode()


def test_nothing_stored_reads_as_nothing(store: Store) -> None:
    transcripts = store.transcripts
    assert transcripts.info(MAIN) is None
    assert list(transcripts.read(MAIN)) == []
    assert transcripts.sessions(MAIN.project_key) == []
    assert transcripts.subpaths(MAIN.project_key, MAIN.session_id) == []
    assert transcripts.projects_of(MAIN.session_id) == []
    assert list(transcripts.stored()) == []
    assert transcripts.append(MAIN, []) is None
    assert transcripts.info(MAIN) is None


def test_appends_keep_order_and_exact_bytes(store: Store) -> None:
    lines = [entry(1), '{"type":"x","t":"żółw ✓"}'.encode(), b'{"type":"x",  "spaced" : 1}']
    before = int(time.time() * 1000)
    first = store.transcripts.append(MAIN, lines[:1])
    info = store.transcripts.append(MAIN, lines[1:])
    assert first is not None and first.lines == 1
    assert info is not None
    assert list(store.transcripts.read(MAIN)) == lines
    assert list(store.transcripts.read(MAIN, 1)) == lines[1:]
    assert list(store.transcripts.read(MAIN, 3)) == []
    expected = b"".join(line + b"\n" for line in lines)
    assert (info.lines, info.size, info.tail) == (3, len(expected), expected[-TAIL_BYTES:])
    assert info.mtime_ms >= before - 1000 and info.mtime_ms > 1e12
    assert store.transcripts.info(MAIN) == info
    assert store.transcripts.append(MAIN, []) == info


def test_tail_is_the_last_bytes_across_appends(store: Store) -> None:
    big = [entry(n, "x" * 700) for n in range(12)]
    for line in big:
        store.transcripts.append(MAIN, [line])
    info = store.transcripts.info(MAIN)
    content = b"".join(line + b"\n" for line in big)
    assert info is not None and info.tail == content[-TAIL_BYTES:] and info.size == len(content)


def test_side_files_and_projects_are_separate(store: Store) -> None:
    other_project = TranscriptKey("-srv-other", MAIN.session_id)
    other_session = TranscriptKey(MAIN.project_key, "second")
    store.transcripts.append(MAIN, [entry(1)])
    store.transcripts.append(SIDE, [entry(2)])
    store.transcripts.append(
        TranscriptKey(MAIN.project_key, MAIN.session_id, "subagents/agent-b2"), [entry(3)]
    )
    store.transcripts.append(other_project, [entry(4)])
    store.transcripts.append(other_session, [entry(5)])
    assert list(store.transcripts.read(MAIN)) == [entry(1)]
    assert list(store.transcripts.read(SIDE)) == [entry(2)]
    assert list(store.transcripts.read(other_project)) == [entry(4)]
    sessions = store.transcripts.sessions(MAIN.project_key)
    assert sorted(info.key.session_id for info in sessions) == sorted([MAIN.session_id, "second"])
    assert all(info.key.subpath == "" for info in sessions)
    assert store.transcripts.subpaths(MAIN.project_key, MAIN.session_id) == [
        "subagents/agent-a1",
        "subagents/agent-b2",
    ]
    assert store.transcripts.projects_of(MAIN.session_id) == sorted(["-srv-other", MAIN.project_key])
    assert sorted(store.transcripts.stored()) == sorted(
        [(MAIN.project_key, MAIN.session_id), ("-srv-other", MAIN.session_id), (MAIN.project_key, "second")]
    )


def test_a_side_file_alone_counts_as_stored(store: Store) -> None:
    store.transcripts.append(SIDE, [entry(1)])
    assert store.transcripts.sessions(MAIN.project_key) == []
    assert store.transcripts.projects_of(MAIN.session_id) == [MAIN.project_key]
    assert list(store.transcripts.stored()) == [(MAIN.project_key, MAIN.session_id)]
    store.transcripts.delete(MAIN)  # the main key takes its side files even when it has none itself
    assert list(store.transcripts.stored()) == []
    assert store.transcripts.projects_of(MAIN.session_id) == []


def test_deleting_a_main_transcript_takes_its_side_files(store: Store) -> None:
    other = TranscriptKey(MAIN.project_key, "other")
    store.transcripts.append(MAIN, [entry(1)])
    store.transcripts.append(SIDE, [entry(2)])
    store.transcripts.append(other, [entry(3)])
    store.transcripts.set_summary(MAIN.project_key, MAIN.session_id, '{"session_id": "s"}')
    store.transcripts.delete(MAIN)
    assert store.transcripts.info(MAIN) is None and store.transcripts.info(SIDE) is None
    assert list(store.transcripts.read(SIDE)) == []
    assert store.transcripts.projects_of(MAIN.session_id) == []
    assert store.transcripts.summaries(MAIN.project_key) == []
    assert list(store.transcripts.read(other)) == [entry(3)]
    store.transcripts.delete(MAIN)  # deleting what is gone is a no-op


def test_deleting_a_side_file_keeps_the_rest(store: Store) -> None:
    store.transcripts.append(MAIN, [entry(1)])
    store.transcripts.append(SIDE, [entry(2)])
    store.transcripts.delete(SIDE)
    assert store.transcripts.info(SIDE) is None
    assert list(store.transcripts.read(MAIN)) == [entry(1)]
    assert store.transcripts.subpaths(MAIN.project_key, MAIN.session_id) == []


def test_summaries_are_kept_verbatim_per_project(store: Store) -> None:
    store.transcripts.append(MAIN, [entry(1)])
    store.transcripts.set_summary(MAIN.project_key, MAIN.session_id, '{"v": 1}')
    store.transcripts.set_summary(MAIN.project_key, MAIN.session_id, '{"v": 2, "ü": true}')
    store.transcripts.set_summary("-elsewhere", "x", '{"v": 3}')
    assert store.transcripts.summaries(MAIN.project_key) == ['{"v": 2, "ü": true}']
    assert store.transcripts.summaries("-never") == []


def test_the_conformance_suites_odd_keys_work(store: Store) -> None:
    # The SDK's own suite uses short project keys and ids that are no agent's.
    for key in (
        TranscriptKey("A", "s1"),
        TranscriptKey("proj", "nope"),
        TranscriptKey("p/q", "a:b", "x/y/z"),
    ):
        store.transcripts.append(key, [b'{"type":"x"}'])
        assert list(store.transcripts.read(key)) == [b'{"type":"x"}']


def test_a_long_transcript_streams_back_in_order(store: Store) -> None:
    lines = (entry(n, "y" * 200) for n in range(5000))
    info = store.transcripts.append(MAIN, lines)
    assert info is not None and info.lines == 5000
    for n, line in enumerate(store.transcripts.read(MAIN)):
        assert line == entry(n, "y" * 200)
    assert n == 4999


def test_a_second_handle_sees_appends(store: Store, backend_url: str) -> None:
    store.transcripts.append(MAIN, [entry(1)])
    with open_url(backend_url) as other:
        other.transcripts.append(MAIN, [entry(2)])
        assert list(other.transcripts.read(MAIN)) == [entry(1), entry(2)]
    assert list(store.transcripts.read(MAIN)) == [entry(1), entry(2)]


def _append_many(url: str, worker: int, count: int) -> None:
    with open_store(url) as store:
        for n in range(count):
            store.transcripts.append(MAIN, [entry(worker * 1000 + n), entry(worker * 1000 + n, "pair")])


@pytest.mark.slow
def test_concurrent_appenders_lose_nothing_and_keep_each_batch_whole(cross_process_url: str) -> None:
    url = cross_process_url
    with open_store(url):
        pass  # create and migrate first
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(url, w, 25)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    with open_store(url) as store:
        lines = list(store.transcripts.read(MAIN))
        info = store.transcripts.info(MAIN)
    assert len(lines) == 200 and info is not None and info.lines == 200
    assert info.size == sum(len(line) + 1 for line in lines)
    for first, second in zip(lines[::2], lines[1::2], strict=True):
        assert json.loads(first)["n"] == json.loads(second)["n"]  # a batch is never split


def test_mapping_fields_of_this_round_round_trip(store: Store, make_mapping: Callable[..., Mapping]) -> None:
    from datetime import UTC, datetime

    from sessmap.model import HistoryEntry

    history = (
        HistoryEntry("s-two", datetime(2026, 11, 2, tzinfo=UTC), "stale"),
        HistoryEntry("s-one", datetime(2026, 11, 1, tzinfo=UTC), "new"),
    )
    mapping = make_mapping("k", host="bot-a.example", agent_home="/home/bot/.claude", history=history)
    store.insert(mapping)
    assert store.get("default", "k") == mapping
    changed = store.update("default", "k", lambda m: m.evolve(host="bot-b", history=history[:1]))
    assert store.get("default", "k") == changed and changed.history == history[:1]


def test_only_server_stores_are_shared(store: Store, backend: str) -> None:
    assert store.shared is BACKENDS[backend].server
