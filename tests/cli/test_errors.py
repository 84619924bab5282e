"""Bad input and broken stores: the documented exit code, one clear stderr line, no traceback
(unless -v), and store files left byte for byte as they were."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.support import sha256
from tests.support.cli import Sessmap, one_error_line


def test_usage_errors_are_one_line_exit_2(sessmap: Sessmap) -> None:
    for args, needle in [
        (["frobnicate"], "No such command 'frobnicate'"),
        (["get"], "Missing argument 'KEY'; try: sessmap get --help"),
        (["list", "--bogus"], "No such option: --bogus; try: sessmap list --help"),
        (["create", "k", "--label"], "requires an argument"),
        (["config", "get"], "Missing argument 'NAME'"),
    ]:
        result = sessmap(*args)
        assert result.exit_code == 2, args
        assert result.stdout == ""
        assert needle in one_error_line(result), (args, result.stderr)


def test_no_command_shows_help_on_stderr(sessmap: Sessmap) -> None:
    result = sessmap(store=False)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Usage: sessmap" in result.stderr


def test_version_and_help(sessmap: Sessmap) -> None:
    from sessmap import __version__

    assert sessmap("--version", store=False).stdout == f"sessmap {__version__}\n"
    help_result = sessmap("--help", store=False)
    assert help_result.exit_code == 0 and "Commands:" in help_result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["create", "a\x07b"], "contains a control character"),
        (["create", "a\nb"], "contains a control character"),
        (["create", "x" * 513], "513 characters long; the limit is 512"),
        (["create", ""], "thread key is empty"),
        (["create", "-a", "no spaces", "k"], "invalid agent name"),
        (["create", "-a", "x" * 65, "k"], "invalid agent name"),
        (["create", "k", "--session-id", "--resume"], "invalid session id"),
        (["create", "k", "--session-id", "a b"], "invalid session id"),
        (["create", "k", "-l", "=v"], "invalid label name"),
        (["create", "k", "-l", "k=v\x00"], "invalid value for label"),
        (["get", "-a", "bad/agent", "k"], "invalid agent name"),
        (["rename", "k", "y" * 513], "513 characters"),
        (["fork", "k", "a\tb"], "control character"),
        (["list", "--older-than", "soon"], "invalid duration 'soon'"),
        (["prune", "--older-than", "1h1d"], "largest first"),
    ],
)
def test_bad_input_changes_nothing(sessmap: Sessmap, args: list[str], needle: str) -> None:
    sessmap.ok("create", "k", "--session-id", "s1", "-l", "a=b")
    before = sha256(sessmap.store_path)
    result = sessmap(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert needle in one_error_line(result)
    assert sha256(sessmap.store_path) == before


def test_a_512_character_key_is_fine(sessmap: Sessmap) -> None:
    key = "k" * 512
    sid = sessmap.ok("create", key).stdout
    assert sessmap.ok("get", key).stdout == sid


def test_unknown_store_schemes(sessmap: Sessmap) -> None:
    for url, needle in [
        ("mysql://x", "unknown store 'mysql://x'"),
        ("sqlite:", "has no path"),
        ("/tmp/sessions.txt", "cannot tell which store"),
    ]:
        result = sessmap("--store", url, "list", store=False)
        assert result.exit_code == 2, url
        assert result.stdout == ""
        assert needle in one_error_line(result)


def test_store_from_environment_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_store = Sessmap(f"json:{tmp_path / 'env.json'}", tmp_path / "env.json")
    monkeypatch.setenv("SESSMAP_STORE", env_store.store_url)
    assert env_store("create", "k", store=False).exit_code == 0
    assert (tmp_path / "env.json").exists()
    monkeypatch.delenv("SESSMAP_STORE")
    env_store.ok("config", "set", "store", f"sqlite:{tmp_path / 'conf.db'}")
    assert env_store("create", "k2", store=False).exit_code == 0
    assert (tmp_path / "conf.db").exists()
    assert env_store("get", "k2", store=False).exit_code == 0
    assert env_store("get", "k", store=False).exit_code == 3


def test_default_store_is_under_sessmap_home(sessmap_home: Path, sessmap: Sessmap) -> None:
    assert sessmap("create", "k", store=False).exit_code == 0
    assert (sessmap_home / "sessions.db").exists()


def _corrupt(kind: str, path: Path, how: str) -> None:
    path.unlink(missing_ok=True)  # the fixture made an empty store there
    if how == "garbage":
        path.write_bytes(b"\x00\x01 this is not a store \xff" * 50)
    elif how == "foreign":
        if kind == "sqlite":
            with sqlite3.connect(path) as db:
                db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
                db.execute("INSERT INTO customers VALUES (1, 'ann')")
            db.close()
        else:
            path.write_text(json.dumps({"customers": [{"id": 1}]}))


@pytest.mark.parametrize("how", ["garbage", "foreign"])
@pytest.mark.parametrize(
    "command", [["list"], ["get", "k"], ["create", "k"], ["prune", "--older-than", "0s"]]
)
def test_corrupt_and_foreign_store_files_are_left_alone(
    sessmap: Sessmap, store_kind: str, how: str, command: list[str]
) -> None:
    _corrupt(store_kind, sessmap.store_path, how)
    before = sha256(sessmap.store_path)
    result = sessmap(*command)
    assert result.exit_code == 1, result.stderr
    assert result.stdout == ""
    one_error_line(result)
    assert sha256(sessmap.store_path) == before


def test_truncated_json_store(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"format": "sessmap", "version": 1, "mappings": [{"key": "a"')
    before = sha256(path)
    result = Sessmap(f"json:{path}", path)("list")
    assert result.exit_code == 1
    one_error_line(result)
    assert sha256(path) == before


def test_newer_schema_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Sessmap(f"sqlite:{path}", path)
    store.ok("create", "k")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO sessmap_migrations (version, name, applied_at) VALUES (99, 'future', 'x')")
    db.close()
    before = sha256(path)
    for args in (["list"], ["create", "j"], ["get", "k"]):
        result = store(*args)
        assert result.exit_code == 1
        assert "newer sessmap" in one_error_line(result)
    assert sha256(path) == before


def test_newer_format_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    store = Sessmap(f"json:{path}", path)
    store.ok("create", "k")
    document = json.loads(path.read_text())
    document["version"] = 99
    path.write_text(json.dumps(document))
    before = sha256(path)
    result = store("create", "j")
    assert result.exit_code == 1
    assert "newer sessmap" in one_error_line(result)
    assert sha256(path) == before


def test_verbose_shows_the_traceback(sessmap: Sessmap) -> None:
    quiet = sessmap("get", "nope")
    assert "Traceback" not in quiet.stderr
    loud = sessmap("-v", "get", "nope")
    assert loud.exit_code == 3
    assert "Traceback (most recent call last)" in loud.stderr
    assert loud.stderr.splitlines()[-1].startswith("sessmap: error: no mapping for 'nope'")


def test_unexpected_errors_are_one_line(sessmap: Sessmap, monkeypatch: pytest.MonkeyPatch) -> None:
    from sessmap import service

    def explode(*args: object, **kwargs: object) -> str:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(service, "session_id_of", explode)
    result = sessmap("get", "k")
    assert result.exit_code == 1
    assert one_error_line(result) == (
        "sessmap: error: unexpected ZeroDivisionError: boom; run with -v for the traceback"
    )


def test_ctrl_c_exits_130(sessmap: Sessmap, monkeypatch: pytest.MonkeyPatch) -> None:
    from sessmap import service

    def interrupted(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(service, "session_id_of", interrupted)
    result = sessmap("get", "k")
    assert result.exit_code == 130
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_invalid_config_is_one_line_for_commands_that_need_it(sessmap: Sessmap, sessmap_home: Path) -> None:
    sessmap_home.mkdir(parents=True, exist_ok=True)
    (sessmap_home / "config.toml").write_text("ttl = [1\n")
    result = sessmap("create", "k")
    assert result.exit_code == 2
    assert "is not valid TOML" in one_error_line(result)
    # Commands that do not need the config still work, and config itself can repair it.
    assert sessmap("list").exit_code == 0
    assert sessmap("config", "path").exit_code == 0
