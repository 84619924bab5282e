"""create, get, show, set, rename, rm/delete and fork through the CLI, on both stores."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from tests.support.cli import Sessmap, one_error_line

KEY = "slack:C024BE91L:1700000000.000100"


def test_create_prints_a_fresh_uuid_for_claude(sessmap: Sessmap) -> None:
    result = sessmap.ok("create", KEY)
    session_id = result.stdout.strip()
    assert result.stdout == session_id + "\n"
    assert uuid.UUID(session_id).version == 4
    assert result.stderr == ""
    assert sessmap.ok("get", KEY).stdout == session_id + "\n"


def test_create_codex_is_pending_and_says_so_on_stderr(sessmap: Sessmap) -> None:
    result = sessmap.ok("create", "--provider", "codex", KEY)
    assert result.stdout == ""
    assert result.stderr == "pending: the id is captured on the first exec\n"
    get = sessmap("get", KEY)
    assert get.exit_code == 3
    assert get.stdout == ""
    assert "pending" in one_error_line(get)


def test_create_quiet_silences_the_pending_message(sessmap: Sessmap) -> None:
    result = sessmap.ok("-q", "create", "--provider", "codex", KEY)
    assert result.stdout == "" and result.stderr == ""


def test_create_with_everything_and_json(sessmap: Sessmap, tmp_path: Path) -> None:
    result = sessmap.ok(
        "create",
        KEY,
        "-a",
        "reviewer",
        "--session-id",
        "abc-123",
        "--cwd",
        str(tmp_path / "x" / ".."),
        "-l",
        "team=infra",
        "--label",
        "empty=",
        "--json",
    )
    data = json.loads(result.stdout)
    assert data["agent"] == "reviewer"
    assert data["session_id"] == "abc-123"
    assert data["state"] == "active"
    assert data["cwd"] == str(tmp_path.resolve())
    assert data["labels"] == {"empty": "", "team": "infra"}
    assert data["turns"] == 0 and data["last_used_at"] is None and data["parent"] is None
    assert sessmap("get", KEY).exit_code == 3  # other agent
    assert sessmap.ok("get", "-a", "reviewer", KEY).stdout == "abc-123\n"


def test_create_relative_cwd_is_made_absolute(
    sessmap: Sessmap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = json.loads(sessmap.ok("create", KEY, "--cwd", "sub", "--json").stdout)
    assert data["cwd"] == str(tmp_path.resolve() / "sub")


def test_create_existing_is_a_conflict_unless_forced(sessmap: Sessmap) -> None:
    first = sessmap.ok("create", KEY).stdout
    again = sessmap("create", KEY)
    assert again.exit_code == 4
    assert again.stdout == ""
    assert "exists already" in one_error_line(again)
    assert sessmap.ok("get", KEY).stdout == first
    forced = sessmap.ok("create", "--force", KEY).stdout
    assert forced != first
    assert sessmap.ok("get", KEY).stdout == forced


def test_create_unknown_provider_is_usage_error(sessmap: Sessmap) -> None:
    result = sessmap("create", "-p", "gemini", KEY)
    assert result.exit_code == 2
    assert "unknown provider 'gemini'" in one_error_line(result)


def test_create_provider_from_agent_profile(sessmap: Sessmap) -> None:
    sessmap.ok("config", "set", "agents.reviewer.provider", "codex")
    data = json.loads(sessmap.ok("create", "-a", "reviewer", KEY, "--json").stdout)
    assert data["provider"] == "codex" and data["state"] == "pending"


def test_agent_from_environment(sessmap: Sessmap, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSMAP_AGENT", "bot")
    sessmap.ok("create", KEY, "--session-id", "s1")
    assert json.loads(sessmap.ok("get", KEY, "--json").stdout)["agent"] == "bot"
    monkeypatch.delenv("SESSMAP_AGENT")
    assert sessmap("get", KEY).exit_code == 3


def test_get_missing_exits_3_with_nothing_on_stdout(sessmap: Sessmap) -> None:
    result = sessmap("get", "nope")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert (
        one_error_line(result) == "sessmap: error: no mapping for 'nope' (agent default); try: sessmap list"
    )


def test_get_json(sessmap: Sessmap) -> None:
    sessmap.ok("create", KEY, "--session-id", "s1")
    data = json.loads(sessmap.ok("get", KEY, "--json").stdout)
    assert data["key"] == KEY and data["session_id"] == "s1"


def test_keys_starting_with_a_dash_after_double_dash(sessmap: Sessmap) -> None:
    sessmap.ok("create", "--session-id", "s1", "--", "-rf")
    assert sessmap.ok("get", "--", "-rf").stdout == "s1\n"
    assert sessmap.ok("show", "--json", "--", "-rf").stdout.count('"-rf"') == 1
    sessmap.ok("rm", "--", "-rf")
    assert sessmap("get", "--", "-rf").exit_code == 3


def test_show_text_and_json_with_forks_and_transcript(
    sessmap: Sessmap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claude_home = tmp_path / "claude"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_home))
    work = tmp_path / "work"
    work.mkdir()
    sessmap.ok("create", KEY, "--session-id", "s1", "--cwd", str(work), "-l", "a=b")
    sessmap.ok("fork", KEY, "child")
    data = json.loads(sessmap.ok("show", KEY, "--json").stdout)
    assert data["forks"] == [
        {"agent": "default", "key": "child", "session_id": None, "state": "pending-fork"}
    ]
    project = str(work.resolve()).replace("/", "-").replace("_", "-")
    expected = claude_home / "projects" / project / "s1.jsonl"
    assert data["transcript"] == {
        "path": None,
        "exists": False,
        "state": "unknown",
        "archived": False,
        "stored": False,
        "reason": "it may live in another agent home: no run recorded one",
        "host": None,
        "agent_home": None,
    }
    assert data["history"] == [] and data["host"] is None and data["agent_home"] is None
    expected.parent.mkdir(parents=True)
    expected.write_text("{}\n")
    transcript = json.loads(sessmap.ok("show", KEY, "--json").stdout)["transcript"]
    assert transcript["exists"] is True and transcript["path"] == str(expected)

    text = sessmap.ok("show", KEY).stdout
    assert f"key:          {KEY}\n" in text
    assert "labels:       a=b\n" in text
    assert f"transcript:   {expected} (exists)\n" in text
    assert "forks:        child (pending-fork)\n" in text
    child = sessmap.ok("show", "child").stdout
    assert "parent:       " + KEY in child
    assert "transcript:   unknown: the mapping has no session yet" in child


def test_show_lists_earlier_sessions(sessmap: Sessmap) -> None:
    sessmap.ok("create", KEY, "--session-id", "s1")
    sessmap.ok("set", KEY, "--session-id", "s2")
    data = json.loads(sessmap.ok("show", KEY, "--json").stdout)
    assert data["session_id"] == "s2"
    assert [(e["session_id"], e["reason"]) for e in data["history"]] == [("s1", "set")]
    assert "history:      s1 (set " in sessmap.ok("show", KEY).stdout


def test_show_missing(sessmap: Sessmap) -> None:
    result = sessmap("show", "nope")
    assert result.exit_code == 3 and result.stdout == ""
    one_error_line(result)


def test_set_fields_and_labels(sessmap: Sessmap, tmp_path: Path) -> None:
    sessmap.ok("create", "-p", "codex", KEY, "-l", "keep=1", "-l", "drop=2")
    before = json.loads(sessmap.ok("get", KEY, "--json").stdout)
    result = sessmap.ok(
        "set",
        KEY,
        "--session-id",
        "abc",
        "--provider",
        "claude",
        "--cwd",
        str(tmp_path),
        "-l",
        "new=3",
        "--unlabel",
        "drop",
        "--unlabel",
        "absent",
    )
    assert result.stdout == "" and result.stderr == ""
    after = json.loads(sessmap.ok("get", KEY, "--json").stdout)
    assert after["session_id"] == "abc" and after["state"] == "active"
    assert after["provider"] == "claude" and after["cwd"] == str(tmp_path.resolve())
    assert after["labels"] == {"keep": "1", "new": "3"}
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] >= before["updated_at"]


def test_set_json_and_errors(sessmap: Sessmap) -> None:
    assert sessmap("set", "nope", "-l", "a=b").exit_code == 3
    sessmap.ok("create", KEY)
    nothing = sessmap("set", KEY)
    assert nothing.exit_code == 2 and "nothing to change" in one_error_line(nothing)
    assert sessmap("set", KEY, "-l", "novalue").exit_code == 2
    assert sessmap("set", KEY, "--session-id", "-bad").exit_code == 2
    assert sessmap("set", KEY, "-p", "nope").exit_code == 2
    data = json.loads(sessmap.ok("set", KEY, "-l", "x=y", "--json").stdout)
    assert data["labels"] == {"x": "y"}


def test_rename(sessmap: Sessmap) -> None:
    sid = sessmap.ok("create", "old").stdout
    sessmap.ok("create", "taken")
    sessmap.ok("fork", "old", "kid")
    conflict = sessmap("rename", "old", "taken")
    assert conflict.exit_code == 4 and "exists already" in one_error_line(conflict)
    assert sessmap.ok("rename", "old", "new").stdout == ""
    assert sessmap("get", "old").exit_code == 3
    assert sessmap.ok("get", "new").stdout == sid
    assert json.loads(sessmap.ok("show", "kid", "--json").stdout)["parent"]["key"] == "new"
    assert sessmap("rename", "gone", "x").exit_code == 3


@pytest.mark.parametrize("command", ["rm", "delete"])
def test_rm_and_delete(sessmap: Sessmap, command: str) -> None:
    for key in ("a", "b", "c"):
        sessmap.ok("create", key)
    result = sessmap(command, "a", "missing", "b")
    assert result.exit_code == 3
    assert "'missing'" in one_error_line(result)
    assert [row["key"] for row in sessmap.rows()] == ["c"]  # the existing ones went anyway
    assert sessmap.ok(command, "--missing-ok", "c", "missing").stderr == ""
    assert sessmap.rows() == []


def test_rm_reads_keys_from_stdin(sessmap: Sessmap) -> None:
    for key in ("a", "b", "c", "d"):
        sessmap.ok("create", key)
    sessmap.ok("rm", "-", "d", input="a\n\nb\r\n")
    assert [row["key"] for row in sessmap.rows()] == ["c"]
    piped = sessmap.ok("list", "--format", "keys").stdout
    sessmap.ok("rm", "-", input=piped)
    assert sessmap.rows() == []


def test_rm_bad_key_deletes_nothing(sessmap: Sessmap) -> None:
    sessmap.ok("create", "a")
    result = sessmap("rm", "a", "x" * 513)
    assert result.exit_code == 2
    assert "513 characters" in one_error_line(result)
    assert [row["key"] for row in sessmap.rows()] == ["a"]


def test_rm_verbose_names_what_went(sessmap: Sessmap) -> None:
    sessmap.ok("create", "a")
    assert sessmap.ok("-v", "rm", "a").stderr == "removed a\n"


def test_fork(sessmap: Sessmap, tmp_path: Path) -> None:
    sessmap.ok("create", "src", "--session-id", "s1", "--cwd", str(tmp_path), "-l", "a=1", "-p", "claude")
    result = sessmap.ok("fork", "src", "dst", "-l", "b=2")
    assert result.stdout == ""
    assert "pending-fork" in result.stderr
    dst = json.loads(sessmap.ok("get", "dst", "--json").stdout)
    assert dst["state"] == "pending-fork" and dst["session_id"] is None
    assert dst["parent"] == {"agent": "default", "key": "src", "session_id": "s1"}
    assert dst["provider"] == "claude" and dst["cwd"] == str(tmp_path.resolve())
    assert dst["labels"] == {"a": "1", "b": "2"}
    assert sessmap("get", "dst").exit_code == 3  # no id until its first exec

    assert sessmap("fork", "nope", "x").exit_code == 3
    assert sessmap("fork", "src", "dst").exit_code == 4
    sessmap.ok("create", "-p", "codex", "pend")
    pending = sessmap("fork", "pend", "x")
    assert pending.exit_code == 2
    assert "exec it first" in one_error_line(pending)
    assert json.loads(sessmap.ok("fork", "src", "dst2", "--json").stdout)["key"] == "dst2"
    assert sessmap.ok("-q", "fork", "src", "dst3").stderr == ""


def test_fork_of_an_agent_that_cannot_fork_is_refused_at_once(
    sessmap: Sessmap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """copilot forks only in its UI, a template only with a ``fork`` list: ``fork`` says so
    (exit 2) and writes nothing, instead of a pending fork that fails on its first exec."""
    config = tmp_path / "config.toml"
    config.write_text('[providers.gem]\nresume = ["--resume", "{session_id}"]\n')
    monkeypatch.setenv("SESSMAP_CONFIG", str(config))
    sessmap.ok("create", "cp", "-p", "copilot", "--session-id", "0199a213-81c0-7800-8aa1-bbab2a035a53")
    sessmap.ok("create", "tpl", "-p", "gem", "--session-id", "s1")
    before = sessmap.rows()
    copilot = sessmap("fork", "cp", "cp-child")
    assert copilot.exit_code == 2
    assert one_error_line(copilot) == (
        "sessmap: error: copilot can fork a session only in its interactive UI, not from a command line; "
        "start the thread over with --new"
    )
    template = sessmap("fork", "tpl", "tpl-child")
    assert template.exit_code == 2
    assert "provider 'gem' cannot fork: its config has no 'fork' template" in one_error_line(template)
    assert sessmap.rows() == before
