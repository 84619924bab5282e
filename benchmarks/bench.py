#!/usr/bin/env python3
"""sessmap's speed budget: one table of ratios, every one measured in this run.

    python benchmarks/bench.py                 # 1k, 100k and 1M mappings (a few minutes)
    python benchmarks/bench.py --quick         # 1k and 10k, fewer repetitions
    python benchmarks/bench.py --sizes 1000,100000 --repeat 9
    python benchmarks/bench.py --postgres URL --redis URL

Absolute times say more about the machine than about sessmap, and a shared machine is noisy,
so every figure is a ratio against a baseline that does the same work with no sessmap in the
way (a bare ``python -c "import sqlite3; …"`` lookup, the ``sqlite3`` command-line tool running
the equivalent SQL), measured in the same run, interleaved with the measured command
(baseline, measured, measured, baseline, …), each the fastest of ``--repeat`` runs: noise
only ever adds time, so the minimum is the steadiest estimate of the work itself.

Every command runs as its own process, as users run it: the installed ``sessmap`` console
script next to this interpreter. Building the stores is not measured, except as the import row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SESSMAP = str(Path(sys.executable).with_name("sessmap"))
SQLITE3 = shutil.which("sqlite3")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
BENCH_AGENT_CONFIG = """\
# A provider for /bin/true, so `sessmap exec KEY -- /bin/true` runs the whole exec path
# (lock, read, choose the step, record before and after) around a command that does nothing.
[providers.true]
new = ["--session-id", "{session_id}"]
resume = ["--resume", "{session_id}"]
"""
TTL_DAYS = 30
SPAN_DAYS = 60  # created_at spread over this many days: prune --older-than 30d takes about half
SQL_TSV_COLUMNS = "key, agent, provider, session_id, state, turns, last_used_at, created_at"


# --- running and timing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_kib: int


CLOCK = "wall"  # or "cpu": user + system time of the process and its children (--clock)


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: Path | None = None,
    stdout: Path | None = None,
    ok: Sequence[int] = (0,),
    cwd: Path | None = None,
) -> Run:
    """One process, timed from spawn to reaping (or its CPU time, with --clock cpu); its peak
    memory from wait4's rusage."""
    stdin_file = stdin.open("rb") if stdin else subprocess.DEVNULL
    stdout_file = stdout.open("wb") if stdout else subprocess.DEVNULL
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            argv, stdin=stdin_file, stdout=stdout_file, stderr=stderr, env=env, cwd=cwd
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        if CLOCK == "cpu":
            seconds = usage.ru_utime + usage.ru_stime
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in ok:
            stderr.seek(0)
            message = stderr.read().decode(errors="replace").strip()
            raise SystemExit(f"bench: {' '.join(argv)} exited {process.returncode}: {message}")
    for handle in (stdin_file, stdout_file):
        if not isinstance(handle, int):
            handle.close()
    return Run(seconds, usage.ru_maxrss)


def interleaved(
    commands: dict[str, Callable[[], Run]],
    repeat: int,
    prepare: Callable[[str], None] | None = None,
) -> dict[str, Run]:
    """Run every command ``repeat`` times, alternating their order each round; the fastest run
    of each (with the largest peak memory seen). ``prepare(name)`` runs, untimed, before each."""
    best: dict[str, Run] = {}
    names = list(commands)
    for round_number in range(repeat):
        for name in names if round_number % 2 == 0 else reversed(names):
            if prepare:
                prepare(name)
            result = commands[name]()
            previous = best.get(name)
            best[name] = Run(
                min(result.seconds, previous.seconds) if previous else result.seconds,
                max(result.max_rss_kib, previous.max_rss_kib) if previous else result.max_rss_kib,
            )
    return best


# --- the data ---------------------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def key_of(number: int) -> str:
    return f"slack:C{number % 97:04d}:{1700000000 + number}.000100"


def write_rows(size: int, jsonl: Path, tsv: Path, now: datetime, cwd: Path) -> None:
    """``size`` mappings as JSONL (for ``sessmap import``) and as the same rows in the store
    table's column order as TSV (for the sqlite3 tool's ``.import``; NULL becomes '')."""
    span = SPAN_DAYS * 86400
    with jsonl.open("w") as out_jsonl, tsv.open("w") as out_tsv:
        for number in range(size):
            created = now - timedelta(seconds=span - (number * span) // size)
            last_used = created + timedelta(hours=1) if number % 2 else None
            key, session_id = key_of(number), str(uuid.UUID(int=number + 1))
            created_at, updated_at = stamp(created), stamp(last_used or created)
            last_used_at = stamp(last_used) if last_used else None
            turns, last_exit = number % 7, 0 if number % 2 else None
            labels = {"team": "infra"} if number % 10 == 0 else {}
            row = {
                "key": key,
                "agent": "default",
                "provider": "claude",
                "session_id": session_id,
                "state": "active",
                "cwd": str(cwd),
                "created_at": created_at,
                "updated_at": updated_at,
                "last_used_at": last_used_at,
                "turns": turns,
                "last_exit": last_exit,
                "parent": None,
                "labels": labels,
            }
            out_jsonl.write(json.dumps(row) + "\n")
            table_row = [
                *("default", key, "claude", session_id, "active", str(cwd), created_at, updated_at),
                last_used_at or "",
                str(turns),
                "" if last_exit is None else str(last_exit),
                *("", "", ""),  # no parent
                json.dumps(labels, sort_keys=True),
                *("", "", "[]"),  # no host, no agent home, no history (schema 2's columns)
                "0",  # generation (schema 4)
            ]
            out_tsv.write("\t".join(table_row) + "\n")


@dataclass
class Sizes:
    """The files for one size: rows, the store sessmap built, a JSON store for small sizes."""

    size: int
    jsonl: Path
    tsv: Path
    store: Path
    json_store: Path | None = None


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    measurement: str
    value: str
    baseline: str
    ratio: float | None
    target: float | None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return self.note or "skipped"
        if self.target is None:
            return "info"
        return "pass" if self.ratio <= self.target else "FAIL"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def size_name(size: int) -> str:
    return (
        f"{size // 1_000_000}M"
        if size >= 1_000_000 and size % 1_000_000 == 0
        else (f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size))
    )


def print_table(rows: list[Row]) -> None:
    header = ("measurement", "value", "baseline", "ratio", "target", "result")
    cells = [
        (
            row.measurement,
            row.value,
            row.baseline,
            f"{row.ratio:.2f}×" if row.ratio is not None else "—",
            f"≤ {row.target:g}×" if row.target is not None else "—",
            row.verdict,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
    notes = [f"{row.measurement}: {row.note}" for row in rows if row.note and row.ratio is not None]
    for note in notes:
        print(f"  note: {note}")


# --- the benchmark ----------------------------------------------------------------------------


class Bench:
    def __init__(self, options: argparse.Namespace, folder: Path) -> None:
        self.options = options
        self.folder = folder
        self.repeat: int = options.repeat
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.home = folder / "home"
        self.home.mkdir()
        self.workdir = folder / "work"  # the mappings' cwd: exec runs the agent there
        self.workdir.mkdir()
        (self.home / "config.toml").write_text(BENCH_AGENT_CONFIG)
        # SESSMAP_HOME: no user config or store of the machine's leaks in; the stores are named
        # with --store in every command, as the baseline is given the path.
        # Nor do PYTHONDONTWRITEBYTECODE / PYTHONUNBUFFERED, which users rarely set: the first
        # would recompile every changed module on every run, the second writes line by line.
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("SESSMAP_", "NO_COLOR", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"))
        }
        self.env["SESSMAP_HOME"] = str(self.home)
        # As most users run sessmap: no SESSMAP_HOME, the platform's folders (XDG on Linux),
        # pointed into the work folder so no real config or store is read or written.
        self.xdg_env = {name: value for name, value in self.env.items() if name != "SESSMAP_HOME"}
        self.xdg_env["XDG_DATA_HOME"] = str(folder / "xdg-data")
        self.xdg_env["XDG_CONFIG_HOME"] = str(folder / "xdg-config")
        (folder / "xdg-config" / "sessmap").mkdir(parents=True)
        (folder / "xdg-config" / "sessmap" / "config.toml").write_text(BENCH_AGENT_CONFIG)
        self.rows: list[Row] = []
        self.sizes: dict[int, Sizes] = {}
        self.list_memory: dict[int, int] = {}  # size -> peak RSS of `list` (KiB)
        self.prune_memory: dict[int, int] = {}  # size -> peak RSS of `prune` (KiB)
        self.quiet_prune_memory: dict[int, int] = {}  # size -> peak RSS of `-q prune` deleting all
        # Byte-compile sessmap as an install does, so no run pays for compiling a changed module.
        package = Path(sessmap_package_dir())
        run([sys.executable, "-m", "compileall", "-q", str(package)], env=self.env)
        self.template = folder / "empty.db"  # an empty store: the schema, for the sqlite3 tool
        nothing = folder / "nothing.jsonl"
        nothing.touch()
        self.sessmap("--store", f"sqlite:{self.template}", "import", str(nothing))  # creates it

    def sessmap(self, *args: str, **kwargs: object) -> Run:
        return run([SESSMAP, *args], env=self.env, **kwargs)  # type: ignore[arg-type]

    def sqlite3(self, database: Path, *statements: str, stdout: Path | None = None) -> Run:
        assert SQLITE3 is not None
        return run([SQLITE3, "-batch", str(database), *statements], env=self.env, stdout=stdout)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {row.measurement}: {row.value} vs {row.baseline}", file=sys.stderr, flush=True)

    # -- building --

    def build(self, size: int) -> Sizes:
        files = Sizes(
            size=size,
            jsonl=self.folder / f"rows-{size}.jsonl",
            tsv=self.folder / f"rows-{size}.tsv",
            store=self.folder / f"store-{size}.db",
        )
        print(f"building {size_name(size)} mappings…", file=sys.stderr, flush=True)
        write_rows(size, files.jsonl, files.tsv, self.now, self.workdir)
        self.sessmap("--store", f"sqlite:{files.store}", "import", str(files.jsonl))
        if size <= 10_000:
            files.json_store = self.folder / f"store-{size}.json"
            self.sessmap("--store", f"json:{files.json_store}", "import", str(files.jsonl))
        self.sizes[size] = files
        return files

    # -- measurements --

    def bare_get(self, store: Path, key: str) -> Callable[[], Run]:
        # The least any lookup costs: start Python, open the file, one indexed SELECT, print.
        code = (
            "import sqlite3, sys; "
            "print(sqlite3.connect(sys.argv[1]).execute("
            "'SELECT session_id FROM mappings WHERE agent = ? AND key = ?', ('default', sys.argv[2])"
            ").fetchone()[0])"
        )
        return lambda: run([sys.executable, "-c", code, str(store), key], env=self.env)

    def get(self, url: str, key: str) -> Callable[[], Run]:
        return lambda: self.sessmap("--store", url, "get", key)

    def cold_get(self, small: Sizes) -> None:
        key = key_of(small.size // 2)
        best = interleaved(
            {"bare": self.bare_get(small.store, key), "get": self.get(f"sqlite:{small.store}", key)},
            self.repeat,
        )
        self.add(
            Row(
                f"cold `get` ({size_name(small.size)}) vs bare python sqlite3 lookup",
                ms(best["get"].seconds),
                ms(best["bare"].seconds),
                best["get"].seconds / best["bare"].seconds,
                2.5,
            )
        )

    def exec_overhead(self, small: Sizes, *, platform_folders: bool = False) -> None:
        # A thread of its own on the `true` provider (BENCH_AGENT_CONFIG); the first run creates
        # its session, so every measured run is the steady state: resume the thread's session.
        # platform_folders: no SESSMAP_HOME, so the config is looked for through platformdirs
        # (in the XDG folders default_store_get set up), as most users run it.
        key = "bench:exec-xdg" if platform_folders else "bench:exec"
        env = self.xdg_env if platform_folders else self.env
        url = f"sqlite:{small.store}"

        def sessmap_exec(*options: str) -> Run:
            return run([SESSMAP, "--store", url, "exec", key, *options, "--", "/bin/true"], env=env)

        sessmap_exec("--provider", "true", "--cwd", str(self.workdir))
        best = interleaved(
            {
                "bare": self.bare_get(small.store, key),
                "true": lambda: run(["/bin/true"], env=self.env),
                "exec": sessmap_exec,
            },
            self.repeat,
        )
        overhead = best["exec"].seconds - best["true"].seconds
        where = ", config via platformdirs," if platform_folders else ""
        self.add(
            Row(
                f"`exec K -- /bin/true` minus `/bin/true` ({size_name(small.size)}){where} vs bare lookup",
                ms(overhead),
                ms(best["bare"].seconds),
                overhead / best["bare"].seconds,
                None if platform_folders else 3.5,
            )
        )

    def get_scaling(self, small: Sizes, large: Sizes) -> None:
        best = interleaved(
            {
                "small": self.get(f"sqlite:{small.store}", key_of(small.size // 2)),
                "large": self.get(f"sqlite:{large.store}", key_of(large.size // 2)),
            },
            self.repeat,
        )
        self.add(
            Row(
                f"`get` at {size_name(large.size)} vs at {size_name(small.size)}",
                ms(best["large"].seconds),
                ms(best["small"].seconds),
                best["large"].seconds / best["small"].seconds,
                1.15,
            )
        )

    def import_(self, files: Sizes, target: float | None) -> None:
        target_db = self.folder / "import-target.db"

        def prepare(name: str) -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target_db}{suffix}").unlink(missing_ok=True)
            shutil.rmtree(f"{target_db}.locks", ignore_errors=True)
            if name == "sqlite3":
                shutil.copy(self.template, target_db)

        # The sqlite3 tool's .import reads the same rows (as TSV: no JSON to parse, nothing to
        # validate) into the same table, with the same indexes, in one transaction.
        best = interleaved(
            {
                "sqlite3": lambda: self.sqlite3(
                    target_db, "PRAGMA synchronous = NORMAL", ".mode tabs", f".import {files.tsv} mappings"
                ),
                "sessmap": lambda: self.sessmap("--store", f"sqlite:{target_db}", "import", str(files.jsonl)),
            },
            self.repeat_for(files.size),
            prepare,
        )
        self.ratio_row(f"`import` of {size_name(files.size)} vs sqlite3 `.import`", best, target)

    def list_(self, files: Sizes) -> None:
        out = Path(os.devnull)
        # The same columns in the same order (newest first, the index sessmap uses) as TSV.
        sql = (
            f"SELECT {SQL_TSV_COLUMNS} FROM mappings "
            "ORDER BY COALESCE(last_used_at, created_at) DESC, key, agent"
        )
        best = interleaved(
            {
                "sqlite3": lambda: self.sqlite3(files.store, ".mode tabs", sql, stdout=out),
                "sessmap": lambda: self.sessmap(
                    "--store", f"sqlite:{files.store}", "list", "--format", "tsv", stdout=out
                ),
            },
            self.repeat_for(files.size),
        )
        self.ratio_row(f"`list --format tsv` of {size_name(files.size)} vs sqlite3 SELECT", best, None)
        self.list_memory[files.size] = best["sessmap"].max_rss_kib

    def prune(self, files: Sizes, target: float | None) -> None:
        work = self.folder / "prune.db"
        out = Path(os.devnull)
        cutoff = stamp(self.now - timedelta(days=TTL_DAYS))

        def prepare(name: str) -> None:
            for suffix in ("-wal", "-shm"):
                Path(f"{work}{suffix}").unlink(missing_ok=True)
            shutil.copy(files.store, work)

        # prune deletes what is older than the TTL in one transaction and prints what it removed,
        # by key, as TSV: the same as selecting those rows in that order, then deleting them.
        sql = [
            "BEGIN IMMEDIATE",
            f"SELECT {SQL_TSV_COLUMNS} FROM mappings WHERE COALESCE(last_used_at, created_at) < '{cutoff}' "
            "ORDER BY key, agent",
            f"DELETE FROM mappings WHERE COALESCE(last_used_at, created_at) < '{cutoff}'",
            "COMMIT",
        ]
        best = interleaved(
            {
                "sqlite3": lambda: self.sqlite3(
                    work, "PRAGMA synchronous = NORMAL", ".mode tabs", *sql, stdout=out
                ),
                "sessmap": lambda: self.sessmap(
                    "--store", f"sqlite:{work}", "prune", "--older-than", f"{TTL_DAYS}d", stdout=out
                ),
            },
            self.repeat_for(files.size),
            prepare,
        )
        self.ratio_row(f"`prune` of {size_name(files.size)} vs sqlite3 SELECT + DELETE", best, target)
        self.prune_memory[files.size] = best["sessmap"].max_rss_kib

    def quiet_prune(self, files: Sizes) -> None:
        """``-q prune --older-than 1s`` as cron runs it, deleting every row: no row is printed,
        so none is held; peak memory must not grow with what it deletes (issue 14, item 10)."""
        work = self.folder / "prune-quiet.db"

        def prepare(name: str) -> None:
            for suffix in ("-wal", "-shm"):
                Path(f"{work}{suffix}").unlink(missing_ok=True)
            shutil.copy(files.store, work)

        best = interleaved(
            {
                "sessmap": lambda: self.sessmap(
                    "-q", "--store", f"sqlite:{work}", "prune", "--older-than", "0s"
                )
            },
            min(self.repeat_for(files.size), 3),
            prepare,
        )
        self.quiet_prune_memory[files.size] = best["sessmap"].max_rss_kib

    def json_vs_sqlite(self, files: Sizes) -> None:
        assert files.json_store is not None
        key = key_of(files.size // 2)
        best = interleaved(
            {
                "sqlite": self.get(f"sqlite:{files.store}", key),
                "json": self.get(f"json:{files.json_store}", key),
            },
            self.repeat,
        )
        self.add(
            Row(
                f"JSON store `get` ({size_name(files.size)}) vs SQLite `get`",
                ms(best["json"].seconds),
                ms(best["sqlite"].seconds),
                best["json"].seconds / best["sqlite"].seconds,
                None,
            )
        )

    def server_vs_sqlite(self, kind: str, url: str | None, files: Sizes) -> None:
        name = f"{kind} `get` ({size_name(files.size)}) vs SQLite `get`"
        if not url:
            self.add(Row(name, "—", "—", None, None, "skipped: no URL"))
            return
        store_url = server_store_url(kind, url)
        probe = subprocess.run(
            [SESSMAP, "--store", store_url, "import", str(files.jsonl), "--on-conflict", "replace"],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "failed"
            self.add(Row(name, "—", "—", None, None, f"skipped: {reason}"))
            return
        try:
            key = key_of(files.size // 2)
            best = interleaved(
                {"sqlite": self.get(f"sqlite:{files.store}", key), "server": self.get(store_url, key)},
                self.repeat,
            )
            self.add(
                Row(
                    name,
                    ms(best["server"].seconds),
                    ms(best["sqlite"].seconds),
                    best["server"].seconds / best["sqlite"].seconds,
                    None,
                )
            )
        finally:
            drop_server_store(kind, url, store_url)

    def memory_row(self, command: str, peaks: dict[int, int], target: float | None) -> None:
        small, large = min(peaks), max(peaks)
        self.add(
            Row(
                f"peak memory of `{command}` over {size_name(large)} vs {size_name(small)}",
                mib(peaks[large]),
                mib(peaks[small]),
                peaks[large] / peaks[small],
                target,
            )
        )

    def default_store_get(self, small: Sizes) -> None:
        """`get` as most users run it: no --store, so the config file is looked for and the
        default store found in the platform's folders (platformdirs), here pointed at the
        work folder through the XDG variables."""
        data = self.folder / "xdg-data"
        (data / "sessmap").mkdir(parents=True)
        shutil.copy(small.store, data / "sessmap" / "sessions.db")
        env = self.xdg_env
        key = key_of(small.size // 2)
        best = interleaved(
            {
                "bare": self.bare_get(data / "sessmap" / "sessions.db", key),
                "get": lambda: run([SESSMAP, "get", key], env=env),
            },
            self.repeat,
        )
        self.add(
            Row(
                f"cold `get` ({size_name(small.size)}), default store and config, vs bare lookup",
                ms(best["get"].seconds),
                ms(best["bare"].seconds),
                best["get"].seconds / best["bare"].seconds,
                None,
            )
        )

    # -- helpers --

    def repeat_for(self, size: int) -> int:
        """Big runs take seconds each, so fewer of them (at least 3: the minimum needs a choice)."""
        if size >= 1_000_000:
            return max(3, self.repeat // 4)
        if size >= 100_000:
            return max(3, self.repeat // 2)
        return self.repeat

    def ratio_row(self, name: str, best: dict[str, Run], target: float | None) -> None:
        self.add(
            Row(
                name,
                ms(best["sessmap"].seconds),
                ms(best["sqlite3"].seconds),
                best["sessmap"].seconds / best["sqlite3"].seconds,
                target,
            )
        )


def sessmap_package_dir() -> str:
    code = "import os, sessmap; print(os.path.dirname(sessmap.__file__))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return found.stdout.strip()


def server_store_url(kind: str, url: str) -> str:
    """A private corner of the server for this run: a schema (PostgreSQL), a prefix (Redis)."""
    tag = f"sessmap_bench_{os.getpid()}"
    extra = f"schema={tag}" if kind == "PostgreSQL" else f"prefix={tag}:"
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def open_server_stores(servers: dict[str, str | None]) -> tuple[dict[str, str], dict[str, str]]:
    """A private store on each server that answers (``server_store_url``): kind -> store URL,
    and for the others kind -> why their rows are skipped."""
    from sessmap.stores import open_store

    opened: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for kind, url in servers.items():
        if not url:
            skipped[kind] = "skipped: no URL"
            continue
        store_url = server_store_url(kind, url)
        try:
            open_store(store_url).close()
        except Exception as err:  # the server's own error, whatever the driver raised
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
            skipped[kind] = f"skipped: {reason}"
            continue
        opened[kind] = store_url
    return opened, skipped


def drop_server_stores(servers: dict[str, str | None], opened: dict[str, str]) -> None:
    """Remove what ``open_server_stores`` made."""
    for kind, store_url in opened.items():
        server = servers[kind]
        if server:
            drop_server_store(kind, server, store_url)


def drop_server_store(kind: str, url: str, store_url: str) -> None:
    """Remove what the run wrote on the server (with the driver sessmap itself uses)."""
    tag = f"sessmap_bench_{os.getpid()}"
    if kind == "PostgreSQL":
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{tag}" CASCADE')
    else:
        import redis

        client = redis.Redis.from_url(url)
        for name in client.scan_iter(match=f"{tag}:*", count=1000):
            client.delete(name)
        client.close()


def machine() -> str:
    sqlite_tool = "absent"
    if SQLITE3:
        sqlite_tool = subprocess.run([SQLITE3, "--version"], capture_output=True, text=True).stdout.split()[0]
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; SQLite library {sqlite3.sqlite_version}, "
        f"sqlite3 tool {sqlite_tool}; load average {load}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="store sizes (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="sizes 1000,10000 and 5 repetitions")
    parser.add_argument("--repeat", type=int, default=15, help="runs per command (default: %(default)s)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL URL ('' to skip)")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL ('' to skip)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time, or user+system CPU time (steadier on a busy machine) (default: %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    options = parser.parse_args(argv)
    global CLOCK
    CLOCK = options.clock
    if options.quick:
        options.sizes, options.repeat = "1000,10000", 5
    sizes = sorted({int(size) for size in options.sizes.split(",")})
    if not Path(SESSMAP).exists():
        raise SystemExit(f"bench: {SESSMAP} not found; install sessmap into this Python first")
    print(machine(), flush=True)
    print(f"clock: {options.clock}; each figure the fastest of its runs", flush=True)
    if SQLITE3 is None:
        print(
            "note: the sqlite3 command-line tool is not installed, so the import/list/prune rows are "
            "skipped (Debian/Ubuntu: apt-get install -y sqlite3)"
        )
    folder = Path(tempfile.mkdtemp(prefix="sessmap-bench-"))
    try:
        bench = Bench(options, folder)
        built = [bench.build(size) for size in sizes]
        small, large = built[0], built[-1]
        bench.cold_get(small)
        bench.default_store_get(small)
        bench.exec_overhead(small)
        bench.exec_overhead(small, platform_folders=True)
        if large is not small:
            bench.get_scaling(small, large)
        big = [files for files in built if files.size >= 100_000] or built[-1:]
        if SQLITE3:
            for files in big:
                bench.import_(files, 3.0 if files.size >= 1_000_000 else None)
            for files in big:
                bench.list_(files)
            if len(big) >= 2:
                bench.memory_row("list", bench.list_memory, 1.2)
            for files in big:
                bench.prune(files, 3.0 if files.size >= 1_000_000 else None)
            if len(big) >= 2:
                bench.memory_row("prune", bench.prune_memory, 1.2)  # printed rows wait on disk
            for files in big:
                bench.quiet_prune(files)
            if len(big) >= 2:
                bench.memory_row("-q prune --older-than 1s", bench.quiet_prune_memory, 1.2)
        extra = [files for files in built if files.json_store is not None]
        if 10_000 not in {files.size for files in extra} and 10_000 not in sizes:
            extra.append(bench.build(10_000))
        for files in extra:
            bench.json_vs_sqlite(files)
        bench.server_vs_sqlite("PostgreSQL", options.postgres, small)
        bench.server_vs_sqlite("Redis", options.redis, small)
        # The transcript rows (benchmarks/bench_transcripts.py) use this module's helpers, under
        # the name they import it by, even when this file runs as __main__.
        sys.modules.setdefault("bench", sys.modules[__name__])
        import bench_conversation
        import bench_locks
        import bench_transcripts

        bench_transcripts.add_rows(bench)
        bench_locks.add_rows(bench)
        bench_conversation.add_rows(bench)
        print()
        print_table(bench.rows)
        failed = [row for row in bench.rows if row.verdict == "FAIL"]
        return 1 if failed else 0
    finally:
        if options.keep:
            print(f"work folder kept: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
