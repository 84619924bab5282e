"""config path|show|get|set|unset round trips, and doctor."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from tests.support import sha256
from tests.support.cli import Sessmap, one_error_line


@pytest.fixture
def config_file(sessmap_home: Path) -> Path:
    return sessmap_home / "config.toml"


def test_config_path_default_flag_and_env(
    sessmap: Sessmap, config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sessmap.ok("config", "path").stdout == f"{config_file}\n"
    other = tmp_path / "other.toml"
    assert sessmap.ok("--config", str(other), "config", "path").stdout == f"{other}\n"
    monkeypatch.setenv("SESSMAP_CONFIG", str(other))
    assert sessmap.ok("config", "path").stdout == f"{other}\n"


@pytest.mark.slow
def test_set_get_show_unset_round_trip(sessmap: Sessmap, config_file: Path) -> None:
    assert sessmap.ok("config", "show").stdout == ""
    assert sessmap.ok("config", "set", "ttl", "14d").stdout == ""
    assert sessmap.ok("config", "set", "on_stale", "fail").stdout == ""
    sessmap.ok("config", "set", "agents.reviewer.provider", "codex")
    sessmap.ok("config", "set", "agents.reviewer.args", '["--model", "sonnet"]')
    sessmap.ok("config", "set", "agents.reviewer.cwd", "~/src/app")
    sessmap.ok("config", "set", "providers.gemini.resume", '["--resume", "{session_id}"]')
    sessmap.ok("config", "set", "providers.gemini.capture", '"session_id":\\s*"(?P<id>[^"]+)"')

    assert sessmap.ok("config", "get", "ttl").stdout == "14d\n"
    assert sessmap.ok("config", "get", "agents.reviewer.args").stdout == '["--model", "sonnet"]\n'
    assert (
        sessmap.ok("config", "get", "providers.gemini.capture").stdout == '"session_id":\\s*"(?P<id>[^"]+)"\n'
    )
    table = sessmap.ok("config", "get", "agents.reviewer").stdout
    assert 'provider = "codex"' in table
    shown = json.loads(sessmap.ok("config", "show", "--json").stdout)
    assert shown == {
        "ttl": "14d",
        "on_stale": "fail",
        "agents": {"reviewer": {"provider": "codex", "args": ["--model", "sonnet"], "cwd": "~/src/app"}},
        "providers": {
            "gemini": {"resume": ["--resume", "{session_id}"], "capture": '"session_id":\\s*"(?P<id>[^"]+)"'}
        },
    }
    assert 'ttl = "14d"' in sessmap.ok("config", "show").stdout

    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700

    sessmap.ok("config", "unset", "agents.reviewer.args")
    sessmap.ok("config", "unset", "agents.reviewer.provider")
    sessmap.ok("config", "unset", "agents.reviewer.cwd")
    assert "agents" not in json.loads(sessmap.ok("config", "show", "--json").stdout)
    sessmap.ok("config", "unset", "providers.gemini")
    assert json.loads(sessmap.ok("config", "show", "--json").stdout) == {"ttl": "14d", "on_stale": "fail"}


def test_get_and_unset_of_a_missing_setting_exit_1_silently(sessmap: Sessmap) -> None:
    for args in (["get", "ttl"], ["get", "agents.nobody.provider"], ["unset", "wait_timeout"]):
        result = sessmap("config", *args)
        assert result.exit_code == 1, args
        assert result.stdout == "" and result.stderr == ""


def test_unknown_setting_names_exit_2(sessmap: Sessmap) -> None:
    for args in (
        ["get", "colour"],
        ["set", "colour", "red"],
        ["unset", "agents.x.model"],
        ["set", "agents.x", "y"],
    ):
        result = sessmap("config", *args)
        assert result.exit_code == 2, args
        assert "unknown setting" in one_error_line(result)


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("ttl", "30", "invalid duration '30'"),
        ("ttl", "forever", "invalid duration"),
        ("wait_timeout", "1h1d", "largest first"),
        ("on_stale", "retry", "on_stale must be 'fresh' or 'fail'"),
        ("agents.reviewer.args", "sonnet", "args must be a list of strings"),
        ("agents.reviewer.args", "[1, 2]", "args must be a list of strings"),
        ("agents.reviewer.provider", "no/such", "invalid provider name"),
        ("agents.bad name.provider", "claude", "invalid agent name"),
        ("providers.gemini.capture", "(", "'resume' is required"),
        ("providers.gemini.new", '["x"]', "'resume' is required"),
    ],
)
def test_invalid_values_leave_the_file_unchanged(
    sessmap: Sessmap, config_file: Path, name: str, value: str, needle: str
) -> None:
    sessmap.ok("config", "set", "ttl", "7d")
    before = sha256(config_file)
    result = sessmap("config", "set", name, value)
    assert result.exit_code == 2
    assert needle in one_error_line(result)
    assert sha256(config_file) == before
    left = sorted(p.name for p in config_file.parent.iterdir())
    assert left == ["config.toml", "config.toml.lock"]  # no temp files; the lock file is kept


def test_invalid_regex_is_refused(sessmap: Sessmap, config_file: Path) -> None:
    sessmap.ok("config", "set", "providers.gemini.resume", '["--resume", "{session_id}"]')
    before = sha256(config_file)
    result = sessmap("config", "set", "providers.gemini.capture", "(")
    assert result.exit_code == 2 and "not a valid regex" in one_error_line(result)
    assert sha256(config_file) == before


def test_unset_that_breaks_the_config_is_refused(sessmap: Sessmap, config_file: Path) -> None:
    sessmap.ok("config", "set", "providers.gemini.resume", '["--resume", "{session_id}"]')
    sessmap.ok("config", "set", "providers.gemini.new", '["--new"]')
    before = sha256(config_file)
    result = sessmap("config", "unset", "providers.gemini.resume")
    assert result.exit_code == 2 and "'resume' is required" in one_error_line(result)
    assert sha256(config_file) == before


def test_set_repairs_a_broken_config(sessmap: Sessmap, config_file: Path) -> None:
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text('ttl = "soon"\n')
    assert sessmap("prune").exit_code == 2
    assert sessmap.ok("config", "get", "ttl").stdout == "soon\n"
    sessmap.ok("config", "set", "ttl", "2d")
    assert sessmap.ok("prune").exit_code == 0


def test_quoted_toml_string_and_plain_text(sessmap: Sessmap) -> None:
    sessmap.ok("config", "set", "store", '"sqlite:/tmp/x.db"')
    assert sessmap.ok("config", "get", "store").stdout == "sqlite:/tmp/x.db\n"
    sessmap.ok("config", "set", "store", "json:/tmp/a b.json")
    assert sessmap.ok("config", "get", "store").stdout == "json:/tmp/a b.json\n"


# --- doctor -----------------------------------------------------------------------------------


def test_doctor_healthy(sessmap: Sessmap) -> None:
    sessmap.ok("create", "k")
    result = sessmap.ok("doctor")
    data = json.loads(sessmap.ok("doctor", "--json").stdout)
    schema = data["store"]["schema_version"]
    assert result.stdout.splitlines()[0] == f"store: {sessmap.store_url} (schema {schema}): ok"
    assert "config: " in result.stdout and "transcripts: ok" in result.stdout
    assert data["healthy"] is True
    assert schema >= 2 and data["store"]["problems"] == []
    assert data["config"]["problem"] is None


@pytest.mark.slow
def test_doctor_fixes_only_transcripts_proven_gone(sessmap: Sessmap, tmp_path: Path) -> None:
    from sessmap.transcripts.presence import this_host

    home = tmp_path / "claude"
    home.mkdir()
    here, elsewhere = (
        {"provider": "claude", "cwd": "/w", "turns": 1, "agent_home": str(home), "host": host}
        for host in (this_host(), "bot-b")
    )
    lines = [
        {"key": "gone", "session_id": "s-gone", **here},
        {"key": "far", "session_id": "s-far", **elsewhere},
    ]
    sessmap.ok("import", "-", input="".join(json.dumps(line) + "\n" for line in lines))
    sessmap.ok("create", "unknowable", "--session-id", "s2")
    result = sessmap("doctor")
    assert result.exit_code == 1
    assert "transcripts: 1 mapping(s) point at a missing transcript" in result.stdout
    assert f"gone (agent default): its transcript is gone from {home}" in result.stdout
    assert "2 mapping(s) could not be checked from here (kept)" in result.stdout
    data = json.loads(sessmap("doctor", "--json").stdout)
    assert data["healthy"] is False
    assert data["missing_transcripts"] == [
        {"agent": "default", "key": "gone", "reason": f"its transcript is gone from {home}"}
    ]
    assert sorted(item["key"] for item in data["unverified_transcripts"]) == ["far", "unknowable"]
    fixed = sessmap.ok("doctor", "--fix", "--json")
    assert json.loads(fixed.stdout)["fixed"][0]["key"] == "gone"
    assert [r["key"] for r in sessmap.rows()] == ["far", "unknowable"]
    assert sessmap.ok("doctor").exit_code == 0


def test_doctor_reports_a_broken_config_and_store(sessmap: Sessmap, config_file: Path) -> None:
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text("ttl = 5\n")
    result = sessmap("doctor")
    assert result.exit_code == 1
    assert "ttl must be a string" in result.stdout
    sessmap.store_path.write_bytes(b"garbage" * 100)
    before = sha256(sessmap.store_path)
    broken = json.loads(sessmap("doctor", "--json").stdout)
    assert broken["healthy"] is False and broken["store"]["url"] is None and broken["store"]["problems"]
    assert sha256(sessmap.store_path) == before


def test_a_config_templates_mappings_are_not_reported_as_unverifiable(
    sessmap: Sessmap, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sessmap cannot know where such an agent keeps transcripts: nothing to judge, every night.
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text('[providers.gem]\nresume = ["--resume", "{session_id}"]\n')
    monkeypatch.setenv("SESSMAP_CONFIG", str(config_file))
    sessmap.ok("create", "k", "--provider", "gem", "--session-id", "s1")
    doctor = sessmap.ok("doctor")
    assert "could not be checked" not in doctor.stdout
    assert json.loads(sessmap.ok("doctor", "--json").stdout)["unverified_transcripts"] == []
    pruned = sessmap.ok("prune", "--missing", "--dry-run")
    assert pruned.stdout == "" and pruned.stderr == ""
    assert [r["key"] for r in sessmap.rows()] == ["k"]
