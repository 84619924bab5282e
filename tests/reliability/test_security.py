"""Security: private files under any umask, no secrets or other sessions in verbose output,
keys are data on every backend, no SQL built from run-time values, no shell."""

from __future__ import annotations

import ast
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from reliability_support import ok
from sql_audit import sql_sinks, sql_sinks_of_modules
from tests.support.backends import backend_params, store_path, store_url_in
from tests.support.cli import run_sessmap
from typer.testing import CliRunner, Result

from sessmap.cli.app import app

SRC = Path(__file__).resolve().parents[2] / "src" / "sessmap"

# --- private files and folders -----------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077], ids=["umask-000", "umask-022", "umask-077"])
@pytest.mark.slow
def test_store_files_and_folders_are_private(tmp_path: Path, file_kind: str, umask: int) -> None:
    """Everything sessmap creates is 0700 (folders) or 0600 (files): the store, SQLite's -wal
    and -shm (seen while a command holds the store open), the JSON lock file, the per-thread
    lock folder and lock files. Checked on the files themselves, under three umasks."""
    base = tmp_path / "new" / "nested"  # sessmap creates both folders
    path = store_path(base, file_kind)
    url = f"{file_kind}:{path}"
    report = tmp_path / "modes.txt"
    # exec runs this as the "agent" while sessmap holds the store open and the thread locked;
    # claude's flags it appends (--session-id ID) land in $1 $2 and are ignored.
    agent = tmp_path / "agent.sh"
    agent.write_text(f"#!/bin/sh\nfind {tmp_path / 'new'} -exec stat -c '%a %n' {{}} + > {report}\n")
    agent.chmod(0o755)

    def set_umask() -> None:
        os.umask(umask)

    ok("--store", url, "create", "k", "-l", "a=b", preexec_fn=set_umask)
    ok("--store", url, "set", "k", "-l", "c=d", preexec_fn=set_umask)
    ok("--store", url, "exec", "k", "--provider", "claude", "--", str(agent), preexec_fn=set_umask)

    during = dict(reversed(line.split(" ", 1)) for line in report.read_text().splitlines())
    after = {str(p): f"{stat.S_IMODE(p.stat().st_mode):o}" for p in (tmp_path / "new").rglob("*")}
    after[str(tmp_path / "new")] = f"{stat.S_IMODE((tmp_path / 'new').stat().st_mode):o}"
    for seen in (during, after):
        for name, mode in seen.items():
            wanted = "700" if Path(name).is_dir() else "600"
            assert mode == wanted, (name, mode, seen)
    names = {Path(name).name for name in during}
    expected = {"new", "nested", path.name, path.name + ".locks"}
    expected |= {path.name + "-wal", path.name + "-shm"} if file_kind == "sqlite" else {path.name + ".lock"}
    assert expected <= names, names
    assert any(name.endswith(".lock") and name != path.name + ".lock" for name in names), names


# --- verbose output ----------------------------------------------------------------------------

PASSWORD = "s3cret"
UNREACHABLE_URLS = [
    pytest.param(f"postgresql://user:{PASSWORD}@127.0.0.1:1/x", id="postgresql"),
    pytest.param(f"postgres://user:{PASSWORD}@127.0.0.1:1/x?connect_timeout=2", id="postgres-query"),
    pytest.param(f"redis://:{PASSWORD}@127.0.0.1:1/0", id="redis"),
    pytest.param(f"redis://user:{PASSWORD}@127.0.0.1:1/0", id="redis-user"),
]


@pytest.mark.parametrize("url", UNREACHABLE_URLS)
@pytest.mark.slow
def test_verbose_errors_never_show_the_store_password(tmp_path: Path, url: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"store = {json.dumps(url)}\n")
    # Each way of giving the URL, each with a command that reads and one that writes.
    ways = [
        (["--store", url], {}, ["get", "k"]),
        ([], {"SESSMAP_STORE": url}, ["create", "k", "-l", "a=b"]),
        (["--config", str(config)], {}, ["list"]),
        (["--store", url], {}, ["rename", "k", "k2"]),
    ]
    for options, env, args in ways:
        result = run_sessmap("-v", *options, *args, env=env)
        output = result.stdout + result.stderr
        assert result.returncode == 1, (args, output)
        assert "Traceback" in result.stderr, (args, output)  # -v shows it…
        assert PASSWORD not in output, (args, output)  # …but never the password
        assert result.stderr.splitlines()[-1].startswith("sessmap: error: "), output
        assert "***" in result.stderr.splitlines()[-1], output
    # doctor reports the unreachable store as a finding on stdout.
    result = run_sessmap("-v", "--store", url, "doctor")
    assert result.returncode == 1 and "***" in result.stdout, (result.stdout, result.stderr)
    assert PASSWORD not in result.stdout + result.stderr


# --- every backend --------------------------------------------------------------------------------


@pytest.fixture(params=backend_params())
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store sessmap opens; the servers skip, or fail under CI, when they do not answer."""
    with store_url_in(request.param, tmp_path) as url:
        yield url


def cli(url: str) -> Callable[..., Result]:
    """``sessmap --store URL ARGS…`` in-process (argv goes to the app as is: no shell)."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["--store", url, *args], catch_exceptions=False)

    return invoke


@pytest.mark.slow
def test_verbose_not_found_shows_no_other_session(any_store_url: str) -> None:
    sessmap = cli(any_store_url)
    ids = []
    for n in range(5):
        created = sessmap("create", f"slack:C1:{n}", "-l", f"n={n}")
        assert created.exit_code == 0, created.stderr
        ids.append(created.stdout.strip())
    for args in (
        ["get", "missing-key"],
        ["show", "missing-key"],
        ["rm", "missing-key"],
        ["set", "missing-key", "-l", "a=b"],
    ):
        result = sessmap("-v", *args)
        assert result.exit_code == 3, (args, result.stderr)
        assert "Traceback" in result.stderr
        assert result.stdout == ""
        assert not [sid for sid in ids if sid in result.stderr], (args, result.stderr)


# --- keys are data ---------------------------------------------------------------------------------

HOSTILE_KEYS = [
    "'; DROP TABLE mappings; --",
    '"; DROP TABLE mappings; --',
    "$(rm -rf /)",
    "`id`",
    "%s",
    "%(key)s",
    "{0}",
    "{key}",
    "\\",
    "\\'",
    '"',
    "*",
    "?",
    "[a]",
    "[!a]",
    "%",
    "_",
    "-rf",
    "--force",
    "a:b:c",
    "key with  spaces ",
    "NULL",
    "\u202eevil\u202c.txt",  # right-to-left override
    "\u200f\u05e9\u05dc\u05d5\u05dd\u200e",  # RTL and LTR marks around Hebrew
    "e\u0301 \ufeff \u200d zero-width",
    "\U0001f600" * 100 + "\u9375" * 200 + "\u0627" * 200 + "z" * 12,  # 512 characters
]


def positional(key: str) -> list[str]:
    """A key as a positional argument: after ``--`` when it looks like an option."""
    return ["--", key] if key.startswith("-") else [key]


def renamed(key: str) -> str:
    return key[:-1] + ("x" if key[-1] != "x" else "y") if len(key) >= 512 else key + "/renamed"


@pytest.mark.slow
def test_hostile_keys_round_trip_verbatim(any_store_url: str) -> None:
    sessmap = cli(any_store_url)
    assert len(HOSTILE_KEYS[-1]) == 512
    sentinel = sessmap("create", "sentinel", "-l", "keep=me")
    assert sentinel.exit_code == 0, sentinel.stderr
    sentinel_before = json.loads(sessmap("show", "sentinel", "--json").stdout)

    ids: dict[str, str] = {}
    for key in HOSTILE_KEYS:
        created = sessmap("create", "-l", f"k={key[:100]}", *positional(key))
        assert created.exit_code == 0, (key, created.stderr)
        ids[key] = created.stdout.strip()
    for key in HOSTILE_KEYS:
        got = sessmap("get", *positional(key))
        assert (got.exit_code, got.stdout) == (0, ids[key] + "\n"), (key, got.stderr)
        shown = json.loads(sessmap("show", "--json", *positional(key)).stdout)
        assert shown["key"] == key and shown["labels"] == {"k": key[:100]}
    assert keys_listed(sessmap) == {"sentinel", *HOSTILE_KEYS}

    remaining = {"sentinel", *HOSTILE_KEYS}
    for key in HOSTILE_KEYS:
        new = renamed(key)
        moved = sessmap("rename", "--", key, new)
        assert moved.exit_code == 0, (key, moved.stderr)
        assert sessmap("get", "--", new).stdout == ids[key] + "\n"
        assert sessmap("get", *positional(key)).exit_code == 3
        removed = sessmap("rm", "--", new)
        assert removed.exit_code == 0, (key, removed.stderr)
        remaining.discard(key)
        if any(char in key for char in "*?[%_\\"):  # a pattern anywhere would remove more
            assert keys_listed(sessmap) == remaining, key
    assert keys_listed(sessmap) == {"sentinel"}
    assert json.loads(sessmap("show", "sentinel", "--json").stdout) == sentinel_before
    if any_store_url.startswith("sqlite:"):
        db = sqlite3.connect(any_store_url.removeprefix("sqlite:"))
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            db.close()


def keys_listed(sessmap: Callable[..., Result]) -> set[str]:
    listed = sessmap("list", "--format", "keys")
    assert listed.exit_code == 0, listed.stderr
    lines = listed.stdout.split("\n")
    assert lines[-1] == ""
    keys = set(lines[:-1])
    assert len(keys) == len(lines) - 1, "a key was listed twice"
    return keys


@pytest.mark.slow
def test_hostile_keys_through_the_installed_command(tmp_path: Path) -> None:
    """The same keys through the real command line (argv, no shell), one process each."""
    url = f"sqlite:{tmp_path / 'sessions.db'}"
    keys = ["'; DROP TABLE mappings; --", "$(rm -rf /)", "`id`", "*", "--force", "\u202eevil\u202c.txt"]
    for key in keys:
        ok("--store", url, "create", *positional(key))
    assert set(ok("--store", url, "list", "--format", "keys").stdout.splitlines()) == set(keys)
    assert ok("--store", url, "rm", "-", input="".join(k + "\n" for k in keys)).returncode == 0
    assert ok("--store", url, "list", "--format", "keys").stdout == ""


# --- no SQL built from run-time values ---------------------------------------------------------


@pytest.mark.slow
def test_store_sql_text_is_built_from_constants_only() -> None:
    """Every execute/executemany/copy in src/sessmap/stores/*.py gets SQL text made only of
    literals and psycopg quoting (see sql_audit.py for exactly what that proves)."""
    checked = 0
    untrusted = []
    stores: dict[str, dict[str, str]] = {}  # a store's modules: sqlite.py, sqlite_rows.py, …
    for module in sorted((SRC / "stores").glob("*.py")):
        stores.setdefault(module.stem.split("_")[0], {})[module.name] = module.read_text(encoding="utf-8")
    for sources in stores.values():
        for name, line, text, trusted in sql_sinks_of_modules(sources):
            checked += 1
            if not trusted:
                untrusted.append(f"{name}:{line}: {text}")
    assert untrusted == []
    assert checked >= 40  # the audit saw the stores' statements (sqlite.py and postgres.py)


# Each snippet's one execute() must be judged as marked; the bad ones are the classic mistakes.
AUDIT_CASES = [
    ("def f(db, key):\n    db.execute(f\"SELECT * FROM t WHERE k = '{key}'\")\nf(db, input())", False),
    ("def f(db, key):\n    db.execute(\"SELECT * FROM t WHERE k = '%s'\" % key)\nf(db, input())", False),
    ("def f(db, key):\n    db.execute('SELECT {}'.format(key))\nf(db, input())", False),
    ("def f(db, key):\n    db.executemany('DELETE FROM ' + key, [])\nf(db, input())", False),
    ("def f(cur, key):\n    cur.copy(sql.SQL(f'COPY {key} FROM STDIN'))\nf(cur, input())", False),
    ("def f(db, key):\n    db.execute(f\"SELECT '{key}'\")", False),  # no call site: unknown
    ("def run(db, text):\n    db.execute(text)\nrun(db, 'SELECT 1')\nrun(db, input())", False),
    (
        "def build(q):\n    return f\"k = '{q.k}'\", []\n"
        "def f(db, q):\n    where, params = build(q)\n    db.execute('SELECT 1 WHERE ' + where, params)",
        False,
    ),
    (
        "def f(db, q):\n    parts = ['TRUE']\n    parts.append(q.text)\n"
        "    db.execute('SELECT 1 WHERE ' + ' AND '.join(parts))",
        False,
    ),
    (
        "class S:\n    def __init__(self, table):\n        self.table = table\n"
        "    def get(self, db):\n        db.execute(f'SELECT * FROM {self.table}')",
        False,
    ),
    ("def f(db, key):\n    db.execute('SELECT * FROM t WHERE k = ?', (key,))\nf(db, input())", True),
    (
        "COLS = ('a', 'b')\nQ = f\"SELECT {', '.join(COLS)} FROM t\"\n"
        "def f(db):\n    db.execute(Q + ' LIMIT ?', (1,))",
        True,
    ),
    (
        "def f(cur, name):\n    cur.execute(sql.SQL('DROP SCHEMA {}').format(sql.Identifier(name)))\n"
        "f(cur, input())",
        True,
    ),
    ("def f(cur, n):\n    cur.execute(sql.SQL('SET x = {}').format(sql.Literal(n)))\nf(cur, input())", True),
    (
        "ORDER = {'a': 'key', 'b': 'key DESC'}\n"
        "def f(db, sort):\n    db.execute(f'SELECT 1 ORDER BY {ORDER[sort]}')\nf(db, input())",
        True,
    ),
    (
        "def f(db, q):\n    clauses = []\n    def add(text, value):\n        clauses.append(text)\n"
        "    add('a = ?', q.a)\n    add('b = ?' if q.x else 'b > ?', q.b)\n"
        "    db.execute('SELECT 1 WHERE ' + ' AND '.join(clauses))",
        True,
    ),
]


@pytest.mark.parametrize(("source", "trusted"), AUDIT_CASES)
def test_the_sql_audit_tells_built_from_values_from_constant(source: str, trusted: bool) -> None:
    [(_, text, verdict)] = sql_sinks(source)
    assert verdict is trusted, text


# --- no shell --------------------------------------------------------------------------------


def shell_uses(source: str) -> list[tuple[int, str]]:
    """``shell=`` anything but a literal False in any call (subprocess.run/Popen/call/check_*,
    asyncio's create_subprocess_*, whatever the import spelling), and any os.system / os.popen /
    subprocess.getoutput / getstatusoutput / asyncio create_subprocess_shell reference."""
    shells = ("system", "popen", "getoutput", "getstatusoutput", "create_subprocess_shell")
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "shell" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    found.append((node.lineno, ast.unparse(node)))
        name = getattr(node, "attr", None) or getattr(node, "id", None)
        if name in shells:
            found.append((node.lineno, ast.unparse(node)))
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "subprocess", "asyncio"):
            for alias in node.names:
                if alias.name in shells:
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
    return found


def test_no_shell_anywhere_in_src() -> None:
    modules = sorted(SRC.rglob("*.py"))
    assert len(modules) > 20
    uses = [(m.relative_to(SRC), line, text) for m in modules for line, text in shell_uses(m.read_text())]
    assert uses == []


def test_the_shell_check_sees_shell_uses() -> None:
    assert len(shell_uses("import os\nos.system('ls')")) == 1
    assert len(shell_uses("import subprocess as sp\nsp.run('ls', shell=True)")) == 1
    assert len(shell_uses("subprocess.Popen(cmd, shell=flag)")) == 1
    assert len(shell_uses("from os import popen")) == 1
    assert shell_uses("subprocess.run(['ls'], shell=False)\nsubprocess.run(['ls'])") == []
