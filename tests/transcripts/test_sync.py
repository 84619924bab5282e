"""The store's copy kept in step with the agent's files (transcripts/sync.py, SPEC §7).

restore: before a run, write the stored entries where the agent looks when its file is missing
or shorter; a local file that went its own way is kept aside, and the user told. upload: after
a run, append only the complete lines the run added. Real files, real SQLite store.
"""

from __future__ import annotations

import gc
import json
import os
import tracemalloc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sessmap.providers.codex import CodexProvider
from sessmap.stores import Store, open_store
from sessmap.stores.base import TranscriptInfo, TranscriptKey, TranscriptStore
from sessmap.transcripts.locate import CODEX_PROJECT, ClaudeLocator, CodexLocator, Found, Locator
from sessmap.transcripts.sync import TranscriptSync, complete_lines

ID = "0d3c4b2a-1111-4222-8333-444455556666"
SIDE_A = "subagents/agent-a1"
SIDE_B = "subagents/agent-b2"


def entry(n: int, text: str = "") -> bytes:
    return json.dumps({"type": "user", "uuid": f"u{n}", "text": text or f"turn {n} żółw"}).encode()


def content(lines: Iterable[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


LINES = [entry(n) for n in range(5)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:{tmp_path / 's.db'}") as opened:
        yield opened


@pytest.fixture
def cwd(tmp_path: Path) -> str:
    folder = tmp_path / "work"
    folder.mkdir()
    return str(folder)


@dataclass
class Recording:
    """A TranscriptStore that records what each append was given, over the real one."""

    inner: TranscriptStore
    appended: list[tuple[TranscriptKey, list[bytes]]] = field(default_factory=list)

    def append(self, key: TranscriptKey, lines: Iterable[bytes]) -> TranscriptInfo | None:
        kept: list[bytes] = []

        def passing() -> Iterator[bytes]:
            for line in lines:
                kept.append(line)
                yield line

        info = self.inner.append(key, passing())
        self.appended.append((key, kept))
        return info

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@dataclass
class Env:
    store: Store
    home: Path
    cwd: str
    locator: Locator
    messages: list[str] = field(default_factory=list)

    @property
    def sync(self) -> TranscriptSync:
        return TranscriptSync(self.locator, self.store.transcripts, self.home, self.messages.append)

    def recording(self) -> tuple[TranscriptSync, Recording]:
        recording = Recording(self.store.transcripts)
        sync = TranscriptSync(self.locator, recording, self.home, self.messages.append)  # type: ignore[arg-type]
        return sync, recording

    @property
    def project(self) -> str:
        return self.locator.project_key(self.cwd)

    def key(self, subpath: str = "") -> TranscriptKey:
        return TranscriptKey(self.project, ID, subpath)

    def local(self, subpath: str = "") -> Path:
        return self.locator.restore_path(self.home, self.key(subpath), None)

    def stored(self, subpath: str = "") -> list[bytes]:
        return list(self.store.transcripts.read(self.key(subpath)))


@pytest.fixture
def claude(store: Store, tmp_path: Path, cwd: str) -> Env:
    return Env(store, tmp_path / "claude-home", cwd, ClaudeLocator())


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def kept_aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.diverged-*"))


def test_file_stores_keep_copies_only_when_the_config_says_store(store: Store) -> None:
    from sessmap.config import parse_config

    assert store.shared is False
    assert parse_config({}, Path("c.toml")).keeps_transcripts(store.shared) is False
    assert parse_config({"transcripts": "store"}, Path("c.toml")).keeps_transcripts(store.shared) is True
    assert parse_config({"transcripts": "local"}, Path("c.toml")).keeps_transcripts(store.shared) is False


# -- restore -----------------------------------------------------------------------------------


def test_restore_writes_a_missing_transcript_byte_for_byte(claude: Env) -> None:
    claude.store.transcripts.append(claude.key(), LINES)
    claude.sync.restore(ID, claude.cwd)
    path = claude.home / "projects" / claude.project / f"{ID}.jsonl"
    assert path.read_bytes() == content(LINES)
    assert os.listdir(path.parent) == [path.name]  # no temporary file left behind
    assert claude.messages == []
    assert claude.locator.find(claude.home, ID, claude.cwd) == Found(path, claude.project)


def test_restore_without_a_stored_copy_writes_nothing(claude: Env) -> None:
    claude.sync.restore(ID, claude.cwd)
    assert not claude.home.exists()
    assert claude.messages == []


@pytest.mark.parametrize("held", [0, 1, 3], ids=["empty", "one-line", "three-lines"])
def test_restore_appends_the_rest_to_a_shorter_prefix_in_place(claude: Env, held: int) -> None:
    claude.store.transcripts.append(claude.key(), LINES)
    path = write(claude.local(), content(LINES[:held]))
    inode = path.stat().st_ino
    claude.sync.restore(ID, claude.cwd)
    assert path.read_bytes() == content(LINES)
    assert path.stat().st_ino == inode  # appended to, not replaced
    assert kept_aside(path) == []
    assert claude.messages == []


@pytest.mark.parametrize("extra", [[], [entry(10), entry(11)]], ids=["equal", "longer"])
def test_restore_leaves_an_equal_or_longer_consistent_file_alone(claude: Env, extra: list[bytes]) -> None:
    claude.store.transcripts.append(claude.key(), LINES)
    data = content(LINES + extra) + b'{"partial'
    path = write(claude.local(), data)
    before = path.stat()
    claude.sync.restore(ID, claude.cwd)
    after = path.stat()
    assert path.read_bytes() == data
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    assert claude.stored() == LINES  # restore never writes to the store
    assert claude.messages == []


DIVERGED = {
    "same-length-other-bytes": content([*LINES[:2], entry(2).replace(b"turn", b"TURN"), *LINES[3:]]),
    "shorter-not-a-prefix": content([LINES[0], entry(99)]),
    "longer-other-history": content([entry(50), entry(51), *LINES, entry(52)]),
    "longer-but-stored-tail-differs": content([*LINES[:4], entry(4, "edited"), entry(5)]),
}


@pytest.mark.parametrize("local", DIVERGED.values(), ids=DIVERGED.keys())
def test_restore_keeps_a_diverged_local_file_aside_and_says_so(claude: Env, local: bytes) -> None:
    claude.store.transcripts.append(claude.key(), LINES)
    path = write(claude.local(), local)
    claude.sync.restore(ID, claude.cwd)
    assert path.read_bytes() == content(LINES)
    [kept] = kept_aside(path)
    assert kept.read_bytes() == local
    assert len(claude.messages) == 1
    assert str(path) in claude.messages[0] and str(kept) in claude.messages[0]
    assert claude.stored() == LINES


def test_restore_of_a_cut_off_last_line_loses_nothing(claude: Env) -> None:
    # The agent died mid-write: the file is a byte prefix of the store's copy, not a line prefix.
    claude.store.transcripts.append(claude.key(), LINES)
    cut = content(LINES[:2]) + LINES[2][:7]
    path = write(claude.local(), cut)
    claude.sync.restore(ID, claude.cwd)
    assert path.read_bytes() == content(LINES)
    assert all(kept.read_bytes() == cut for kept in kept_aside(path))


def test_two_divergences_in_one_second_keep_both_local_files(
    claude: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sessmap.transcripts.sync as sync_module

    moment = sync_module.now()
    monkeypatch.setattr(sync_module, "now", lambda: moment)  # both in the same second, surely
    claude.store.transcripts.append(claude.key(), LINES)
    path = claude.local()
    write(path, b"first local\n")
    claude.sync.restore(ID, claude.cwd)
    write(path, b"second local\n")
    claude.sync.restore(ID, claude.cwd)
    assert sorted(kept.read_bytes() for kept in kept_aside(path)) == [b"first local\n", b"second local\n"]


def test_restore_writes_side_files_under_the_session_folder(claude: Env) -> None:
    side_a, side_b = [entry(100), entry(101)], [entry(200)]
    claude.store.transcripts.append(claude.key(), LINES)
    claude.store.transcripts.append(claude.key(SIDE_A), side_a)
    claude.store.transcripts.append(claude.key(SIDE_B), side_b)
    claude.sync.restore(ID, claude.cwd)
    folder = claude.home / "projects" / claude.project
    assert (folder / f"{ID}.jsonl").read_bytes() == content(LINES)
    assert (folder / ID / "subagents" / "agent-a1.jsonl").read_bytes() == content(side_a)
    assert (folder / ID / "subagents" / "agent-b2.jsonl").read_bytes() == content(side_b)


def test_restore_completes_side_files_beside_a_complete_main_transcript(claude: Env) -> None:
    side_a, side_b = [entry(100), entry(101)], [entry(200)]
    claude.store.transcripts.append(claude.key(), LINES)
    claude.store.transcripts.append(claude.key(SIDE_A), side_a)
    claude.store.transcripts.append(claude.key(SIDE_B), side_b)
    write(claude.local(), content(LINES))
    a1 = write(claude.local(SIDE_A), content(side_a[:1]))
    claude.sync.restore(ID, claude.cwd)
    assert a1.read_bytes() == content(side_a)
    assert claude.local(SIDE_B).read_bytes() == content(side_b)


def test_restore_prefers_the_cwds_project_and_else_takes_the_stored_one(claude: Env) -> None:
    claude.store.transcripts.append(TranscriptKey("-aaa-first", ID), [entry(7)])
    claude.store.transcripts.append(claude.key(), LINES)
    claude.sync.restore(ID, claude.cwd)
    assert claude.local().read_bytes() == content(LINES)
    assert not (claude.home / "projects" / "-aaa-first").exists()

    claude.store.transcripts.delete(claude.key())
    claude.local().unlink()
    claude.sync.restore(ID, claude.cwd)
    assert (claude.home / "projects" / "-aaa-first" / f"{ID}.jsonl").read_bytes() == content([entry(7)])


def codex_meta(stamp: str = "2025-10-05T14:03:09.511Z") -> bytes:
    return json.dumps(
        {"timestamp": stamp, "type": "session_meta", "payload": {"id": ID, "timestamp": stamp}}
    ).encode()


@pytest.fixture
def codex(store: Store, tmp_path: Path, cwd: str) -> Env:
    return Env(store, tmp_path / "codex-home", cwd, CodexLocator())


def test_codex_restore_writes_the_canonical_dated_rollout(codex: Env) -> None:
    lines = [codex_meta(), *LINES]
    codex.store.transcripts.append(TranscriptKey(CODEX_PROJECT, ID), lines)
    codex.sync.restore(ID, codex.cwd)
    path = codex.home / "sessions" / "2025" / "10" / "05" / f"rollout-2025-10-05T14-03-09-{ID}.jsonl"
    assert path.read_bytes() == content(lines)
    assert CodexProvider().session_file_id(str(path)) == ID
    assert codex.locator.find(codex.home, ID, "/anywhere") == Found(path, CODEX_PROJECT)


def test_codex_restore_extends_a_shorter_dated_rollout_where_it_is(codex: Env) -> None:
    lines = [codex_meta(), *LINES]
    codex.store.transcripts.append(TranscriptKey(CODEX_PROJECT, ID), lines)
    name = f"rollout-2025-10-05T16-03-09-{ID}.jsonl"
    dated = write(codex.home / "sessions" / "2025" / "10" / "05" / name, content(lines[:2]))
    codex.sync.restore(ID, codex.cwd)
    assert dated.read_bytes() == content(lines)
    assert list((codex.home / "sessions").rglob("*.jsonl")) == [dated]


def test_a_flat_rollout_goes_back_to_its_dated_folder_before_a_resume(codex: Env) -> None:
    # codex's own index remembers the dated path and answers "no rollout found" for a flat file
    lines = [codex_meta(), *LINES]
    codex.store.transcripts.append(TranscriptKey(CODEX_PROJECT, ID), lines)
    name = f"rollout-2025-10-05T16-03-09-{ID}.jsonl"
    flat = write(codex.home / "sessions" / name, content(lines[:2]))
    codex.sync.restore(ID, codex.cwd)
    dated = codex.home / "sessions" / "2025" / "10" / "05" / name
    assert not flat.exists() and dated.read_bytes() == content(lines)
    assert list((codex.home / "sessions").rglob("*.jsonl")) == [dated]
    assert any(str(flat) in message and str(dated) in message for message in codex.messages)


def test_codex_restore_leaves_an_archived_rollout_alone(codex: Env) -> None:
    codex.store.transcripts.append(TranscriptKey(CODEX_PROJECT, ID), [codex_meta(), *LINES])
    archived = write(codex.home / "archived_sessions" / f"rollout-2025-10-05T14-03-09-{ID}.jsonl", b"{}\n")
    codex.sync.restore(ID, codex.cwd)
    assert archived.read_bytes() == b"{}\n"
    assert not (codex.home / "sessions").exists()


# -- upload ------------------------------------------------------------------------------------


def test_upload_stores_complete_lines_and_leaves_a_partial_one_for_later(claude: Env) -> None:
    sync, recording = claude.recording()
    path = write(claude.local(), content(LINES[:3]) + b'{"type":"assistant","par')
    found = sync.upload(ID, claude.cwd)
    assert found == Found(path, claude.project)
    info = claude.store.transcripts.info(claude.key())
    assert info is not None and (info.lines, info.size) == (3, len(content(LINES[:3])))
    assert claude.stored() == LINES[:3]

    with path.open("ab") as stream:  # the line is finished and the next turn written
        stream.write(b'tial":1}\n' + content(LINES[3:]))
    sync.upload(ID, claude.cwd)
    assert claude.stored() == [*LINES[:3], b'{"type":"assistant","partial":1}', *LINES[3:]]
    info = claude.store.transcripts.info(claude.key())
    assert info is not None and info.size == path.stat().st_size
    # Each upload sent only what the store did not hold.
    assert [lines for _, lines in recording.appended] == [
        LINES[:3],
        [b'{"type":"assistant","partial":1}', *LINES[3:]],
    ]
    assert claude.messages == []


def test_upload_with_nothing_new_appends_nothing(claude: Env) -> None:
    write(claude.local(), content(LINES))
    claude.sync.upload(ID, claude.cwd)
    before = claude.store.transcripts.info(claude.key())
    sync, recording = claude.recording()
    sync.upload(ID, claude.cwd)
    assert [lines for _, lines in recording.appended] == [[]]
    assert claude.store.transcripts.info(claude.key()) == before


def test_upload_after_a_local_rewrite_appends_nothing_and_says_so(claude: Env) -> None:
    path = write(claude.local(), content(LINES))
    claude.sync.upload(ID, claude.cwd)
    before = claude.store.transcripts.info(claude.key())
    write(path, content([entry(40), entry(41), *LINES, entry(42)]))  # rewritten, and longer
    claude.sync.upload(ID, claude.cwd)
    assert claude.store.transcripts.info(claude.key()) == before
    assert len(claude.messages) == 1 and str(path) in claude.messages[0]


def test_upload_of_a_truncated_local_file_appends_nothing_and_says_so(claude: Env) -> None:
    path = write(claude.local(), content(LINES))
    claude.sync.upload(ID, claude.cwd)
    write(path, content(LINES[:2]))
    claude.sync.upload(ID, claude.cwd)
    assert claude.stored() == LINES
    assert len(claude.messages) == 1 and str(path) in claude.messages[0]


def test_upload_stores_side_files_too(claude: Env) -> None:
    write(claude.local(), content(LINES))
    write(claude.local(SIDE_A), content([entry(100)]))
    claude.sync.upload(ID, claude.cwd)
    assert claude.store.transcripts.subpaths(claude.project, ID) == [SIDE_A]
    assert claude.stored(SIDE_A) == [entry(100)]


def test_upload_without_a_local_file_stores_nothing(claude: Env) -> None:
    assert claude.sync.upload(ID, claude.cwd) is None
    assert claude.store.transcripts.projects_of(ID) == []


def test_codex_upload_skips_an_archived_rollout(codex: Env) -> None:
    archived = write(codex.home / "archived_sessions" / f"rollout-2025-10-05T14-03-09-{ID}.jsonl", b"{}\n")
    assert codex.sync.upload(ID, codex.cwd) == Found(archived, CODEX_PROJECT, archived=True)
    assert codex.store.transcripts.projects_of(ID) == []


def test_a_session_moves_between_homes_through_the_store(claude: Env, tmp_path: Path) -> None:
    write(claude.local(), content(LINES[:3]))
    write(claude.local(SIDE_A), content([entry(100)]))
    claude.sync.upload(ID, claude.cwd)
    other = Env(claude.store, tmp_path / "other-host-home", claude.cwd, ClaudeLocator())
    other.sync.restore(ID, other.cwd)
    assert other.local().read_bytes() == content(LINES[:3])
    assert other.local(SIDE_A).read_bytes() == content([entry(100)])
    with other.local().open("ab") as stream:  # a turn there
        stream.write(content(LINES[3:]))
    other.sync.upload(ID, other.cwd)
    claude.sync.restore(ID, claude.cwd)  # back here: the first home catches up in place
    assert claude.local().read_bytes() == content(LINES)
    assert claude.messages == other.messages == []


def test_complete_lines_from_an_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", b"a\nbb\n\nccc\npartial")
    assert list(complete_lines(path, 0)) == [b"a", b"bb", b"", b"ccc"]
    assert list(complete_lines(path, 2)) == [b"bb", b"", b"ccc"]
    assert list(complete_lines(path, path.stat().st_size)) == []


def test_complete_lines_across_read_chunks(tmp_path: Path) -> None:
    long = b"x" * ((1 << 20) + 17)  # longer than one read
    path = write(tmp_path / "t.jsonl", b"a\n" + long + b"\nb\n")
    assert list(complete_lines(path, 0)) == [b"a", long, b"b"]


# -- a big transcript streams ----------------------------------------------------------------

BIG_LINES = 10_000


def big_line(n: int) -> bytes:
    return json.dumps({"type": "assistant", "n": n, "text": f"{n:08d}" * 124}).encode()  # ~1 KB


@pytest.mark.slow
def test_a_10_mb_transcript_uploads_and_restores_with_flat_memory(claude: Env, tmp_path: Path) -> None:
    path = claude.local()
    path.parent.mkdir(parents=True)
    with path.open("wb") as stream:
        for n in range(BIG_LINES):
            stream.write(big_line(n) + b"\n")
    size = path.stat().st_size
    assert size > 10_000_000

    gc.collect()
    tracemalloc.start()
    try:
        claude.sync.upload(ID, claude.cwd)
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        other = Env(claude.store, tmp_path / "other-home", claude.cwd, ClaudeLocator())
        other.sync.restore(ID, other.cwd)
        _, restore_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    info = claude.store.transcripts.info(claude.key())
    assert info is not None and (info.lines, info.size) == (BIG_LINES, size)
    assert other.local().stat().st_size == size
    with other.local().open("rb") as restored, path.open("rb") as original:
        while chunk := original.read(1 << 20):
            assert restored.read(1 << 20) == chunk
    # Upload holds a few 1 MiB buffers (a read chunk, its lines, a store batch), never the file.
    assert upload_peak < 5 << 20, f"upload peaked at {upload_peak} bytes for a {size}-byte file"
    assert restore_peak < size / 10, f"restore peaked at {restore_peak} bytes for a {size}-byte file"


# -- the store's key parts never lead a restore out of the agent home -------------------------


ESCAPES = {
    "side-file-dotdot": ("", "../../../../escaped"),
    "side-file-absolute": ("", "/tmp/escaped-absolute"),
    "project-dotdot": ("../..", ""),
    "project-absolute": ("/tmp", ""),
}


@pytest.mark.parametrize(("project", "subpath"), ESCAPES.values(), ids=ESCAPES.keys())
def test_restore_never_writes_outside_the_agent_home(
    claude: Env, tmp_path: Path, project: str, subpath: str
) -> None:
    # What an SDK caller or an imported export file put in the store.
    project = project or claude.project
    if subpath.startswith("/"):
        subpath = str(tmp_path / "outside" / "escaped-absolute")
    if project.startswith("/"):
        project = str(tmp_path / "outside")
    claude.store.transcripts.append(TranscriptKey(project, ID), LINES)
    if subpath:
        claude.store.transcripts.append(TranscriptKey(project, ID, subpath), [b'{"planted":1}'])
    before = {path for path in tmp_path.rglob("*") if path.is_file()}
    claude.sync.restore(ID, claude.cwd)
    written = {path for path in tmp_path.rglob("*") if path.is_file()} - before
    assert all(path.is_relative_to(claude.home) for path in written), written
    assert all(".." not in path.relative_to(claude.home).parts for path in written)
    assert len(claude.messages) == 1 and "outside" in claude.messages[0]
    if subpath:  # the main transcript's own key was fine: it is restored
        assert claude.local().read_bytes() == content(LINES)
    else:
        assert written == set()
