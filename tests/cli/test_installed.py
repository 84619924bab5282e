"""The installed ``sessmap`` command in real processes: pipes, store-to-store moves, and many
processes on one store at once."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.support.backends import FILE_KINDS, backend_params, file_store_url
from tests.support.cli import installed_sessmap, run_sessmap

PROCESSES = 8


@pytest.mark.slow
def test_installed_command_pipes_tsv_and_moves_a_map(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:{tmp_path / 'a.db'}"
    json_url = f"json:{tmp_path / 'b.json'}"
    created = run_sessmap("--store", sqlite_url, "create", "slack:C1:1", "-l", "team=infra")
    assert created.returncode == 0, created.stderr
    sid = created.stdout.strip()
    assert run_sessmap("--store", sqlite_url, "create", "-p", "codex", "tg:2").returncode == 0

    listed = run_sessmap("--store", sqlite_url, "list", "--sort", "key")
    assert listed.returncode == 0 and listed.stderr == ""
    lines = listed.stdout.splitlines()
    assert [line.split("\t")[:5] for line in lines] == [
        ["slack:C1:1", "default", "claude", sid, "active"],
        ["tg:2", "default", "codex", "", "pending"],
    ]

    exported = run_sessmap("--store", sqlite_url, "export")
    imported = run_sessmap("--store", json_url, "import", "-", input=exported.stdout)
    assert imported.returncode == 0 and imported.stdout == ""
    assert imported.stderr == "imported 2 mapping(s): 2 new, 0 replaced, 0 skipped\n"
    assert run_sessmap("--store", json_url, "export").stdout == exported.stdout
    assert run_sessmap("--store", json_url, "get", "slack:C1:1").stdout == f"{sid}\n"

    missing = run_sessmap("--store", json_url, "get", "nope")
    assert missing.returncode == 3 and missing.stdout == ""
    assert (
        missing.stderr.startswith("sessmap: error: no mapping for 'nope'") and missing.stderr.count("\n") == 1
    )

    assert run_sessmap("--version").stdout.startswith("sessmap ")
    assert run_sessmap("--store", "mysql://x", "list").returncode == 2


def test_python_dash_m(tmp_path: Path) -> None:
    import sys

    store = ["--store", f"json:{tmp_path / 's.json'}"]
    for args, said in ((["create", "k", "--session-id", "s-1"], "s-1\n"), (["get", "k"], "s-1\n")):
        result = subprocess.run(
            [sys.executable, "-m", "sessmap", *store, *args], capture_output=True, text=True, timeout=60
        )
        assert (result.returncode, result.stdout, result.stderr) == (0, said, "")


@pytest.mark.slow
@pytest.mark.parametrize("kind", backend_params(FILE_KINDS))
def test_many_processes_lose_nothing(tmp_path: Path, kind: str) -> None:
    url = file_store_url(kind, tmp_path)
    assert run_sessmap("--store", url, "create", "shared").returncode == 0

    def work(n: int) -> list[subprocess.CompletedProcess[str]]:
        return [
            run_sessmap("--store", url, "create", f"key-{n}"),
            run_sessmap("--store", url, "set", "shared", "--label", f"k{n}=v{n}"),
            run_sessmap("--store", url, "set", "shared", "--label", f"second{n}=x"),
        ]

    with ThreadPoolExecutor(max_workers=PROCESSES) as pool:
        results = [r for batch in pool.map(work, range(PROCESSES * 2)) for r in batch]
    failed = [(r.args, r.returncode, r.stderr) for r in results if r.returncode != 0]
    assert failed == []

    shared = json.loads(run_sessmap("--store", url, "get", "shared", "--json").stdout)
    expected = {f"k{n}": f"v{n}" for n in range(PROCESSES * 2)} | {
        f"second{n}": "x" for n in range(PROCESSES * 2)
    }
    assert shared["labels"] == expected
    keys = run_sessmap("--store", url, "list", "--format", "keys", "--prefix", "key-").stdout.split()
    assert sorted(keys) == sorted(f"key-{n}" for n in range(PROCESSES * 2))


@pytest.mark.slow
def test_reader_going_away_is_quiet(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 's.db'}"
    rows = "".join(
        json.dumps({"key": f"k{n}", "provider": "claude", "session_id": f"s{n}"}) + "\n" for n in range(5000)
    )
    assert run_sessmap("--store", url, "import", "-", input=rows).returncode == 0
    for fmt in ("tsv", "json", "jsonl"):
        result = subprocess.run(
            f"set -o pipefail; '{installed_sessmap()}' --store '{url}' list --format {fmt} | head -n 1",
            shell=True,
            executable="/bin/bash",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stderr == "", fmt
        assert result.returncode == 0, fmt  # like `git log | head`: a reader going away is no error


def test_start_up_loads_no_rich_backend_or_provider() -> None:
    import sys

    code = (
        "import sys, sessmap.cli.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich' "
        "or m.startswith(('sessmap.stores.', 'sessmap.providers.')) and m != 'sessmap.stores.base'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
