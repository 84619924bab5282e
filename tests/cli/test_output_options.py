"""The output options every command that prints rows of mappings shares: ``-f/--format``
(csv too), ``--json``, ``-n/--limit`` (0: all) and ``--fields``, on ``list`` and ``export``, in
a pipe. The installed command runs in a process of its own, as scripts run it."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.support import SESSMAP

from sessmap.cli.spec import MAPPING_FIELDS

ROWS = [
    {
        "key": f"slack:C1:{number}",
        "provider": "claude",
        "session_id": f"s-{number}",
        "cwd": f"/work/p{number}",
        "labels": {"team": "infra", "note": 'a "quoted", comma'},
        "turns": number,
        "created_at": f"2026-11-2{number}T10:00:00Z",
    }
    for number in range(1, 6)
]


def sessmap(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SESSMAP), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    done = sessmap(*args, env=env)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


@pytest.fixture(autouse=True)
def filled(tmp_path: Path) -> None:
    file = tmp_path / "rows.jsonl"
    file.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    ok("import", str(file))


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sessmap: error: "), done.stderr
    assert done.stdout == ""
    return lines[0]


@pytest.mark.parametrize("command", ["list", "export"])
@pytest.mark.slow
def test_fields_in_every_format(command: str) -> None:
    fields = "turns,key,labels,last_seen"
    tsv = ok(command, "--sort", "key", "-f", "tsv", "--fields", fields) if command == "list" else None
    if tsv is not None:
        first = tsv.splitlines()[0].split("\t")
        assert first[:2] == ["1", "slack:C1:1"]
        assert json.loads(first[2]) == ROWS[0]["labels"]
        assert first[3] == "2026-11-21T10:00:00Z"  # never used: last seen is the creation
    lines = ok(command, "-f", "jsonl", "--fields", fields).splitlines()
    assert [list(json.loads(line)) for line in lines] == [["turns", "key", "labels", "last_seen"]] * 5
    array = json.loads(ok(command, "--json", "--fields", "key"))
    assert sorted(item["key"] for item in array) == [row["key"] for row in ROWS]
    assert all(list(item) == ["key"] for item in array)
    table = ok(command, "-f", "table", "--fields", "key,cwd,turns", env={"COLUMNS": "100"})
    header, *body = table.splitlines()
    assert header.split() == ["KEY", "CWD", "TURNS"]
    assert len(body) == 5 and any(line.split() == ["slack:C1:3", "/work/p3", "3"] for line in body)


@pytest.mark.parametrize("command", ["list", "export"])
@pytest.mark.slow
def test_csv_has_a_header_and_parses_with_the_csv_module(command: str) -> None:
    default = list(csv.reader(io.StringIO(ok(command, "-f", "csv"))))
    assert default[0] == [
        "key",
        "agent",
        "provider",
        "session_id",
        "state",
        "turns",
        "last_used_at",
        "created_at",
    ]
    assert len(default) == 6
    assert {tuple(row[:4]) for row in default[1:]} == {
        (r["key"], "default", "claude", r["session_id"]) for r in ROWS
    }
    picked = list(csv.DictReader(io.StringIO(ok(command, "-f", "csv", "--fields", "key,labels,cwd"))))
    assert {row["key"]: json.loads(row["labels"]) for row in picked} == {r["key"]: r["labels"] for r in ROWS}
    assert {row["cwd"] for row in picked} == {r["cwd"] for r in ROWS}
    empty = ok(command, "-f", "csv", "--prefix", "none:")
    assert list(csv.reader(io.StringIO(empty))) == [default[0]]  # the header alone


@pytest.mark.slow
def test_tsv_stays_headerless_by_default() -> None:
    lines = ok("list").splitlines()
    assert len(lines) == 5 and not lines[0].startswith("key\t")


@pytest.mark.parametrize("fmt", ["tsv", "json", "jsonl", "csv", "keys", "table"])
@pytest.mark.parametrize("command", ["list", "export"])
@pytest.mark.slow
def test_n_0_means_every_row(command: str, fmt: str) -> None:
    every = ok(command, "-f", fmt, "-n", "0", env={"COLUMNS": "120"})
    two = ok(command, "-f", fmt, "-n", "2", env={"COLUMNS": "120"})
    if fmt == "json":
        assert (len(json.loads(every)), len(json.loads(two))) == (5, 2)
    else:
        extra = 1 if fmt in ("csv", "table") else 0  # the header row
        assert (len(every.splitlines()), len(two.splitlines())) == (5 + extra, 2 + extra)


@pytest.mark.slow
def test_no_default_limit_in_a_pipe(tmp_path: Path) -> None:
    file = tmp_path / "more.jsonl"
    file.write_text("".join(json.dumps({"key": f"k{n}", "provider": "claude"}) + "\n" for n in range(40)))
    ok("import", str(file))
    done = sessmap("list")
    assert len(done.stdout.splitlines()) == 45 and done.stderr == ""


@pytest.mark.parametrize("command", ["list", "export"])
@pytest.mark.parametrize("fmt", ["tsv", "jsonl", "csv", "table", "keys"])
@pytest.mark.slow
def test_json_and_another_format_disagree(command: str, fmt: str) -> None:
    line = one_error_line(done := sessmap(command, "--json", "-f", fmt))
    assert done.returncode == 2
    assert line == f"sessmap: error: --json and --format {fmt} disagree; use one"


@pytest.mark.slow
def test_json_and_format_json_agree() -> None:
    assert len(json.loads(ok("list", "--json", "-f", "json"))) == 5


@pytest.mark.parametrize("command", ["list", "export"])
@pytest.mark.slow
def test_an_unknown_field_lists_the_valid_ones(command: str) -> None:
    done = sessmap(command, "--fields", "key,colour")
    assert done.returncode == 2
    line = one_error_line(done)
    assert "unknown field 'colour'" in line
    assert ",".join(MAPPING_FIELDS) in line
    twice = sessmap(command, "--fields", "key,key")
    assert twice.returncode == 2 and "'key' twice" in one_error_line(twice)


@pytest.mark.slow
def test_export_transcripts_takes_whole_jsonl_only() -> None:
    done = sessmap("export", "--transcripts", "--fields", "key")
    assert done.returncode == 2 and "--transcripts" in one_error_line(done)


@pytest.mark.slow
def test_every_row_command_has_the_output_options() -> None:
    from sessmap.cli import spec

    for command in ("list", "export"):
        dests = {opt.dest for opt in spec.COMMANDS[command]}
        assert {opt.dest for opt in spec.OUTPUT} <= dests, command
    assert "csv" in spec.FORMATS
