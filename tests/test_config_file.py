"""Editing the config file (sessmap/config_file.py): setting names, values as typed, and
writing the whole table back validated, atomically and privately."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sessmap import config_file
from sessmap.config import read_toml
from sessmap.errors import InvalidInput


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("ttl", "30", "30"),
        ("ttl", '"14d"', "14d"),
        ("agents.x.args", '["--model", "sonnet"]', ["--model", "sonnet"]),
        ("agents.x.args", "sonnet", "sonnet"),
        ("providers.p.capture", '"id":\\s*"(?P<id>.+)"', '"id":\\s*"(?P<id>.+)"'),
    ],
)
def test_parse_setting_value(name: str, text: str, value: Any) -> None:
    assert config_file.parse_setting_value(name, text) == value


def test_setting_edits_do_not_touch_the_original() -> None:
    raw: dict[str, Any] = {"agents": {"x": {"provider": "claude"}}}
    assert config_file.with_setting(raw, "agents.x.cwd", "/w") == {
        "agents": {"x": {"provider": "claude", "cwd": "/w"}}
    }
    assert config_file.without_setting(raw, "agents.x.provider") == {}
    assert config_file.without_setting(raw, "ttl") is None
    assert raw == {"agents": {"x": {"provider": "claude"}}}
    assert config_file.get_setting(raw, "agents.x") == {"provider": "claude"}
    with pytest.raises(InvalidInput, match="unknown setting"):
        config_file.setting_path("agents.x.model", leaf=True)


def test_write_config_is_private_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    config_file.set_setting(path, "ttl", "2d")
    assert path.read_text() == 'ttl = "2d"\n'
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(InvalidInput):
        config_file.set_setting(path, "ttl", "2x")
    assert path.read_text() == 'ttl = "2d"\n'


@pytest.mark.parametrize(
    ("name", "leaf", "parts"),
    [
        ("store", True, ["store"]),
        ("agents.reviewer.args", True, ["agents", "reviewer", "args"]),
        ("providers.gemini.stale", True, ["providers", "gemini", "stale"]),
        ("agents.reviewer", False, ["agents", "reviewer"]),
        ("providers", False, ["providers"]),
    ],
)
def test_setting_paths(name: str, leaf: bool, parts: list[str]) -> None:
    assert config_file.setting_path(name, leaf=leaf) == parts


@pytest.mark.parametrize(
    ("name", "leaf"),
    [("agents.reviewer", True), ("agents", True), ("color", False), ("agents.", False), ("store.x", False)],
)
def test_names_the_config_cannot_hold_are_refused(name: str, leaf: bool) -> None:
    with pytest.raises(InvalidInput, match="unknown setting") as caught:
        config_file.setting_path(name, leaf=leaf)
    assert caught.value.reason == "unknown-setting"


def test_an_agent_table_needs_a_valid_agent_name() -> None:
    with pytest.raises(InvalidInput, match="agent"):
        config_file.setting_path("agents.has space.cwd", leaf=True)


def test_set_and_unset_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config_file.set_setting(path, "on_stale", "fail")
    config = config_file.set_setting(path, "agents.reviewer.args", '["--model", "sonnet"]')
    assert config.on_stale == "fail" and config.agents["reviewer"].args == ("--model", "sonnet")
    assert read_toml(path) == {"on_stale": "fail", "agents": {"reviewer": {"args": ["--model", "sonnet"]}}}
    assert config_file.get_setting(read_toml(path), "agents.reviewer.args") == ["--model", "sonnet"]

    assert config_file.unset_setting(path, "agents.reviewer.args") is True
    assert read_toml(path) == {"on_stale": "fail"}  # the emptied [agents.reviewer] went too
    assert config_file.unset_setting(path, "on_stale") is True
    assert read_toml(path) == {} and path.read_text() == ""


def test_unsetting_what_is_not_set_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert config_file.unset_setting(path, "ttl") is False
    assert not path.exists()
    path.write_text('ttl = "2d"\n')
    before = path.stat().st_mtime_ns
    assert config_file.unset_setting(path, "agents.reviewer.cwd") is False
    assert path.read_text() == 'ttl = "2d"\n' and path.stat().st_mtime_ns == before


def test_the_config_folder_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    config_file.write_config(path, {"store": "sqlite:/srv/s.db"})
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert read_toml(path) == {"store": "sqlite:/srv/s.db"}
