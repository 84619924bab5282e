"""Where each agent CLI keeps a session's transcript (transcripts/locate.py, AGENT-CLIS.md).

Every test builds its own agent home under tmp_path and passes it (or an env naming it)
explicitly: nothing here looks at the developer's real ~/.claude or ~/.codex.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sessmap.sdk_keys import MAX_SANITIZED_LENGTH, project_key_for, sanitize_path
from sessmap.stores.base import TranscriptKey
from sessmap.transcripts.locate import (
    CODEX_PROJECT,
    ClaudeLocator,
    CodexLocator,
    Found,
    is_file,
    locator_for,
)
from sessmap.transcripts.presence import is_dir

ID = "0d3c4b2a-1111-4222-8333-444455556666"
OTHER = "99999999-9999-4999-8999-999999999999"
STAMP = "2026-11-21T10-49-54"


def touch(path: Path, text: str = "{}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "agent-home"
    folder.mkdir()
    return folder


@pytest.fixture
def cwd(tmp_path: Path) -> str:
    folder = tmp_path / "work.dir"
    folder.mkdir()
    return str(folder)


# -- claude: the project folder --------------------------------------------------------------


def test_claude_project_key_is_the_sdk_project_key_of_the_cwd(cwd: str) -> None:
    locator = ClaudeLocator()
    assert locator.project_key(cwd) == project_key_for(cwd)
    assert locator.project_key(cwd).startswith("-") and "." not in locator.project_key(cwd)
    assert locator.project_key(None) == ""


def test_claude_finds_the_transcript_in_the_cwds_project_folder(home: Path, cwd: str) -> None:
    locator = ClaudeLocator()
    assert locator.find(home, ID, cwd) is None
    expected = touch(home / "projects" / project_key_for(cwd) / f"{ID}.jsonl")
    # A copy of the same id in a folder that sorts first: the cwd's own folder must win.
    touch(home / "projects" / "-0-first" / f"{ID}.jsonl")
    assert locator.find(home, ID, cwd) == Found(expected, project_key_for(cwd), archived=False)


def test_claude_finds_the_transcript_in_the_shortened_folder_of_a_long_cwd(
    home: Path, tmp_path: Path
) -> None:
    long_cwd = str(tmp_path / ("a" * 120) / ("b" * 120))
    key = project_key_for(long_cwd)
    sanitized = sanitize_path(long_cwd)
    assert len(sanitized) > MAX_SANITIZED_LENGTH
    assert key.startswith(sanitized[:MAX_SANITIZED_LENGTH] + "-") and len(key) > MAX_SANITIZED_LENGTH + 1
    expected = touch(home / "projects" / key / f"{ID}.jsonl")
    touch(home / "projects" / "-0-first" / f"{ID}.jsonl")
    found = ClaudeLocator().find(home, ID, long_cwd)
    assert found == Found(expected, key)


def test_claude_falls_back_to_any_project_folder(home: Path, cwd: str) -> None:
    # claude ≥ 2.1.223 resumes an id from any projects/*/ folder.
    elsewhere = touch(home / "projects" / "-srv-elsewhere" / f"{ID}.jsonl")
    touch(home / "projects" / "-srv-elsewhere" / f"{OTHER}.jsonl")
    assert ClaudeLocator().find(home, ID, cwd) == Found(elsewhere, "-srv-elsewhere")
    assert ClaudeLocator().find(home, ID, None) == Found(elsewhere, "-srv-elsewhere")


def test_claude_ignores_files_that_are_not_a_project_transcript(home: Path, cwd: str) -> None:
    touch(home / f"{ID}.jsonl")  # directly in home
    touch(home / "projects" / f"{ID}.jsonl")  # directly in projects/: claude does not find it there
    (home / "projects" / project_key_for(cwd) / f"{ID}.jsonl").mkdir(parents=True)  # a folder
    touch(home / "projects" / "-p" / f"{ID}.json")  # another suffix
    touch(home / "projects" / "-p" / f"x{ID}.jsonl")  # another id
    assert ClaudeLocator().find(home, ID, cwd) is None


def test_claude_without_a_projects_folder_finds_nothing(home: Path, cwd: str) -> None:
    assert ClaudeLocator().find(home, ID, cwd) is None
    assert ClaudeLocator().find(home / "missing", ID, None) is None


def test_claude_side_files_are_the_jsonl_files_under_the_session_folder(home: Path) -> None:
    folder = home / "projects" / "-w"
    main = touch(folder / f"{ID}.jsonl")
    b2 = touch(folder / ID / "subagents" / "agent-b2.jsonl")
    a1 = touch(folder / ID / "subagents" / "agent-a1.jsonl")
    touch(folder / ID / "tool-results" / "r1.txt")  # not a transcript
    touch(folder / OTHER / "subagents" / "agent-c3.jsonl")  # another session's
    assert list(ClaudeLocator().side_files(main)) == [("subagents/agent-a1", a1), ("subagents/agent-b2", b2)]


def test_claude_session_without_side_files(home: Path) -> None:
    main = touch(home / "projects" / "-w" / f"{ID}.jsonl")
    assert list(ClaudeLocator().side_files(main)) == []


def test_claude_restore_path_of_main_and_side_files(home: Path) -> None:
    locator = ClaudeLocator()
    assert locator.restore_path(home, TranscriptKey("-tmp-w", ID), None) == (
        home / "projects" / "-tmp-w" / f"{ID}.jsonl"
    )
    side = locator.restore_path(home, TranscriptKey("-tmp-w", ID, "subagents/agent-a1"), b"{}")
    assert side == home / "projects" / "-tmp-w" / ID / "subagents" / "agent-a1.jsonl"


def test_claude_restored_files_are_found_where_they_were_put(home: Path, cwd: str) -> None:
    locator = ClaudeLocator()
    key = TranscriptKey(locator.project_key(cwd), ID)
    main = touch(locator.restore_path(home, key, None))
    side = touch(locator.restore_path(home, TranscriptKey(key.project_key, ID, "subagents/agent-a1"), None))
    assert locator.find(home, ID, cwd) == Found(main, key.project_key)
    assert list(locator.side_files(main)) == [("subagents/agent-a1", side)]


# -- codex: rollouts ------------------------------------------------------------------------


def rollout_name(session_id: str = ID, stamp: str = STAMP) -> str:
    return f"rollout-{stamp}-{session_id}.jsonl"


def test_codex_project_key_is_fixed() -> None:
    assert CodexLocator().project_key("/any/where") == CODEX_PROJECT == "codex"
    assert CodexLocator().project_key(None) == CODEX_PROJECT


def test_codex_finds_a_dated_rollout_from_any_cwd(home: Path) -> None:
    locator = CodexLocator()
    assert locator.find(home, ID, None) is None
    touch(home / "sessions" / "2026" / "11" / "20" / rollout_name(OTHER))
    path = touch(home / "sessions" / "2026" / "11" / "21" / rollout_name())
    assert locator.find(home, ID, "/somewhere/else") == Found(path, CODEX_PROJECT, archived=False)


def test_codex_finds_a_rollout_directly_in_sessions(home: Path) -> None:
    path = touch(home / "sessions" / rollout_name())
    assert CodexLocator().find(home, ID, None) == Found(path, CODEX_PROJECT, archived=False)


@pytest.mark.parametrize("where", [(), ("2026", "11", "21")], ids=["flat", "dated"])
def test_codex_finds_an_archived_rollout_and_says_so(home: Path, where: tuple[str, ...]) -> None:
    path = touch(home.joinpath("archived_sessions", *where) / rollout_name())
    assert CodexLocator().find(home, ID, None) == Found(path, CODEX_PROJECT, archived=True)


def test_codex_prefers_the_live_rollout_over_an_archived_one(home: Path) -> None:
    touch(home / "archived_sessions" / rollout_name())
    live = touch(home / "sessions" / "2026" / "11" / "21" / rollout_name())
    assert CodexLocator().find(home, ID, None) == Found(live, CODEX_PROJECT, archived=False)


def test_codex_ignores_names_that_are_not_this_sessions_rollout(home: Path) -> None:
    dated = home / "sessions" / "2026" / "11" / "21"
    touch(dated / f"{ID}.jsonl")
    touch(dated / f"rollout-{STAMP}-{ID}.json")
    touch(dated / f"rollout-{STAMP}-{ID}.jsonl.diverged-2026-11-21T10:00:00Z")
    touch(dated / rollout_name(OTHER))
    (home / "sessions" / "2026" / "11" / "22" / rollout_name()).mkdir(parents=True)  # a folder
    assert CodexLocator().find(home, ID, None) is None


def session_meta(timestamp: str | None, top: str | None = None) -> bytes:
    line: dict[str, object] = {"type": "session_meta", "payload": {"id": ID, "cwd": "/w"}}
    if timestamp is not None:
        line["payload"] = {"id": ID, "cwd": "/w", "timestamp": timestamp}
    if top is not None:
        line["timestamp"] = top
    return json.dumps(line).encode()


@pytest.mark.parametrize(
    ("first_line", "folder", "stamp"),
    [
        (session_meta("2025-10-05T14:03:09.123Z"), "2025/10/05", "2025-10-05T14-03-09"),
        # Rollout names are UTC here: an offset is converted (and may change the day).
        (session_meta("2025-10-06T01:30:00+02:00"), "2025/10/05", "2025-10-05T23-30-00"),
        # No timestamp in the payload: the line's own.
        (session_meta(None, top="2024-02-29T23:59:59Z"), "2024/02/29", "2024-02-29T23-59-59"),
    ],
)
def test_codex_restore_path_is_the_canonical_name_from_session_meta(
    home: Path, first_line: bytes, folder: str, stamp: str
) -> None:
    path = CodexLocator().restore_path(home, TranscriptKey(CODEX_PROJECT, ID), first_line)
    assert path == home / "sessions" / folder / f"rollout-{stamp}-{ID}.jsonl"


@pytest.mark.parametrize(
    "first_line",
    [
        None,
        b"",
        b"not json",
        b"[1, 2]",
        b'{"payload": "text"}',
        b'{"payload": {"timestamp": 12}}',
        b'{"payload": {"timestamp": "yesterday"}}',
        b'{"payload": {"timestamp": "0001-01-01T00:00:00+05:00"}}',  # before year 1 in UTC
        b'{"payload": {"timestamp": "9999-12-31T23:59:59-05:00"}}',  # after year 9999 in UTC
    ],
)
def test_codex_restore_path_without_a_usable_timestamp_uses_now(home: Path, first_line: bytes | None) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    path = CodexLocator().restore_path(home, TranscriptKey(CODEX_PROJECT, ID), first_line)
    after = datetime.now(UTC)
    assert path.name.startswith("rollout-") and path.name.endswith(f"-{ID}.jsonl")
    started = datetime.strptime(path.name[len("rollout-") :][:19], "%Y-%m-%dT%H-%M-%S").replace(tzinfo=UTC)
    assert before <= started <= after
    assert path.parent == home / "sessions" / started.strftime("%Y/%m/%d")


def test_codex_restored_rollout_is_found(home: Path) -> None:
    locator = CodexLocator()
    path = touch(
        locator.restore_path(home, TranscriptKey(CODEX_PROJECT, ID), session_meta("2025-10-05T14:03:09Z"))
    )
    assert locator.find(home, ID, None) == Found(path, CODEX_PROJECT)
    assert list(locator.side_files(path)) == []


# -- odd ids and paths never raise -----------------------------------------------------------


LONG_ID = "a" * 256  # one path component over NAME_MAX (255)


def test_claude_find_with_an_overlong_id_or_cwd_is_none(home: Path) -> None:
    touch(home / "projects" / "-w" / f"{ID}.jsonl")  # a folder for the fallback glob to look into
    locator = ClaudeLocator()
    assert locator.find(home, LONG_ID, "/w") is None
    assert locator.find(home, LONG_ID, None) is None
    deep_cwd = "/" + "/".join(["d" * 200] * 30)  # a path over PATH_MAX (4096)
    assert locator.find(home, ID, deep_cwd) == Found(home / "projects" / "-w" / f"{ID}.jsonl", "-w")
    assert locator.find(home / ("h" * 300), ID, "/w") is None


def test_codex_find_with_an_overlong_id_or_home_is_none(home: Path) -> None:
    touch(home / "sessions" / "2026" / "11" / "21" / rollout_name())
    touch(home / "archived_sessions" / rollout_name(OTHER))
    locator = CodexLocator()
    assert locator.find(home, LONG_ID, None) is None
    assert locator.find(home / ("h" * 300), ID, None) is None


def test_is_file_and_is_dir_are_false_for_names_too_long_to_look_up(tmp_path: Path) -> None:
    too_long = tmp_path / ("x" * 300) / "f"
    with pytest.raises(OSError, match="too long"):
        too_long.is_file()  # what the helpers guard against
    assert is_file(too_long) is False
    assert is_dir(too_long) is False
    assert is_dir(tmp_path) and not is_file(tmp_path)


# -- the agent's home -----------------------------------------------------------------------


def test_claude_home_from_claude_config_dir(tmp_path: Path) -> None:
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg"), "HOME": str(tmp_path / "h")}
    assert ClaudeLocator().home(env) == tmp_path / "cfg"


def test_claude_home_defaults_to_dot_claude_in_home(tmp_path: Path) -> None:
    assert ClaudeLocator().home({"HOME": str(tmp_path)}) == tmp_path / ".claude"
    assert ClaudeLocator().home({"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": ""}) == tmp_path / ".claude"


def test_codex_home_from_codex_home_or_home(tmp_path: Path) -> None:
    assert CodexLocator().home({"CODEX_HOME": str(tmp_path / "cx"), "HOME": "/nowhere"}) == tmp_path / "cx"
    assert CodexLocator().home({"HOME": str(tmp_path)}) == tmp_path / ".codex"
    # One agent's variable means nothing to the other.
    assert CodexLocator().home({"CLAUDE_CONFIG_DIR": "/c", "HOME": str(tmp_path)}) == tmp_path / ".codex"


def test_home_is_absolute_for_a_relative_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert ClaudeLocator().home({"CLAUDE_CONFIG_DIR": "rel/cfg"}) == tmp_path / "rel" / "cfg"
    assert CodexLocator().home({"CODEX_HOME": "cx"}) == tmp_path / "cx"
    assert CodexLocator().home({"HOME": "h"}) == tmp_path / "h" / ".codex"


def test_home_without_env_reads_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "cx"))
    assert ClaudeLocator().home(None) == tmp_path / "cfg"
    assert CodexLocator().home(None) == tmp_path / "cx"
    monkeypatch.delenv("CODEX_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert CodexLocator().home(None) == tmp_path / "h" / ".codex"


def test_locator_for_builtin_providers_only() -> None:
    assert isinstance(locator_for("claude"), ClaudeLocator)
    assert isinstance(locator_for("codex"), CodexLocator)
    assert locator_for("gemini") is None
