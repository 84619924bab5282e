"""Where sessmap keeps things and the TOML config file (sessmap/config.py, SPEC §5)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sessmap.config import (
    DEFAULT_TTL,
    AgentProfile,
    ProviderTemplate,
    config_dir,
    data_dir,
    default_config_path,
    default_store_url,
    load_config,
    parse_config,
    read_toml,
)
from sessmap.errors import InvalidInput

FILE = Path("c.toml")


def test_sessmap_home_holds_the_config_and_the_default_store(sessmap_home: Path) -> None:
    assert data_dir() == config_dir() == sessmap_home
    assert default_config_path() == sessmap_home / "config.toml"
    assert default_store_url() == f"sqlite:{sessmap_home / 'sessions.db'}"


def test_sessmap_config_names_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSMAP_CONFIG", "~/elsewhere.toml")
    assert default_config_path() == Path.home() / "elsewhere.toml"


def test_without_sessmap_home_the_user_folders_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SESSMAP_HOME")
    xdg = Path.home()  # tests/conftest.py points the XDG folders under the test's own home
    assert config_dir().is_relative_to(xdg) and config_dir().name == "sessmap"
    assert data_dir().is_relative_to(xdg) and data_dir().name == "sessmap"


def test_an_empty_table_is_the_defaults() -> None:
    config = parse_config({}, FILE)
    assert (config.path, config.store, config.ttl, config.wait_timeout) == (FILE, None, DEFAULT_TTL, None)
    assert (config.on_stale, config.transcripts, config.agents, config.providers) == ("fresh", None, {}, {})


def test_every_setting_is_read() -> None:
    config = parse_config(
        {
            "store": "json:/srv/s.json",
            "ttl": "2w",
            "wait_timeout": "90s",
            "on_stale": "fail",
            "transcripts": "store",
            "agents": {"reviewer": {"provider": "codex", "cwd": "~/src", "args": ["--model", "o3"]}},
            "providers": {
                "gemini": {"new": ["--session-id", "{session_id}"], "resume": ["-r", "{session_id}"]}
            },
        },
        FILE,
    )
    assert (config.store, config.ttl, config.wait_timeout) == (
        "json:/srv/s.json",
        timedelta(weeks=2),
        timedelta(seconds=90),
    )
    assert (config.on_stale, config.transcripts) == ("fail", "store")
    assert config.agents == {"reviewer": AgentProfile("codex", "~/src", ("--model", "o3"))}
    assert config.providers == {
        "gemini": ProviderTemplate(new=("--session-id", "{session_id}"), resume=("-r", "{session_id}"))
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"store": 1}, "store must be a string"),
        ({"ttl": "2x"}, "invalid duration"),
        ({"on_stale": "retry"}, "on_stale must be 'fresh' or 'fail'"),
        ({"transcripts": "cloud"}, "transcripts must be 'store' or 'local'"),
        ({"agents": {"reviewer": "codex"}}, r"\[agents\] must hold tables"),
        ({"agents": {"has space": {}}}, "agent"),
        ({"agents": {"r": {"args": "--fast"}}}, "args must be a list of strings"),
        ({"providers": {"p": {"new": ["x"]}}}, "providers.p: 'resume' is required"),
        ({"providers": {"p": {"resume": ["x"], "stale": "("}}}, "providers.p.stale is not a valid regex"),
        ({"providers": {"p": {"resume": ["x"], "capture": "(.+)"}}}, r"needs a named group \(\?P<id>"),
    ],
)
def test_the_first_problem_names_the_file(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        parse_config(raw, FILE)
    assert str(caught.value).startswith(f"config file {FILE}")


def test_shared_stores_keep_copies_unless_the_config_says_local() -> None:
    assert parse_config({}, Path("c.toml")).keeps_transcripts(shared=True) is True
    assert parse_config({"transcripts": "local"}, Path("c.toml")).keeps_transcripts(shared=True) is False


def test_a_missing_file_is_an_empty_table(tmp_path: Path) -> None:
    assert read_toml(tmp_path / "none.toml") == {}
    assert load_config(tmp_path / "none.toml") == parse_config({}, tmp_path / "none.toml")


def test_a_file_is_read_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('ttl = "1d12h"\n[agents.bot]\ncwd = "/srv/bot"\n')
    config = load_config(path)
    assert config.ttl == timedelta(days=1, hours=12) and config.agents["bot"].cwd == "/srv/bot"


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("ttl = \n")
    with pytest.raises(InvalidInput, match=f"config file {path} is not valid TOML"):
        read_toml(path)
