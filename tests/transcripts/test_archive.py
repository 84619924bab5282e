"""Transcripts in export/import streams (transcripts/archive.py, SPEC §7): a map moves to a
new store with its conversations, in bounded records, once, and all or nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sessmap import service
from sessmap.errors import InvalidInput
from sessmap.model import HistoryEntry, Mapping
from sessmap.stores import Store, open_store
from sessmap.stores.base import Query, TranscriptKey
from sessmap.transcripts import archive
from sessmap.transcripts.archive import CHUNK_LINES, RECORD_FIELD, Spool, is_record, records

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
S1 = "11111111-1111-4111-8111-111111111111"
S2 = "22222222-2222-4222-8222-222222222222"
OLD = "00000000-0000-4000-8000-000000000000"
PROJECT = "-srv-work"


def entry(n: int, where: str = "main") -> bytes:
    return json.dumps({"type": "user", "n": n, "where": where, "text": "żółw ✓"}, ensure_ascii=False).encode()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:{tmp_path / 'source.db'}") as opened:
        yield opened


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:{tmp_path / 'target.db'}") as opened:
        yield opened


def mapping(key: str, session_id: str, **fields: Any) -> Mapping:
    return Mapping(
        key=key, provider="claude", session_id=session_id, created_at=T0, updated_at=T0, **fields
    ).validate()


def everything(store: Store) -> dict[TranscriptKey, list[bytes]]:
    """Every stored transcript (side files included) and its lines."""
    found: dict[TranscriptKey, list[bytes]] = {}
    for project_key, session_id in store.transcripts.stored():
        for subpath in ["", *store.transcripts.subpaths(project_key, session_id)]:
            key = TranscriptKey(project_key, session_id, subpath)
            found[key] = list(store.transcripts.read(key))
    return found


def all_mappings(store: Store) -> list[Mapping]:
    return list(store.query(Query(sort="key")))


# -- records ---------------------------------------------------------------------------------


def test_records_are_chunked_by_chunk_lines(source: Store) -> None:
    lines = [entry(n) for n in range(2 * CHUNK_LINES + 7)]
    source.transcripts.append(TranscriptKey(PROJECT, S1), lines)
    exported = list(records(source, [S1]))
    head = {"project_key": PROJECT, "session_id": S1, "subpath": ""}
    assert [record[RECORD_FIELD] for record in exported] == [head, head, head]
    assert [len(record["lines"]) for record in exported] == [CHUNK_LINES, CHUNK_LINES, 7]
    assert [line.encode() for record in exported for line in record["lines"]] == lines
    assert all(set(record) == {RECORD_FIELD, "lines"} for record in exported)
    assert all(is_record(record) for record in exported)


def test_records_are_chunked_by_bytes_too(source: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "CHUNK_BYTES", 100)
    lines = [b'{"n":%d,"pad":"%s"}' % (n, b"x" * 40) for n in range(5)]  # 50+ bytes each
    source.transcripts.append(TranscriptKey(PROJECT, S1), lines)
    exported = list(records(source, [S1]))
    assert [len(record["lines"]) for record in exported] == [2, 2, 1]
    assert [line.encode() for record in exported for line in record["lines"]] == lines


def test_records_cover_side_files_and_every_project_in_order(source: Store) -> None:
    source.transcripts.append(TranscriptKey(PROJECT, S2), [entry(1)])
    source.transcripts.append(TranscriptKey(PROJECT, S1, "subagents/agent-b2"), [entry(2, "b2")])
    source.transcripts.append(TranscriptKey(PROJECT, S1), [entry(3)])
    source.transcripts.append(TranscriptKey(PROJECT, S1, "subagents/agent-a1"), [entry(4, "a1")])
    source.transcripts.append(TranscriptKey("-other", S1), [entry(5)])
    source.transcripts.append(TranscriptKey(PROJECT, "not-asked-for"), [entry(6)])
    heads = [
        (r[RECORD_FIELD]["project_key"], r[RECORD_FIELD]["session_id"], r[RECORD_FIELD]["subpath"])
        for r in records(source, [S2, S1, S1, "nothing-stored"])
    ]
    assert heads == [
        ("-other", S1, ""),
        (PROJECT, S1, ""),
        (PROJECT, S1, "subagents/agent-a1"),
        (PROJECT, S1, "subagents/agent-b2"),
        (PROJECT, S2, ""),
    ]


def test_a_line_that_is_not_utf8_cannot_be_exported(source: Store) -> None:
    source.transcripts.append(TranscriptKey(PROJECT, S1), [b'{"bytes":"\xff"}'])
    with pytest.raises(InvalidInput, match="not UTF-8"):
        list(records(source, [S1]))


# -- export | import -------------------------------------------------------------------------


def fill(source: Store) -> dict[TranscriptKey, list[bytes]]:
    source.insert(mapping("slack:C1:1", S1, history=(HistoryEntry(OLD, T0, "new"),)))
    source.insert(mapping("slack:C1:2", S2))
    stored = {
        TranscriptKey(PROJECT, S1): [entry(n) for n in range(CHUNK_LINES + 500)],
        TranscriptKey(PROJECT, S1, "subagents/agent-a1"): [entry(n, "a1") for n in range(3)],
        TranscriptKey(PROJECT, S2): [entry(n) for n in range(4)],
        TranscriptKey(PROJECT, OLD): [entry(0, "old")],
    }
    for key, lines in stored.items():
        source.transcripts.append(key, lines)
    source.transcripts.append(TranscriptKey(PROJECT, "unmapped"), [entry(0)])  # no mapping needs it
    return stored


def exported(store: Store, *, transcripts: bool = True) -> list[str]:
    return list(service.export_lines(store, Query(sort="key"), transcripts=transcripts))


def test_export_import_moves_mappings_with_their_transcripts(source: Store, target: Store) -> None:
    stored = fill(source)
    lines = exported(source)
    assert sum(1 for line in lines if is_record(json.loads(line))) == 5  # S1 main in two chunks
    result = service.import_mappings(target, lines, "fail")
    assert result.mappings.inserted == 2
    assert result.transcript_lines == sum(len(v) for v in stored.values())
    assert all_mappings(target) == all_mappings(source)
    assert everything(target) == stored


def test_export_without_transcripts_has_no_records(source: Store) -> None:
    fill(source)
    assert [json.loads(line)["key"] for line in exported(source, transcripts=False)] == [
        "slack:C1:1",
        "slack:C1:2",
    ]


def test_importing_twice_keeps_one_copy(source: Store, target: Store) -> None:
    stored = fill(source)
    lines = exported(source)
    service.import_mappings(target, lines, "fail")
    again = service.import_mappings(target, lines, "skip")
    assert again.mappings.skipped == 2 and again.transcript_lines == 0
    assert everything(target) == stored
    info = target.transcripts.info(TranscriptKey(PROJECT, S1))
    assert info is not None and info.lines == CHUNK_LINES + 500


def test_import_appends_only_what_the_target_lacks(source: Store, target: Store) -> None:
    stored = fill(source)
    main = TranscriptKey(PROJECT, S1)
    held = CHUNK_LINES + 20  # reaches into the second chunk
    target.transcripts.append(main, stored[main][:held])
    result = service.import_mappings(target, exported(source), "fail")
    assert result.transcript_lines == sum(len(v) for v in stored.values()) - held
    assert everything(target) == stored


def test_spool_apply_without_records_is_zero(target: Store) -> None:
    spool = Spool()
    try:
        assert spool.apply(target) == 0
    finally:
        spool.close()


def record(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        RECORD_FIELD: {"project_key": PROJECT, "session_id": S1, "subpath": ""},
        "lines": ['{"n":1}'],
    }
    data.update(changes)
    return data


def head(**changes: Any) -> dict[str, Any]:
    return {"project_key": PROJECT, "session_id": S1, "subpath": "", **changes}


BAD_RECORDS = {
    "no-lines": {RECORD_FIELD: head()},
    "extra-field": record(extra=1),
    "head-not-an-object": record(transcript=[PROJECT, S1, ""]),
    "head-extra-field": record(transcript=head(cwd="/w")),
    "head-missing-subpath": record(transcript={"project_key": PROJECT, "session_id": S1}),
    "empty-project": record(transcript=head(project_key="")),
    "empty-session": record(transcript=head(session_id="")),
    "session-not-a-string": record(transcript=head(session_id=5)),
    "subpath-null": record(transcript=head(subpath=None)),
    "lines-not-a-list": record(lines='{"n":1}'),
    "line-not-a-string": record(lines=['{"n":1}', 2]),
    "line-with-a-newline": record(lines=['{"n":1}\n{"n":2}']),
    "line-lone-surrogate": record(lines=['{"t":"\ud800"}']),
    "session-lone-surrogate": record(transcript=head(session_id="s\udc80")),
}


@pytest.mark.parametrize("bad", BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_a_malformed_record_fails_the_import_and_writes_nothing(
    source: Store, target: Store, bad: dict[str, Any]
) -> None:
    fill(source)
    lines = [*exported(source), json.dumps(bad)]
    with pytest.raises(InvalidInput, match=f"line {len(lines)}:"):
        service.import_mappings(target, lines, "fail")
    assert all_mappings(target) == []
    assert list(target.transcripts.stored()) == []


def test_a_malformed_record_before_the_mappings_end_writes_nothing(target: Store) -> None:
    lines = [
        json.dumps(mapping("k1", S1).to_dict()),
        json.dumps(BAD_RECORDS["line-not-a-string"]),
        json.dumps(mapping("k2", S2).to_dict()),
    ]
    with pytest.raises(InvalidInput, match="line 2:"):
        service.import_mappings(target, lines, "fail")
    assert all_mappings(target) == []
    assert list(target.transcripts.stored()) == []


def test_a_conflict_imports_no_transcripts(source: Store, target: Store) -> None:
    fill(source)
    target.insert(mapping("slack:C1:2", S2))
    with pytest.raises(Exception, match="exist already"):
        service.import_mappings(target, exported(source), "fail")
    assert list(target.transcripts.stored()) == []
