"""list (formats, filters, sorts), export, import and prune through the CLI, on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support import sha256
from tests.support.cli import Sessmap, one_error_line
from tests.support.mappings import ago


def row(key: str, **fields: object) -> dict[str, object]:
    return {"key": key, "provider": "claude", "session_id": f"s-{key.replace(':', '-')}", **fields}


@pytest.fixture
def filled(sessmap: Sessmap) -> Sessmap:
    sessmap.import_rows(
        row("slack:a", created_at=ago(days=40), labels={"team": "infra", "env": "prod"}),
        row("slack:b", created_at=ago(days=10), last_used_at=ago(hours=1), turns=3, labels={"team": "infra"}),
        row("tg:c", created_at=ago(days=2), agent="reviewer", provider="codex"),
        {"key": "tg:d", "provider": "codex", "created_at": ago(days=5)},  # pending
    )
    return sessmap


def keys(sessmap: Sessmap, *args: str) -> list[str]:
    return sessmap.ok("list", "--format", "keys", *args).stdout.splitlines()


def test_default_format_when_piped_is_headerless_tsv(filled: Sessmap) -> None:
    result = filled.ok("list")
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    first = lines[0].split("\t")
    # key, agent, provider, session_id, state, turns, last_used_at, created_at
    assert first[:6] == ["slack:b", "default", "claude", "s-slack-b", "active", "3"]
    assert first[6].endswith("Z") and first[7].endswith("Z")
    pending = next(line.split("\t") for line in lines if line.startswith("tg:d\t"))
    assert pending[3] == "" and pending[4] == "pending" and pending[6] == ""
    assert result.stderr == ""


def test_sorts(filled: Sessmap) -> None:
    assert keys(filled) == ["slack:b", "tg:c", "tg:d", "slack:a"]  # last used/created, newest first
    assert keys(filled, "--sort", "created") == ["tg:c", "tg:d", "slack:b", "slack:a"]
    assert keys(filled, "--sort", "key") == ["slack:a", "slack:b", "tg:c", "tg:d"]
    assert keys(filled, "--sort", "key", "--reverse") == ["tg:d", "tg:c", "slack:b", "slack:a"]
    assert keys(filled, "--sort", "created", "-r", "--limit", "2") == ["slack:a", "slack:b"]
    assert len(keys(filled, "--limit", "0")) == 4  # 0: every row


def test_filters(filled: Sessmap) -> None:
    assert keys(filled, "--agent", "reviewer") == ["tg:c"]
    assert keys(filled, "-a", "default", "--sort", "key") == ["slack:a", "slack:b", "tg:d"]
    assert keys(filled, "--provider", "codex", "--sort", "key") == ["tg:c", "tg:d"]
    assert keys(filled, "--prefix", "slack:", "--sort", "key") == ["slack:a", "slack:b"]
    assert keys(filled, "--match", "*:[cd]", "--sort", "key") == ["tg:c", "tg:d"]
    assert keys(filled, "--match", "SLACK*") == []  # case-sensitive
    assert keys(filled, "--label", "team=infra", "--sort", "key") == ["slack:a", "slack:b"]
    assert keys(filled, "-l", "team=infra", "-l", "env=prod") == ["slack:a"]
    assert keys(filled, "--older-than", "30d") == ["slack:a"]
    assert keys(filled, "--older-than", "1d", "--sort", "key") == ["slack:a", "tg:c", "tg:d"]
    assert keys(filled, "--newer-than", "3d", "--sort", "key") == ["slack:b", "tg:c"]
    assert keys(filled, "--state", "pending") == ["tg:d"]
    assert keys(filled, "--state", "active", "--provider", "codex") == ["tg:c"]


def test_agent_environment_does_not_narrow_list(filled: Sessmap, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSMAP_AGENT", "reviewer")
    assert len(keys(filled)) == 4


def test_json_formats(filled: Sessmap) -> None:
    as_json = json.loads(filled.ok("list", "--json", "--sort", "key").stdout)
    assert [item["key"] for item in as_json] == ["slack:a", "slack:b", "tg:c", "tg:d"]
    assert as_json[1]["turns"] == 3 and as_json[1]["labels"] == {"team": "infra"}
    assert json.loads(filled.ok("list", "--format", "json", "--prefix", "none").stdout) == []
    lines = filled.ok("list", "--format", "jsonl", "--sort", "key").stdout.splitlines()
    assert [json.loads(line) for line in lines] == as_json
    assert filled.ok("list", "-f", "jsonl", "--prefix", "none").stdout == ""


def test_table_format(filled: Sessmap) -> None:
    result = filled.ok("--no-color", "list", "--format", "table")
    header = result.stdout.splitlines()[0].split()
    assert header[:5] == ["KEY", "AGENT", "PROVIDER", "SESSION", "STATE"]
    assert "slack:b" in result.stdout
    assert "\x1b[" not in result.stdout
    empty = filled.ok("list", "--format", "table", "--prefix", "none")
    assert empty.stdout == "" and empty.stderr == "no mappings\n"


def test_table_shows_keys_verbatim_not_markup(sessmap: Sessmap, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    sessmap.ok("create", "[bold]x:smile:")
    assert "[bold]x:smile:" in sessmap.ok("list", "--format", "table").stdout


def test_list_bad_options(filled: Sessmap) -> None:
    for args, needle in [
        (["--format", "xml"], "xml"),
        (["--sort", "size"], "size"),
        (["--state", "done"], "done"),
        (["--older-than", "3 days"], "invalid duration"),
        (["--newer-than", "-1d"], "invalid duration"),
        (["--label", "novalue"], "invalid label"),
        (["--limit", "-1"], "'--limit'"),
        (["-a", "bad agent"], "invalid agent name"),
        (["-p", "no/such"], "invalid provider name"),
    ]:
        result = filled("list", *args)
        assert result.exit_code == 2, args
        assert result.stdout == ""
        assert needle in one_error_line(result), args


def test_export_import_round_trip_between_stores(filled: Sessmap, tmp_path: Path) -> None:
    exported = filled.ok("export").stdout
    assert len(exported.splitlines()) == 4
    other = Sessmap(f"json:{tmp_path / 'other.json'}", tmp_path / "other.json")
    result = other.ok("import", "-", input=exported)
    assert result.stdout == ""
    assert result.stderr == "imported 4 mapping(s): 4 new, 0 replaced, 0 skipped\n"
    assert other.rows() == filled.rows()
    third = Sessmap(f"sqlite:{tmp_path / 'third.db'}", tmp_path / "third.db")
    file = tmp_path / "dump.jsonl"
    file.write_text(exported)
    third.ok("import", str(file))
    assert third.rows() == filled.rows()


def test_export_filters(filled: Sessmap) -> None:
    rows = [json.loads(line) for line in filled.ok("export", "--provider", "codex").stdout.splitlines()]
    assert sorted(r["key"] for r in rows) == ["tg:c", "tg:d"]


def test_import_conflicts(filled: Sessmap) -> None:
    exported = filled.ok("export").stdout
    before = filled.rows()
    fail = filled("import", "-", input=exported)
    assert fail.exit_code == 4
    assert "nothing imported" in one_error_line(fail)
    assert filled.rows() == before
    skip = filled.ok("import", "--on-conflict", "skip", "-", input=exported)
    assert skip.stderr == "imported 0 mapping(s): 0 new, 0 replaced, 4 skipped\n"
    changed = exported.replace('"turns": 3', '"turns": 9')
    replace = filled.ok("import", "--on-conflict", "replace", "-", input=changed)
    assert replace.stderr == "imported 4 mapping(s): 0 new, 4 replaced, 0 skipped\n"
    assert json.loads(filled.ok("get", "slack:b", "--json").stdout)["turns"] == 9
    assert filled.ok("-q", "import", "--on-conflict", "skip", "-", input=exported).stderr == ""


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"key": "x"}', "line 2: mapping is missing 'provider'"),
        ('{"key": "x", "provider": "claude", "colour": "red"}', "line 2: unknown mapping field(s): colour"),
        ('{"key": "a\\u0007b", "provider": "claude"}', "line 2: thread key"),
        ('{"key": "x", "provider": "claude", "created_at": "yesterday"}', "line 2: invalid timestamp"),
        ("[1, 2]", "line 2: a mapping must be a JSON object"),
        ('{"key": "x", "provider": "claude", "state": "active"}', "line 2: mapping 'x' is active but has no"),
    ],
)
def test_import_bad_line_imports_nothing(filled: Sessmap, bad_line: str, message: str) -> None:
    before = sha256(filled.store_path)
    good = json.dumps(row("new:1"))
    result = filled("import", "-", input=f"{good}\n{bad_line}\n{json.dumps(row('new:2'))}\n")
    assert result.exit_code == 2
    assert message in one_error_line(result)
    assert sha256(filled.store_path) == before


def test_import_not_utf8_and_missing_file(filled: Sessmap, tmp_path: Path) -> None:
    before = sha256(filled.store_path)
    result = filled("import", "-", input=b'{"key": "\xff", "provider": "claude"}\n')
    assert result.exit_code == 2 and "line 1: not UTF-8" in one_error_line(result)
    missing = filled("import", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "cannot read" in one_error_line(missing)
    bad_policy = filled("import", "--on-conflict", "merge", "-", input="")
    assert bad_policy.exit_code == 2
    assert sha256(filled.store_path) == before


def test_import_empty_input(sessmap: Sessmap) -> None:
    assert sessmap.ok("import", "-", input="\n\n").stderr.startswith("imported 0 mapping(s)")


# --- prune ------------------------------------------------------------------------------------


def test_prune_default_age_is_30_days_and_prints_what_went(filled: Sessmap) -> None:
    result = filled.ok("prune")
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["slack:a"]
    assert result.stderr == "removed 1 of 4 mappings older than 30d\n"  # the summary cron mails
    assert sorted(r["key"] for r in filled.rows()) == ["slack:b", "tg:c", "tg:d"]
    again = filled.ok("prune")
    assert again.stdout == "" and again.stderr == ""  # nothing at all: cron-friendly


def test_prune_boundaries_use_last_use(sessmap: Sessmap) -> None:
    sessmap.import_rows(
        row("old-but-used", created_at=ago(days=100), last_used_at=ago(days=6)),
        row("just-inside", created_at=ago(days=7, seconds=-120)),
        row("just-outside", created_at=ago(days=7, seconds=120)),
    )
    result = sessmap.ok("prune", "--older-than", "1w")
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["just-outside"]
    assert sorted(r["key"] for r in sessmap.rows()) == ["just-inside", "old-but-used"]


def test_prune_ttl_from_config(filled: Sessmap) -> None:
    filled.ok("config", "set", "ttl", "3d")
    assert filled.ok("prune", "--dry-run").stdout.count("\n") == 2  # slack:a, tg:d
    assert filled.ok("prune", "--dry-run", "--older-than", "100d").stdout == ""


def test_prune_dry_run_deletes_nothing(filled: Sessmap) -> None:
    before = sha256(filled.store_path)
    rows = filled.rows()
    result = filled.ok("prune", "--older-than", "1d", "--dry-run")
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["slack:a", "tg:c", "tg:d"]
    assert filled.rows() == rows
    assert sha256(filled.store_path) == before


def test_prune_json_provider_agent_and_quiet(filled: Sessmap) -> None:
    summary = json.loads(
        filled.ok("prune", "--older-than", "1d", "--provider", "codex", "--dry-run", "--json").stdout
    )
    assert summary["dry_run"] is True and summary["count"] == 2
    assert [m["key"] for m in summary["removed"]] == ["tg:c", "tg:d"]
    assert (
        json.loads(filled.ok("prune", "-a", "reviewer", "--older-than", "1d", "--json").stdout)["count"] == 1
    )
    quiet = filled.ok("-q", "prune", "--older-than", "1d")
    assert quiet.stdout == "" and quiet.stderr == ""
    assert [r["key"] for r in filled.rows()] == ["slack:b"]
    none = json.loads(filled.ok("prune", "--json").stdout)
    assert {k: none[k] for k in ("dry_run", "count", "removed", "kept")} == {
        "dry_run": False,
        "count": 0,
        "removed": [],
        "kept": [],
    }


def seen_here(sessmap: Sessmap, key: str, session_id: str, home: Path, *, host: str | None = None) -> None:
    """A mapping whose last run saw its claude transcript in ``home`` on ``host`` (this one)."""
    from sessmap.transcripts.presence import this_host

    line = {
        "key": key,
        "provider": "claude",
        "session_id": session_id,
        "cwd": "/w",
        "turns": 1,
        "host": host or this_host(),
        "agent_home": str(home),
    }
    sessmap.ok("import", "-", input=json.dumps(line) + "\n")


def test_prune_missing_removes_only_what_is_proven_gone(
    sessmap: Sessmap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "claude"
    (home / "projects" / "-w").mkdir(parents=True)
    (home / "projects" / "-w" / "s-kept.jsonl").write_text("{}\n")
    # cron's own HOME: the bot's transcripts are not where cron would look
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "cron-home" / ".claude"))
    seen_here(sessmap, "kept", "s-kept", home)
    seen_here(sessmap, "gone", "s-gone", home)
    seen_here(sessmap, "elsewhere", "s-else", home, host="another-host")
    seen_here(sessmap, "no-home", "s-nohome", tmp_path / "not-here")
    sessmap.ok("create", "never-run", "--session-id", "s-never", "--cwd", "/w")
    sessmap.ok("create", "-p", "codex", "pending")
    assert sessmap.ok("prune").stdout == ""  # all young
    dry = sessmap.ok("prune", "--missing", "--dry-run")
    assert [line.split("\t")[0] for line in dry.stdout.splitlines()] == ["gone"]
    assert "kept 3 mapping(s) whose transcript could not be checked from here" in dry.stderr
    report = json.loads(sessmap.ok("prune", "--missing", "--dry-run", "--json").stdout)
    reasons = {item["key"]: item["reason"] for item in report["kept"]}
    assert sorted(reasons) == ["elsewhere", "never-run", "no-home"]
    assert "another host (another-host)" in reasons["elsewhere"]
    assert "no run recorded" in reasons["never-run"]
    assert "missing here" in reasons["no-home"]
    assert len(sessmap.rows()) == 6
    quiet = sessmap.ok("-q", "prune", "--missing")
    assert quiet.stdout == "" and quiet.stderr == ""
    assert sorted(r["key"] for r in sessmap.rows()) == [
        "elsewhere",
        "kept",
        "never-run",
        "no-home",
        "pending",
    ]


def test_prune_bad_duration(filled: Sessmap) -> None:
    before = sha256(filled.store_path)
    result = filled("prune", "--older-than", "30")
    assert result.exit_code == 2 and "invalid duration '30'" in one_error_line(result)
    assert sha256(filled.store_path) == before


def test_table_fits_80_columns_with_short_ids_and_ages(
    sessmap: Sessmap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    session_id = sessmap.ok("create", "slack:C024BE91L:1700000000.000100").stdout.strip()
    lines = sessmap.ok("--no-color", "list", "--format", "table").stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "slack:C024BE91L:1700000000.000100" in "".join(line.split()[0] for line in lines[1:])
    assert session_id[:8] in lines[1] and session_id not in lines[1]
    assert lines[0].split()[-2:] == ["LAST", "SEEN"]
    assert lines[1].rstrip().endswith(("s ago", "just now"))
